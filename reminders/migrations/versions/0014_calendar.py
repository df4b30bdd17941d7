"""calendar invites: stable UID and SEQUENCE per follow-up visit

Revision ID: 0014_calendar
Revises: 0013_fhir_push
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0014_calendar"
down_revision: str | None = "0013_fhir_push"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch_op:
        # The follow-up visit's iCalendar UID and SEQUENCE (delivery/invites.py).
        batch_op.add_column(sa.Column("visit_uid", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("visit_sequence", sa.Integer(), nullable=False,
                                      server_default="0"))  # fmt: skip
        batch_op.add_column(sa.Column("visit_uid_at", reminders.db.UTCDateTime(timezone=True),
                                      nullable=True))  # fmt: skip
    # Every enrolment gets its own random UID (no SQL function does that on both backends).
    enrollments = sa.table("enrollments", sa.column("id", sa.Integer),
                           sa.column("visit_uid", sa.String))  # fmt: skip
    conn = op.get_bind()
    ids = list(conn.scalars(sa.select(enrollments.c.id)))
    if ids:
        conn.execute(
            enrollments.update()
            .where(enrollments.c.id == sa.bindparam("b_id"))
            .values(visit_uid=sa.bindparam("b_uid")),
            [{"b_id": i, "b_uid": str(uuid.uuid4())} for i in ids],
        )
    with op.batch_alter_table("enrollments") as batch_op:
        batch_op.alter_column("visit_uid", existing_type=sa.String(64), nullable=False)
        batch_op.alter_column("visit_sequence", existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("scheduled_messages") as batch_op:
        # The iCalendar text of a "visit moved/cancelled" notice, decided with its body.
        batch_op.add_column(sa.Column("calendar", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_messages") as batch_op:
        batch_op.drop_column("calendar")
    with op.batch_alter_table("enrollments") as batch_op:
        batch_op.drop_column("visit_uid_at")
        batch_op.drop_column("visit_sequence")
        batch_op.drop_column("visit_uid")
