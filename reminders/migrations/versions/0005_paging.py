"""one outbound path (every message a scheduled_messages row), on-call rota, escalation
policies, office hours, concerns grouped by problem

Revision ID: 0005_paging
Revises: 0004_consent
"""

import datetime
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reminders.db

revision: str = "0005_paging"
down_revision: str | None = "0004_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WEEKDAYS_9_TO_5 = (
    '{"mon": ["08:00", "17:00"], "tue": ["08:00", "17:00"], "wed": ["08:00", "17:00"], '
    '"thu": ["08:00", "17:00"], "fri": ["08:00", "17:00"]}'
)

_URGENT = "status = 'pending' AND kind IN ('page', 'reply', 'notice', 'staff_text')"


def upgrade() -> None:
    op.create_table(
        "oncall_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=True),
        sa.Column("ends", sa.Time(), nullable=True),
        sa.Column("starts_at", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("primary_staff_id", sa.Integer(), nullable=False),
        sa.Column("backup_staff_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", reminders.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["backup_staff_id"], ["staff_members.id"]),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["staff_members.id"]),
        sa.ForeignKeyConstraint(["primary_staff_id"], ["staff_members.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_oncall_shifts_clinic", "oncall_shifts", ["clinic_id", "kind"])
    op.create_table(
        "clinic_holidays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clinic_id", "day", name="uq_clinic_holiday"),
    )
    op.create_table(
        "escalation_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=12), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("updated_at", reminders.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clinic_id", "severity", name="uq_escalation_policy"),
    )
    _rota_from_free_text_contacts()
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.add_column(
            sa.Column("office_hours", sa.JSON(), nullable=False, server_default=_WEEKDAYS_9_TO_5)
        )
        # Pages go to staff members on the rota now, never to free-text numbers. A clinic
        # upgrading from 0004 sets up its rota (settings page or `aftercare oncall set`);
        # until then /healthz and the inbox say nobody is on call.
        for column in ("on_call_phone", "on_call_email", "backup_phone", "backup_email"):
            batch_op.drop_column(column)
    with op.batch_alter_table("scheduled_messages") as batch_op:
        batch_op.alter_column("enrollment_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("kind", sa.String(length=12), nullable=False, server_default="step")
        )
        batch_op.add_column(sa.Column("recipient", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("concern_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("inbound_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("about_message_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("subject", sa.String(length=300), nullable=True))
        batch_op.create_foreign_key(
            "fk_messages_patient", "patients", ["patient_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_messages_concern", "concerns", ["concern_id"], ["id"], use_alter=True
        )
        batch_op.create_foreign_key(
            "fk_messages_inbound", "inbound_messages", ["inbound_id"], ["id"], use_alter=True
        )
        batch_op.create_foreign_key(
            "fk_messages_about", "scheduled_messages", ["about_message_id"], ["id"]
        )
        batch_op.create_foreign_key("fk_messages_staff", "staff_members", ["staff_id"], ["id"])
        batch_op.create_index("ix_messages_concern", ["concern_id"])
        batch_op.create_index(
            "ix_messages_urgent", ["due_at"],
            postgresql_where=sa.text(_URGENT), sqlite_where=sa.text(_URGENT),
        )
        batch_op.create_index("ix_messages_patient", ["patient_id"])
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.add_column(sa.Column("concern_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_inbound_concern", "concerns", ["concern_id"], ["id"], use_alter=True
        )
    with op.batch_alter_table("concerns") as batch_op:
        batch_op.add_column(
            sa.Column("escalation_round", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("acknowledged_via", sa.String(length=40), nullable=True))
    with op.batch_alter_table("staff_alerts") as batch_op:
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_staff_alerts_message", "scheduled_messages", ["message_id"], ["id"]
        )


def _rota_from_free_text_contacts() -> None:
    """Where a clinic's old on-call/backup contact is one of its staff members (same email
    or phone), keep them paged: a round-the-clock rota line naming them."""
    conn = op.get_bind()
    clinics = conn.execute(sa.text(
        "SELECT id, on_call_email, on_call_phone, backup_email, backup_phone FROM clinics"
    )).all()  # fmt: skip
    shifts = sa.table(
        "oncall_shifts", sa.column("clinic_id", sa.Integer()), sa.column("kind", sa.String()),
        sa.column("days", sa.JSON()), sa.column("starts", sa.Time()), sa.column("ends", sa.Time()),
        sa.column("primary_staff_id", sa.Integer()), sa.column("backup_staff_id", sa.Integer()),
        sa.column("created_at", reminders.db.UTCDateTime(timezone=True)),
    )  # fmt: skip
    rows = []
    for clinic_id, primary_email, primary_phone, backup_email, backup_phone in clinics:
        primary = _staff_id(conn, clinic_id, primary_email, primary_phone)
        if primary is None:
            continue
        rows.append({
            "clinic_id": clinic_id, "kind": "rota",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "starts": datetime.time(0, 0), "ends": datetime.time(0, 0),
            "primary_staff_id": primary,
            "backup_staff_id": _staff_id(conn, clinic_id, backup_email, backup_phone),
            "created_at": datetime.datetime.now(datetime.UTC),
        })  # fmt: skip
    if rows:
        op.bulk_insert(shifts, rows)


def _staff_id(
    conn: sa.Connection, clinic_id: int, email: str | None, phone: str | None
) -> int | None:
    if not email and not phone:
        return None
    found = conn.execute(
        sa.text("SELECT id FROM staff_members WHERE clinic_id = :clinic AND is_active = :yes "
                "AND (lower(email) = lower(:email) OR phone = :phone) ORDER BY id LIMIT 1"),
        {"clinic": clinic_id, "yes": True, "email": email or "", "phone": phone or ""},
    ).scalar()  # fmt: skip
    return int(found) if found is not None else None


def downgrade() -> None:
    with op.batch_alter_table("staff_alerts") as batch_op:
        batch_op.drop_constraint("fk_staff_alerts_message", type_="foreignkey")
        batch_op.drop_column("message_id")
        batch_op.drop_column("round")
    with op.batch_alter_table("concerns") as batch_op:
        batch_op.drop_column("acknowledged_via")
        batch_op.drop_column("escalation_round")
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.drop_constraint("fk_inbound_concern", type_="foreignkey")
        batch_op.drop_column("concern_id")
    op.execute("DELETE FROM send_attempts WHERE message_id IN "
               "(SELECT id FROM scheduled_messages WHERE kind <> 'step')")
    op.execute("DELETE FROM scheduled_messages WHERE kind <> 'step'")
    with op.batch_alter_table("scheduled_messages") as batch_op:
        batch_op.drop_index("ix_messages_urgent")
        batch_op.drop_index("ix_messages_patient")
        batch_op.drop_index("ix_messages_concern")
        for name in ("staff", "about", "inbound", "concern", "patient"):
            batch_op.drop_constraint(f"fk_messages_{name}", type_="foreignkey")
        for column in ("subject", "body", "staff_id", "about_message_id", "inbound_id",
                       "concern_id", "patient_id", "recipient", "kind"):
            batch_op.drop_column(column)
        batch_op.alter_column("enrollment_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.drop_column("office_hours")
        batch_op.add_column(sa.Column("on_call_phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("on_call_email", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("backup_phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("backup_email", sa.String(length=200), nullable=True))
    op.drop_table("escalation_policies")
    op.drop_table("clinic_holidays")
    op.drop_index("ix_oncall_shifts_clinic", table_name="oncall_shifts")
    op.drop_table("oncall_shifts")
