"""LAs as tenants of the data (issue 15, item 1): the national admin, an officer an operator grants the right to see
every LA's reports (``tsm admins national EMAIL``). Everyone else acts only within their own LA; nobody had this right
before, so today's data keeps working unchanged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("officer") as batch_op:
        batch_op.add_column(
            sa.Column("national_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("officer") as batch_op:
        batch_op.drop_column("national_admin")
