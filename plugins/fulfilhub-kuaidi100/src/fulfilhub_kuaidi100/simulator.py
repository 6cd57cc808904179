"""A local Kuaidi100 (快递100) for ``fulfilhub sandbox`` and the tests, on the scenario clock.

- ``POST /poll/query.do`` (form ``customer``, ``sign``, ``param``): the scans the clock
  has reached, in Kuaidi100's shape with ``resultv2=4`` codes and Chinese ``context``.
  A wrong signature answers ``returnCode`` 503, an unknown courier 400, SF without
  ``phone`` 408. A number is handed to its courier the first time it is asked about
  (a simplification: the real Kuaidi100 answers 500 until the courier reports it).
- ``POST /poll`` (form ``schema=json``, ``param`` with ``key``): a subscription; a
  second one answers 501 (重复订阅).
- ``GET /autonumber/auto?num=&key=``: the courier guessed from the number.

Options: ``key`` and ``customer`` (when set, checked), ``exception_rate`` (0.05: damaged,
refused, or the courier could not reach the recipient, a third each) and ``delay_rate``
(0.1: held at the outlet, 滞留, for a day or two). ``pending_webhooks()`` gives the
pushes of subscribed numbers with new scans, signed MD5(param + salt).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fulfilhub.sandbox import LockedState, Option, Rejected, SandboxContext, SeededIds, answering, read_options

from .mapping import CHINA, NAMES, sign

OPTIONS = {
    "key": Option(None, str),
    "customer": Option(None, str),
    "exception_rate": Option(0.05, (int, float), low=0, high=1),
    "delay_rate": Option(0.1, (int, float), low=0, high=1),
}
COURIERS = {"shunfeng": "顺丰速运", "yuantong": "圆通速递", "zhongtong": "中通快递", "shentong": "申通快递",
            "yunda": "韵达快递", "jd": "京东物流", "ems": "EMS", "jtexpress": "极兔速递"}
_NAME = {code: name for name, code in NAMES.items()}
_CITIES = (("上海市", "上海,上海市"), ("杭州市", "浙江,杭州市"), ("广州市", "广东,广州市"), ("成都市", "四川,成都市"),
           ("北京市", "北京,北京市"), ("武汉市", "湖北,武汉市"))


async def _form(request: Request) -> dict[str, str]:
    """A form body's fields (the first value of each), without python-multipart."""
    try:
        return {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True).items()}
    except (UnicodeDecodeError, ValueError):
        return {}


def _refused(code: str, message: str) -> JSONResponse:
    return JSONResponse({"result": False, "returnCode": code, "message": message})


class Kuaidi100Simulator:
    def __init__(self, context: SandboxContext):
        self.name = context.name or "kuaidi100"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.key, self.customer = options["key"], options["customer"]
        self.exception_rate, self.delay_rate = options["exception_rate"], options["delay_rate"]
        self.clock, self.ids = context.clock, SeededIds(context.seed)
        #: parcels: (com, num) -> {"scans": [(at, item)], "fate"}; subscriptions: (com, num) -> {"salt", "seen"}
        self.state = LockedState({"parcels": {}, "subscriptions": {}, "queries": 0})
        self.app = Starlette(routes=[
            Route("/poll/query.do", answering(self._query), methods=["POST"]),
            Route("/poll", answering(self._subscribe), methods=["POST"]),
            Route("/autonumber/auto", answering(self._autonumber), methods=["GET"]),
        ])

    def fate(self, com: str, num: str) -> str:
        with self.state as state:
            return state["parcels"][(com, num)]["fate"]

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """Pushes of subscribed parcels with new scans since last asked, as Kuaidi100 posts them."""
        now, out = self.clock.now(), []
        with self.state as state:
            for (com, num), sub in state["subscriptions"].items():
                parcel = self._parcel(state, com, num)
                seen = [(at, item) for at, item in parcel["scans"] if at <= now]
                if len(seen) > sub["seen"]:
                    sub["seen"] = len(seen)
                    param = json.dumps({"status": "polling", "billstatus": "got", "message": "", "autoCheck": "0",
                                        "comOld": "", "comNew": "", "lastResult": self._result(com, num, seen, "asc")},
                                       ensure_ascii=False)
                    body = urlencode({"param": param, "sign": sign(param, sub["salt"])}).encode()
                    out.append(({"Content-Type": "application/x-www-form-urlencoded"}, body))
        return out

    # -- endpoints

    async def _query(self, request: Request) -> Response:
        form = await _form(request)
        param, given, customer = str(form.get("param") or ""), str(form.get("sign") or ""), str(form.get("customer") or "")
        if self.key is not None and (customer != self.customer or given != sign(param, self.key, customer)):
            return _refused("503", "验证签名失败")
        try:
            query = json.loads(param)
            com, num = str(query["com"]), str(query["num"])
        except (ValueError, KeyError, TypeError):
            return _refused("400", "参数不完整或格式错误")
        if com not in COURIERS:
            return _refused("400", "找不到对应公司")
        if com == "shunfeng" and not str(query.get("phone") or "").strip():
            return _refused("408", "您提交的快递公司需要提供收寄件人手机号后四位")
        now = self.clock.now()
        with self.state as state:
            state["queries"] += 1
            parcel = self._parcel(state, com, num)
            seen = [(at, item) for at, item in parcel["scans"] if at <= now]
            return JSONResponse(self._result(com, num, seen, str(query.get("order") or "desc")))

    async def _subscribe(self, request: Request) -> Response:
        form = await _form(request)
        try:
            param = json.loads(str(form.get("param") or ""))
            com, num, key = str(param["company"]), str(param["number"]), param.get("key")
            parameters = param.get("parameters") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise Rejected(200, {"result": False, "returnCode": "700", "message": "不支持的快递公司或参数错误"}) from None
        if self.key is not None and key != self.key:
            return _refused("600", "您不是合法的订阅者（即授权Key出错）")
        with self.state as state:
            if (com, num) in state["subscriptions"]:
                return _refused("501", "重复订阅")
            state["subscriptions"][(com, num)] = {"salt": str(parameters.get("salt") or ""), "seen": 0}
        return JSONResponse({"result": True, "returnCode": "200", "message": "提交成功"})

    async def _autonumber(self, request: Request) -> Response:
        num = request.query_params.get("num", "")
        com = ("shunfeng" if num.upper().startswith("SF") else "yuantong" if num.upper().startswith("YT")
               else "jd" if num.upper().startswith("JD") else "zhongtong" if num[:2] in ("73", "75", "78") else "")
        return JSONResponse([{"comCode": com, "lengthPre": len(num), "noCount": 1000, "noPre": num[:4]}] if com else [])

    # -- parcels (called with the state lock held)

    def _parcel(self, state: dict[str, Any], com: str, num: str) -> dict[str, Any]:
        parcel = state["parcels"].get((com, num))
        if parcel is None:
            parcel = state["parcels"][(com, num)] = self._script(com, num, self.clock.now())
        return parcel

    def _script(self, com: str, num: str, t0: datetime) -> dict[str, Any]:
        rng = self.ids.rng("fate", com, num)
        roll, third = rng.random(), self.exception_rate / 3
        fate = ("damaged" if roll < third else "refused" if roll < 2 * third else "unreachable"
                if roll < self.exception_rate else "held" if roll < self.exception_rate + self.delay_rate else "on_time")
        (origin, origin_area), (dest, dest_area) = rng.sample(_CITIES, 2)
        courier, courier_man = COURIERS[com], rng.choice(["张伟", "王芳", "李娜", "刘洋"])
        day = (t0 + timedelta(days=2)).astimezone(CHINA).replace(hour=9, minute=rng.randrange(60), second=0, microsecond=0)
        steps = [(t0, "103", f"【{origin}】{courier} 已揽收", origin_area),
                 (t0 + timedelta(hours=6), "1002", f"快件离开【{origin}转运中心】，已发往【{dest}转运中心】", origin_area),
                 (day - timedelta(hours=10), "1001", f"快件已到达【{dest}】，准备派送", dest_area)]
        if fate == "held":
            late = rng.randint(1, 2)
            steps.append((day - timedelta(hours=1), "208", f"快件滞留于【{dest}】网点，预计延误{late}天派送", dest_area))
            day += timedelta(days=late)
        steps.append((day, "5", f"【{dest}】派件员 {courier_man} 正在为您派件", dest_area))
        if fate == "damaged":
            steps.append((day + timedelta(hours=2), "209", "快件外包装破损，已联系寄件人处理", dest_area))
        elif fate == "refused":
            steps += [(day + timedelta(hours=3), "203", "收件人拒收，待寄件人确认", dest_area),
                      (day + timedelta(days=3), "14", "收件人拒签，快件已退回寄件人并签收", origin_area)]
        else:
            if fate == "unreachable":
                steps.append((day + timedelta(hours=3), "206", "派件员多次联系收件人未果，明日再派", dest_area))
                day += timedelta(days=1)
                steps.append((day, "5", f"【{dest}】派件员 {courier_man} 正在为您派件", dest_area))
            steps.append((day + timedelta(hours=rng.randint(2, 6)), "301", "您的快件已签收，签收人：本人。感谢使用"
                          f"{courier}，期待再次为您服务", dest_area))
        return {"fate": fate, "scans": [(at, {"code": code, "context": text, "area": area}) for at, code, text, area in steps]}

    def _result(self, com: str, num: str, seen: list[tuple[datetime, dict[str, Any]]], order: str) -> dict[str, Any]:
        """A query's answer (also a push's ``lastResult``): ``resultv2=4`` codes, Chinese scans."""
        data = [{"time": f"{at.astimezone(CHINA):%Y-%m-%d %H:%M:%S}", "ftime": f"{at.astimezone(CHINA):%Y-%m-%d %H:%M:%S}",
                 "context": item["context"], "location": item["area"].split(",")[-1], "areaCode": None,
                 "areaName": item["area"], "status": _NAME[item["code"]], "statusCode": item["code"]}
                for at, item in seen]
        state = seen[-1][1]["code"] if seen else "0"
        return {"message": "ok", "nu": num, "ischeck": "1" if state in ("301", "14") else "0", "condition": "F00",
                "com": com, "status": "200", "state": state, "data": data[::-1] if order == "desc" else data}
