"""promises and delay_assessments: the promise made for each order, and how it stands

``promises`` keeps one row per revision (revision 1 at acceptance; a revision is a new
row with its reason, never an update). ``delay_assessments`` is append-only: a row when
the delay engine's finding for an order changes; the newest row is the current one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:45:00
"""

import sqlalchemy as sa
from alembic import op

import fulfilhub.store.schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC = fulfilhub.store.schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "promises",
        sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("ship_by", UTC, nullable=False),
        sa.Column("deliver_from", UTC, nullable=False),
        sa.Column("deliver_by", UTC, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("confidence_from", sa.Float, nullable=False),
        sa.Column("confidence_by", sa.Float, nullable=False),
        sa.Column("carrier", sa.String(100), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_promises_deliver_by", "promises", ["deliver_by"])
    op.create_table(
        "delay_assessments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("assessed_at", UTC, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("exception", sa.String(32), nullable=True),
        sa.Column("days_late", sa.Integer, nullable=False),
        sa.Column("revised_eta", UTC, nullable=True),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("promise_revision", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_delay_assessments_order", "delay_assessments", ["order_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_delay_assessments_order", table_name="delay_assessments")
    op.drop_table("delay_assessments")
    op.drop_index("ix_promises_deliver_by", table_name="promises")
    op.drop_table("promises")
