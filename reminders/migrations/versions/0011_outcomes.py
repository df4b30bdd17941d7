"""diagnostic pain diary: baseline pain and relief

Revision ID: 0011_outcomes
Revises: 0010_interop
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_outcomes"
down_revision: str | None = "0010_interop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch_op:
        # Pain 0-10 before a diagnostic injection: the diary's baseline.
        batch_op.add_column(sa.Column("baseline_pain", sa.Integer(), nullable=True))
    with op.batch_alter_table("clinics") as batch_op:
        # Diary prompt times and relief thresholds; NULL: the defaults.
        batch_op.add_column(sa.Column("diary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clinics") as batch_op:
        batch_op.drop_column("diary")
    with op.batch_alter_table("enrollments") as batch_op:
        batch_op.drop_column("baseline_pain")
