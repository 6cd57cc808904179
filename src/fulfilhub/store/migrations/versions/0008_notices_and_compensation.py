"""notices, compensations and their ledger, budgets per period, consumer cursors

``notices``: each customer notice rendered once (its key is unique: one per event and
revision). ``compensations``: one row per tier a delay incident reached (the key
``compensation:<order id>:<tier>`` is unique, so a tier is never given twice);
``compensation_ledger`` is append-only. ``compensation_budgets`` keeps each period's
limit and spending in hundredths so that a budget is reserved by one conditional
UPDATE. ``consumer_cursors``: where a consumer of an append-only table stands.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 00:50:00
"""

import sqlalchemy as sa
from alembic import op

import fulfilhub.store.schema

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = fulfilhub.store.schema.UTCDateTime
DEC = fulfilhub.store.schema.DecimalString


def upgrade() -> None:
    op.create_table(
        "consumer_cursors",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )
    op.create_table(
        "notices",
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
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("send_after", UTC, nullable=False),
    )
    op.create_index("ix_notices_order_id", "notices", ["order_id"])
    op.create_table(
        "compensations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("assessment_id", sa.Integer, nullable=True),
        sa.Column("policy", sa.String(100), nullable=False),
        sa.Column("tier", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("amount", DEC, nullable=False),
        sa.Column("tier_value", DEC, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("percent", DEC, nullable=True),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("months", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("channel_ref", sa.String(200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("issued_at", UTC, nullable=True),
    )
    op.create_index("ix_compensations_order_id", "compensations", ["order_id"])
    op.create_index("ix_compensations_status", "compensations", ["status"])
    op.create_table(
        "compensation_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compensation_id", sa.Integer, sa.ForeignKey("compensations.id"), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("amount", DEC, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_compensation_ledger_compensation_id", "compensation_ledger", ["compensation_id"])
    op.create_table(
        "compensation_budgets",
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("limit_cents", sa.BigInteger, nullable=False),
        sa.Column("spent_cents", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("compensation_budgets")
    op.drop_index("ix_compensation_ledger_compensation_id", table_name="compensation_ledger")
    op.drop_table("compensation_ledger")
    op.drop_index("ix_compensations_status", table_name="compensations")
    op.drop_index("ix_compensations_order_id", table_name="compensations")
    op.drop_table("compensations")
    op.drop_index("ix_notices_order_id", table_name="notices")
    op.drop_table("notices")
    op.drop_table("consumer_cursors")
