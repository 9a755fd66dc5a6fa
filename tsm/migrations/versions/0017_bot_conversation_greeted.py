"""One greeting per conversation (issue 14, item 7a): ``bot_conversation.greeted_at``, when the bot greeted the person
there. A reinstall (installationUpdate add after a remove) or a second install activity for the same install
(conversationUpdate and installationUpdate) finds it set and says nothing: Teams keeps a 1:1 chat's history across a
reinstall, so a second "Hello" would sit under the first.

Conversations stored before this revision were greeted when installed (the bot greeted every personal install):
they are marked greeted at their last update.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bot_conversation") as batch_op:
        batch_op.add_column(sa.Column("greeted_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE bot_conversation SET greeted_at = updated_at WHERE conversation_type = 'personal'")


def downgrade() -> None:
    with op.batch_alter_table("bot_conversation") as batch_op:
        batch_op.drop_column("greeted_at")
