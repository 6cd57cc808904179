"""orders.channel_promise and channel_hold: a channel's own promise, and why it says to hold an order

A marketplace (Amazon's ``EarliestShipDate``..``LatestDeliveryDate``) makes its own
promise to the customer before fulfilhub sees the order; the promise engine never
promises later than it. Kept as JSON ``{ship_from, ship_by, deliver_from, deliver_by}``
(ISO 8601 texts with their offsets, or null); existing rows have none.
``channel_hold`` keeps ``Order.hold_reason`` (why the channel's mapping says a person must
look at the order: "Amazon withholds the address..."), so that intake's review of a held
order keeps saying why.

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
        batch.add_column(sa.Column("channel_hold", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("channel_hold")
        batch.drop_column("channel_promise")
