"""clinic FHIR endpoints and pushed resources

Revision ID: 0013_fhir_push
Revises: 0012_instruments
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0013_fhir_push"
down_revision: str | None = "0012_instruments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
