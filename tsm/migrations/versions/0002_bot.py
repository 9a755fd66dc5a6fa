"""Teams bot: conversation references, processed activities, senior leader unavailable

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=400), nullable=False),
        sa.Column("conversation_type", sa.String(length=24), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("aad_object_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=400), nullable=False),
        sa.Column("service_url", sa.String(length=400), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("bot_id", sa.String(length=400), nullable=False),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("installed", sa.Boolean(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["school_contact.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id"),
    )
    with op.batch_alter_table("bot_conversation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bot_conversation_aad_object_id"), ["aad_object_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bot_conversation_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bot_conversation_officer_id"), ["officer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bot_conversation_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "bot_processed_activity",
        sa.Column("conversation_id", sa.String(length=400), nullable=False),
        sa.Column("activity_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id", "activity_id"),
    )
    with op.batch_alter_table("bot_processed_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bot_processed_activity_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "meeting_leader_unavailable",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("reported_by", sa.String(length=80), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
        ),
        sa.PrimaryKeyConstraint("meeting_id"),
    )


def downgrade() -> None:
    op.drop_table("meeting_leader_unavailable")
    with op.batch_alter_table("bot_processed_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_processed_activity_received_at"))
    op.drop_table("bot_processed_activity")
    with op.batch_alter_table("bot_conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_conversation_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_bot_conversation_officer_id"))
        batch_op.drop_index(batch_op.f("ix_bot_conversation_contact_id"))
        batch_op.drop_index(batch_op.f("ix_bot_conversation_aad_object_id"))
    op.drop_table("bot_conversation")
