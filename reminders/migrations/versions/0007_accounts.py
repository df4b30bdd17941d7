"""staff account security: password reset, TOTP, sessions

Revision ID: 0007_accounts
Revises: 0006_production
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0007_accounts"
down_revision: str | None = "0006_production"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
