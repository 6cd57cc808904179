"""ECPay Logistics (綠界物流整合) forms to and from fulfilhub's models: pure functions and tables.

ECPay speaks ``application/x-www-form-urlencoded`` both ways: requests are forms signed
with ``CheckMacValue``, ``/Express/Create`` answers ``1|<form>`` or ``0|<message>``, the
status query answers a form, and the status notification (``ServerReplyURL``) is a
signed form. Every reader turns any input into what it promises or a PayloadError
naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote_plus

from fulfilhub import ExceptionReason as R, Label, PayloadError, PickupPoint, Rate, ShipmentRequest, TrackingEvent
from fulfilhub import TrackingStatus as S, TrackingUpdate

#: Taiwan time: UTC+08:00, no daylight saving since 1979. ECPay writes its times in it.
TAIPEI = timezone(timedelta(hours=8), "Asia/Taipei")
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"

#: ``LogisticsSubType`` -> (``LogisticsType``, the store network customers know, or "" for home delivery).
SUBTYPES: Mapping[str, tuple[str, str]] = {
    "TCAT": ("HOME", ""), "POST": ("HOME", ""),
    "UNIMART": ("CVS", "7-ELEVEN"), "UNIMARTC2C": ("CVS", "7-ELEVEN"),
    "FAMI": ("CVS", "FamilyMart"), "FAMIC2C": ("CVS", "FamilyMart"),
    "HILIFE": ("CVS", "Hi-Life"), "HILIFEC2C": ("CVS", "Hi-Life"),
    "OKMARTC2C": ("CVS", "OK mart"),
}
#: A pickup point's network (as channels, checkouts and ECPay's map write it) -> (B2C, C2C) subtype.
NETWORKS: Mapping[str, tuple[str | None, str]] = {
    "7-eleven": ("UNIMART", "UNIMARTC2C"), "7-11": ("UNIMART", "UNIMARTC2C"), "統一超商": ("UNIMART", "UNIMARTC2C"),
    "familymart": ("FAMI", "FAMIC2C"), "family mart": ("FAMI", "FAMIC2C"), "全家": ("FAMI", "FAMIC2C"),
    "hi-life": ("HILIFE", "HILIFEC2C"), "hilife": ("HILIFE", "HILIFEC2C"), "萊爾富": ("HILIFE", "HILIFEC2C"),
    "ok mart": (None, "OKMARTC2C"), "okmart": (None, "OKMARTC2C"), "ok": (None, "OKMARTC2C"), "ok超商": (None, "OKMARTC2C"),
    **{sub.lower(): (sub, sub) for sub, (kind, _) in SUBTYPES.items() if kind == "CVS"},
}
#: Days a store keeps a parcel for the customer (7-ELEVEN 2074 and FamilyMart 3020 are
#: "七天未取件"; Hi-Life and OK mart are taken to keep it as long).
PICKUP_DAYS = 7

#: ``RtnCode`` / ``LogisticsStatus`` -> (status, reason, ECPay's words). Correctable data:
#: see the README for where each code comes from.
STATUSES: Mapping[str, tuple[S, R | None, str]] = {
    "300": (S.PRE_TRANSIT, None, "訂單處理中(已收到訂單資料)"),
    "310": (S.PRE_TRANSIT, None, "上傳電子訂單檔處理中"),
    "2001": (S.PRE_TRANSIT, None, "檔案傳送成功"),
    "2024": (S.PRE_TRANSIT, None, "超商接受資料中"),
    "2068": (S.IN_TRANSIT, None, "交貨便收件(賣家已至門市交寄)"),
    "3032": (S.IN_TRANSIT, None, "賣家已到門市寄件"),
    "2030": (S.IN_TRANSIT, None, "商品已送至物流中心"),
    "3024": (S.IN_TRANSIT, None, "商品已送至物流中心"),
    "3001": (S.IN_TRANSIT, None, "轉運中"),
    "3029": (S.IN_TRANSIT, None, "商品已轉換店"),
    "2098": (S.IN_TRANSIT, None, "重新配達取件門市"),
    "3006": (S.OUT_FOR_DELIVERY, None, "配送中"),
    "2063": (S.AVAILABLE_FOR_PICKUP, None, "商品已送達門市"),
    "2073": (S.AVAILABLE_FOR_PICKUP, None, "商品已送達門市"),
    "3018": (S.AVAILABLE_FOR_PICKUP, None, "到店"),
    "2067": (S.DELIVERED, None, "消費者成功取件"),
    "3022": (S.DELIVERED, None, "消費者成功取件"),
    "3003": (S.DELIVERED, None, "配完"),
    "2074": (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT, "消費者七天未取件"),
    "3020": (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT, "消費者七天未取件"),
    "2078": (S.RETURN_TO_SENDER, None, "買家未取貨退回物流中心"),
    "2076": (S.RETURN_TO_SENDER, None, "退回大智通物流中心"),
    "2077": (S.RETURN_TO_SENDER, None, "退回大智通物流中心"),
    "2069": (S.RETURN_TO_SENDER, None, "退貨便收件"),
    "2070": (S.RETURN_TO_SENDER, None, "退回原寄件門市且已取件"),
    "2072": (S.RETURN_TO_SENDER, None, "配達賣家取退貨門市"),
    "2099": (S.RETURN_TO_SENDER, None, "重新配達寄件門市"),
    "3019": (S.RETURN_TO_SENDER, None, "退件到店"),
    "3023": (S.RETURN_TO_SENDER, None, "賣家已取買家未取貨"),
    "4001": (S.RETURN_TO_SENDER, None, "退貨"),
    "4002": (S.RETURN_TO_SENDER, None, "退貨"),
    "2101": (S.EXCEPTION, R.ADDRESS, "門市關轉店"),
    "2102": (S.EXCEPTION, R.ADDRESS, "門市舊店號更新"),
    "2103": (S.EXCEPTION, R.ADDRESS, "無取件門市資料"),
    "2104": (S.EXCEPTION, R.ADDRESS, "門市臨時關轉店"),
    "2105": (S.EXCEPTION, R.ADDRESS, "門市變更"),
    "7019": (S.EXCEPTION, R.OTHER, "物流異常"),
    "7020": (S.EXCEPTION, R.OTHER, "物流異常"),
}
#: The answer ``/Express/Create`` gives when it accepted the order (訂單處理中).
CREATED = "300"


# ------------------------------------------------------------------ CheckMacValue


def ecpay_urlencode(text: str) -> str:
    """URL-encode as ECPay's ".NET" table does: PHP ``urlencode`` (space ``+``, ``~`` as
    ``%7E``) with ``- _ . ! * ( )`` left as they are."""
    return quote_plus(text, safe="!*()").replace("~", "%7E")


def check_mac_value(params: Mapping[str, Any], hash_key: str, hash_iv: str, *, method: str = "md5") -> str:
    """The ``CheckMacValue`` of ``params``: sorted by name A-Z (case-insensitively), put
    between ``HashKey=...&`` and ``&HashIV=...``, URL-encoded, lower-cased, hashed (MD5 for
    logistics, SHA256 for payments) and upper-cased."""
    pairs = sorted(((str(k), "" if v is None else str(v)) for k, v in params.items() if k != "CheckMacValue"),
                   key=lambda kv: kv[0].lower())
    raw = "&".join([f"HashKey={hash_key}", *(f"{k}={v}" for k, v in pairs), f"HashIV={hash_iv}"])
    return hashlib.new(method, ecpay_urlencode(raw).lower().encode("utf-8")).hexdigest().upper()


def signed(params: Mapping[str, Any], hash_key: str, hash_iv: str) -> dict[str, str]:
    """``params`` as strings with their ``CheckMacValue``."""
    form = {str(k): "" if v is None else str(v) for k, v in params.items()}
    form["CheckMacValue"] = check_mac_value(form, hash_key, hash_iv)
    return form


def verified(form: Mapping[str, str], hash_key: str, hash_iv: str) -> bool:
    """True when the form carries the ``CheckMacValue`` of its other fields (compared in constant time)."""
    given = form.get("CheckMacValue")
    if not isinstance(given, str) or not given:
        return False
    expected = check_mac_value(form, hash_key, hash_iv).encode()
    return hmac.compare_digest(expected, given.upper().encode("utf-8", "replace"))


# ------------------------------------------------------------------ readers


def read_form(text: Any, what: str) -> dict[str, str]:
    """A ``k=v&...`` form as a dict (each field once), or a PayloadError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError(f"ECPay {what} is not UTF-8", field=what) from None
    if not isinstance(text, str) or "=" not in text or len(text) > 20_000:
        raise PayloadError(f"ECPay {what} is not a form: {str(text)[:60]!r}", field=what)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)  # not stripped: signed as sent
    except ValueError as exc:
        raise PayloadError(f"ECPay {what} is not a form: {exc}", field=what) from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise PayloadError(f"ECPay {what} repeats a field", field=what)
    try:
        "".join([*form, *form.values()]).encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"ECPay {what} holds a lone surrogate", field=what) from None
    return form


def _text(form: Mapping[str, str], field: str, *, required: bool = True, limit: int = 200) -> str:
    value = form.get(field, "")
    if (required and not value.strip()) or len(value) > limit:
        raise PayloadError(f"expected text of at most {limit} characters, got {value[:40]!r}", field=field)
    return value


def parse_time(value: Any, field: str) -> datetime:
    """ECPay's ``yyyy/MM/dd HH:mm:ss``, Taiwan time."""
    if not isinstance(value, str) or len(value) > 19:
        raise PayloadError(f"expected yyyy/MM/dd HH:mm:ss, got {str(value)[:40]!r}", field=field)
    try:
        moment = datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        raise PayloadError(f"expected yyyy/MM/dd HH:mm:ss, got {value[:40]!r}", field=field) from None
    if not 2000 <= moment.year <= 2100:
        raise PayloadError(f"a time in {moment.year}", field=field)
    return moment.replace(tzinfo=TAIPEI)


def status_of(code: Any, field: str = "RtnCode") -> tuple[S, R | None, str]:
    """(status, reason, ECPay's words) of a logistics status code; an unknown code is refused."""
    if not isinstance(code, str) or code.strip() not in STATUSES:
        raise PayloadError(f"unknown ECPay logistics status {str(code)[:20]!r}: add it to fulfilhub_ecpay.mapping."
                           "STATUSES if ECPay documents it", field=field)
    return STATUSES[code.strip()]


# ------------------------------------------------------------------ requests


def subtype_for(network: str, flow: str) -> str | None:
    """The ``LogisticsSubType`` of a pickup network for ``flow`` ("C2C" or "B2C"), or None."""
    b2c, c2c = NETWORKS.get(network.strip().lower(), (None, None))
    return c2c if flow == "C2C" else b2c


def merchant_trade_no(key: str) -> str:
    """The ``MerchantTradeNo`` (alphanumeric, at most 20) an idempotency key stands for: a
    retry with the key names the same order, which ECPay refuses to create twice."""
    return "FH" + hashlib.sha256(key.encode()).hexdigest()[:18].upper()


def _digits(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return "0" + digits[3:] if digits.startswith("886") else digits


def create_form(*, merchant_id: str, request: Mapping[str, Any], subtype: str, key: str, now: datetime,
                goods_amount: int, server_reply_url: str) -> dict[str, Any]:
    """The fields of ``POST /Express/Create`` (unsigned) for a quoted request (``request_fields``)."""
    kind, _ = SUBTYPES[subtype]
    to, sender = request["ship_to"], request["ship_from"]
    form: dict[str, Any] = {
        "MerchantID": merchant_id, "MerchantTradeNo": merchant_trade_no(key),
        "MerchantTradeDate": now.astimezone(TAIPEI).strftime(TIME_FORMAT), "LogisticsType": kind,
        "LogisticsSubType": subtype, "GoodsAmount": goods_amount, "GoodsName": request["reference"][:50],
        "SenderName": sender["name"][:10], "SenderCellPhone": _digits(sender["phone"]),
        "ReceiverName": to["name"][:10], "ReceiverCellPhone": _digits(to["phone"]), "ReceiverEmail": to["email"][:50],
        "ServerReplyURL": server_reply_url, "IsCollection": "N",
    }
    if kind == "CVS":
        form["ReceiverStoreID"] = to["store_id"]
    else:
        form.update(SenderZipCode=sender["postal_code"], SenderAddress=sender["address"][:60],
                    ReceiverZipCode=to["postal_code"], ReceiverAddress=to["address"][:60], Temperature="0001",
                    Distance="00", Specification="0001")
        if subtype == "POST":
            form["GoodsWeight"] = request["weight_kg"]
    return form


def request_fields(request: ShipmentRequest) -> dict[str, Any]:
    """What ``buy`` needs later of a quoted request (kept in the instance's state)."""
    def address(a: Any) -> dict[str, str]:
        street = "".join(p for p in (a.postal_code, a.city, a.line1, a.line2) if p)
        return {"name": a.name, "phone": a.phone, "email": a.email, "postal_code": a.postal_code, "address": street,
                "store_id": a.pickup.store_id if a.pickup else "", "network": a.pickup.network if a.pickup else ""}
    return {"reference": request.reference, "ship_from": address(request.ship_from),
            "ship_to": address(request.ship_to), "weight_kg": str(round(request.parcel.weight_g / 1000, 3))}


# ------------------------------------------------------------------ answers


def parse_create(text: Any, hash_key: str, hash_iv: str) -> dict[str, str]:
    """``/Express/Create``'s answer: the accepted order's form (signed), or a PayloadError
    with ECPay's message (``0|...``)."""
    if not isinstance(text, str) or "|" not in text:
        raise PayloadError(f"ECPay's create answer is not 1|<form> nor 0|<message>: {str(text)[:80]!r}", field="answer")
    flag, _, rest = text.partition("|")
    if flag.strip() != "1":
        raise PayloadError(f"ECPay refused the logistics order: {rest[:200]}", field="answer")
    form = read_form(rest, "create answer")
    if not verified(form, hash_key, hash_iv):
        raise PayloadError("the CheckMacValue of ECPay's create answer does not match", field="CheckMacValue")
    _text(form, "AllPayLogisticsID", limit=20)
    return form


def parse_label(form: Mapping[str, str], rate: Rate) -> Label:
    """A created (or found) logistics order as the Label of ``rate``: tracked by its
    ``AllPayLogisticsID``; the store's 寄貨編號 (``CVSPaymentNo``) or the home courier's
    托運單號 (``BookingNote``) stays in ``raw``."""
    return Label(carrier=rate.carrier, carrier_name=rate.carrier_name, service=rate.service,
                 tracking_code=_text(form, "AllPayLogisticsID", limit=20), cost=rate.amount,
                 shipment_ref=rate.shipment_ref, tracker_ref=_text(form, "MerchantTradeNo", limit=20), raw=dict(form))


def parse_query(text: Any, hash_key: str, hash_iv: str) -> dict[str, str]:
    """``QueryLogisticsTradeInfo``'s answer: the order's form (signed)."""
    form = read_form(text, "query answer")
    if not verified(form, hash_key, hash_iv):
        raise PayloadError("the CheckMacValue of ECPay's query answer does not match", field="CheckMacValue")
    _text(form, "AllPayLogisticsID", limit=20)
    status_of(form.get("LogisticsStatus"), "LogisticsStatus")
    return form


def pickup_until(arrived: datetime) -> date:
    """The last day (Taiwan) a store keeps a parcel that arrived at ``arrived``."""
    return arrived.astimezone(TAIPEI).date() + timedelta(days=PICKUP_DAYS)


def event(code: str, at: datetime, message: str = "", field: str = "RtnCode") -> TrackingEvent:
    status, reason, words = status_of(code, field)
    return TrackingEvent(at=at, status=status, reason=reason, source=code.strip(), description=message[:200] or words)


def parse_push(form: Mapping[str, str]) -> TrackingUpdate:
    """A verified status notification: one event, at its ``UpdateStatusDate``."""
    scan = event(form.get("RtnCode", ""), parse_time(form.get("UpdateStatusDate"), "UpdateStatusDate"),
                 _text(form, "RtnMsg", required=False))
    return TrackingUpdate(tracking_code=_text(form, "AllPayLogisticsID", limit=20), status=scan.status,
                          reason=scan.reason, events=[scan], pickup_until=deadline_of(scan), raw=dict(form))


def deadline_of(scan: TrackingEvent) -> date | None:
    """The pickup deadline a status sets: the store's last day, for a parcel that arrived there."""
    return pickup_until(scan.at) if scan.status is S.AVAILABLE_FOR_PICKUP else None


def pickup_point(form: Mapping[str, str]) -> PickupPoint:
    """The store a customer chose on ECPay's map (``/Express/map`` posts ``LogisticsSubType``,
    ``CVSStoreID``, ``CVSStoreName``, ``CVSAddress`` back to the shop)."""
    subtype = _text(form, "LogisticsSubType", limit=20)
    if subtype not in SUBTYPES or SUBTYPES[subtype][0] != "CVS":
        raise PayloadError(f"not a convenience-store subtype: {subtype[:20]!r}", field="LogisticsSubType")
    return PickupPoint(network=SUBTYPES[subtype][1], store_id=_text(form, "CVSStoreID", limit=10),
                       store_name=_text(form, "CVSStoreName", limit=60), store_address=_text(form, "CVSAddress"))
