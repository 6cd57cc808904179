"""The server's own words, in English, Traditional Chinese and Simplified Chinese.

The customer's language comes from ``?lang=`` (the page's switcher) or else from
``Accept-Language``; dates and times are formatted by Babel in that locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time

from ..engines import zones

LOCALES = ("en", "zh-Hant", "zh-Hans")
DEFAULT = "en"
#: Each locale's name in itself, for the switcher.
NAMES = {"en": "English", "zh-Hant": "繁體中文", "zh-Hans": "简体中文"}
_BABEL = {"en": "en", "zh-Hant": "zh_Hant", "zh-Hans": "zh_Hans"}
_HTML_LANG = {"en": "en", "zh-Hant": "zh-Hant", "zh-Hans": "zh-Hans"}

TEXT: Mapping[str, Mapping[str, str]] = {
    "title": {"en": "Order {number}", "zh-Hant": "訂單 {number}", "zh-Hans": "订单 {number}"},
    "heading": {"en": "Where is my order?", "zh-Hant": "我的訂單在哪裡？", "zh-Hans": "我的订单在哪里？"},
    "language": {"en": "Language", "zh-Hant": "語言", "zh-Hans": "语言"},
    "promise": {"en": "Estimated delivery", "zh-Hant": "預計送達", "zh-Hans": "预计送达"},
    "promise_sentence": {"en": "Order now: ships by {ships}; arrives {arrives}.",
                         "zh-Hant": "現在下單：{ships}前出貨，預計{arrives}送達。",
                         "zh-Hans": "现在下单：{ships}前发货，预计{arrives}送达。"},
    "promise_range": {"en": "{first} – {last}", "zh-Hant": "{first} 至 {last}", "zh-Hans": "{first} 至 {last}"},
    "ships_by": {"en": "Ships by {date}", "zh-Hant": "最遲 {date} 出貨", "zh-Hans": "最迟 {date} 发货"},
    "progress": {"en": "Progress", "zh-Hant": "進度", "zh-Hans": "进度"},
    "step_received": {"en": "Received", "zh-Hant": "已收到", "zh-Hans": "已收到"},
    "step_packed": {"en": "Packed", "zh-Hant": "已包裝", "zh-Hans": "已包装"},
    "step_shipped": {"en": "Shipped", "zh-Hant": "已出貨", "zh-Hans": "已发货"},
    "step_out_for_delivery": {"en": "Out for delivery", "zh-Hant": "派送中", "zh-Hans": "派送中"},
    "step_delivered": {"en": "Delivered", "zh-Hant": "已送達", "zh-Hans": "已送达"},
    "step_done": {"en": "done", "zh-Hant": "已完成", "zh-Hans": "已完成"},
    "step_current": {"en": "current step", "zh-Hant": "目前步驟", "zh-Hans": "当前步骤"},
    "step_todo": {"en": "to come", "zh-Hant": "尚未開始", "zh-Hans": "尚未开始"},
    "cancelled": {"en": "This order was cancelled.", "zh-Hant": "此訂單已取消。", "zh-Hans": "此订单已取消。"},
    "returned": {"en": "This order was returned.", "zh-Hant": "此訂單已退回。", "zh-Hans": "此订单已退回。"},
    "refunded": {"en": "This order was refunded.", "zh-Hant": "此訂單已退款。", "zh-Hans": "此订单已退款。"},
    "exception": {"en": "There is a problem with the delivery: {reason}. We are on it.",
                  "zh-Hant": "配送出現問題：{reason}。我們正在處理。", "zh-Hans": "配送出现问题：{reason}。我们正在处理。"},
    "on_hold": {"en": "We are checking your order before we pack it.",
                "zh-Hant": "我們正在確認您的訂單，確認後即會包裝。", "zh-Hans": "我们正在确认您的订单，确认后即会包装。"},
    "backordered": {"en": "Some items are on their way to our warehouse; we ship as soon as they arrive.",
                    "zh-Hant": "部分商品正在補貨，到貨後立即出貨。", "zh-Hans": "部分商品正在补货，到货后立即发货。"},
    "parcels": {"en": "Parcels", "zh-Hant": "包裹", "zh-Hans": "包裹"},
    "parcel": {"en": "Parcel {n}", "zh-Hant": "包裹 {n}", "zh-Hans": "包裹 {n}"},
    "tracking_number": {"en": "Tracking number", "zh-Hant": "追蹤號碼", "zh-Hans": "追踪号码"},
    "carrier_page": {"en": "Carrier's tracking page", "zh-Hant": "物流商追蹤頁面", "zh-Hans": "物流商追踪页面"},
    "carrier_eta": {"en": "Carrier's estimate: {date}", "zh-Hant": "物流商預估：{date}", "zh-Hans": "物流商预估：{date}"},
    "not_shipped": {"en": "Not shipped yet", "zh-Hant": "尚未出貨", "zh-Hans": "尚未发货"},
    "timeline": {"en": "Tracking history", "zh-Hant": "追蹤記錄", "zh-Hans": "追踪记录"},
    "no_scans": {"en": "No scans yet.", "zh-Hant": "尚無掃描記錄。", "zh-Hans": "尚无扫描记录。"},
    "times_in": {"en": "Times in {zone}", "zh-Hant": "時間以 {zone} 顯示", "zh-Hans": "时间以 {zone} 显示"},
    "destination": {"en": "Delivering to {place}", "zh-Hant": "送往 {place}", "zh-Hans": "送往 {place}"},
    "delay": {"en": "Your order is delayed by {days} because {cause}. It should arrive on {date}.",
              "zh-Hant": "您的訂單延誤 {days}，原因：{cause}。預計 {date} 送達。",
              "zh-Hans": "您的订单延误 {days}，原因：{cause}。预计 {date} 送达。"},
    "at_risk": {"en": "Your order may arrive later than promised because {cause}; we are watching it.",
                "zh-Hant": "由於{cause}，您的訂單可能晚於承諾時間送達，我們正在跟進。",
                "zh-Hans": "由于{cause}，您的订单可能晚于承诺时间送达，我们正在跟进。"},
    "days": {"en": "{n} days", "zh-Hant": "{n} 天", "zh-Hans": "{n} 天"},
    "day": {"en": "1 day", "zh-Hant": "1 天", "zh-Hans": "1 天"},
    "not_found_title": {"en": "Not found", "zh-Hant": "找不到頁面", "zh-Hans": "找不到页面"},
    "not_found": {"en": "There is no order at this address. Check the link in your message.",
                  "zh-Hant": "此網址沒有對應的訂單，請檢查訊息中的連結。",
                  "zh-Hans": "此网址没有对应的订单，请检查消息中的链接。"},
    "compensation": {"en": "We are sorry", "zh-Hant": "致歉與補償", "zh-Hans": "致歉与补偿"},
    "comp_discount": {"en": "{percent}% off your next order", "zh-Hant": "下次訂單 {percent}% 折扣",
                      "zh-Hans": "下次订单 {percent}% 折扣"},
    "comp_free_upgrade": {"en": "A free upgrade to faster shipping on your next order",
                          "zh-Hant": "下次訂單免費升級為快速配送", "zh-Hans": "下次订单免费升级为快速配送"},
    "comp_shipping_refund": {"en": "Your shipping fee of {amount} is refunded", "zh-Hant": "退還運費 {amount}",
                             "zh-Hans": "退还运费 {amount}"},
    "comp_partial_refund": {"en": "{amount} refunded", "zh-Hant": "退款 {amount}", "zh-Hans": "退款 {amount}"},
    "comp_points": {"en": "{points} loyalty points", "zh-Hant": "{points} 點會員積分", "zh-Hans": "{points} 点会员积分"},
    "comp_gift": {"en": "A gift from us", "zh-Hant": "一份小禮物", "zh-Hans": "一份小礼物"},
    "comp_warranty": {"en": "Your warranty is extended by {months} months", "zh-Hant": "保固延長 {months} 個月",
                      "zh-Hans": "保修延长 {months} 个月"},
    "comp_code": {"en": "Code: {code}", "zh-Hant": "優惠碼：{code}", "zh-Hans": "优惠码：{code}"},
    "updated": {"en": "Updated {when}", "zh-Hant": "更新於 {when}", "zh-Hans": "更新于 {when}"},
}

#: Tracking statuses and exception reasons, in words.
STATUS_WORDS: Mapping[str, Mapping[str, str]] = {
    "pre_transit": {"en": "Label created", "zh-Hant": "已建立運單", "zh-Hans": "已创建运单"},
    "in_transit": {"en": "In transit", "zh-Hant": "運送中", "zh-Hans": "运输中"},
    "out_for_delivery": {"en": "Out for delivery", "zh-Hant": "派送中", "zh-Hans": "派送中"},
    "available_for_pickup": {"en": "Ready for pickup", "zh-Hant": "可取件", "zh-Hans": "可取件"},
    "delivered": {"en": "Delivered", "zh-Hant": "已送達", "zh-Hans": "已送达"},
    "failed_attempt": {"en": "Delivery attempt failed", "zh-Hant": "投遞未成功", "zh-Hans": "投递未成功"},
    "exception": {"en": "Delivery problem", "zh-Hant": "配送異常", "zh-Hans": "配送异常"},
    "return_to_sender": {"en": "Returning to sender", "zh-Hant": "退回寄件人", "zh-Hans": "退回寄件人"},
    "cancelled": {"en": "Cancelled", "zh-Hant": "已取消", "zh-Hans": "已取消"},
    "unknown": {"en": "Update", "zh-Hant": "更新", "zh-Hans": "更新"},
}

REASON_WORDS: Mapping[str, Mapping[str, str]] = {
    "weather": {"en": "bad weather", "zh-Hant": "天氣惡劣", "zh-Hans": "天气恶劣"},
    "capacity": {"en": "the carrier is over capacity", "zh-Hant": "物流運力不足", "zh-Hans": "物流运力不足"},
    "address": {"en": "a problem with the address", "zh-Hant": "地址有問題", "zh-Hans": "地址有问题"},
    "customs": {"en": "customs clearance", "zh-Hant": "海關清關", "zh-Hans": "海关清关"},
    "lost": {"en": "the parcel is lost", "zh-Hant": "包裹遺失", "zh-Hans": "包裹遗失"},
    "damaged": {"en": "the parcel is damaged", "zh-Hant": "包裹損壞", "zh-Hans": "包裹损坏"},
    "refused": {"en": "delivery was refused", "zh-Hant": "拒收", "zh-Hans": "拒收"},
    "failed_attempt": {"en": "nobody was in to receive it", "zh-Hant": "無人簽收", "zh-Hans": "无人签收"},
    "stock_out": {"en": "an item is out of stock until new stock arrives", "zh-Hant": "部分商品缺貨，正等待補貨",
                  "zh-Hans": "部分商品缺货，正等待补货"},
    "not_picked": {"en": "our warehouse has not picked it in time", "zh-Hant": "倉庫未能按時揀貨",
                   "zh-Hans": "仓库未能按时拣货"},
    "not_shipped": {"en": "it has not left our warehouse in time", "zh-Hant": "未能按時出貨",
                    "zh-Hans": "未能按时发货"},
    "no_scan": {"en": "the carrier has not scanned it for a while", "zh-Hant": "物流商長時間未更新",
                "zh-Hans": "物流商长时间未更新"},
    "carrier_eta": {"en": "the carrier expects it later", "zh-Hant": "物流商預估較晚送達",
                    "zh-Hans": "物流商预估较晚送达"},
    "transit_forecast": {"en": "parcels on this route are taking longer than usual", "zh-Hant": "此路線運送時間較平常長",
                         "zh-Hans": "此路线运输时间较平常长"},
    "carrier_exception": {"en": "a problem at the carrier", "zh-Hant": "物流商出現問題", "zh-Hans": "物流商出现问题"},
    "other": {"en": "an unexpected problem", "zh-Hant": "意外狀況", "zh-Hans": "意外状况"},
}


def t(locale: str, key: str, **values: object) -> str:
    return TEXT[key][locale].format(**values)


def words(table: Mapping[str, Mapping[str, str]], key: str | None, locale: str) -> str:
    entry = table.get(str(key or "")) or table.get("other") or table["unknown"]
    return entry[locale]


def negotiate(asked: str | None, accept_language: str | None) -> str:
    """``?lang=`` when it names one of :data:`LOCALES`, else the best of ``Accept-Language``."""
    if asked in LOCALES:
        return asked
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        found = _match(tag)
        if found:
            return found
    return DEFAULT


def _match(tag: str) -> str | None:
    if tag == "en" or tag.startswith("en-"):
        return "en"
    if tag == "zh" or tag.startswith("zh-"):
        if "hant" in tag or tag.endswith(("-tw", "-hk", "-mo")):
            return "zh-Hant"
        return "zh-Hans"
    return None


def html_lang(locale: str) -> str:
    return _HTML_LANG[locale]


def when(value: datetime, locale: str, zone: tzinfo) -> str:
    """A scan's time: day, month, weekday and hour in the customer's language and zone."""
    local = value.astimezone(zone)
    return f"{format_skeleton('yMMMEd', local, locale=_BABEL[locale])} {format_time(local, 'short', locale=_BABEL[locale])}"


def day(value: datetime, locale: str, zone: tzinfo) -> str:
    """A date without a time (a promise, an estimate) in the customer's language."""
    return format_skeleton("yMMMEd", value.astimezone(zone), locale=_BABEL[locale])


def zone_of(country: str | None, province: str | None = None) -> tzinfo:
    """The customer's time zone from the shipping address (the engines' one resolver); UTC when unknown."""
    return zones.zone(zones.zone_for(country, province))


def zone_named(name: str, fallback: tzinfo | None = None) -> tzinfo:
    """The IANA zone ``name`` (a promise's ``timezone``); ``fallback`` (else UTC) when unknown."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return fallback or ZoneInfo("UTC")


def zone_name(zone: ZoneInfo, locale: str, at: datetime) -> str:
    """The zone as a reader knows it (``Pacific Time``, ``台北時間``)."""
    from babel.dates import get_timezone_name

    try:
        return get_timezone_name(at.astimezone(zone), locale=_BABEL[locale])
    except Exception:  # a zone Babel cannot name: its id still says it
        return zone.key
