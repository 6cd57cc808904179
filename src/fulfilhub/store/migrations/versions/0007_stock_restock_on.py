"""stock.restock_on: when a warehouse expects more of a SKU

A backordered line moves an order's ship-by to the restock date when one is known
(`fulfilhub stock set ... --restock-date`). Existing rows have none.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 00:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stock") as batch:
        batch.add_column(sa.Column("restock_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock") as batch:
        batch.drop_column("restock_on")
