"""Kuaidi100 (快递100) JSON and forms to and from fulfilhub's models: pure, no I/O.

Built from Kuaidi100's API documents (实时查询 ``poll/query.do``, 订阅 ``poll`` and its
推送, with ``resultv2=4`` for the 高级物流状态). Scan texts (``context``) are Chinese and
kept exactly as they came. Every reader turns any value into what it promises or a
PayloadError naming the field.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fulfilhub import ExceptionReason as R, PayloadError, TrackingEvent, TrackingStatus as S, TrackingUpdate

T = TypeVar("T")
#: Kuaidi100 writes scan times as mainland local time without an offset.
CHINA = ZoneInfo("Asia/Shanghai")

#: 物流状态 and 高级物流状态 codes -> (status, reason): every code Kuaidi100 documents.
STATES: Mapping[str, tuple[S, R | None]] = {
    "1": (S.IN_TRANSIT, None), "101": (S.PRE_TRANSIT, None), "102": (S.PRE_TRANSIT, None),  # 揽收 已下单 待揽收
    "103": (S.IN_TRANSIT, None),  # 已揽收
    "0": (S.IN_TRANSIT, None), "1001": (S.IN_TRANSIT, None), "1002": (S.IN_TRANSIT, None),  # 在途 到达派件城市 干线
    "1003": (S.IN_TRANSIT, None),  # 转递: on its way to a new address
    "5": (S.OUT_FOR_DELIVERY, None), "501": (S.AVAILABLE_FOR_PICKUP, None),  # 派件 投柜或驿站
    "3": (S.DELIVERED, None), "301": (S.DELIVERED, None), "302": (S.DELIVERED, None),  # 签收 本人签收 派件异常后签收
    "303": (S.DELIVERED, None), "304": (S.DELIVERED, None),  # 代签 投柜或站签收
    "6": (S.RETURN_TO_SENDER, None), "4": (S.RETURN_TO_SENDER, None),  # 退回 退签
    "401": (S.CANCELLED, None), "14": (S.RETURN_TO_SENDER, R.REFUSED),  # 已销单 拒签
    "7": (S.IN_TRANSIT, None),  # 转投: handed to another courier
    "2": (S.EXCEPTION, R.OTHER),  # 疑难
    "201": (S.EXCEPTION, R.CARRIER_DELAY), "202": (S.EXCEPTION, R.CARRIER_DELAY),  # 超时未签收 超时未更新
    "203": (S.EXCEPTION, R.REFUSED), "204": (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT),  # 拒收 派件异常
    "205": (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT), "206": (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT),  # 柜或驿站超时未取 无法联系
    "207": (S.EXCEPTION, R.ADDRESS), "208": (S.EXCEPTION, R.CARRIER_DELAY),  # 超区 滞留
    "209": (S.EXCEPTION, R.DAMAGED), "210": (S.CANCELLED, None),  # 破损 销单
    "8": (S.IN_TRANSIT, None), "10": (S.IN_TRANSIT, None), "11": (S.IN_TRANSIT, None),  # 清关 待清关 清关中
    "12": (S.IN_TRANSIT, None), "13": (S.EXCEPTION, R.CUSTOMS),  # 已清关 清关异常
}
#: The names Kuaidi100 gives the codes (a scan carries the name in ``status``).
NAMES: Mapping[str, str] = {
    "揽收": "1", "已下单": "101", "待揽收": "102", "已揽收": "103", "在途": "0", "到达派件城市": "1001", "干线": "1002",
    "转递": "1003", "派件": "5", "投柜或驿站": "501", "签收": "3", "本人签收": "301", "派件异常后签收": "302",
    "代签": "303", "投柜或站签收": "304", "退回": "6", "退签": "4", "已销单": "401", "拒签": "14", "转投": "7",
    "疑难": "2", "超时未签收": "201", "超时未更新": "202", "拒收": "203", "派件异常": "204", "柜或驿站超时未取": "205",
    "无法联系": "206", "超区": "207", "滞留": "208", "破损": "209", "销单": "210", "清关": "8", "待清关": "10",
    "清关中": "11", "已清关": "12", "清关异常": "13",
}
#: ``returnCode`` of a refused query: what it means and whether asking later can help.
RETURN_CODES: Mapping[str, tuple[str, bool]] = {
    "400": ("incomplete or wrong parameters (an unknown courier code?)", False),
    "408": ("this courier needs the last 4 digits of the recipient's or sender's phone", False),
    "500": ("no result yet: the courier has not reported the number", True),
    "501": ("Kuaidi100's server failed", True), "502": ("Kuaidi100's server is busy", True),
    "503": ("the signature was refused (check key and customer)", False),
    "601": ("the key has expired or has no query balance left", False),
}
#: Couriers' Kuaidi100 codes by the names shops use (the courier code is always accepted as is).
COURIERS: Mapping[str, str] = {
    "SF": "shunfeng", "SF Express": "shunfeng", "顺丰": "shunfeng", "YTO": "yuantong", "圆通": "yuantong",
    "ZTO": "zhongtong", "中通": "zhongtong", "STO": "shentong", "申通": "shentong", "Yunda": "yunda", "韵达": "yunda",
    "JD": "jd", "京东": "jd", "EMS": "ems", "邮政EMS": "ems", "J&T": "jtexpress", "极兔": "jtexpress",
}


def sign(text: str, *parts: str) -> str:
    """Kuaidi100's signature: upper-case hex MD5 of the text and the parts, joined as they are."""
    return hashlib.md5("".join((text, *parts)).encode("utf-8")).hexdigest().upper()


def query_form(com: str, num: str, key: str, customer: str, phone: str = "") -> dict[str, str]:
    """The form of ``POST /poll/query.do``: ``param`` JSON, signed MD5(param + key + customer)."""
    param = json.dumps({"com": com, "num": num, "phone": phone, "resultv2": "4", "show": "0", "order": "asc"},
                       ensure_ascii=False, separators=(",", ":"))
    return {"customer": customer, "sign": sign(param, key, customer), "param": param}


def subscribe_form(com: str, num: str, key: str, callback_url: str, salt: str) -> dict[str, str]:
    """The form of ``POST /poll`` (订阅): ``schema=json`` and ``param`` carrying the key."""
    parameters = {"callbackurl": callback_url, "salt": salt, "resultv2": "4", "autoCom": "1"}
    return {"schema": "json", "param": json.dumps({"company": com, "number": num, "key": key,
                                                   "parameters": parameters}, ensure_ascii=False)}


# ------------------------------------------------------------------ readers


def _refusing(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def wrap(parse: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(parse)
        def guarded(*args: Any, **kwargs: Any) -> T:
            try:
                return parse(*args, **kwargs)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
                raise PayloadError(f"Kuaidi100 {what} cannot be mapped: {exc!r}"[:300]) from None
        return guarded
    return wrap


def _text(value: Any, field: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > 2000:
        raise PayloadError(f"expected text, got {str(value)[:40]!r}", field=field)
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError: refused
    return value


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"expected an object, got {type(value).__name__}", field=field)
    return value


def refusal(answer: Mapping[str, Any]) -> tuple[str, str, bool] | None:
    """``(returnCode, what it means, worth asking again)`` of a refused query, None for an answer."""
    if answer.get("result") is not False and answer.get("message") == "ok":
        return None
    code = str(answer.get("returnCode") or "")[:10]
    meaning, again = RETURN_CODES.get(code, ("an unknown refusal", False))
    return code, f"{meaning}: {str(answer.get('message') or '')[:200]}", again


def classify(code: Any, name: Any = None) -> tuple[S, R | None, str]:
    """(status, reason, source) of a state code (or, without one, its Chinese name)."""
    word = code if isinstance(code, str) and code in STATES else NAMES.get(name) if isinstance(name, str) else None
    if word is None:
        raise PayloadError(f"unknown Kuaidi100 state {str(code)[:20]!r} / {str(name)[:20]!r}", field="state")
    status, reason = STATES[word]
    return status, reason, word


def _scan(item: Any, at: str) -> TrackingEvent:
    item = _object(item, at)
    when = datetime.strptime(_text(item.get("ftime") or item.get("time"), f"{at}.time"), "%Y-%m-%d %H:%M:%S")
    status, reason, code = classify(item.get("statusCode"), item.get("status"))
    return TrackingEvent(at=when.replace(tzinfo=CHINA), status=status, reason=reason, source=code,
                         description=_text(item.get("context"), f"{at}.context", required=False),
                         location=_text(item.get("areaName") or item.get("location"), f"{at}.areaName", required=False))


@_refusing("query answer")
def parse_result(answer: Any) -> TrackingUpdate:
    """A query's answer (or a push's ``lastResult``) as a TrackingUpdate; scans oldest first."""
    answer = _object(answer, "result")
    scans = answer.get("data") or []
    if not isinstance(scans, list):
        raise PayloadError("expected a list of scans", field="data")
    events = sorted((_scan(item, f"data[{i}]") for i, item in enumerate(scans)), key=lambda e: e.at)
    status, reason, _ = classify(str(answer.get("state")) if answer.get("state") is not None else None)
    return TrackingUpdate(tracking_code=_text(answer.get("nu"), "nu"), status=status, reason=reason, events=events,
                          raw=answer)


def push_fields(body: bytes) -> tuple[str, str]:
    """``(param, sign)`` of a push's form body (empty strings where absent)."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return "", ""
    return (fields.get("param") or [""])[0], (fields.get("sign") or [""])[0]


@_refusing("push")
def parse_push(param: str) -> TrackingUpdate | None:
    """A verified push's ``param``: its ``lastResult``; None when it carries no scan (an
    ``abort`` after three days without a record, say)."""
    push = _object(json.loads(param), "param")
    result = push.get("lastResult")
    if not isinstance(result, Mapping) or not result.get("data"):
        return None
    return parse_result(result)
