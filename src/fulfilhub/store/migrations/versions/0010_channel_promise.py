"""orders.channel_promise: the ship-by and delivery window a channel already promised

A marketplace (Amazon's ``EarliestShipDate``..``LatestDeliveryDate``) makes its own
promise to the customer before fulfilhub sees the order; the promise engine never
promises later than it. Kept as JSON ``{ship_from, ship_by, deliver_from, deliver_by}``
(ISO 8601 texts with their offsets, or null); existing rows have none.

Revision ID: 0010_channel_promise
Revises: 0009_notice_policy
Create Date: 2026-12-08 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_channel_promise"
down_revision = "0009_notice_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("channel_promise", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("channel_promise")
