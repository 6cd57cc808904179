"""The database schema (SQLAlchemy Core). Migrations in ``migrations/`` create it.

Portable by construction: SQLite and PostgreSQL use it unchanged. Money amounts are
stored as exact decimal strings, times as UTC, foreign payloads as JSON.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    PostgreSQL stores a ``timestamp`` in UTC. SQLite, which has no time type, stores the
    fixed-width text ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC) that sorts and compares like
    the time it is, formatted and parsed by the C-coded ``isoformat``/``fromisoformat``.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(26))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing to store naive datetime {value.isoformat()}")
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(" ", "microseconds") if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | str | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc)


class DecimalString(TypeDecorator):
    """Exact decimals as text (SQLite has no exact numeric type)."""

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),  # "<channel>:<external_id>"
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("external_id", sa.String(100), nullable=False),
    sa.Column("number", sa.String(100), nullable=False),
    sa.Column("version", sa.String(100), nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("hold_reason", sa.Text, nullable=True),
    sa.Column("placed_at", UTCDateTime, nullable=False),
    sa.Column("foreign_updated_at", UTCDateTime, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("total", DecimalString, nullable=False),
    sa.Column("email", sa.String(320), nullable=False, default=""),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("ship_to", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("cancelled_at", UTCDateTime, nullable=True),
    sa.Column("locale", sa.String(35), nullable=True),  # the customer's language tag, as the channel said
    sa.Column("shipping", sa.JSON(none_as_null=True), nullable=True),  # {method, price, currency}
    # the channel's own promise: {ship_from, ship_by, deliver_from, deliver_by} as ISO 8601 (or null)
    sa.Column("channel_promise", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("channel_hold", sa.Text, nullable=True),  # Order.hold_reason: why the channel says to hold it
    sa.Column("fulfilled_by", sa.String(16), nullable=False, server_default="seller"),  # models.FulfilledBy
    sa.Column("raw", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("modified_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("channel", "external_id", name="uq_orders_channel_external_id"),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", DecimalString, nullable=False),
    sa.Column("title", sa.Text, nullable=False, default=""),
    sa.Column("external_id", sa.String(100), nullable=False, default=""),
    sa.Column("requires_shipping", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
)

order_events = sa.Table(
    "order_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # status | updated | note | promise
    sa.Column("from_status", sa.String(32), nullable=True),
    sa.Column("to_status", sa.String(32), nullable=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("data", sa.JSON(none_as_null=True), nullable=True),
)

shipments = sa.Table(
    "shipments",
    metadata,
    sa.Column("id", sa.String(220), primary_key=True),  # "<order id>/<n>"
    sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("warehouse", sa.String(100), nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("fulfillment_ref", sa.String(200), nullable=True),
    sa.Column("parcel", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("carrier", sa.String(100), nullable=True),
    sa.Column("carrier_name", sa.String(100), nullable=True),
    sa.Column("service", sa.String(100), nullable=True),
    sa.Column("rate_id", sa.String(200), nullable=True),
    sa.Column("carrier_shipment_ref", sa.String(200), nullable=True),
    sa.Column("rate_amount", DecimalString, nullable=True),
    sa.Column("rate_currency", sa.String(3), nullable=True),
    sa.Column("transit_days", sa.Integer, nullable=True),
    sa.Column("tracking_code", sa.String(200), nullable=True),
    sa.Column("tracker_ref", sa.String(200), nullable=True),
    sa.Column("tracking_url", sa.Text, nullable=True),
    sa.Column("label_url", sa.Text, nullable=True),
    sa.Column("channel_ref", sa.String(200), nullable=True),
    sa.Column("exception_reason", sa.String(32), nullable=True),
    sa.Column("est_delivery", UTCDateTime, nullable=True),
    sa.Column("eta_date", sa.Date, nullable=True),  # a carrier's date-only estimate: a local day
    sa.Column("shipped_at", UTCDateTime, nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Column("next_poll_at", UTCDateTime, nullable=True),
    sa.Column("pickup_until", sa.Date, nullable=True),  # the pickup point keeps it to this local day
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("modified_at", UTCDateTime, nullable=False),
)

shipment_lines = sa.Table(
    "shipment_lines",
    metadata,
    sa.Column("shipment_id", sa.String(220), sa.ForeignKey("shipments.id"), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("order_line_id", sa.String(100), primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
)

tracking_events = sa.Table(
    "tracking_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("shipment_id", sa.String(220), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("location", sa.Text, nullable=False, default=""),
    sa.Column("source", sa.String(100), nullable=False, default=""),
    sa.UniqueConstraint("shipment_id", "at", "status", "source", name="uq_tracking_events_scan"),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("channel", sa.String(100), primary_key=True),
    sa.Column("stream", sa.String(50), primary_key=True),
    sa.Column("value", sa.Text, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("target", sa.String(100), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime, nullable=True),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),  # sha256 of source+payload
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("external_id", sa.String(100), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # open | resolved
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
)

stock = sa.Table(
    "stock",
    metadata,
    sa.Column("warehouse", sa.String(100), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False, default=0),
    sa.Column("safety_stock", sa.Integer, nullable=False, default=0),
    sa.Column("unit_weight_g", sa.Integer, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("restock_on", sa.Date, nullable=True),  # when more is expected (a backorder's ship-by)
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("shipment_id", sa.String(220), sa.ForeignKey("shipments.id"), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("warehouse", sa.String(100), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # reserved | consumed | released
)

plugin_state = sa.Table(
    "plugin_state",
    metadata,
    # "<kind>.<instance>", e.g. "warehouses.east": each configured instance's own keys
    sa.Column("namespace", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # canonical JSON (sorted keys, compact)
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(50), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),  # run (the scheduler) | sync
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # ok | errors | crashed
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("first_error", sa.Text, nullable=True),
    sa.Index("ix_job_runs_job_started", "job", "started_at"),
)

promises = sa.Table(
    "promises",
    metadata,
    # one row per revision: the promise made at acceptance is revision 1; rows are never changed
    sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("ship_by", UTCDateTime, nullable=False),
    sa.Column("deliver_from", UTCDateTime, nullable=False),
    sa.Column("deliver_by", UTCDateTime, nullable=False, index=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("confidence_from", sa.Float, nullable=False),
    sa.Column("confidence_by", sa.Float, nullable=False),
    sa.Column("carrier", sa.String(100), nullable=False, default=""),
    sa.Column("service", sa.String(100), nullable=False, default=""),
    sa.Column("level", sa.String(16), nullable=False, default=""),
    sa.Column("basis", sa.Text, nullable=False, default=""),
    sa.Column("reason", sa.Text, nullable=False, default=""),
)

delay_assessments = sa.Table(
    "delay_assessments",
    metadata,
    # append-only: a row only when the finding changes; an order's newest row is its current one
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), nullable=False),
    sa.Column("assessed_at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("exception", sa.String(32), nullable=True),
    sa.Column("days_late", sa.Integer, nullable=False),
    sa.Column("revised_eta", UTCDateTime, nullable=True),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("promise_revision", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Index("ix_delay_assessments_order", "order_id", "id"),
)

consumer_cursors = sa.Table(
    "consumer_cursors",
    metadata,
    # where a consumer of an append-only table stands ("notices.delays" -> last delay_assessments.id seen)
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

notices = sa.Table(
    "notices",
    metadata,
    # one row per customer notice, rendered once; the outbox sends it through each routed notifier
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),  # notice:<event>:<order id>:<revision>
    sa.Column("order_id", sa.String(200), nullable=False, index=True),
    sa.Column("order_number", sa.String(100), nullable=False, default=""),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("locale", sa.String(32), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False, default=""),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=False, default=""),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("notifiers", sa.JSON, nullable=False),  # the notifier instances it was routed to
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("send_after", UTCDateTime, nullable=False),  # after the customer's quiet hours
)

notice_decisions = sa.Table(
    "notice_decisions",
    metadata,
    # append-only: what the notice policy decided about an order's delay, and why
    # (sent, suppressed or waiting); `fulfilhub notices show` explains an order from it
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(200), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.Column("assessment_id", sa.Integer, nullable=True),
    sa.Column("action", sa.String(16), nullable=False),  # send / suppress / wait
    sa.Column("event", sa.String(32), nullable=True),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("told", sa.JSON, nullable=True),  # what the customer is told: days late, new date, cause
    sa.Column("notice_key", sa.String(300), nullable=True),
    sa.Index("ix_notice_decisions_order", "order_id", "id"),
)

rate_choices = sa.Table(
    "rate_choices",
    metadata,
    # append-only: each carrier choice for a shipment and why (the alternatives with their
    # arrival and cost, the carriers left out); `failed` is set when the label purchase on
    # the chosen carrier failed and the shipment was chosen again
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("shipment_id", sa.String(200), nullable=False),
    sa.Column("order_id", sa.String(200), nullable=False),
    sa.Column("chosen_at", UTCDateTime, nullable=False),
    sa.Column("carrier", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("failed", sa.Text, nullable=True),
    sa.Index("ix_rate_choices_shipment", "shipment_id", "id"),
)

notice_pending = sa.Table(
    "notice_pending",
    metadata,
    # orders whose delay the notice policy must look at again, and from when
    sa.Column("order_id", sa.String(200), primary_key=True),
    sa.Column("due_at", UTCDateTime, nullable=False, index=True),
)

store_meta = sa.Table(
    "store_meta",
    metadata,
    # facts about the store itself ("time_base": the scenario's last time for a store a scenario wrote)
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

compensations = sa.Table(
    "compensations",
    metadata,
    # one row per tier a delay incident reached; a later tier is a top-up of what was given
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),  # compensation:<order id>:<tier>
    sa.Column("order_id", sa.String(200), nullable=False, index=True),
    sa.Column("assessment_id", sa.Integer, nullable=True),
    sa.Column("policy", sa.String(100), nullable=False),
    sa.Column("tier", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("amount", DecimalString, nullable=False),  # what this row gives (the top-up when it is one)
    sa.Column("tier_value", DecimalString, nullable=False),  # the tier's whole value
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("percent", DecimalString, nullable=True),
    sa.Column("points", sa.Integer, nullable=False, default=0),
    sa.Column("months", sa.Integer, nullable=False, default=0),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("code", sa.String(100), nullable=False, default=""),
    sa.Column("channel_ref", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decided_by", sa.String(100), nullable=False, default=""),
    sa.Column("issued_at", UTCDateTime, nullable=True),
)

compensation_ledger = sa.Table(
    "compensation_ledger",
    metadata,
    # append-only: every proposal, decision and issuance with its amount and reason
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("compensation_id", sa.Integer, sa.ForeignKey("compensations.id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("amount", DecimalString, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
)

compensation_budgets = sa.Table(
    "compensation_budgets",
    metadata,
    # spent and limit in hundredths, so that "spent + x <= limit" is one atomic UPDATE on every backend
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("limit_cents", sa.BigInteger, nullable=False),
    sa.Column("spent_cents", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

webhook_inbox = sa.Table(
    "webhook_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance", sa.String(100), nullable=False),  # the configured channel or carrier
    sa.Column("kind", sa.String(16), nullable=False),  # channels | carriers
    sa.Column("delivery_id", sa.String(200), nullable=False),  # the vendor's, the same on each retry
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("headers", sa.JSON, nullable=False),  # what parse_webhook may read (topic...), no credentials
    sa.Column("body", sa.LargeBinary, nullable=False),  # exactly as it arrived (and was verified)
    sa.Column("status", sa.String(16), nullable=False),  # pending | processed | ignored | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("processed_at", UTCDateTime, nullable=True),
    sa.Column("result", sa.Text, nullable=True),  # what processing did, in words
    sa.Column("error", sa.Text, nullable=True),
    sa.UniqueConstraint("instance", "delivery_id", name="uq_webhook_inbox_instance"),
    sa.Index("ix_webhook_inbox_status_id", "status", "id"),
)

tracking_tokens = sa.Table(
    "tracking_tokens",
    metadata,
    sa.Column("token", sa.String(64), primary_key=True),  # random, unguessable; the tracking page's URL
    sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

lots = sa.Table(
    "lots",
    metadata,
    # a local warehouse's stock by lot (batch): received with `fulfilhub stock receive --lot`,
    # picked first-expiry-first-out at packing; the units are in `stock.on_hand` too
    sa.Column("warehouse", sa.String(100), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("lot", sa.String(100), primary_key=True),
    sa.Column("expires", sa.Date, nullable=True),
    sa.Column("received", sa.Integer, nullable=False),  # units received in all
    sa.Column("on_hand", sa.Integer, nullable=False),  # units of the lot not yet picked
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

shipment_line_lots = sa.Table(
    "shipment_line_lots",
    metadata,
    # which lot went into which shipment line, as the warehouse reported it at packing
    # (any warehouse: the local one and plugins that report lots); `fulfilhub trace LOT`
    sa.Column("shipment_id", sa.String(220), sa.ForeignKey("shipments.id"), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("lot", sa.String(100), primary_key=True),
    sa.Column("warehouse", sa.String(100), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("expires", sa.Date, nullable=True),
    sa.Column("packed_at", UTCDateTime, nullable=False),
    sa.Column("restocked_at", UTCDateTime, nullable=True),  # the shipment was cancelled: its units went back to the lot
    sa.Index("ix_shipment_line_lots_lot", "lot"),
)

line_issues = sa.Table(
    "line_issues",
    metadata,
    # order accuracy: a line packed short by the warehouse, or a wrong or missing item
    # reported by the customer or an operator; one row per (key), never updated
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(400), nullable=False, unique=True),
    sa.Column("order_id", sa.String(200), nullable=False, index=True),
    sa.Column("shipment_id", sa.String(220), nullable=True),
    sa.Column("warehouse", sa.String(100), nullable=True),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # short_pick | wrong_item | missing_item
    sa.Column("source", sa.String(120), nullable=False),  # warehouse:<name> | operator | customer
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("reported_at", UTCDateTime, nullable=False),
)

notice_drafts = sa.Table(
    "notice_drafts",
    metadata,
    # notices written for an operator to approve before they are sent (a recall); approving
    # one keeps it in `notices` and queues its sends, in one transaction
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),  # the notice key it is sent under
    sa.Column("order_id", sa.String(200), nullable=False, index=True),
    sa.Column("order_number", sa.String(100), nullable=False, default=""),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("locale", sa.String(32), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False, default=""),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=False, default=""),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("notifiers", sa.JSON, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),  # why it was drafted ("recall of lot L1")
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("approved_at", UTCDateTime, nullable=True),
    sa.Column("approved_by", sa.String(120), nullable=True),
)

sa.Index("ix_shipments_carrier_tracking_code", shipments.c.carrier, shipments.c.tracking_code)
sa.Index("ix_shipments_modified_at", shipments.c.modified_at)  # moved_since, the listing
