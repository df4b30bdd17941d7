"""PROM instruments (HOOS JR): a clinic's instruments, form links and responses

Revision ID: 0012_instruments
Revises: 0011_outcomes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0012_instruments"
down_revision: str | None = "0011_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = reminders.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clinic_instruments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("clinic_id", sa.Integer(), sa.ForeignKey("clinics.id"), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("follow_up_days", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.UniqueConstraint("clinic_id", "key", name="uq_clinic_instrument"),
    )
    op.create_table(
        "form_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("clinic_id", sa.Integer(), sa.ForeignKey("clinics.id"), nullable=False),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), sa.ForeignKey("enrollments.id"), nullable=True),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("scheduled_messages.id")),
        sa.Column("instrument", sa.String(40), nullable=False),
        sa.Column("timepoint", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
    )
    op.create_index("ix_form_tokens_patient", "form_tokens", ["patient_id"])
    op.create_table(
        "prom_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("clinic_id", sa.Integer(), sa.ForeignKey("clinics.id"), nullable=False),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), sa.ForeignKey("enrollments.id"), nullable=True),
        sa.Column("token_id", sa.Integer(), sa.ForeignKey("form_tokens.id"), nullable=False),
        sa.Column("instrument", sa.String(40), nullable=False),
        sa.Column("instrument_version", sa.String(40), nullable=False),
        sa.Column("timepoint", sa.String(40), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("raw", sa.Integer(), nullable=True),
        sa.Column("interval", sa.Float(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("completed_at", UTC, nullable=False),
        sa.UniqueConstraint("token_id", name="uq_prom_response_token"),
    )
    op.create_index("ix_prom_responses_patient", "prom_responses", ["patient_id", "completed_at"])


def downgrade() -> None:
    op.drop_index("ix_prom_responses_patient", table_name="prom_responses")
    op.drop_table("prom_responses")
    op.drop_index("ix_form_tokens_patient", table_name="form_tokens")
    op.drop_table("form_tokens")
    op.drop_table("clinic_instruments")
