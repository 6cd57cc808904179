"""ix_shipments_modified_at: shipments by when they last changed

``moved_since`` (what a promise engine in another process learns from as shipments
land) filters and orders by ``shipments.modified_at``, and the shipment listing orders
by it; without an index each of those read every shipment.

Revision ID: 0014_pipeline_indexes
Revises: 0013_pickup_point
Create Date: 2026-12-08 01:00:00
"""

from alembic import op

revision = "0014_pipeline_indexes"
down_revision = "0013_pickup_point"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_shipments_modified_at", "shipments", ["modified_at"])


def downgrade() -> None:
    op.drop_index("ix_shipments_modified_at", table_name="shipments")
