"""chat offers: the slots a card offered, kept server-side so card data never has to be trusted

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_offer",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor_key", sa.String(length=80), nullable=False),
        sa.Column("school_ids", sa.JSON(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("meeting_type", sa.String(length=32), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], name="fk_chat_offer_meeting"),
        sa.ForeignKeyConstraint(["term_id"], ["term.id"], name="fk_chat_offer_term"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_offer_actor_key", "chat_offer", ["actor_key"])
    op.create_index("ix_chat_offer_meeting_id", "chat_offer", ["meeting_id"])
    op.create_index("ix_chat_offer_expires_at", "chat_offer", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_chat_offer_expires_at", table_name="chat_offer")
    op.drop_index("ix_chat_offer_meeting_id", table_name="chat_offer")
    op.drop_index("ix_chat_offer_actor_key", table_name="chat_offer")
    op.drop_table("chat_offer")
