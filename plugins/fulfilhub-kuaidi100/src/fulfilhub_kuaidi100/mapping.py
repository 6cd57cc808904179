"""Kuaidi100 (快递100) answers to fulfilhub's models: pure functions and data tables, no I/O.

Built from Kuaidi100's API documents for the real-time query (``/poll/query.do``), the
subscription (``/poll``) and its push (``param`` JSON with ``lastResult``), with
``resultv2=4`` (the advanced states). Every reader turns any JSON value into what it
promises or a PayloadError naming the field. Scan descriptions (``context``) are kept
exactly as they came, in Chinese.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from fulfilhub import ExceptionReason as R, PayloadError, TrackingEvent
from fulfilhub import TrackingStatus as S, TrackingUpdate
from fulfilhub.sdk import in_range, parse_list, parse_object, parse_text

#: China Standard Time: Kuaidi100 writes local times ("2026-12-07 10:21:33") without an
#: offset; mainland China has kept UTC+8 without daylight saving since 1991.
CST = timezone(timedelta(hours=8), "Asia/Shanghai")

#: The 14 states and the ``resultv2=4`` sub-states Kuaidi100 documents, by what they mean:
#: each code (``state``, a scan's ``statusCode``) with its word (a scan's ``status``).
_MEANINGS: Mapping[tuple[S, R | None], str] = {
    (S.PRE_TRANSIT, None): "101 已下单, 102 待揽收",
    (S.IN_TRANSIT, None): "0 在途, 1001 到达派件城市, 1002 干线, 1003 转递, 1 揽收, 103 已揽收, 7 转投, 8 清关, "
                          "10 待清关, 11 清关中, 12 已清关",
    (S.OUT_FOR_DELIVERY, None): "5 派件",
    (S.AVAILABLE_FOR_PICKUP, None): "501 投柜或驿站",
    (S.DELIVERED, None): "3 签收, 301 本人签收, 302 派件异常后签收, 303 代签, 304 投柜或站签收",
    (S.RETURN_TO_SENDER, None): "6 退回, 4 退签, 401 已销单",
    (S.EXCEPTION, R.OTHER): "2 疑难, 210 销单",
    (S.EXCEPTION, R.CARRIER_DELAY): "201 超时未签收, 202 超时未更新, 208 滞留",
    (S.EXCEPTION, R.REFUSED): "203 拒收, 14 拒签",
    (S.EXCEPTION, R.ADDRESS): "207 超区",
    (S.EXCEPTION, R.DAMAGED): "209 破损",
    (S.EXCEPTION, R.CUSTOMS): "13 清关异常",
    (S.FAILED_ATTEMPT, R.FAILED_ATTEMPT): "204 派件异常, 205 柜或驿站超时未取, 206 无法联系",
}
_CODES = [(meaning, *pair.split()) for meaning, pairs in _MEANINGS.items() for pair in pairs.split(", ")]
#: ``state`` (and a scan's ``statusCode``) -> (status, reason).
STATES: Mapping[str, tuple[S, R | None]] = {code: meaning for meaning, code, _ in _CODES}
#: A scan's ``status`` word -> its code, for a scan that carries no ``statusCode``.
WORDS: Mapping[str, str] = {word: code for _, code, word in _CODES}
#: Courier codes (``com``) of the mainland couriers, with the name a customer knows.
COURIERS: Mapping[str, str] = {
    "shunfeng": "顺丰速运", "yuantong": "圆通速递", "zhongtong": "中通快递", "shentong": "申通快递",
    "yunda": "韵达快递", "jd": "京东物流", "ems": "EMS", "youzhengguonei": "邮政快递包裹", "jtexpress": "极兔速递",
    "debangkuaidi": "德邦快递",
}
#: A courier's name -> its code (a label names the courier as a customer knows it).
COURIER_CODES: Mapping[str, str] = {name: code for code, name in COURIERS.items()}
#: ``returnCode`` of a refused query or subscription: True when asking again later can help.
RETURN_CODES: Mapping[str, bool] = {
    "400": False,  # 提交的数据不完整，或者贵公司没授权 (bad request, or the account is not authorised)
    "408": False,  # 快递公司参数异常：单号不存在或者已经过期 / 手机号校验失败
    "500": True,   # 查询无结果，请隔段时间再查 (no scan yet)
    "501": True,   # 服务器错误 (for a subscription: 重复订阅, already subscribed)
    "502": True,   # 服务器繁忙
    "503": False,  # 验证签名失败
    "601": False,  # key 已过期或没有余额
}

#: What the server answers a push: success stops Kuaidi100's resending; a failure (a push
#: refused, its signature wrong say) is sent again 30 minutes later.
RECEIPTS: Mapping[str, bytes] = {
    "accepted": json.dumps({"result": True, "returnCode": "200", "message": "成功"}, ensure_ascii=False).encode(),
    "refused": json.dumps({"result": False, "returnCode": "500", "message": "失败"}, ensure_ascii=False).encode(),
}


def sign(*parts: str) -> str:
    """Kuaidi100's signature: the upper-case hex MD5 of the parts joined (param + key +
    customer for a request, param + salt for a push)."""
    return hashlib.md5("".join(parts).encode("utf-8")).hexdigest().upper()


def query_param(com: str, number: str, phone: str = "") -> str:
    """The ``param`` JSON of ``/poll/query.do``: oldest-first is not asked (order is read by time)."""
    param = {"com": com, "num": number, "resultv2": "4"}
    if phone:
        param["phone"] = phone
    return json.dumps(param, ensure_ascii=False, separators=(",", ":"))


def subscribe_param(com: str, number: str, key: str, callback_url: str, salt: str, phone: str = "") -> str:
    """The ``param`` JSON of a ``/poll`` subscription."""
    parameters = {"callbackurl": callback_url, "resultv2": "4"}
    if salt:
        parameters["salt"] = salt
    if phone:
        parameters["phone"] = phone
    body = {"company": com, "number": number, "key": key, "parameters": parameters}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


# ------------------------------------------------------------------ readers


def parse_time(value: Any, field: str) -> datetime:
    """A Kuaidi100 local time ("2026-12-07 10:21:33", China Standard Time) as an aware datetime."""
    text = parse_text(value, field)
    try:
        moment = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
    except ValueError:
        raise PayloadError(f"expected a time like 2026-12-07 10:21:33, got {text[:40]!r}", field=field) from None
    if not in_range(moment):
        raise PayloadError(f"a time out of range: {text[:40]!r}", field=field)
    return moment


def family(code: str) -> str:
    """The state a sub-state belongs to, by Kuaidi100's numbering: 1001-1099 are 0 在途,
    101-999 are their first digit (201 is 2 疑难); a state is its own family."""
    if code.isascii() and code.isdigit() and len(code) in (3, 4):
        return "0" if len(code) == 4 and code.startswith("10") else code[0] if len(code) == 3 else ""
    return code


def classify(code: Any, word: Any = None, field: str = "state") -> tuple[S, R | None, str]:
    """(status, reason, source) of a state code, or of a scan's status word. A sub-state
    the table does not know takes its word's meaning, else its family's, keeping its code
    as the source; an unknown state is refused."""
    code = parse_text(code, field, required=False, codes=True) if code not in (None, "") else ""
    known = code if code in STATES else WORDS.get(word.strip(), "") if isinstance(word, str) else ""
    known = known or (family(code) if family(code) in STATES and family(code) != code else "")
    if not known:
        raise PayloadError(f"unknown state {str(code or word)[:40]!r}; known: {', '.join(STATES)}", field=field)
    status, reason = STATES[known]
    return status, reason, code or known


def _event(scan: Any, at: str) -> TrackingEvent:
    scan = parse_object(scan, at)
    status, reason, code = classify(scan.get("statusCode"), scan.get("status"), f"{at}.statusCode")
    when = parse_time(scan.get("ftime") or scan.get("time"), f"{at}.ftime")
    place = scan.get("location") or scan.get("areaName")
    return TrackingEvent.checked(at=when, status=status, reason=reason, source=code,
                                 description=parse_text(scan.get("context"), f"{at}.context"),
                                 location=parse_text(place, f"{at}.location", required=False)[:200])


def parse_result(result: Any) -> TrackingUpdate:
    """A query answer (or a push's ``lastResult``): ``nu``, ``state`` and ``data`` (newest first).

    The status is that of the latest scan by time; with no scan, that of ``state``.
    """
    result = parse_object(result, "result")
    data = parse_list(result.get("data"), "data")
    events = sorted((_event(scan, f"data[{i}]") for i, scan in enumerate(data)), key=lambda e: e.at)
    if events:
        status, reason = events[-1].status, events[-1].reason
    else:
        status, reason, _ = classify(result.get("state"))
    return TrackingUpdate(tracking_code=parse_text(result.get("nu"), "nu", codes=True), status=status, reason=reason,
                          events=events, raw=result)


def refusal(answer: Mapping[str, Any]) -> tuple[str, str] | None:
    """(returnCode, message) when a query or subscription answer is a refusal, else None."""
    if answer.get("result") is False or ("returnCode" in answer and "data" not in answer):
        code = str(answer.get("returnCode", ""))[:10]
        return code, str(answer.get("message", ""))[:200]
    return None


def parse_push(param: Any) -> TrackingUpdate | None:
    """A push's ``param`` JSON: its ``lastResult``, or None when it carries no scan
    (``status: abort`` after "3天查询无记录", say)."""
    try:
        push = parse_object(json.loads(param) if isinstance(param, (str, bytes)) else param, "param")
    except ValueError:
        raise PayloadError("the push's param is not JSON", field="param") from None
    last = parse_object(push.get("lastResult"), "lastResult")
    if not last.get("data") and push.get("status") == "abort":
        return None
    return parse_result(last)


def parse_autonumber(answer: Any) -> str | None:
    """The first courier code ``/autonumber/auto`` guesses for a number, or None."""
    if not isinstance(answer, list):
        raise PayloadError(f"expected a list, got {type(answer).__name__}", field="autonumber")
    for i, guess in enumerate(answer):
        code = parse_text(parse_object(guess, f"[{i}]").get("comCode"), f"[{i}].comCode")
        if code.isascii() and code.replace("_", "").isalnum() and len(code) <= 40:
            return code
        raise PayloadError(f"not a courier code: {code[:40]!r}", field=f"[{i}].comCode")
    return None
