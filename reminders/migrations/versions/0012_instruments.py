"""PROM instruments (HOOS JR): responses and form tokens

Revision ID: 0012_instruments
Revises: 0011_outcomes
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0012_instruments"
down_revision: str | None = "0011_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
