"""job_runs: one row per job run (by `fulfilhub run` or `sync`), for `fulfilhub jobs`

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 23:00:00
"""

import sqlalchemy as sa
from alembic import op

import fulfilhub.store.schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(50), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("started_at", fulfilhub.store.schema.UTCDateTime, nullable=False),
        sa.Column("finished_at", fulfilhub.store.schema.UTCDateTime, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("first_error", sa.Text, nullable=True),
    )
    op.create_index("ix_job_runs_job_started", "job_runs", ["job", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_job_started", table_name="job_runs")
    op.drop_table("job_runs")
