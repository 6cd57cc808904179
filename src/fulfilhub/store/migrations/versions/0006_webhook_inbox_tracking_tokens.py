"""webhook_inbox (verified deliveries, processed by the runner) and tracking_tokens
(the customer's tracking page), and shipments looked up by carrier and tracking code

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:45:00
"""

import sqlalchemy as sa
from alembic import op

import fulfilhub.store.schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instance", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("received_at", fulfilhub.store.schema.UTCDateTime, nullable=False),
        sa.Column("sent_at", fulfilhub.store.schema.UTCDateTime, nullable=True),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("processed_at", fulfilhub.store.schema.UTCDateTime, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.UniqueConstraint("instance", "delivery_id", name="uq_webhook_inbox_instance"),
    )
    op.create_index("ix_webhook_inbox_status_id", "webhook_inbox", ["status", "id"])
    op.create_table(
        "tracking_tokens",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(200), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("created_at", fulfilhub.store.schema.UTCDateTime, nullable=False),
        sa.UniqueConstraint("order_id", name="uq_tracking_tokens_order_id"),
    )
    op.create_index("ix_shipments_carrier_tracking_code", "shipments", ["carrier", "tracking_code"])


def downgrade() -> None:
    op.drop_index("ix_shipments_carrier_tracking_code", table_name="shipments")
    op.drop_table("tracking_tokens")
    op.drop_index("ix_webhook_inbox_status_id", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
