"""cases: the content_report kind

A case of kind ``content_report`` holds the report to the competent authority of what the gateway
stopped as prohibited content in a period (CSL-47, O31-16; ``piguard.cases.content_reports``): the
``ck_cases_kind`` check constraint admits it.

Revision ID: 5c47a1e0d2b3
Revises: 08215f729091
Create Date: 2026-12-06 21:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c47a1e0d2b3"
down_revision: str | None = "08215f729091"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = (
    "pi_complaint",
    "sms_complaint",
    "sms_report_transfer",
    "access",
    "correction",
    "deletion",
    "cancellation",
    "incident",
)
_AFTER = (*_BEFORE, "content_report")


def _kinds(values: tuple[str, ...]) -> str:
    return f"kind IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_cases_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_cases_kind"), _kinds(_AFTER))


def downgrade() -> None:
    op.execute("DELETE FROM cases WHERE kind = 'content_report'")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_cases_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_cases_kind"), _kinds(_BEFORE))
