"""staff account security: password reset, TOTP, sessions

Revision ID: 0007_accounts
Revises: 0006_production
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0007_accounts"
down_revision: str | None = "0006_production"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch_op:
        # Admins must sign in with an authenticator code (off until a clinic turns it on).
        batch_op.add_column(
            sa.Column("require_admin_totp", sa.Boolean(), nullable=False,
                      server_default=sa.false())
        )
    op.create_table(
        "staff_totp",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("confirmed_at", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"]),
        sa.PrimaryKeyConstraint("staff_id"),
    )
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["scheduled_messages.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_password_resets_staff_id", "password_resets", ["staff_id"])


def downgrade() -> None:
    op.drop_index("ix_password_resets_staff_id", table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_table("staff_totp")
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.drop_column("require_admin_totp")
