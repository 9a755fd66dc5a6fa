"""scheduler ledger: an index on (subject_kind, subject_id) for the sweeps' "already claimed?" lookup

Without it PostgreSQL answers ``kind IN (...) AND subject_kind = ... AND subject_id = ANY(...)`` with a scan of
the whole ledger once the planner sees many subject ids (measured: 58 ms at 180,000 rows, 0.9 ms with the index).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbound_subject", "outbound", ["subject_kind", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_outbound_subject", table_name="outbound")
