"""plugin_state: each adapter's own key -> JSON store; the local warehouse moves onto it

The ``local`` warehouse kept its fulfillment requests in a table of its own
(``local_fulfillments``); it now keeps them in ``plugin_state`` under the namespace
``warehouses.<name>``, one key per request ref, through the same port any third-party
warehouse gets. Existing requests are copied over before the old table is dropped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 22:30:00
"""

import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

import fulfilhub.store.schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _dump(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


_local = sa.table(
    "local_fulfillments",
    sa.column("ref", sa.String),
    sa.column("key", sa.String),
    sa.column("warehouse", sa.String),
    sa.column("shipment_id", sa.String),
    sa.column("lines", sa.JSON),
    sa.column("status", sa.String),
    sa.column("submitted_at", fulfilhub.store.schema.UTCDateTime),
)
_state = sa.table(
    "plugin_state",
    sa.column("namespace", sa.String),
    sa.column("key", sa.String),
    sa.column("value", sa.Text),
    sa.column("updated_at", fulfilhub.store.schema.UTCDateTime),
)


def upgrade() -> None:
    op.create_table(
        "plugin_state",
        sa.Column("namespace", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", fulfilhub.store.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "key", name=op.f("pk_plugin_state")),
    )
    conn = op.get_bind()
    rows = [
        {
            "namespace": f"warehouses.{r.warehouse}",
            "key": r.ref,
            "value": _dump({
                "key": r.key,
                "shipment_id": r.shipment_id,
                "lines": r.lines,
                "status": r.status,
                "submitted_at": _aware(r.submitted_at).isoformat(),
            }),
            "updated_at": _aware(r.submitted_at),
        }
        for r in conn.execute(sa.select(_local))
    ]
    if rows:
        op.bulk_insert(_state, rows)
    op.drop_table("local_fulfillments")


def downgrade() -> None:
    op.create_table(
        "local_fulfillments",
        sa.Column("ref", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("warehouse", sa.String(length=100), nullable=False),
        sa.Column("shipment_id", sa.String(length=220), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", fulfilhub.store.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_local_fulfillments")),
        sa.UniqueConstraint("key", name=op.f("uq_local_fulfillments_key")),
    )
    conn = op.get_bind()
    rows = []
    for r in conn.execute(sa.select(_state).where(_state.c.namespace.like("warehouses.%"))):
        value = json.loads(r.value)
        if not isinstance(value, dict) or "shipment_id" not in value:
            continue  # another warehouse type's state: it has no place in the old table
        rows.append({
            "ref": r.key,
            "key": value["key"],
            "warehouse": r.namespace.removeprefix("warehouses."),
            "shipment_id": value["shipment_id"],
            "lines": value["lines"],
            "status": value["status"],
            "submitted_at": _aware(value["submitted_at"]),
        })
    if rows:
        op.bulk_insert(_local, rows)
    op.drop_table("plugin_state")
