"""replies: inbound kinds, staff alerts, question follow-ups

Revision ID: 0002_replies
Revises: 0001
Create Date: 2026-11-22 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0002_replies"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="free")
        )
        batch_op.create_index("ix_inbound_sender", ["sender", "received_at"], unique=False)
        batch_op.create_index("ix_inbound_answers", ["answers_message_id"], unique=False)

    with op.batch_alter_table("concerns", schema=None) as batch_op:
        batch_op.create_index("ix_concerns_escalation", ["next_escalation_at"], unique=False)

    op.create_table(
        "staff_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("concern_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("error_code", sa.String(length=20), nullable=True),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["concern_id"], ["concerns.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_staff_alerts_concern", ["concern_id"], unique=False)
        batch_op.create_index("ix_staff_alerts_status", ["status", "lease_until"], unique=False)

    op.create_table(
        "question_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reasked_at", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reask_provider_id", sa.String(length=100), nullable=True),
        sa.Column("concern_id", sa.Integer(), nullable=True),
        sa.Column("closed_reason", sa.String(length=40), nullable=True),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["concern_id"], ["concerns.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["scheduled_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", name="uq_followup_message"),
    )


def downgrade() -> None:
    op.drop_table("question_followups")
    with op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_alerts_status")
        batch_op.drop_index("ix_staff_alerts_concern")
    op.drop_table("staff_alerts")
    with op.batch_alter_table("concerns", schema=None) as batch_op:
        batch_op.drop_index("ix_concerns_escalation")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_answers")
        batch_op.drop_index("ix_inbound_sender")
        batch_op.drop_column("kind")
