"""orders.fulfilled_by: who carries the order (``seller`` or ``marketplace``)

An order the marketplace ships with its own logistics (Shopee's channel carrier, Amazon's
fulfilment network) buys no label: the channel arranges the shipment and its tracking
comes from the marketplace. Existing rows are the seller's.

Revision ID: 0012_marketplace_fulfilment
Revises: 0011_rate_choice
Create Date: 2026-12-08 00:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_marketplace_fulfilment"
down_revision = "0011_rate_choice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("fulfilled_by", sa.String(16), nullable=False, server_default="seller"))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("fulfilled_by")
