"""shipments.eta_date, orders.locale and shipping, notice_decisions, notice_pending, store_meta

``shipments.eta_date``: a carrier's date-only estimate kept as the destination's local
day (it was stored as midnight UTC, a day early west of UTC). ``orders.locale`` and
``orders.shipping``: the customer's language and the shipping method and price, as the
channel's mapping gives them (existing rows have none). ``notice_decisions``: what
the notice policy decided about an order's delay and why (append-only).
``notice_pending``: orders the policy must look at again and when. ``store_meta``: facts
about the store itself, such as the time base of a store a scenario wrote.

Revision ID: 0009_notice_policy
Revises: 0008
Create Date: 2026-12-07 22:00:00
"""

import sqlalchemy as sa
from alembic import op

import fulfilhub.store.schema

revision = "0009_notice_policy"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = fulfilhub.store.schema.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("eta_date", sa.Date(), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("locale", sa.String(35), nullable=True))
        batch.add_column(sa.Column("shipping", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "notice_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("decided_at", UTC, nullable=False),
        sa.Column("assessment_id", sa.Integer, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("event", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("told", sa.JSON, nullable=True),
        sa.Column("notice_key", sa.String(300), nullable=True),
    )
    op.create_index("ix_notice_decisions_order", "notice_decisions", ["order_id", "id"])
    op.create_table(
        "notice_pending",
        sa.Column("order_id", sa.String(200), primary_key=True),
        sa.Column("due_at", UTC, nullable=False),
    )
    op.create_index("ix_notice_pending_due_at", "notice_pending", ["due_at"])
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_meta")
    op.drop_index("ix_notice_pending_due_at", "notice_pending")
    op.drop_table("notice_pending")
    op.drop_index("ix_notice_decisions_order", "notice_decisions")
    op.drop_table("notice_decisions")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("shipping")
        batch.drop_column("locale")
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("eta_date")
