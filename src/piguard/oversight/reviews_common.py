"""Small pieces shared by the responsibility register (O24-13.1), access reviews (O24-13.5) and the
media register (O24-13.4): the one error shape with its obligation id, how a person is named, and
the inventory's systems and categories these registers refer to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.core.errors import FieldError, PiguardError
from piguard.core.reasons import Reason
from piguard.core.text import clean_text
from piguard.discovery.categories import CODES as CATEGORY_CODES
from piguard.identity import service as identity
from piguard.identity.models import Staff
from piguard.identity.principal import Principal
from piguard.inventory.models import InvField, InvSystem


def err(
    code: str,
    en: str,
    zh: str,
    obligation: str,
    *,
    status: int = 409,
    field: str | None = None,
    detail: dict[str, Any] | None = None,
) -> PiguardError:
    """A refusal (or bad input) naming ``obligation``; the CLI exits 2 for 404s, else 1."""
    reason = Reason(code, (obligation,), en, zh, detail or {})
    return PiguardError(
        code,
        en,
        zh,
        obligations=(obligation,),
        fields=[FieldError(field, f"{en} / {zh}")] if field else [],
        reasons=(reason,),
        http_status=status,
        exit_code=2 if status == 404 else 1,
    )


def bad(obligation: str) -> Any:
    """A ``bad=`` callback for :func:`clean_text` raising a 422 naming the field and obligation."""

    def _bad(field: str, en: str, zh: str) -> PiguardError:
        return err(
            "validation_error",
            f"Invalid {field}: {en}",
            f"{field} 无效：{zh}",
            obligation,
            status=422,
            field=field,
        )

    return _bad


def text(raw: object, field: str, limit: int, obligation: str, *, required: bool = False) -> str:
    return clean_text(raw, field, limit, required=required, bad=bad(obligation))


def aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def who(principal: Principal) -> str:
    """How a person is named in these registers: ``staff:alice`` (never a display name)."""
    return f"{principal.actor_type}:{principal.actor_id}"


def staff_named(session: Session, username: object, obligation: str, field: str = "username") -> Staff:
    """The active account ``username``, or an error naming the field and the obligation."""
    name = username.strip() if isinstance(username, str) else ""
    staff = identity.get_staff_by_username(session, name) if name else None
    if staff is None or not staff.active:
        shown = identity.safe_text(name) if name else ""
        raise err(
            "staff_unknown",
            f"No active staff or agent account {shown!r}; nothing was changed.",
            f"没有有效的人员或代理账号 {shown!r}，未作任何更改。",
            obligation,
            status=404,
            field=field,
        )
    return staff


def systems(session: Session) -> dict[str, InvSystem]:
    """The inventory's systems by id (the registers name these)."""
    return {s.id: s for s in session.scalars(select(InvSystem).order_by(InvSystem.position, InvSystem.id))}


def require_system(session: Session, system_id: object, obligation: str, field: str = "system") -> str:
    known = systems(session)
    sid = system_id.strip() if isinstance(system_id, str) else ""
    if sid not in known:
        raise err(
            "system_unknown",
            f"System {sid[:64]!r} is not in the inventory (known: {', '.join(known) or 'none'}); nothing "
            "was changed.",
            f"系统 {sid[:64]!r} 不在个人信息清单中（已登记：{'、'.join(known) or '无'}），未作任何更改。",
            obligation,
            status=404,
            field=field,
        )
    return sid


def inventory_categories(session: Session) -> list[str]:
    """The PI categories the inventory's fields hold (sorted)."""
    found: set[str] = set()
    for cats in session.scalars(select(InvField.categories)):
        found.update(c for c in cats or () if isinstance(c, str))
    return sorted(found)


def require_category(code: object, obligation: str, field: str = "category") -> str:
    c = code.strip() if isinstance(code, str) else ""
    if c not in CATEGORY_CODES:
        raise err(
            "category_unknown",
            f"Unknown PI category {c[:32]!r}; nothing was changed.",
            f"未知的个人信息类别 {c[:32]!r}，未作任何更改。",
            obligation,
            status=422,
            field=field,
        )
    return c
