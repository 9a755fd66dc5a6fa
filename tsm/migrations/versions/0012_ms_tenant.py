"""Microsoft 365 tenants as data (issue 12): the tenants allowed to talk to the bot, each tied to the LA, a trust or a
school (``ms_tenant``, replacing TSM_ALLOWED_TENANTS); the tenant a remembered Teams user was seen in
(``teams_tenant_id`` on officers and school contacts: a user is matched by tenant and AAD object id).

AAD ids remembered before this revision have no tenant: those people are matched once more by their roster email,
under the tenant rules, on their next turn.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ms_tenant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("la_id", sa.Integer(), nullable=True),
        sa.Column("trust_code", sa.String(length=16), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["la_id"], ["la.id"]),
        sa.ForeignKeyConstraint(["school_id"], ["school.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "scope", name="uq_ms_tenant_scope"),
    )
    op.create_index("ix_ms_tenant_tenant_id", "ms_tenant", ["tenant_id"])
    op.create_index("ix_ms_tenant_la_id", "ms_tenant", ["la_id"])
    op.create_index("ix_ms_tenant_trust_code", "ms_tenant", ["trust_code"])
    op.create_index("ix_ms_tenant_school_id", "ms_tenant", ["school_id"])
    for table in ("officer", "school_contact"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("teams_tenant_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    for table in ("school_contact", "officer"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("teams_tenant_id")
    for ix in ("school_id", "trust_code", "la_id", "tenant_id"):
        op.drop_index(f"ix_ms_tenant_{ix}", table_name="ms_tenant")
    op.drop_table("ms_tenant")
