"""Teams bot: files served as download links (.ics invitations, report CSVs), kept in the database

So a link made by one bot instance works on every instance and after a restart, until it expires.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_file",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("made_for", sa.String(length=80), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_bot_file_meeting_id", "bot_file", ["meeting_id"])
    op.create_index("ix_bot_file_expires_at", "bot_file", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_bot_file_expires_at", table_name="bot_file")
    op.drop_index("ix_bot_file_meeting_id", table_name="bot_file")
    op.drop_table("bot_file")
