"""rate_choices: each carrier choice for a shipment and why

Append-only: the chosen carrier, the one-line reason, the alternatives with their
arrival and cost and the carriers left out (JSON), and ``failed`` when the label
purchase on the chosen carrier failed and the shipment was chosen again.

Revision ID: 0011_rate_choice
Revises: 0010_channel_promise
Create Date: 2026-12-08 00:30:00
"""

import sqlalchemy as sa
from alembic import op

import fulfilhub.store.schema

revision = "0011_rate_choice"
down_revision = "0010_channel_promise"
branch_labels = None
depends_on = None

UTC = fulfilhub.store.schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "rate_choices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("shipment_id", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("chosen_at", UTC, nullable=False),
        sa.Column("carrier", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("failed", sa.Text, nullable=True),
    )
    op.create_index("ix_rate_choices_shipment", "rate_choices", ["shipment_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_rate_choices_shipment", table_name="rate_choices")
    op.drop_table("rate_choices")
