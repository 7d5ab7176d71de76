"""records' client_ref index only over rows that have one

Revision ID: 5a1c7e0f3b21
Revises: 5c47a1e0d2b3
Create Date: 2026-12-06 21:05:00.000000

The idempotency lookup (``records.outbound_by_client_ref``) asks for ``client_ref IN (...)``, which
implies ``client_ref IS NOT NULL``; the rows submitted without a client_ref (most) no longer get an
entry in ``ix_msg_records_client_ref``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a1c7e0f3b21"
down_revision: str | None = "5c47a1e0d2b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("client_ref IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_msg_records_client_ref", table_name="msg_records")
    op.create_index(
        "ix_msg_records_client_ref",
        "msg_records",
        ["client_ref", "at"],
        unique=False,
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_msg_records_client_ref", table_name="msg_records")
    op.create_index("ix_msg_records_client_ref", "msg_records", ["client_ref", "at"], unique=False)
