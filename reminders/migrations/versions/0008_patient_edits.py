"""patient edits and the staff-recorded consent ledger

Revision ID: 0008_patient_edits
Revises: 0007_accounts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0008_patient_edits"
down_revision: str | None = "0007_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_events") as batch_op:
        # The patient's own words when a text or an email changed her consent.
        batch_op.add_column(sa.Column("exact_text", sa.Text(), nullable=True))
        # Staff entries: what the patient's request came through ("patient phoned",
        # "paper form", …), who entered it and when (``at`` is when she asked).
        batch_op.add_column(sa.Column("source", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("recorded_at", reminders.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_consent_events_staff_id_staff_members", "staff_members", ["staff_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_events") as batch_op:
        batch_op.drop_constraint("fk_consent_events_staff_id_staff_members", type_="foreignkey")
        batch_op.drop_column("recorded_at")
        batch_op.drop_column("staff_id")
        batch_op.drop_column("source")
        batch_op.drop_column("exact_text")
