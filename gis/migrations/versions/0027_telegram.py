"""The Telegram bot: chats as a contact channel of reports (#18)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 16:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A chat as a report's contact channel: staff-side only, like the reporter's e-mail.
    op.create_table(
        "report_chat",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE",
                                                         name=op.f("fk_report_chat_report_id_report")),
                  nullable=False),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("language", sa.Text, nullable=False, server_default="uk"),
        sa.Column("is_reporter", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("report_id", "chat_id", name=op.f("uq_report_chat_report_id_chat_id")),
    )
    op.create_index(op.f("ix_report_chat_chat_id"), "report_chat", ["chat_id"])
    # Messages to chats about public changes, written with the change and delivered by the bot.
    op.create_table(
        "telegram_outbox",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE",
                                                         name=op.f("fk_telegram_outbox_report_id_report")),
                  nullable=False),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')",
                           name=op.f("ck_telegram_outbox_status")),
        sa.UniqueConstraint("key", name=op.f("uq_telegram_outbox_key")),
    )
    op.create_index(op.f("ix_telegram_outbox_status_next_attempt_at"), "telegram_outbox",
                    ["status", "next_attempt_at"])
    op.create_index(op.f("ix_telegram_outbox_report_id"), "telegram_outbox", ["report_id"])


def downgrade() -> None:
    op.drop_table("telegram_outbox")
    op.drop_table("report_chat")
