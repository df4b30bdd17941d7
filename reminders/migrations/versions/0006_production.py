"""per-clinic sender rate and data retention

Revision ID: 0006_production
Revises: 0005_paging
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0006_production"
down_revision: str | None = "0005_paging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch_op:
        # Messages a second the clinic's sender may send (long code 1, toll-free 3, short
        # code 100); null: the deployment's AFTERCARE_SMS_RATE_PER_SECOND.
        batch_op.add_column(sa.Column("sms_rate_per_second", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("retention_days", sa.Integer(), nullable=False, server_default="90")
        )
    with op.batch_alter_table("enrollments") as batch_op:
        batch_op.add_column(
            sa.Column("purged_at", reminders.db.UTCDateTime(timezone=True), nullable=True)
        )
    # The retention job's reads: a clinic's enrolments not yet purged, and what is tied
    # to one enrolment.
    op.create_index("ix_enrollments_unpurged", "enrollments", ["clinic_id"],
                    postgresql_where=sa.text("purged_at IS NULL"),
                    sqlite_where=sa.text("purged_at IS NULL"))  # fmt: skip
    op.create_index("ix_inbound_enrollment", "inbound_messages", ["enrollment_id"])
    op.create_index("ix_concerns_enrollment", "concerns", ["enrollment_id"])


def downgrade() -> None:
    op.drop_index("ix_concerns_enrollment", table_name="concerns")
    op.drop_index("ix_inbound_enrollment", table_name="inbound_messages")
    op.drop_index("ix_enrollments_unpurged", table_name="enrollments")
    with op.batch_alter_table("enrollments") as batch_op:
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.drop_column("retention_days")
        batch_op.drop_column("sms_rate_per_second")
