"""web sign-in sessions

Revision ID: 0003_web
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0003_web"
down_revision: str | None = "0002_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_staff_id"))
    op.drop_table("staff_sessions")
