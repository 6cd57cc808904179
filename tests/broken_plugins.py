"""Deliberately broken plugins, one per conformance check (run by tests/test_conformance.py).

Each ``Broken*`` class runs one suite against a copy of a good plugin — the one
``fulfilhub new`` writes for the kind (packages ``fulfilhub_kc`` carrier, ``fulfilhub_kh``
channel, ``fulfilhub_kw`` warehouse, ``fulfilhub_kn`` notifier, ``fulfilhub_kp`` policy)
— with one defect; ``CAUGHT_BY`` says which check must fail for it. This module is
copied next to the rendered packages and run in a pytest of its own: it is not a test
module of the core.
"""

from __future__ import annotations

import json
import itertools
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import fulfilhub_kc
import fulfilhub_kh
import fulfilhub_kp
import fulfilhub_kw
from fulfilhub_kc import carrier as kc
from fulfilhub_kc import mapping as kc_map
from fulfilhub_kh import channel as kh
from fulfilhub_kh import mapping as kh_map
from fulfilhub_kn import notifier as kn
from fulfilhub_kw import mapping as kw_map
from fulfilhub_kw import warehouse as kw

from fulfilhub import (
    CarrierType,
    ChannelType,
    CompensationPolicy,
    CompensationProposal,
    DelayAssessment,
    FulfillmentStatus,
    Money,
    NotifierType,
    Order,
    OrderLine,
    OrderPage,
    Rate,
    RetryPolicy,
    TrackingStatus,
    TransientError,
    WarehouseType,
    hookimpl,
)
from fulfilhub.plugins import PluginManager
from fulfilhub.testing.conformance import CarrierSuite, ChannelSuite, NotifierSuite, PolicySuite, WarehouseSuite

_SIMULATORS = {name: PluginManager(load_installed=False, load_defaults=False, extra=[module]).registry.simulators[name]
               for name, module in (("kc", fulfilhub_kc), ("kh", fulfilhub_kh), ("kw", fulfilhub_kw))}


def plugin(record: Any, simulator: str | None = None) -> object:
    """A plugin object registering ``record`` (and the good plugin's simulator)."""
    hook = {CarrierType: "register_carrier_types", ChannelType: "register_channel_types",
            WarehouseType: "register_warehouse_types", NotifierType: "register_notifier_types",
            CompensationPolicy: "register_compensation_policies"}[type(record)]

    class Plugin:
        pass

    def register(self: Any, register: Callable[[Any], None]) -> None:
        register(record)

    setattr(Plugin, hook, hookimpl(register))
    if simulator:
        def register_simulators(self: Any, register: Callable[[Any], None]) -> None:
            register(_SIMULATORS[simulator])

        Plugin.register_simulators = hookimpl(register_simulators)  # type: ignore[attr-defined]
    return Plugin()


def carrier(factory: Any = kc.KcCarrier, settings: Any = kc.SETTINGS) -> object:
    return plugin(CarrierType(name="kc", factory=factory, settings=settings, description="kc"), "kc")


def channel(factory: Any = kh.KhChannel, settings: Any = kh.SETTINGS) -> object:
    return plugin(ChannelType(name="kh", factory=factory, settings=settings, description="kh"), "kh")


def warehouse(factory: Any = kw.KwWarehouse) -> object:
    return plugin(WarehouseType(name="kw", factory=factory, settings=kw.SETTINGS, description="kw"), "kw")


# ============================================================================ carrier: the good suite, then defects


class Carrier(CarrierSuite):
    plugin = carrier()
    type_name = "kc"
    status_table = kc_map.STATUSES
    documented_statuses = kc_map.DOCUMENTED_STATUSES
    reason_table = kc_map.REASONS
    documented_reasons = kc_map.DOCUMENTED_REASONS
    signature_header = kc.SIGNATURE_HEADER
    fuzz_count = 40
    parcels = 4

    def label_count(self, sim: Any) -> int:
        return sim.labels_sold()

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        tracking = {"tracking_number": "T1", "eta": None, "events": [
            {"status": "in_transit", "reason": None, "message": "Hub", "at": at.isoformat(), "location": "X"}]}
        body = json.dumps({"type": "tracking.updated", "data": tracking}).encode()
        return {kc.SIGNATURE_HEADER: kc.sign(body, secret, int(at.timestamp()))}, body

    def resign(self, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, str]:
        stamp = int(headers[kc.SIGNATURE_HEADER].split(",")[0].removeprefix("t="))
        return {kc.SIGNATURE_HEADER: kc.sign(body, secret, stamp)}


class NoEntryPoint(Carrier):
    """Not installed with a ``fulfilhub`` entry point."""

    entry_point = "kc"


class NoSchema(Carrier):
    """Declares no settings (settings=None)."""

    plugin = carrier(settings=None)


class RawSettings(kc.KcCarrier):
    def __init__(self, context: Any):
        self.context, self.name = context, context.name
        self.services = frozenset(context.settings.get("services") or ())  # unchecked: a number crashes here
        self.webhook_secret = context.setting("webhook_secret")
        self._http = context.http(context.setting("base_url"),
                                  headers={"Authorization": f"Bearer {context.setting('api_key')}"})


class ReadsSettingsRaw(Carrier):
    plugin = carrier(RawSettings)


class KeyInRepr(kc.KcCarrier):
    def __init__(self, context: Any):
        super().__init__(context)
        self.api_key = context.setting("api_key")

    def __repr__(self) -> str:
        return f"KcCarrier(api_key={self.api_key!r})"


class ShowsTheSecret(Carrier):
    plugin = carrier(KeyInRepr)


class ImpatientPolicy(kc.KcCarrier):
    """Overrides the helper's policy: never waits longer than a tenth of a second."""

    def __init__(self, context: Any):
        super().__init__(context)
        self._http = context.http(context.setting("base_url"), policy=RetryPolicy(max_wait=0.1, initial=0.01),
                                  headers={"Authorization": f"Bearer {context.setting('api_key')}"})


class IgnoresRetryAfter(Carrier):
    plugin = carrier(ImpatientPolicy)


class NoRetries(kc.KcCarrier):
    def __init__(self, context: Any):
        super().__init__(context)
        self._http = context.http(context.setting("base_url"), policy=RetryPolicy(attempts=1),
                                  headers={"Authorization": f"Bearer {context.setting('api_key')}"})


class DoesNotRetry5xx(Carrier):
    plugin = carrier(NoRetries)


class UnsafeQuote(kc.KcCarrier):
    def quote(self, request: Any) -> Any:  # a quote POST not marked idempotent: a timeout is not retried
        answer = self._http.json(self._http.post("/v1/rates", json=kc_map.rates_body(request)))
        return kc_map.parse_rates(answer, carrier=self.name, shipment_ref=request.reference)


class DoesNotRetryTimeouts(Carrier):
    plugin = carrier(UnsafeQuote)


class Swallows(kc.KcCarrier):
    def quote(self, request: Any) -> Any:
        try:
            return super().quote(request)
        except TransientError:
            return []  # "no rates": the outage is hidden


class SwallowsErrors(Carrier):
    plugin = carrier(Swallows)


class RawJson(kc.KcCarrier):
    def quote(self, request: Any) -> Any:
        response = self._http.post("/v1/rates", json=kc_map.rates_body(request), idempotent=True)
        return kc_map.parse_rates(response.json(), carrier=self.name, shipment_ref=request.reference)


class ParsesBodiesItself(Carrier):
    plugin = carrier(RawJson)


class Careless(kc.KcCarrier):
    def quote(self, request: Any) -> Any:
        answer = self._http.json(self._http.post("/v1/rates", json=kc_map.rates_body(request), idempotent=True))
        return [Rate(carrier=self.name, carrier_name="Kc", service=rate["service"],
                     amount=Money(amount=rate["amount"], currency=rate["currency"]), rate_id=rate["id"],
                     shipment_ref=request.reference, transit_days=rate["transit_days"]) for rate in answer["rates"]]


class CarelessMapping(Carrier):
    plugin = carrier(Careless)


class TableMissesADocumentedWord(Carrier):
    documented_statuses = (*kc_map.DOCUMENTED_STATUSES, "held_at_customs")


class ReasonTableMissesADocumentedWord(Carrier):
    documented_reasons = (*kc_map.DOCUMENTED_REASONS, "customs_hold")


class WrongCarrierName(kc.KcCarrier):
    def quote(self, request: Any) -> Any:
        return [Rate(**{**{f: getattr(r, f) for f in ("carrier_name", "service", "amount", "rate_id", "shipment_ref",
                                                       "transit_days")}, "carrier": "kc"})
                for r in super().quote(request)]


class StampsTheTypeName(Carrier):
    plugin = carrier(WrongCarrierName)


class NoKey(kc.KcCarrier):
    def buy(self, rate: Any, key: str) -> Any:  # the key is not sent: every call buys
        response = self._http.post("/v1/labels", json={"rate_id": rate.rate_id}, idempotent=True)
        return kc_map.parse_label(self._http.json(response), carrier=self.name, shipment_ref=rate.shipment_ref)


class BuysTwice(Carrier):
    plugin = carrier(NoKey)


class FreshKey(kc.KcCarrier):
    def buy(self, rate: Any, key: str) -> Any:  # a new key per call: a retry after a lost answer buys again
        return super().buy(rate, f"{key}:{uuid.uuid4()}")


class BuysAgainAfterALostAnswer(Carrier):
    plugin = carrier(FreshKey)


class StrictVoid(kc.KcCarrier):
    def void(self, label: Any) -> None:
        if self.track(label).status is TrackingStatus.CANCELLED:
            raise RuntimeError(f"label {label.tracking_code} is already voided")
        super().void(label)


class VoidFailsTheSecondTime(Carrier):
    plugin = carrier(StrictVoid)


class ForgetsAWord(kc.KcCarrier):
    def track(self, label: Any) -> Any:
        update = super().track(label)  # "picked_up" is left out of its table: it becomes UNKNOWN
        events = tuple(e if e.source != "picked_up" else type(e)(**{**{f: getattr(e, f) for f in (
            "at", "description", "location", "reason", "source")}, "status": TrackingStatus.UNKNOWN})
            for e in update.events)
        return type(update)(tracking_code=update.tracking_code, status=update.status, events=events,
                            reason=update.reason, est_delivery=update.est_delivery, eta_date=update.eta_date)


class MapsAScanToUnknown(Carrier):
    plugin = carrier(ForgetsAWord)


class Unchecked(kc.KcCarrier):
    def verify_webhook(self, headers: Any, body: bytes) -> bool:
        return any(k.lower() == kc.SIGNATURE_HEADER.lower() for k in headers)  # "it is signed": nothing checked


class TrustsAnySignature(Carrier):
    plugin = carrier(Unchecked)


class Refuses(kc.KcCarrier):
    def verify_webhook(self, headers: Any, body: bytes) -> bool:
        return False


class RefusesEveryWebhook(Carrier):
    plugin = carrier(Refuses)


class Optional(kc.KcCarrier):
    def verify_webhook(self, headers: Any, body: bytes) -> bool:
        if not any(k.lower() == kc.SIGNATURE_HEADER.lower() for k in headers):
            return True  # "signing is optional"
        return super().verify_webhook(headers, body)


class TrustsUnsignedWebhooks(Carrier):
    plugin = carrier(Optional)


class NoTolerance(kc.KcCarrier):
    def verify_webhook(self, headers: Any, body: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in headers.get(kc.SIGNATURE_HEADER, "").split(",") if "=" in p)
        if not parts.get("t", "").isdigit() or not self.webhook_secret:
            return False
        import hmac as _hmac

        return _hmac.compare_digest(kc.sign(body, self.webhook_secret, int(parts["t"])).encode(),
                                    headers[kc.SIGNATURE_HEADER].encode())


class AcceptsReplays(Carrier):
    plugin = carrier(NoTolerance)


class PlainCompare(kc.KcCarrier):
    def verify_webhook(self, headers: Any, body: bytes) -> bool:
        given = headers.get(kc.SIGNATURE_HEADER, "")
        stamp = given.split(",")[0].removeprefix("t=")
        return bool(stamp.isdigit() and self.webhook_secret) and kc.sign(body, self.webhook_secret, int(stamp)) == given


class ComparesWithEquals(Carrier):
    plugin = carrier(PlainCompare)


class CarelessWebhook(kc.KcCarrier):
    def parse_webhook(self, headers: Any, body: bytes) -> Any:
        event = json.loads(body)
        return kc_map.parse_tracking(event["data"]) if event["type"] == "tracking.updated" else None


class WebhookParserCrashes(Carrier):
    plugin = carrier(CarelessWebhook)


# ============================================================================ channel


class Channel(ChannelSuite):
    plugin = channel()
    type_name = "kh"
    status_table = kh_map.EVENT_STATUSES
    documented_statuses = tuple(kh_map.EVENT_STATUSES.values())
    unknown_ok = kh_map.NOT_TOLD
    fuzz_count = 40

    def cursor_at(self, moment: datetime) -> str:
        return kh.cursor_at(moment)

    def fulfillment_count(self, sim: Any, order: Any) -> int:
        return len(sim.fulfillments_for(order.external_id))

    def tracking_event_count(self, sim: Any, order: Any) -> int:
        return sum(len(sim.events_for(f["id"])) for f in sim.fulfillments_for(order.external_id))


class StartsOver(kh.KhChannel):
    def fetch_orders(self, cursor: str | None) -> Any:
        page = super().fetch_orders(cursor)
        return page if page.has_more else OrderPage(payloads=page.payloads, next_cursor=None, has_more=False)


class RereadsEverything(Channel):
    plugin = channel(StartsOver)


class IgnoresTime(kh.KhChannel):
    def _read_cursor(self, cursor: str) -> dict[str, str]:
        params = super()._read_cursor(cursor)
        return {} if not params["after_id"] else params  # "no order id yet: start at the beginning"


class IgnoresAFutureCursor(Channel):
    plugin = channel(IgnoresTime)


class OffByOne(kh.KhChannel):
    def fetch_orders(self, cursor: str | None) -> Any:
        page = super().fetch_orders(cursor)
        if page.has_more:  # the last order of a full page is dropped, but the cursor goes past it
            return OrderPage(payloads=page.payloads[:-1], next_cursor=page.next_cursor, has_more=True)
        return page


class LosesOrdersBetweenPages(Channel):
    plugin = channel(OffByOne)


class Stuck(kh.KhChannel):
    def fetch_orders(self, cursor: str | None) -> Any:
        page = super().fetch_orders(cursor)
        return OrderPage(payloads=page.payloads, next_cursor=cursor if cursor and page.has_more else page.next_cursor,
                         has_more=page.has_more)


class LoopsOnAPage(Channel):
    plugin = channel(Stuck)


class PushWithoutKey(kh.KhChannel):
    def push_fulfillment(self, order: Any, shipment: Any, key: str, *, attempt: int | None = None) -> str:
        return super().push_fulfillment(order, shipment, f"{key}:{uuid.uuid4()}", attempt=attempt)


class PushesTwice(Channel):
    plugin = channel(PushWithoutKey)


class TrackingWithoutKey(kh.KhChannel):
    def push_tracking(self, order: Any, shipment: Any, status: Any, key: str, *, attempt: int | None = None) -> None:
        super().push_tracking(order, shipment, status, f"{key}:{uuid.uuid4()}", attempt=attempt)


class PostsTrackingTwice(Channel):
    plugin = channel(TrackingWithoutKey)


class CarelessOrders(kh.KhChannel):
    def parse_order(self, payload: Any) -> Any:
        if not str(payload.get("currency", "")).isalpha():
            raise KeyError("currency")  # the wrong exception for a bad record
        return super().parse_order(payload)


class OrderMappingCrashes(Channel):
    plugin = channel(CarelessOrders)


class SilentlyUntold(Channel):
    """The table leaves CANCELLED out and nothing says why."""

    status_table = {k: v for k, v in kh_map.EVENT_STATUSES.items() if k is not TrackingStatus.CANCELLED}


# ============================================================================ warehouse


class Warehouse(WarehouseSuite):
    plugin = warehouse()
    type_name = "kw"
    skus = ("MUG-BLUE", "TEA-50G")
    status_table = kw_map.STATUSES
    documented_statuses = tuple(kw_map.STATUSES)
    fuzz_count = 40

    def submission_count(self, sim: Any) -> int:
        return sim.submissions()


class TypeNamed(kw.KwWarehouse):
    def __init__(self, context: Any):
        super().__init__(context)
        self.name = "kw"


class StampsTheWrongWarehouse(Warehouse):
    plugin = warehouse(TypeNamed)


class SubmitWithoutKey(kw.KwWarehouse):
    def submit(self, request: Any) -> str:
        response = self._http.post("/v1/fulfillments", json=kw_map.request_body(request), idempotent=True)
        return kw_map.parse_fulfillment(self._http.json(response)).ref


class SubmitsTwice(Warehouse):
    plugin = warehouse(SubmitWithoutKey)


class StrictCancel(kw.KwWarehouse):
    def cancel(self, ref: str) -> None:
        if self.status(ref).status is FulfillmentStatus.CANCELLED:
            raise RuntimeError(f"{ref} is already cancelled")
        super().cancel(ref)


class CancelFailsTheSecondTime(Warehouse):
    plugin = warehouse(StrictCancel)


class NeverPacked(kw.KwWarehouse):
    def status(self, ref: str) -> Any:
        update = super().status(ref)
        if update.status in (FulfillmentStatus.PACKED, FulfillmentStatus.SHIPPED):
            return type(update)(ref=update.ref, status=FulfillmentStatus.PICKING, at=update.at)
        return update


class ProgressMappedWrong(Warehouse):
    plugin = warehouse(NeverPacked)


# ============================================================================ notifier and policy


class Notifier(NotifierSuite):
    plugin = plugin(NotifierType(name="kn", factory=kn.KnNotifier, settings=kn.SETTINGS, description="kn"))
    type_name = "kn"

    def notifier_settings(self, tmp_path: Path) -> dict[str, Any]:
        return {"directory": str(tmp_path / "outbox")}

    def deliveries(self, notifier: Any) -> list[Path]:
        return sorted(notifier.directory.glob("*.json"))


class RawDirectory(kn.KnNotifier):
    def __init__(self, context: Any):
        self.name = context.name
        self.directory = Path(str(context.settings["directory"]))  # unchecked: 12345 becomes a folder name
        self.directory.mkdir(parents=True, exist_ok=True)


class NotifierReadsSettingsRaw(Notifier):
    plugin = plugin(NotifierType(name="kn", factory=RawDirectory, settings=kn.SETTINGS, description="kn"))


class EveryCallDelivers(kn.KnNotifier):
    def send(self, notice: Any, *, attempt: int) -> str:
        name = f"{uuid.uuid4().hex}.json"
        self._deliver(name, {"to": notice.to, "subject": notice.subject, "text": notice.text, "key": notice.key})
        return name


class SendsTwice(Notifier):
    plugin = plugin(NotifierType(name="kn", factory=EveryCallDelivers, settings=kn.SETTINGS, description="kn"))


AT = datetime(2026, 5, 12, tzinfo=timezone.utc)
ORDER = Order(channel="shop", external_id="1001", version="1", number="#1001", placed_at=AT, updated_at=AT,
              currency="USD", total=Money(amount="80.00", currency="USD"),
              lines=[OrderLine(sku="TEE", quantity=1, unit_price=Money(amount="80.00", currency="USD"))])


def _late(days: int) -> dict[str, Any]:
    return {"order": ORDER, "given": (), "settings": {},
            "assessment": DelayAssessment(order_id=ORDER.id, assessed_at=AT, state="late" if days else "on_track",
                                          days_late=days)}


class Policy(PolicySuite):
    plugin = plugin(CompensationPolicy(name="kp", propose=fulfilhub_kp.policy.propose, description="kp"))
    type_name = "kp"
    cases = ((_late(0), None),
             (_late(2), CompensationProposal(kind="discount", value=Money(amount="8.00", currency="USD"), tier="10pct",
                                             percent=Decimal(10), reason="2 day(s) late: 10% off the next order")))


class Undescribed(Policy):
    plugin = plugin(CompensationPolicy(name="kp", propose=fulfilhub_kp.policy.propose, description=""))


_CALLS = itertools.count()


def _moody(**kwargs: Any) -> Any:
    proposal = fulfilhub_kp.policy.propose(**kwargs)  # the first answer is right; later ones drift
    return proposal and attrs.evolve(proposal, percent=proposal.percent + next(_CALLS))


class ProposesSomethingElse(Policy):
    plugin = plugin(CompensationPolicy(name="kp", propose=_moody, description="kp"))


def _as_a_dict(**kwargs: Any) -> Any:
    proposal = fulfilhub_kp.policy.propose(**kwargs)  # a free-form answer the engine cannot use
    return proposal and {"kind": str(proposal.kind), "amount": proposal.value}


class ProposesADict(Policy):
    plugin = plugin(CompensationPolicy(name="kp", propose=_as_a_dict, description="kp"))


#: Broken suite -> the checks that must fail for it. Together they cover every check.
CAUGHT_BY: dict[type, tuple[str, ...]] = {
    NoEntryPoint: ("test_registers_through_the_entry_point_with_a_name_and_version",),
    NoSchema: ("test_declares_a_settings_schema",),
    ReadsSettingsRaw: ("test_a_bad_setting_is_an_error_naming_the_key",),
    ShowsTheSecret: ("test_secrets_never_appear_in_reprs_logs_or_errors",),
    IgnoresRetryAfter: ("test_429_with_retry_after_is_waited_for_and_retried",),
    DoesNotRetry5xx: ("test_5xx_is_retried",),
    DoesNotRetryTimeouts: ("test_a_timeout_is_retried",),
    SwallowsErrors: ("test_when_retries_run_out_the_error_is_clear",),
    ParsesBodiesItself: ("test_a_malformed_body_is_a_fulfilhub_error",),
    CarelessMapping: ("test_mappings_survive_mutated_simulator_answers",),
    TableMissesADocumentedWord: ("test_the_status_table_covers_the_documented_values_with_no_silent_unknown",),
    ReasonTableMissesADocumentedWord: ("test_the_reason_table_covers_the_documented_values",),
    StampsTheTypeName: ("test_quotes_rates_for_the_request",),
    BuysTwice: ("test_buying_the_same_rate_twice_with_one_key_makes_one_label",),
    BuysAgainAfterALostAnswer: ("test_a_purchase_whose_answer_was_lost_is_not_repeated",),
    VoidFailsTheSecondTime: ("test_a_repeated_void_succeeds",),
    MapsAScanToUnknown: ("test_every_scan_the_simulator_emits_maps_to_a_normalized_status",),
    RefusesEveryWebhook: ("test_webhook_with_a_valid_signature_is_accepted",),
    TrustsAnySignature: ("test_webhook_with_a_tampered_body_is_rejected",
                         "test_webhook_signed_with_another_secret_is_rejected"),
    TrustsUnsignedWebhooks: ("test_webhook_without_the_signature_header_is_rejected",),
    AcceptsReplays: ("test_webhook_stale_replay_is_rejected",),
    ComparesWithEquals: ("test_webhook_signatures_are_compared_in_constant_time",),
    WebhookParserCrashes: ("test_webhook_bodies_survive_mutation",),
    RereadsEverything: ("test_a_second_pull_from_the_saved_cursor_returns_nothing_already_seen",),
    IgnoresAFutureCursor: ("test_a_cursor_in_the_future_returns_nothing",),
    LosesOrdersBetweenPages: ("test_a_pull_killed_mid_pagination_resumes_without_loss",),
    LoopsOnAPage: ("test_pagination_advances_to_an_end",),
    PushesTwice: ("test_pushing_a_fulfillment_twice_with_one_key_makes_one",
                  "test_a_push_whose_answer_was_lost_is_not_repeated"),
    PostsTrackingTwice: ("test_pushing_tracking_twice_with_one_key_makes_one_event",),
    OrderMappingCrashes: ("test_order_payloads_survive_mutation",),
    SilentlyUntold: ("test_the_status_table_covers_the_documented_values_with_no_silent_unknown",),
    StampsTheWrongWarehouse: ("test_reports_stock_of_the_skus_asked_for",),
    SubmitsTwice: ("test_submitting_the_same_request_twice_makes_one",
                   "test_a_submission_whose_answer_was_lost_is_not_repeated"),
    CancelFailsTheSecondTime: ("test_cancelling_twice_cancels_once",),
    ProgressMappedWrong: ("test_progress_maps_to_a_fulfillment_status",),
    NotifierReadsSettingsRaw: ("test_a_bad_setting_is_an_error_naming_the_key",),
    SendsTwice: ("test_sending_twice_with_one_key_delivers_once",),
    Undescribed: ("test_declares_a_settings_schema",),
    ProposesSomethingElse: ("test_proposes_what_each_case_expects_every_time",),
    ProposesADict: ("test_proposals_are_compensation_proposals_in_the_orders_currency",),
}


# pytest collects classes named Test*: one per broken suite, plus the good suites.
for _suite in (*CAUGHT_BY, Channel, Warehouse, Notifier):
    globals()["Test" + _suite.__name__] = type("Test" + _suite.__name__, (_suite,), {})
