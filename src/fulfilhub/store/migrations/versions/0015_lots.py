"""lots, shipment_line_lots, line_issues, notice_drafts

``lots``: a local warehouse's stock by lot (batch) and expiry, received with
``fulfilhub stock receive --lot``. ``shipment_line_lots``: which lot went into which
shipment line, as a warehouse reported it at packing (``fulfilhub trace LOT``).
``line_issues``: order accuracy, a line packed short or a wrong or missing item
reported. ``notice_drafts``: notices an operator approves before they are sent (a recall).

Revision ID: 0015_lots
Revises: 0014_pipeline_indexes
Create Date: 2026-12-08 01:00:00
"""

import sqlalchemy as sa
from alembic import op

import fulfilhub.store.schema

revision = "0015_lots"
down_revision = "0014_pipeline_indexes"
branch_labels = None
depends_on = None

UTC = fulfilhub.store.schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("warehouse", sa.String(100), primary_key=True),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("lot", sa.String(100), primary_key=True),
        sa.Column("expires", sa.Date, nullable=True),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )
    op.create_table(
        "shipment_line_lots",
        sa.Column("shipment_id", sa.String(220), sa.ForeignKey("shipments.id"), primary_key=True),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("lot", sa.String(100), primary_key=True),
        sa.Column("warehouse", sa.String(100), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("expires", sa.Date, nullable=True),
        sa.Column("packed_at", UTC, nullable=False),
        sa.Column("restocked_at", UTC, nullable=True),
    )
    op.create_index("ix_shipment_line_lots_lot", "shipment_line_lots", ["lot"])
    op.create_table(
        "line_issues",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("shipment_id", sa.String(220), nullable=True),
        sa.Column("warehouse", sa.String(100), nullable=True),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reported_at", UTC, nullable=False),
    )
    op.create_index("ix_line_issues_order_id", "line_issues", ["order_id"])
    op.create_table(
        "notice_drafts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("order_number", sa.String(100), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("locale", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.Column("notifiers", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("approved_at", UTC, nullable=True),
        sa.Column("approved_by", sa.String(120), nullable=True),
    )
    op.create_index("ix_notice_drafts_order_id", "notice_drafts", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_notice_drafts_order_id", table_name="notice_drafts")
    op.drop_table("notice_drafts")
    op.drop_index("ix_line_issues_order_id", table_name="line_issues")
    op.drop_table("line_issues")
    op.drop_index("ix_shipment_line_lots_lot", table_name="shipment_line_lots")
    op.drop_table("shipment_line_lots")
    op.drop_table("lots")
