"""fulfilhub's conformance suite, run against the ECPay Logistics carrier and its simulator."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import fulfilhub_ecpay
from fulfilhub import Address, Parcel, PickupPoint, ShipmentRequest, SimClock
from fulfilhub.testing.conformance import CarrierSuite

from fulfilhub_ecpay import mapping



def request(reference: str) -> ShipmentRequest:
    """A parcel to a 7-ELEVEN store the customer chose (a C2C store pickup)."""
    store = PickupPoint(network="7-ELEVEN", store_id="131386", store_name="高雄四維店", store_address="高雄市苓雅區四維三路6號")
    return ShipmentRequest(
        reference=reference,
        ship_from=Address(name="好物倉庫", line1="南港區三重路19-2號", city="台北市", postal_code="11560", country="TW",
                          phone="0911222333"),
        ship_to=Address(name="林小姐", country="TW", phone="0933222111", email="lin@example.tw", pickup=store),
        parcel=Parcel(weight_g="1200"),
    )

_FORM = "ECPay answers and pushes forms (k=v&...), not JSON"
_KEY = fulfilhub_ecpay.TEST_MERCHANT[1]


class TestEcpayConformance(CarrierSuite):
    plugin = fulfilhub_ecpay
    entry_point = "ecpay"
    type_name = "ecpay"
    stages = ("buy", "track")  # quote prices from the fees setting: it sends no request
    status_table = {code: status for code, (status, _reason, _words) in mapping.STATUSES.items()}
    documented_statuses = tuple(mapping.STATUSES)
    reason_table = {code: reason for code, (_s, reason, _w) in mapping.STATUSES.items() if reason}
    documented_reasons = tuple(code for code, (_s, reason, _w) in mapping.STATUSES.items() if reason)
    webhook_secret_setting = "hash_iv"
    signature_header = "CheckMacValue"
    expected_failures = {
        "test_mappings_survive_mutated_simulator_answers[buy]": f"{_FORM}; test_ecpay_fuzz mutates them",
        "test_mappings_survive_mutated_simulator_answers[track]": f"{_FORM}; test_ecpay_fuzz mutates them",
        "test_the_same_instant_in_another_offset_maps_to_the_same_time[buy]": f"{_FORM}; every ECPay time is "
                                                                               "Taiwan time with no offset written",
        "test_webhook_without_the_signature_header_is_rejected": f"{_FORM}: CheckMacValue is a form field, not a "
                                                                 "header; test_ecpay_webhooks refuses a push without it",
        "test_webhook_signatures_are_compared_in_constant_time": f"{_FORM}: CheckMacValue is a form field; "
                                                                 "test_ecpay_webhooks checks the comparison",
        "test_webhook_bodies_survive_mutation": f"{_FORM}; test_ecpay_fuzz mutates the pushes",
        "test_webhook_stale_replay_is_rejected": "ECPay signs no send time and resends a notification for up to "
                                                 "three days: a replay is the same delivery (webhook_delivery)",
        "test_without_a_webhook_secret_webhooks_are_refused": "HashIV signs every request too: an instance without "
                                                              "it is refused when it is built (ConfigError)",
    }

    def shipment_request(self, reference: str = "conformance-1") -> ShipmentRequest:
        return request(reference)

    def label_count(self, sim: Any) -> int:
        return sim.orders_created()

    def exercise(self, adapter: Any) -> Any:
        """Create an order and read its status: quoting sends no request."""
        label = adapter.buy(adapter.quote(request("exercise"))[0], f"carrier.buy_label:exercise/{next(_COUNT)}")
        return adapter.track(label)

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        label = adapter.buy(adapter.quote(request("fuzz-1"))[0], "carrier.buy_label:fuzz/1")
        clock.advance(timedelta(days=2))
        rate = adapter.quote(request("fuzz-2"))[0]
        return [("buy", lambda: adapter.buy(rate, "carrier.buy_label:fuzz/2")), ("track", lambda: adapter.track(label))]

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        fields = {"MerchantID": "2000132", "MerchantTradeNo": "FH0123456789ABCDEF01", "RtnCode": "2073",
                  "RtnMsg": "商品已送達門市", "AllPayLogisticsID": "1718546", "LogisticsType": "CVS",
                  "LogisticsSubType": "UNIMARTC2C", "GoodsAmount": "1000",
                  "UpdateStatusDate": at.astimezone(mapping.TAIPEI).strftime(mapping.TIME_FORMAT),
                  "ReceiverName": "林小姐", "ReceiverPhone": "", "ReceiverCellPhone": "0933222111",
                  "ReceiverEmail": "lin@example.tw", "ReceiverAddress": "", "CVSPaymentNo": "C9680734",
                  "CVSValidationNo": "4551", "BookingNote": ""}
        form = mapping.signed(fields, _KEY, secret)
        return {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(form).encode()

    def resign(self, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, str]:
        return {}


_COUNT = itertools.count()
