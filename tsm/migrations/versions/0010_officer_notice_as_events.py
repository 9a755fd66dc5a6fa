"""Officers' notices become domain events: delivered through the ledger like every message; officer_notice goes

Unseen notices are carried over as undispatched ``outlook_change`` events (so the officer is sent them once);
seen ones were already shown and are dropped with the table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_notice = sa.table(
    "officer_notice",
    sa.column("meeting_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("text", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("seen_at", sa.DateTime),
)
_event = sa.table(
    "domain_event",
    sa.column("kind", sa.String),
    sa.column("meeting_id", sa.Integer),
    sa.column("school_id", sa.Integer),
    sa.column("actor", sa.String),
    sa.column("at", sa.DateTime),
    sa.column("data", sa.JSON),
    sa.column("dispatched_at", sa.DateTime),
)


def upgrade() -> None:
    bind = op.get_bind()
    unseen = bind.execute(
        sa.select(_notice.c.meeting_id, _notice.c.kind, _notice.c.text, _notice.c.created_at).where(
            _notice.c.seen_at.is_(None), _notice.c.meeting_id.is_not(None)
        )
    ).all()
    if unseen:
        bind.execute(
            _event.insert(),
            [
                {
                    "kind": "calendar_failed" if kind == "calendar_failed" else "outlook_change",
                    "meeting_id": meeting_id,
                    "school_id": None,
                    "actor": "system:outlook",
                    "at": created_at,
                    "data": {"notice": kind, "text": text},
                    "dispatched_at": None,
                }
                for meeting_id, kind, text, created_at in unseen
            ],
        )
    with op.batch_alter_table("officer_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_notice_officer_id"))
        batch_op.drop_index(batch_op.f("ix_officer_notice_meeting_id"))
    op.drop_table("officer_notice")


def downgrade() -> None:
    op.create_table(
        "officer_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["officer_id"], ["officer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("officer_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_officer_notice_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_officer_notice_officer_id"), ["officer_id"], unique=False)
