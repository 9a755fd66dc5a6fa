"""Sweeps that cost what is due (issue 15): each sweep's watermark, and the indexes the due reads, reports and the
retention purge go through

- ``sweep_mark``: per sweep, the due time up to which it has read (``scheduler.marks``); a run reads only what
  became due after it (minus a small overlap), so an idle run costs the same whatever the history.
- ``meeting.end``: the meeting-end and record-prompt sweeps read meetings by their end.
- ``meeting_attendee (role, response)``: the senior-leader sweep reads the declines, not every attendee.
- ``outbound (kind, sent_at)``: evaluation reminders read the requests sent in their window.
- ``outbound.created_at``, ``domain_event.at``: the retention purge.
- ``meeting_school.term_id``, ``meeting_school.active_term_id``, ``chat_offer.term_id``: reports and the unbooked
  sweeps by term.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_meeting_end", "meeting", ["end"]),
    ("ix_meeting_attendee_role_response", "meeting_attendee", ["role", "response"]),
    ("ix_outbound_kind_sent_at", "outbound", ["kind", "sent_at"]),
    ("ix_outbound_created_at", "outbound", ["created_at"]),
    ("ix_domain_event_at", "domain_event", ["at"]),
    ("ix_meeting_school_term_id", "meeting_school", ["term_id"]),
    ("ix_meeting_school_active_term_id", "meeting_school", ["active_term_id"]),
    ("ix_chat_offer_term_id", "chat_offer", ["term_id"]),
)


def upgrade() -> None:
    op.create_table(
        "sweep_mark",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("mark", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("sweep_mark")
