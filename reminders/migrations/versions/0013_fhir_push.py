"""clinic FHIR endpoints and pushed resources

Revision ID: 0013_fhir_push
Revises: 0012_instruments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0013_fhir_push"
down_revision: str | None = "0012_instruments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Where a clinic's chart takes what we push (base URL and bearer token).
    op.create_table(
        "clinic_fhir_endpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("clinic_id", sa.Integer(), sa.ForeignKey("clinics.id"), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("clinic_id", name="uq_fhir_endpoint_clinic"),
    )
    # The outbox ledger: which resource each pushed message (scheduled_messages, kind
    # "fhir") carries; the delivery pipeline does the rest.
    op.create_table(
        "fhir_pushes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("clinic_id", sa.Integer(), sa.ForeignKey("clinics.id"), nullable=False),
        sa.Column("resource_key", sa.String(120), nullable=False),
        sa.Column(
            "message_id", sa.Integer(), sa.ForeignKey("scheduled_messages.id"), nullable=False
        ),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_fhir_pushes_resource", "fhir_pushes", ["clinic_id", "resource_key"])


def downgrade() -> None:
    op.drop_index("ix_fhir_pushes_resource", table_name="fhir_pushes")
    op.drop_table("fhir_pushes")
    op.drop_table("clinic_fhir_endpoints")
