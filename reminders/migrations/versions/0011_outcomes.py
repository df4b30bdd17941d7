"""diagnostic pain diary: baseline pain and relief

Revision ID: 0011_outcomes
Revises: 0010_interop
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0011_outcomes"
down_revision: str | None = "0010_interop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
