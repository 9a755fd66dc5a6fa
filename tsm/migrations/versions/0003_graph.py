"""Outlook calendars through Graph: subscriptions, delta state, officer notices

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graph_subscription",
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=100), nullable=False),
        sa.Column("mailbox", sa.String(length=254), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("renewed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("officer_id"),
        sa.UniqueConstraint("subscription_id"),
    )
    with op.batch_alter_table("graph_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_graph_subscription_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "graph_delta_state",
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("delta_link", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("officer_id"),
    )
    op.create_table(
        "officer_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("officer_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_officer_notice_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_officer_notice_officer_id"), ["officer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("officer_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_notice_officer_id"))
        batch_op.drop_index(batch_op.f("ix_officer_notice_meeting_id"))
    op.drop_table("officer_notice")
    op.drop_table("graph_delta_state")
    with op.batch_alter_table("graph_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_graph_subscription_expires_at"))
    op.drop_table("graph_subscription")
