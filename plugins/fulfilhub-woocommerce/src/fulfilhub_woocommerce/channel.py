"""The WooCommerce channel adapter: REST API v3 I/O through ``context.http``.

Orders are read by ``modified_after`` in ``orderby=modified`` ascending order, one page
of ``per_page`` at a time. WooCommerce pages by page number, and page numbers shift
when an order is modified between two pages (it moves to the end, and every order
behind it moves forward one place, so page 2 would skip one). So every request asks
for page 1 after the last modification time read (see :class:`Cursor`): the cursor is
a key, not an offset. ``X-WP-TotalPages`` says whether more follows.

Notes, the order update and coupons take no idempotency key: the key is stamped on
what is created (a ``(ref fh-...)`` at the end of a note, a meta entry on the order, a
coupon code derived from the key) and, on any attempt after the first, looked for
before acting again. Mapping is :mod:`fulfilhub_woocommerce.mapping`; retries, timeouts
and redaction are the core's :class:`~fulfilhub.HttpClient`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from fulfilhub import (
    CompensationKind,
    CompensationProposal,
    ConfigError,
    HttpClient,
    InstanceContext,
    Order,
    OrderPage,
    PayloadError,
    PermanentError,
    Setting,
    ShipmentPush,
    TrackingStatus,
    TransientError,
    WebhookDelivery,
)

from . import mapping, webhooks

log = logging.getLogger("fulfilhub_woocommerce")

API = "/wp-json/wc/v3"
TRACKING_API = "/wp-json/wc-shipment-tracking/v3"
MAX_PAGE_SIZE = 100  # WooCommerce refuses per_page above 100
#: Hosts where plain HTTP is allowed (the sandbox, a shop on this machine).
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

#: The settings of a ``type = "woocommerce"`` channel instance (any other key is refused).
SETTINGS: dict[str, Setting] = {
    "base_url": Setting(str, help='the shop\'s address, e.g. "https://shop.example.com" (the sandbox gives its own)'),
    "consumer_key": Setting(str, secret=True, help='the REST API consumer key, e.g. "${WC_CONSUMER_KEY}"'),
    "consumer_secret": Setting(str, secret=True, help='the REST API consumer secret, e.g. "${WC_CONSUMER_SECRET}"'),
    "page_size": Setting(int, default=MAX_PAGE_SIZE, min=1, max=MAX_PAGE_SIZE, help="orders per page (per_page)"),
    "overlap_seconds": Setting(float, default=60.0, min=0, help="how far back each new pass re-reads"),
    "shipment_tracking": Setting(
        bool, default=False, help="also add a tracking item through the Shipment Tracking extension's API"
    ),
    "tracking_providers": Setting(
        dict, default={}, help='carrier name -> Shipment Tracking provider name, e.g. {UPS = "UPS"}'
    ),
    "complete_when_shipped": Setting(bool, default=True, help="set the order to completed once all of it shipped"),
    "webhook_secret": Setting(
        str, default=None, secret=True, help='the webhooks\' secret, to verify them, e.g. "${WC_WEBHOOK_SECRET}"'
    ),
}


@attrs.frozen(kw_only=True)
class Cursor:
    """Where ``fetch_orders`` is, saved by the runner as a JSON string.

    ``after`` is the last ``date_modified_gmt`` read (None: from the beginning);
    ``ids`` the orders already read at exactly that second (WooCommerce keeps whole
    seconds, and ``modified_after`` is strict, so the next request asks from one second
    before and leaves these out). ``page`` is above 1 only when more than a page of
    orders share one second. ``pass_started`` is when the current pass began (None
    between passes): the next pass starts ``overlap`` before the later of it and
    ``after``, so that an order saved late, with a modification time already behind
    the key, is read again rather than missed.
    """

    after: datetime | None = None
    ids: tuple[int, ...] = ()
    page: int = 1
    pass_started: datetime | None = None

    def dump(self) -> str:
        return json.dumps({"after": _iso(self.after), "ids": list(self.ids), "page": self.page,
                           "pass_started": _iso(self.pass_started)}, sort_keys=True)

    @classmethod
    def load(cls, text: str | None, *, service: str) -> Cursor:
        if text is None:
            return cls()
        try:
            data = json.loads(text)
            moment = _parse_iso(data.get("after"))
            started = _parse_iso(data.get("pass_started"))
            ids = tuple(data.get("ids", ()))
            page = data.get("page", 1)
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise TypeError("ids must be integers")
            if isinstance(page, bool) or not isinstance(page, int) or page < 1:
                raise TypeError("page must be a whole number from 1")
        except (ValueError, TypeError, AttributeError):
            raise PermanentError(
                f"the saved cursor {text[:80]!r} is not one this adapter wrote "
                '(expected JSON like {"after": "2026-01-05T08:00:00+00:00", "ids": [], "page": 1}); '
                "clear the channel's cursor to start over",
                service=service,
            ) from None
        return cls(after=moment, ids=ids, page=page, pass_started=started)


def cursor_at(moment: datetime) -> str:
    """A cursor that reads the orders modified after ``moment``."""
    return Cursor(after=moment.astimezone(timezone.utc).replace(microsecond=0)).dump()


class WoocommerceChannel:
    """A WooCommerce shop as a fulfilhub channel (see the package README for settings).

    It also takes WooCommerce's order webhooks and issues coupons for compensation.
    """

    def __init__(self, context: InstanceContext):
        self.context = context
        self.name = context.name
        base_url: str = context.setting("base_url")
        scheme, _, rest = base_url.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
        if scheme not in ("https", "http") or not host:
            raise ConfigError(f'base_url must be the shop\'s address, e.g. "https://shop.example.com", got '
                              f"{base_url[:60]!r}", key=context.key("base_url"))
        if scheme == "http" and host not in _LOOPBACK:
            raise ConfigError(
                f"base_url {base_url[:60]!r} is plain HTTP: WooCommerce takes the consumer key and secret as HTTP "
                "Basic only over HTTPS (over HTTP it wants OAuth 1.0a, which this adapter does not speak, and the "
                "secret would cross the network readable); use https://",
                key=context.key("base_url"),
            )
        self.base_url = base_url.rstrip("/")
        self.page_size: int = context.setting("page_size")
        self.overlap = timedelta(seconds=context.setting("overlap_seconds"))
        self.shipment_tracking: bool = context.setting("shipment_tracking")
        providers = context.setting("tracking_providers")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in providers.items()):
            raise ConfigError("tracking_providers maps carrier names to provider names, both text",
                              key=context.key("tracking_providers"))
        self.tracking_providers: Mapping[str, str] = dict(providers)
        self.complete_when_shipped: bool = context.setting("complete_when_shipped")
        self.webhook_secret: str | None = context.setting("webhook_secret")
        # WooCommerce takes the consumer key and secret as HTTP Basic over HTTPS.
        auth = (context.setting("consumer_key"), context.setting("consumer_secret"))
        self._http: HttpClient = context.http(self.base_url, auth=auth, headers={"Accept": "application/json"})

    def __repr__(self) -> str:
        return f"WoocommerceChannel(name={self.name!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------------ orders

    def fetch_orders(self, cursor: str | None) -> OrderPage:
        """The next page of orders modified since the cursor (see :class:`Cursor`).

        Orders not paid yet (``pending``, ``on-hold``, ``failed``, ``checkout-draft``) are
        read past but not handed on: when they are paid their modification time moves
        and they are read again. Orders already read at the cursor's second are left out.
        """
        state = Cursor.load(cursor, service=self.name)
        pass_started = state.pass_started or self.context.clock.now().astimezone(timezone.utc).replace(microsecond=0)
        params: dict[str, Any] = {"per_page": self.page_size, "page": state.page, "orderby": "modified",
                                  "order": "asc", "dates_are_gmt": "true"}
        if state.after is not None:
            params["modified_after"] = _gmt_param(state.after - timedelta(seconds=1))
        response = self._http.get(f"{API}/orders", params=params)
        orders = self._http.json(response, None, list)
        total_pages = _int_header(response.headers.get("X-WP-TotalPages"))
        has_more = state.page < total_pages if total_pages is not None else len(orders) >= self.page_size
        after, ids = state.after, set(state.ids)
        payloads = []
        for payload in orders:
            try:
                moment = mapping.modified_at(payload).replace(microsecond=0)
                external = mapping.order_id(payload)
            except PayloadError:
                payloads.append(payload)  # the runner quarantines it with the error; the key does not move
                continue
            if state.after is not None and (moment < state.after or (moment == state.after and external in state.ids)):
                continue  # read already: the request reaches one second back
            if after is None or moment > after:
                after, ids = moment, {external}
            elif moment == after:
                ids.add(external)
            if _intake(payload) is not mapping.Intake.WAIT:
                payloads.append(payload)
        if (cursor is not None and not has_more and state.page == 1 and state.pass_started is None
                and (after == state.after and ids == set(state.ids)
                     or (self.overlap and state.after is not None and after is not None
                         and after <= state.after + self.overlap))):
            # Nothing read beyond the window this cursor already re-reads: keep it, so that an order
            # saved late behind it is still found (moving it to this pass's start would skip that order).
            return OrderPage(payloads=payloads, next_cursor=cursor, has_more=False)
        if has_more:
            page = state.page + 1 if after == state.after else 1  # a second holding more than a page
            following = Cursor(after=after, ids=tuple(sorted(ids)), page=page, pass_started=pass_started)
        elif after is not None and self.overlap:
            following = Cursor(after=max(after, pass_started) - self.overlap)
        elif after is not None and pass_started > after:
            following = Cursor(after=pass_started)
        else:
            following = Cursor(after=after, ids=tuple(sorted(ids)))
        return OrderPage(payloads=payloads, next_cursor=following.dump(), has_more=has_more)

    def parse_order(self, payload: Mapping[str, Any]) -> Order:
        return mapping.parse_order(payload, channel=self.name)

    # ------------------------------------------------------------------ shipments

    def push_fulfillment(self, order: Order, shipment: ShipmentPush, key: str, *, attempt: int | None = None) -> str:
        """Tell the shop a parcel left: a customer note with the tracking, the order's meta, maybe ``completed``.

        Returns the note's id. The order is read first: a shipment already recorded in
        its meta is not told again, and a cancelled order is not marked shipped (a
        PermanentError says so). On a later attempt the notes (and tracking items) are
        read first, so that a note whose answer was lost is not posted twice.
        """
        path = f"{API}/orders/{order.external_id}"
        current = self._http.json(self._http.get(path), None, dict)
        try:
            recorded, shipped = mapping.shipped_quantities(current)
            status = mapping.intake(current)
        except PayloadError as exc:
            raise self._unreadable(f"GET {path}", exc) from None
        if recorded.get(shipment.shipment_id):
            return recorded[shipment.shipment_id]
        if status is mapping.Intake.CANCELLED:
            raise PermanentError(
                f"order {order.number} (WooCommerce id {order.external_id}) is {current.get('status')} in the shop; "
                f"shipment {shipment.shipment_id} is not told to it. Recall the parcel or refund by hand",
                service=self.name,
            )
        try:
            lines = mapping.shipment_quantities(shipment, order.lines)
        except ValueError as exc:
            raise PermanentError(f"shipment {shipment.shipment_id} of order {order.number}: {exc}",
                                 service=self.name) from None
        ref = mapping.reference(key)
        note = None
        if attempt != 1:
            try:
                note = mapping.find_note(self._http.json(self._http.get(f"{path}/notes"), None, list), ref)
            except PayloadError as exc:
                raise self._unreadable(f"GET {path}/notes", exc) from None
        if self.shipment_tracking:
            self._add_tracking_item(order, shipment, check_first=attempt != 1)
        if note is None:
            body = {"note": mapping.shipment_note(shipment, ref), "customer_note": True}
            note = self._http.json(self._http.post(f"{path}/notes", json=body), None, dict)
        note_id = note.get("id")
        if isinstance(note_id, bool) or not isinstance(note_id, int):
            raise TransientError(f"POST {path}/notes answered without a note id; the next attempt looks for it",
                                 service=self.name)
        update: dict[str, Any] = {"meta_data": [mapping.shipment_meta(shipment, lines, str(note_id))]}
        for line_id, quantity in lines.items():
            shipped[line_id] = shipped.get(line_id, 0) + quantity
        if self.complete_when_shipped and current.get("status") == "processing" and mapping.fully_shipped(
            order.lines, shipped
        ):
            update["status"] = "completed"
        self._http.json(self._http.put(path, json=update), None, dict)
        return str(note_id)

    def push_tracking(
        self, order: Order, shipment: ShipmentPush, status: TrackingStatus, key: str, *, attempt: int | None = None
    ) -> None:
        """A customer note for the milestone, once per key (milestones in ``mapping.NOT_TOLD`` are skipped)."""
        ref = mapping.reference(key)
        text = mapping.milestone_note(shipment, status, ref)
        if text is None:
            return
        path = f"{API}/orders/{order.external_id}/notes"
        if attempt != 1:
            try:
                if mapping.find_note(self._http.json(self._http.get(path), None, list), ref) is not None:
                    log.info("%s: order %s already has the %s note (key %s)", self.name, order.number, status, key)
                    return
            except PayloadError as exc:
                raise self._unreadable(f"GET {path}", exc) from None
        self._http.json(self._http.post(path, json={"note": text, "customer_note": True}), None, dict)

    def _add_tracking_item(self, order: Order, shipment: ShipmentPush, *, check_first: bool) -> None:
        path = f"{TRACKING_API}/orders/{order.external_id}/shipment-trackings"
        if check_first:
            try:
                if mapping.has_tracking_item(self._http.json(self._http.get(path), None, list), shipment.tracking_code):
                    return
            except PayloadError as exc:
                raise self._unreadable(f"GET {path}", exc) from None
        shipped_on = self.context.clock.now().date().isoformat()
        body = mapping.tracking_item_body(shipment, shipped_on, self.tracking_providers)
        self._http.json(self._http.post(path, json=body), None, dict)

    # ------------------------------------------------------------------ stock

    def push_stock(self, levels: Mapping[str, int], key: str, *, attempt: int | None = None) -> list[str]:
        """Set each SKU's ``stock_quantity`` (``manage_stock`` on), 100 products a request.

        The products are found by SKU (``GET /products?sku=A,B,...``); a SKU no product
        carries is returned (variations are not looked up: their SKUs come back as not
        listed). Setting a quantity again is harmless, so a retry does the same again.
        """
        skus = sorted(levels)
        ids: dict[str, int] = {}
        for start in range(0, len(skus), mapping.BATCH):
            chunk = skus[start:start + mapping.BATCH]
            response = self._http.get(f"{API}/products", params={"sku": ",".join(chunk), "per_page": mapping.BATCH})
            try:
                ids.update(mapping.product_ids(self._http.json(response, None, list), chunk))
            except PayloadError as exc:
                raise self._unreadable(f"GET {API}/products", exc) from None
        listed = [sku for sku in skus if sku in ids]
        for start in range(0, len(listed), mapping.BATCH):
            chunk = {sku: levels[sku] for sku in listed[start:start + mapping.BATCH]}
            answer = self._http.json(self._http.post(f"{API}/products/batch", json=mapping.stock_batch(chunk, ids)),
                                     None, dict)
            try:
                errors = mapping.batch_errors(answer)
            except PayloadError as exc:
                raise self._unreadable(f"POST {API}/products/batch", exc) from None
            if errors:
                raise TransientError(f"POST {API}/products/batch refused some stock updates: {'; '.join(errors[:3])}",
                                     service=self.name)
        return [sku for sku in skus if sku not in ids]

    # ------------------------------------------------------------------ compensation

    def issue_compensation(
        self, order: Order, grant: CompensationProposal, key: str, *, attempt: int | None = None
    ) -> tuple[str, str] | None:
        """A coupon for a delay, once per key: ``(code, coupon id)``; None for kinds WooCommerce does not hold.

        ``discount`` becomes an amount off the next order, ``free_upgrade`` free
        shipping on it; refunds, points, gifts and warranties are left to the shop (the
        ledger records them). The code is derived from the key, so a second attempt
        finds the first coupon by code.
        """
        if grant.kind not in (CompensationKind.DISCOUNT, CompensationKind.FREE_UPGRADE):
            return None
        if grant.value.currency != order.currency:
            raise PermanentError(f"compensation in {grant.value.currency} for an order in {order.currency}",
                                 service=self.name)
        code = mapping.coupon_code(key)
        if attempt != 1:
            found = self._find_coupon(key)
            if found is not None:
                return code, found
        try:
            created = self._http.json(
                self._http.post(f"{API}/coupons", json=mapping.coupon_body(order, grant, key)), None, dict
            )
        except PermanentError as exc:
            # "woocommerce_rest_coupon_code_already_exists": a first attempt whose answer was lost
            if exc.status_code == 400 and "already_exists" in getattr(exc, "body", ""):
                found = self._find_coupon(key)
                if found is not None:
                    return code, found
            raise
        coupon_id = created.get("id")
        if isinstance(coupon_id, bool) or not isinstance(coupon_id, int):
            raise TransientError("POST coupons answered without an id; the next attempt looks for it",
                                 service=self.name)
        return code, str(coupon_id)

    def _find_coupon(self, key: str) -> str | None:
        path = f"{API}/coupons"
        try:
            found = mapping.find_coupon(
                self._http.json(self._http.get(path, params={"code": mapping.coupon_code(key)}), None, list), key
            )
        except PayloadError as exc:
            raise self._unreadable(f"GET {path}", exc) from None
        return None if found is None else str(found["id"])

    # ------------------------------------------------------------------ webhooks

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when ``body`` carries a valid ``X-WC-Webhook-Signature`` for ``webhook_secret``."""
        if not self.webhook_secret:
            raise ConfigError(
                "webhook_secret is not set, so WooCommerce webhooks cannot be verified; set it to the secret "
                'given when the webhook was made, e.g. webhook_secret = "${WC_WEBHOOK_SECRET}"',
                key=self.context.key("webhook_secret"),
            )
        return webhooks.verify_signature(body, self.webhook_secret, webhooks.header(headers, webhooks.SIGNATURE_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Order | None:
        """The order an ``order.created|updated|restored`` delivery carries.

        None for other topics, the ping, and orders not paid yet (as ``fetch_orders``).
        """
        payload = webhooks.order_payload(headers, body)
        if payload is None or mapping.intake(payload) is mapping.Intake.WAIT:
            return None
        return self.parse_order(payload)

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """``X-WC-Webhook-Delivery-ID`` (WooCommerce sends no time)."""
        return webhooks.delivery(headers)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ internals

    def _unreadable(self, where: str, exc: PayloadError) -> TransientError:
        """WooCommerce answered 2xx with a body of the wrong shape: tried again later, saying what was wrong."""
        return TransientError(f"{where} answered with a body fulfilhub cannot read ({exc}); will try again later",
                              service=self.name)


def _intake(payload: Mapping[str, Any]) -> mapping.Intake | None:
    try:
        return mapping.intake(payload)
    except PayloadError:
        return None  # handed on: parse_order names the field and the runner quarantines it


def _gmt_param(moment: datetime) -> str:
    """A time as WooCommerce's ``*_gmt`` fields and ``dates_are_gmt`` parameters write it."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse_iso(text: Any) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"naive time {text!r}")
    return moment


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
