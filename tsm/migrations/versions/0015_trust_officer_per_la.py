"""LAs as tenants of the data (issue 15, item 1): a trust's allocated officer is per LA. A GIAS trust is national (its
schools may sit in several LAs), and ``trust.allocated_officer_id`` was one value for the whole country, so one LA's
import overwrote another's, and a trust's schools in every LA were "contacted directly" because of one LA's officer.
``trust_officer`` holds one row per (trust, LA): the officer of that LA the trust's schools in that LA are allocated to.

Today's data is carried over: each trust's allocated officer becomes the trust's officer in that officer's own LA (the
only LA where the old value gave the trust's schools their officer). ``trust.allocated_officer_id`` is dropped by the
next revision (0016), once nothing reads it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trust_officer",
        sa.Column("trust_code", sa.String(length=16), nullable=False),
        sa.Column("la_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["trust_code"], ["trust.code"]),
        sa.ForeignKeyConstraint(["la_id"], ["la.id"]),
        sa.ForeignKeyConstraint(["officer_id"], ["officer.id"]),
        sa.PrimaryKeyConstraint("trust_code", "la_id"),
    )
    op.create_index("ix_trust_officer_officer_id", "trust_officer", ["officer_id"])
    op.execute(
        "INSERT INTO trust_officer (trust_code, la_id, officer_id) "
        "SELECT trust.code, officer.la_id, officer.id FROM trust JOIN officer ON officer.id = trust.allocated_officer_id"
    )


def downgrade() -> None:
    # Back to one officer a trust (0016's downgrade put the column back): the lowest LA's, only one can be kept.
    op.execute(
        "UPDATE trust SET allocated_officer_id = (SELECT trust_officer.officer_id FROM trust_officer "
        "WHERE trust_officer.trust_code = trust.code ORDER BY trust_officer.la_id LIMIT 1)"
    )
    op.drop_index("ix_trust_officer_officer_id", table_name="trust_officer")
    op.drop_table("trust_officer")
