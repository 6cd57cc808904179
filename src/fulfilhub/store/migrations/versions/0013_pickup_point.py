"""shipments.pickup_until: the last day a pickup point keeps a parcel

A parcel delivered to a convenience store (or a locker) waits there until a day the
carrier sets; the tracking page, the ready-for-pickup notice and the watch on it read
that day, the destination's local day. The store the customer chose travels in the
order's ``ship_to`` JSON (``pickup``), so it needs no column.

Revision ID: 0013_pickup_point
Revises: 0012_marketplace_fulfilment
Create Date: 2026-12-08 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_pickup_point"
down_revision = "0012_marketplace_fulfilment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("pickup_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("pickup_until")
