"""A local Kuaidi100 (快递100) for ``fulfilhub sandbox`` and the tests, on the scenario clock.

It answers the part of Kuaidi100's API the adapter uses, in Kuaidi100's shapes:

- ``POST /poll/query.do`` (form ``customer``, ``sign``, ``param``): the real-time query,
  signed with the upper-case MD5 of param + key + customer (``returnCode`` 503 when the
  signature is wrong). The scans the clock has reached come newest first, with
  ``resultv2=4`` sub-states (``statusCode``) and their Chinese words and descriptions;
  ``returnCode`` 500 (查询无结果) before the first scan or for a number nobody shipped;
  408 when SF's phone digits are missing or wrong.
- ``POST /poll`` (form ``schema=json``, ``param`` with ``key``): subscribes a number
  (``returnCode`` 501 when it is subscribed already); ``pending_webhooks()`` then gives
  the pushes Kuaidi100 would POST to its ``callbackurl``: a form ``param`` (``status``,
  ``message``, ``lastResult``) and ``sign`` (MD5 of param + salt, with a salt).
- ``GET /autonumber/auto?num=...&key=...``: the courier guessed from the number.

Kuaidi100 sells no labels: a parcel exists once ``ship(com, number)`` hands it to the
courier (what a label bought elsewhere does). Options: ``customer`` and ``key`` (when
set, others are refused), ``exception_rate`` (0.1: refused and sent back, damaged, or
stuck 滞留 then late). Same seed, same calls: same scans.
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

from fulfilhub.sandbox import LockedState, Option, SandboxContext, SeededIds, read_options

from .mapping import COURIERS, CST, sign

OPTIONS = {
    "customer": Option(None, str),
    "key": Option(None, str),
    "exception_rate": Option(0.1, (int, float), low=0, high=1),
}
#: (city, area code, area name) pairs a parcel travels between.
CITIES = (("深圳市", "CN440300000000", "广东,深圳市"), ("上海市", "CN310000000000", "上海"),
          ("杭州市", "CN330100000000", "浙江,杭州市"), ("北京市", "CN110000000000", "北京"),
          ("成都市", "CN510100000000", "四川,成都市"), ("广州市", "CN440100000000", "广东,广州市"))
#: Number prefixes the autonumber guess reads (the simulator's own parcels are known exactly).
PREFIXES = (("SF", "shunfeng"), ("YT", "yuantong"), ("JD", "jd"), ("JT", "jtexpress"), ("E", "ems"),
            ("78", "zhongtong"), ("43", "yunda"), ("77", "shentong"))
WORD = {"103": "揽收", "1002": "干线", "1001": "到达派件城市", "5": "派件", "501": "投柜或驿站", "301": "签收",
        "304": "签收", "208": "疑难", "209": "疑难", "14": "拒签", "6": "退回", "4": "退签"}
_NO_RESULT = {"result": False, "returnCode": "500", "message": "查询无结果，请隔段时间再查"}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


async def _form(request: Request) -> dict[str, str]:
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


class Kuaidi100Simulator:
    def __init__(self, context: SandboxContext):
        self.name = context.name or "kuaidi100"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.clock, self.ids = context.clock, SeededIds(context.seed)
        self.customer, self.key = options["customer"], options["key"]
        self.exception_rate = options["exception_rate"]
        #: parcels: number -> {com, phone, fate, steps: [(at, code, context, city)]}; subs: number -> {url, salt, seen}
        self.state = LockedState({"parcels": {}, "subs": {}})
        self.calls = {"query": 0, "subscribe": 0, "autonumber": 0}  # requests answered, for tests
        self.app = Starlette(routes=[
            Route("/poll/query.do", self._query, methods=["POST"]),
            Route("/poll", self._subscribe, methods=["POST"]),
            Route("/autonumber/auto", self._autonumber, methods=["GET"]),
        ])

    # -- for tests and the demo

    def ship(self, com: str, number: str = "", phone: str = "", city: str = "") -> str:
        """The courier takes a parcel (its label bought elsewhere) to ``city`` (one of
        :data:`CITIES`; else one at random); returns its number."""
        now = self.clock.now()
        with self.state as state:
            prefix = next((p for p, c in PREFIXES if c == com), com[:2].upper())
            number = number or f"{prefix}{self.ids.next('number', 10**12)}"
            if number not in state["parcels"]:
                state["parcels"][number] = self._script(com, number, phone, now, city)
        return number

    def outside_parcel(self, phone: str = "", city: str = "") -> tuple[str, str]:
        """A parcel handed to a mainland courier with a label bought at its counter (what
        the demo's mainland order does): (courier code, tracking number), on the clock."""
        com = ("shunfeng", "zhongtong", "yuantong", "yunda", "jd")[self.ids.next("outside") % 5]
        return com, self.ship(com, phone=phone, city=city)

    def scans(self, number: str) -> list[tuple[str, datetime]]:
        """(statusCode, time) of each scan sent so far for ``number``, oldest first."""
        now = self.clock.now()
        with self.state as state:
            parcel = state["parcels"].get(number)
            return [(code, at) for at, code, _, _ in parcel["steps"] if at <= now] if parcel else []

    def fate(self, number: str) -> str:
        with self.state as state:
            return state["parcels"][number]["fate"]

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """The pushes Kuaidi100 would have POSTed since last asked, one per subscribed number that moved."""
        now, out = self.clock.now(), []
        with self.state as state:
            for number, sub in state["subs"].items():
                parcel = state["parcels"].get(number)
                seen = len([s for s in parcel["steps"] if s[0] <= now]) if parcel else 0
                if seen <= sub["seen"]:
                    continue
                sub["seen"] = seen
                result = self._result(number, parcel, now)
                done = result["ischeck"] == "1"
                param = json.dumps({"status": "shutdown" if done else "polling", "billstatus": "", "message": "",
                                    "autoCheck": "0", "comOld": "", "comNew": "", "lastResult": result},
                                   ensure_ascii=False)
                form = {"param": param, **({"sign": sign(param, sub["salt"])} if sub["salt"] else {})}
                out.append(({"Content-Type": "application/x-www-form-urlencoded"}, urlencode(form).encode()))
        return out

    # -- endpoints

    async def _query(self, request: Request) -> Response:
        self.calls["query"] += 1
        form = await _form(request)
        param = form.get("param", "")
        if (self.customer and form.get("customer") != self.customer) or \
                (self.key and form.get("sign") != sign(param, self.key, form.get("customer", ""))):
            return JSONResponse({"result": False, "returnCode": "503", "message": "验证签名失败"})
        try:
            asked = json.loads(param)
            number, com = str(asked["num"]), str(asked["com"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"result": False, "returnCode": "400", "message": "提交的数据不完整"})
        now = self.clock.now()
        with self.state as state:
            parcel = state["parcels"].get(number)
            if parcel is None or parcel["com"] != com:
                return JSONResponse(_NO_RESULT)
            if com == "shunfeng" and str(asked.get("phone", ""))[-4:] != parcel["phone"][-4:]:
                return JSONResponse({"result": False, "returnCode": "408", "message": "手机号码校验失败"})
            result = self._result(number, parcel, now)
        return JSONResponse(result if result["data"] else _NO_RESULT)

    async def _subscribe(self, request: Request) -> Response:
        self.calls["subscribe"] += 1
        form = await _form(request)
        try:
            asked = json.loads(form.get("param", ""))
            number, parameters = str(asked["number"]), asked["parameters"]
            url, salt = str(parameters["callbackurl"]), str(parameters.get("salt", ""))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"result": False, "returnCode": "400", "message": "提交的数据不完整"})
        if form.get("schema") != "json" or (self.key and asked.get("key") != self.key):
            return JSONResponse({"result": False, "returnCode": "600", "message": "您不是合法的订阅者"})
        with self.state as state:
            if number in state["subs"]:
                return JSONResponse({"result": False, "returnCode": "501", "message": "重复订阅"})
            state["subs"][number] = {"url": url, "salt": salt, "seen": 0}
        return JSONResponse({"result": True, "returnCode": "200", "message": "提交成功"})

    async def _autonumber(self, request: Request) -> Response:
        self.calls["autonumber"] += 1
        number, key = request.query_params.get("num", ""), request.query_params.get("key")
        if self.key and key != self.key:
            return JSONResponse({"returnCode": "601", "message": "key已过期"}, status_code=200)
        with self.state as state:
            known = state["parcels"].get(number)
        com = known["com"] if known else next((c for prefix, c in PREFIXES if number.startswith(prefix)), None)
        return JSONResponse([{"comCode": com, "lengthPre": len(number), "noPre": number[:4], "noCount": 1}] if com else [])

    # -- parcels (called with the state lock held)

    def _script(self, com: str, number: str, phone: str, t0: datetime, city: str = "") -> dict[str, Any]:
        rng = self.ids.rng("fate", number)
        roll, third = rng.random(), self.exception_rate / 3
        fate = "refused" if roll < third else "damaged" if roll < 2 * third else "stuck" \
            if roll < self.exception_rate else "locker" if roll < self.exception_rate + 0.2 else "on_time"
        (src, *_), dest = rng.choice(CITIES), next((c for c in CITIES if c[0] == city), rng.choice(CITIES))
        name, hub = COURIERS.get(com, com), f"{src[:2]}转运中心"
        to_hub = f"【{src}】快件已发往 {dest[0][:2]}转运中心"
        steps = [(t0 + timedelta(hours=2), "103", f"【{src}】{name} 已收取快件", src),
                 (t0 + timedelta(hours=6), "1002", f"快件在【{hub}】已装车，准备发往下一站", src),
                 (t0 + timedelta(hours=20), "1002", to_hub, src),
                 (t0 + timedelta(days=1, hours=8), "1001", f"快件到达【{dest[0]}】", dest[0])]
        day = t0 + timedelta(days=2)
        if fate == "stuck":
            steps.append((day - timedelta(hours=4), "208", f"【{dest[0]}】因天气原因快件滞留，将延误派送", dest[0]))
            day += timedelta(days=rng.randint(1, 3))
        if fate == "damaged":
            steps.append((day - timedelta(hours=4), "209", f"【{dest[0]}】快件外包装破损，已联系寄件人处理", dest[0]))
        elif fate == "refused":
            steps += [(day, "5", f"【{dest[0]}】快递员正在派件（联系电话：95338）", dest[0]),
                      (day + timedelta(hours=3), "14", f"【{dest[0]}】收件人拒签，快件将退回", dest[0]),
                      (day + timedelta(hours=8), "6", f"【{dest[0]}】快件已退回，正在返回寄件人途中", dest[0]),
                      (day + timedelta(days=2), "4", f"【{src}】退回件已由寄件人签收", src)]
        elif fate == "locker":
            steps += [(day, "501", f"【{dest[0]}】快件已放入丰巢快递柜，请凭取件码取件", dest[0]),
                      (day + timedelta(hours=rng.randint(2, 30)), "304", f"【{dest[0]}】快件已从快递柜取出，已签收", dest[0])]
        else:
            steps += [(day, "5", f"【{dest[0]}】快递员正在派件（联系电话：95338）", dest[0]),
                      (day + timedelta(hours=rng.randint(1, 6)), "301", f"【{dest[0]}】快件已签收，签收人：本人",
                       dest[0])]
        steps = [(at.replace(microsecond=0), code, text, city) for at, code, text, city in steps]
        return {"com": com, "phone": phone, "fate": fate, "steps": steps,
                "areas": {city: (code, area) for city, code, area in CITIES}}

    def _result(self, number: str, parcel: dict[str, Any], now: datetime) -> dict[str, Any]:
        seen = [step for step in parcel["steps"] if step[0] <= now]
        data = []
        for at, code, text, city in reversed(seen):  # newest first, as Kuaidi100 lists them
            area_code, area = parcel["areas"][city]
            data.append({"time": _stamp(at), "ftime": _stamp(at), "context": text, "location": city,
                         "areaCode": area_code, "areaName": area, "status": WORD[code], "statusCode": code})
        state = data[0]["statusCode"] if data else "0"
        return {"message": "ok", "nu": number, "ischeck": "1" if state in ("301", "304", "4") else "0",
                "condition": "F00", "com": parcel["com"], "status": "200", "state": state, "data": data}
