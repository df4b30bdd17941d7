"""EHR intake: source identifiers for patients, procedures and appointments

Revision ID: 0010_interop
Revises: 0009_inbound_queue
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0010_interop"
down_revision: str | None = "0009_inbound_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A sender's identifier -> our rows; the unique key makes intake idempotent.
    op.create_table(
        "external_ids",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("clinic_id", sa.Integer(), sa.ForeignKey("clinics.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("value", sa.String(300), nullable=False),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("procedure_id", sa.Integer(), sa.ForeignKey("procedures.id"), nullable=True),
        sa.Column("enrollment_id", sa.Integer(), sa.ForeignKey("enrollments.id"), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("start", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("clinic_id", "kind", "source", "value", name="uq_external_id"),
    )
    op.create_index("ix_external_ids_patient", "external_ids", ["patient_id"])
    op.create_index("ix_external_ids_enrollment", "external_ids", ["enrollment_id"])
    # The clinic's own code mappings over the defaults (reminders/interop/codes.yaml).
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.add_column(sa.Column("interop_codes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.drop_column("interop_codes")
    op.drop_index("ix_external_ids_enrollment", table_name="external_ids")
    op.drop_index("ix_external_ids_patient", table_name="external_ids")
    op.drop_table("external_ids")
