"""order_lines.requires_shipping: lines with nothing to ship (digital goods, gift cards)

An order keeps every line it sold; only the lines that require shipping are allocated
and shipped. An order whose lines all need no shipping completes without a shipment.
Existing lines are physical ones (the default).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 22:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("requires_shipping", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("requires_shipping")
