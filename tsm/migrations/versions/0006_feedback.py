"""feedback: evaluations (with receipts that never point at an anonymous answer), TSM records and actions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("usefulness", sa.Integer(), nullable=False),
        sa.Column("working_together", sa.Integer(), nullable=False),
        sa.Column("clarity", sa.Integer(), nullable=False),
        sa.Column("overall", sa.Integer(), nullable=False),
        sa.Column("comments", sa.String(length=2000), nullable=False),
        sa.Column("edit_token_hash", sa.String(length=64), nullable=True),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("purged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["school_contact.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "contact_id", name="uq_evaluation_meeting_contact"),
        sa.CheckConstraint(
            "usefulness BETWEEN 1 AND 5 AND working_together BETWEEN 1 AND 5 "
            "AND clarity BETWEEN 1 AND 5 AND overall BETWEEN 1 AND 5",
            name="ck_evaluation_ratings",
        ),
        sa.CheckConstraint(
            "NOT anonymous OR contact_id IS NULL", name="ck_evaluation_anonymous_has_no_author"
        ),
    )
    op.create_index("ix_evaluation_meeting_id", "evaluation", ["meeting_id"])
    op.create_index("ix_evaluation_edit_token_hash", "evaluation", ["edit_token_hash"])
    op.create_table(
        "evaluation_receipt",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["school_contact.id"]),
        sa.PrimaryKeyConstraint("meeting_id", "contact_id"),
    )
    op.create_table(
        "tsm_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("attendance_pct", sa.Float(), nullable=True),
        sa.Column("pa_count", sa.Integer(), nullable=True),
        sa.Column("sa_count", sa.Integer(), nullable=True),
        sa.Column("sen_count", sa.Integer(), nullable=True),
        sa.Column("fsm_count", sa.Integer(), nullable=True),
        sa.Column("eal_count", sa.Integer(), nullable=True),
        sa.Column("grt_count", sa.Integer(), nullable=True),
        sa.Column("lead_practitioner", sa.String(length=120), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id"),
    )
    op.create_table(
        "record_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("owner", sa.String(length=16), nullable=False),
        sa.Column("owner_detail", sa.String(length=120), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["tsm_record.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_record_action_record_id", "record_action", ["record_id"])
    op.create_index("ix_record_action_due_date", "record_action", ["due_date"])


def downgrade() -> None:
    op.drop_index("ix_record_action_due_date", table_name="record_action")
    op.drop_index("ix_record_action_record_id", table_name="record_action")
    op.drop_table("record_action")
    op.drop_table("tsm_record")
    op.drop_table("evaluation_receipt")
    op.drop_index("ix_evaluation_edit_token_hash", table_name="evaluation")
    op.drop_index("ix_evaluation_meeting_id", table_name="evaluation")
    op.drop_table("evaluation")
