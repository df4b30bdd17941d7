"""calendar invites: stable UID and SEQUENCE per follow-up visit

Revision ID: 0014_calendar
Revises: 0013_fhir_push
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0014_calendar"
down_revision: str | None = "0013_fhir_push"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
