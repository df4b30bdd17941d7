"""inbound texts stored first, read by the pipeline

Revision ID: 0009_inbound_queue
Revises: 0008_patient_edits
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0009_inbound_queue"
down_revision: str | None = "0008_patient_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch_op:
        # The number the patient texted (which clinic) and Twilio's OptOutType, kept so
        # the message can be read after the webhook has answered.
        batch_op.add_column(sa.Column("to_address", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("opt_out_type", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("processed_at", reminders.db.UTCDateTime(timezone=True),
                                      nullable=True))  # fmt: skip
    # Everything already stored was read when it arrived.
    op.execute("UPDATE inbound_messages SET processed_at = received_at")
    op.create_index("ix_inbound_unprocessed", "inbound_messages", ["id"],
                    postgresql_where=sa.text("processed_at IS NULL"),
                    sqlite_where=sa.text("processed_at IS NULL"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_inbound_unprocessed", table_name="inbound_messages")
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.drop_column("processed_at")
        batch_op.drop_column("opt_out_type")
        batch_op.drop_column("to_address")
