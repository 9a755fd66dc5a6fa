"""LAs as tenants of the data (issue 15, item 1), the contract step of 0015: ``trust.allocated_officer_id`` goes, now
that every reader asks ``trust_officer`` (a trust's officer per LA). 0015 carried each value over.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trust") as batch_op:
        batch_op.drop_column("allocated_officer_id")


def downgrade() -> None:
    with op.batch_alter_table("trust") as batch_op:
        batch_op.add_column(sa.Column("allocated_officer_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_trust_allocated_officer_id", "officer", ["allocated_officer_id"], ["id"]
        )
    # Back to one officer a trust: the lowest LA's (only one LA's can be kept).
    op.execute(
        "UPDATE trust SET allocated_officer_id = (SELECT trust_officer.officer_id FROM trust_officer "
        "WHERE trust_officer.trust_code = trust.code ORDER BY trust_officer.la_id LIMIT 1)"
    )
