"""EHR intake: source identifiers for patients, procedures and appointments

Revision ID: 0010_interop
Revises: 0009_inbound_queue
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0010_interop"
down_revision: str | None = "0009_inbound_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
