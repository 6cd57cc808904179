"""A local ECPay Logistics for ``fulfilhub sandbox`` and the tests: a Starlette app on the scenario clock.

It answers the part of ECPay's logistics API the adapter uses, in ECPay's shapes
(forms in, text out), checking each request's ``CheckMacValue`` with the merchant's
HashKey and HashIV:

- ``POST /Express/Create``: ``1|<signed form>`` with ``RtnCode=300`` and the
  ``AllPayLogisticsID``; ``0|<message>`` for a bad CheckMacValue, an unknown subtype, a
  store pickup without ``ReceiverStoreID``, or a ``MerchantTradeNo`` used before (ECPay
  never creates one number twice).
- ``POST /Helper/QueryLogisticsTradeInfo/V3``: by ``AllPayLogisticsID`` or
  ``MerchantTradeNo``, the signed form with the ``LogisticsStatus`` of now.
- ``POST /Express/CancelC2COrder``: a 7-ELEVEN C2C order not yet handed over stops
  there (``1|OK``, also when asked again).
- ``pending_webhooks()``: the status notifications ECPay would have POSTed to
  ``ServerReplyURL`` since last asked, each a signed form.

A parcel's statuses follow the subtype's codes on the scenario clock: created (300),
handed over (C2C), at the logistics centre, at the store (then picked up, or, with
``unclaimed_rate``, 七天未取件 seven days later and returned); home delivery goes
轉運中, 配送中, 配完. Options: ``merchant_id``, ``hash_key``, ``hash_iv`` (default: ECPay's
public test merchant), ``unclaimed_rate`` (0.05). Same seed, same requests: same ids and fates.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fulfilhub.sandbox import LockedState, Option, SandboxContext, SeededIds, read_options

from .mapping import STATUSES, SUBTYPES, TAIPEI, TIME_FORMAT, pickup_until, signed, verified

OPTIONS = {
    "merchant_id": Option("2000132", str),
    "hash_key": Option("5294y06JbISpM5x9", str),
    "hash_iv": Option("v77hoKGq4kWxNNIS", str),
    "unclaimed_rate": Option(0.05, (int, float), low=0, high=1),
}
#: subtype -> (handed over, logistics centre, at the store, picked up, not picked up, returned)
CVS_CODES = {
    "UNIMART": ("", "2030", "2063", "2067", "2074", "2078"),
    "UNIMARTC2C": ("2068", "2030", "2073", "2067", "2074", "2078"),
    "FAMI": ("", "3024", "3018", "3022", "3020", "3019"),
    "FAMIC2C": ("3032", "3024", "3018", "3022", "3020", "3019"),
    "HILIFE": ("", "2030", "2063", "2067", "2074", "2072"),
    "HILIFEC2C": ("", "2030", "2063", "2067", "2074", "2072"),
    "OKMARTC2C": ("3032", "3024", "3018", "3022", "3020", "3019"),
}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(TAIPEI).strftime(TIME_FORMAT)


class EcpaySimulator:
    def __init__(self, context: SandboxContext):
        self.name = context.name or "ecpay"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.merchant_id, self.hash_key, self.hash_iv = options["merchant_id"], options["hash_key"], options["hash_iv"]
        self.unclaimed_rate = options["unclaimed_rate"]
        self.clock, self.ids = context.clock, SeededIds(context.seed)
        #: orders by AllPayLogisticsID: the create form, the steps [(time, code)], and how many were pushed
        self.state = LockedState({"orders": {}, "by_trade_no": {}})
        self.app = Starlette(routes=[
            Route("/Express/Create", self._create, methods=["POST"]),
            Route("/Helper/QueryLogisticsTradeInfo/V3", self._query, methods=["POST"]),
            Route("/Express/CancelC2COrder", self._cancel, methods=["POST"]),
        ])

    # -- for tests and the demo

    def orders_created(self) -> int:
        with self.state as state:
            return len(state["orders"])

    def scans(self, logistics_id: str) -> list[tuple[str, datetime]]:
        """The statuses the order has had by now: ``(RtnCode, time)`` each."""
        now = self.clock.now()
        with self.state as state:
            return [(code, at) for at, code in state["orders"][logistics_id]["steps"] if at <= now]

    def fate(self, logistics_id: str) -> str:
        with self.state as state:
            return state["orders"][logistics_id]["fate"]

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """The status notifications ECPay would have POSTed since last asked, signed."""
        now, out = self.clock.now(), []
        with self.state as state:
            for logistics_id, order in state["orders"].items():
                due = [(at, code) for at, code in order["steps"] if at <= now]
                for at, code in due[order["pushed"]:]:
                    out.append(self._push(logistics_id, order, code, at))
                order["pushed"] = len(due)
        return [({"Content-Type": "application/x-www-form-urlencoded"}, urlencode(form).encode()) for form in out]

    # -- endpoints

    async def _form(self, request: Request) -> dict[str, str] | None:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        return form if verified(form, self.hash_key, self.hash_iv) else None

    async def _create(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return PlainTextResponse("0|CheckMacValue Error")
        subtype, kind = form.get("LogisticsSubType", ""), form.get("LogisticsType", "")
        if form.get("MerchantID") != self.merchant_id:
            return PlainTextResponse("0|MerchantID Error")
        if subtype not in SUBTYPES or SUBTYPES[subtype][0] != kind:
            return PlainTextResponse(f"0|LogisticsSubType Error: {subtype}")
        if kind == "CVS" and not form.get("ReceiverStoreID"):
            return PlainTextResponse("0|ReceiverStoreID is required")
        now, trade_no = self.clock.now(), form.get("MerchantTradeNo", "")
        with self.state as state:
            if trade_no and trade_no in state["by_trade_no"]:
                return PlainTextResponse("0|MerchantTradeNo is repeated")
            logistics_id = str(self.ids.next("logistics", 1_700_000))
            trade_no = trade_no or f"EC{logistics_id}"
            rng = self.ids.rng("fate", logistics_id)
            order = {"form": form, "trade_no": trade_no, "subtype": subtype, "created": now, "pushed": 0,
                     "payment_no": f"C{rng.randrange(10**7):07d}" if kind == "CVS" else "",
                     "validation_no": f"{rng.randrange(10**4):04d}" if subtype == "UNIMARTC2C" else "",
                     "booking": f"{rng.randrange(10**11):011d}" if kind == "HOME" else ""}
            order["fate"], order["steps"] = self._script(subtype, now, rng)
            state["orders"][logistics_id] = order
            state["by_trade_no"][trade_no] = logistics_id
            answer = self._push(logistics_id, order, "300", now)
        return PlainTextResponse("1|" + urlencode(answer))

    async def _query(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return PlainTextResponse("CheckMacValue Error")
        now = self.clock.now()
        with self.state as state:
            logistics_id = form.get("AllPayLogisticsID") or state["by_trade_no"].get(form.get("MerchantTradeNo", ""))
            order = state["orders"].get(logistics_id or "")
            if order is None:
                return PlainTextResponse("查無此筆物流訂單")
            code = [code for at, code in order["steps"] if at <= now][-1]
            kind = SUBTYPES[order["subtype"]][0]
            answer = {"MerchantID": self.merchant_id, "MerchantTradeNo": order["trade_no"],
                      "AllPayLogisticsID": logistics_id, "GoodsAmount": order["form"].get("GoodsAmount", ""),
                      "LogisticsType": f"{kind}_{order['subtype']}", "HandlingCharge": "60" if kind == "CVS" else "130",
                      "CollectionChargeFee": "0", "TradeDate": _stamp(order["created"]), "LogisticsStatus": code,
                      "GoodsName": order["form"].get("GoodsName", ""), "ShipmentNo": order["payment_no"][:8],
                      "BookingNote": order["booking"], "CVSPaymentNo": order["payment_no"],
                      "CVSValidationNo": order["validation_no"]}
        return PlainTextResponse(urlencode(signed(answer, self.hash_key, self.hash_iv)))

    async def _cancel(self, request: Request) -> Response:
        """A 7-ELEVEN C2C order not yet handed over is cancelled (its statuses stop); a repeat answers 1|OK too."""
        form = await self._form(request)
        if form is None:
            return PlainTextResponse("0|CheckMacValue Error")
        now = self.clock.now()
        with self.state as state:
            order = state["orders"].get(form.get("AllPayLogisticsID", ""))
            if order is None or order["subtype"] != "UNIMARTC2C":
                return PlainTextResponse("0|查無此筆物流訂單")
            if order["fate"] == "cancelled":
                return PlainTextResponse("1|OK")
            if [code for at, code in order["steps"] if at <= now][-1] != "300":
                return PlainTextResponse("0|已寄貨，無法取消")
            order["fate"], order["steps"] = "cancelled", [step for step in order["steps"] if step[0] <= now]
        return PlainTextResponse("1|OK")

    # -- parcels

    def _push(self, logistics_id: str, order: dict[str, Any], code: str, at: datetime) -> dict[str, str]:
        form = order["form"]
        fields = {"MerchantID": self.merchant_id, "MerchantTradeNo": order["trade_no"], "RtnCode": code,
                  "RtnMsg": STATUSES[code][2], "AllPayLogisticsID": logistics_id,
                  "LogisticsType": form.get("LogisticsType", ""), "LogisticsSubType": order["subtype"],
                  "GoodsAmount": form.get("GoodsAmount", ""), "UpdateStatusDate": _stamp(at),
                  "ReceiverName": form.get("ReceiverName", ""), "ReceiverPhone": form.get("ReceiverPhone", ""),
                  "ReceiverCellPhone": form.get("ReceiverCellPhone", ""), "ReceiverEmail": form.get("ReceiverEmail", ""),
                  "ReceiverAddress": form.get("ReceiverAddress", ""), "CVSPaymentNo": order["payment_no"],
                  "CVSValidationNo": order["validation_no"], "BookingNote": order["booking"]}
        return signed(fields, self.hash_key, self.hash_iv)

    def _script(self, subtype: str, t0: datetime, rng: Any) -> tuple[str, list[tuple[datetime, str]]]:
        """The parcel's fate and every status it will have, on the scenario clock (whole seconds)."""
        t0 = t0.replace(microsecond=0)
        if SUBTYPES[subtype][0] == "HOME":
            out_day = (t0 + timedelta(days=1)).replace(hour=8, minute=rng.randrange(60), second=0)
            return "delivered", [(t0, "300"), (t0 + timedelta(hours=6), "3001"), (out_day, "3006"),
                                 (out_day + timedelta(hours=rng.randint(1, 9)), "3003")]
        handed, centre, store, picked, unclaimed, returned = CVS_CODES[subtype]
        arrived = (t0 + timedelta(days=2)).replace(hour=9, minute=rng.randrange(60), second=0)
        steps = [(t0, "300")]
        if handed:
            steps.append((t0 + timedelta(hours=5), handed))
        steps += [(t0 + timedelta(days=1), centre), (arrived, store)]
        if rng.random() < self.unclaimed_rate:
            last_day = pickup_until(arrived)  # the store keeps it to the end of that day (Taiwan)
            flagged = datetime.combine(last_day + timedelta(days=1), time(2, 0), TAIPEI).astimezone(t0.tzinfo)
            return "unclaimed", [*steps, (flagged, unclaimed), (flagged + timedelta(days=1), returned)]
        return "picked_up", [*steps, (arrived + timedelta(hours=rng.randint(3, 72)), picked)]
