"""content provider lottery licence

A content provider's authorisation to publish lottery results (issue 11: the registry vouches for a
licensed lottery content provider, content review clearance ``licensed_lottery``).

Revision ID: 08215f729091
Revises: b7d9341273ad
Create Date: 2026-12-03 11:52:34.283097
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "08215f729091"
down_revision: str | None = "b7d9341273ad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("msg_content_providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lottery_licence", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("msg_content_providers", schema=None) as batch_op:
        batch_op.drop_column("lottery_licence")
