"""Purpose-bound reading of personal information (O24-13.3, O24-9.3).

Every read of personal information through the API or the console names a purpose: the query
parameter ``purpose=``, the header ``X-Piguard-Purpose`` or, in the console, the purpose picked on
the page (kept in the ``piguard_purpose`` cookie). Views are masked by default; ``view=clear`` asks
for clear text. :func:`decide_read` runs :func:`piguard.identity.access.decide_access` with the
purpose, the categories, the view and the subject, so the guards the rooms above install (purpose
declared in the inventory and needing clear text, consent, current training, the agent's contract
scope and expiry: ``piguard.oversight.access``) all speak in one :class:`Decision`. The read is
audited with its purpose either way (``pi.read``, outcome ok or refused).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.deps import db_session
from piguard.core.errors import forbidden, invalid_field
from piguard.core.reasons import Decision
from piguard.identity.access import ACTION_ROLES, PI_VIEWS, decide_access
from piguard.identity.deps import current_principal
from piguard.identity.principal import Principal
from piguard.regulations.markers import carries

PURPOSE_PARAM = "purpose"
PURPOSE_HEADER = "X-Piguard-Purpose"
PURPOSE_COOKIE = "piguard_purpose"
VIEW_PARAM = "view"
_PURPOSE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def purpose_of(request: Request, *, cookie: bool = False) -> str | None:
    """The purpose the request names: query parameter, then header, then (console) the cookie."""
    raw = request.query_params.get(PURPOSE_PARAM) or request.headers.get(PURPOSE_HEADER)
    if not raw and cookie:
        raw = request.cookies.get(PURPOSE_COOKIE)
    raw = (raw or "").strip()
    return raw[:64] if raw else None


def view_of(request: Request) -> str:
    """``masked`` (the default) or ``clear``; anything else is a validation error."""
    raw = request.query_params.get(VIEW_PARAM) or "masked"
    if raw not in PI_VIEWS:
        raise invalid_field(VIEW_PARAM, "masked or clear", "须为 masked（脱敏）或 clear（明文）")
    return raw


def _safe_purpose(purpose: str | None) -> str | None:
    """Only an id-shaped purpose goes into the audit log (free text might hold anything)."""
    return purpose if purpose and _PURPOSE_ID.match(purpose) else None


@dataclass(frozen=True)
class PiRead:
    """An allowed read: who, for what purpose, which view, and the decision's reasons."""

    principal: Principal
    action: str
    purpose: str
    view: str
    categories: tuple[str, ...]
    decision: Decision
    system: str | None = None

    @property
    def clear(self) -> bool:
        return self.view == "clear"

    def notes(self) -> list[dict[str, Any]]:
        """The reasons shown with the data (e.g. training lapsed: masked only)."""
        return [r.to_dict() for r in self.decision.reasons]


@carries("O24-13.3", "O24-9.3", "O24-13.6")
def decide_read(
    session: Session,
    principal: Principal,
    action: str,
    *,
    purpose: str | None,
    view: str = "masked",
    categories: Sequence[str] = (),
    system: str | None = None,
    subject: str | None = None,
    subject_ref: str | None = None,
    route: str | None = None,
) -> PiRead:
    """Decide and audit one read of personal information; a refusal raises 403 with its reasons
    (and is committed to the audit log first, since the error rolls the request back)."""
    cats = tuple(sorted(set(categories)))
    decision = decide_access(
        principal,
        action,
        purpose=purpose,
        data_categories=cats,
        context={"session": session, "pi": view, "system": system, "subject": subject},
    )
    obligations: dict[str, None] = {"O24-13.6": None}
    for o in decision.obligations:
        obligations.setdefault(o, None)
    record(
        session,
        action="pi.read",
        actor=principal.as_actor(),
        subject_ref=subject_ref,
        data_categories=cats,
        purpose=_safe_purpose(purpose),
        outcome="ok" if decision.allowed else "refused",
        obligations=tuple(obligations),
        client_ip=principal.client_ip,
        terminal=principal.terminal,
        detail={
            "requested": action,
            "view": view,
            "system": system,
            "route": (route or "")[:200] or None,
            "reasons": [r.code for r in decision.reasons],
        },
    )
    if not decision.allowed:
        session.commit()
        raise forbidden(decision.reasons)
    assert purpose is not None  # the purpose check refuses a read without one
    return PiRead(principal, action, purpose, view, cats, decision, system)


def require_pi_read(
    action: str,
    categories: Sequence[str],
    *,
    system: str | None = None,
    subject_of: Callable[[Request], tuple[str, str] | None] | None = None,
) -> Callable[..., PiRead]:
    """Dependency for an API endpoint that returns personal information: the principal must be
    allowed ``action`` *and* the purpose-bound read; returns the :class:`PiRead` (``.clear`` says
    whether clear text was granted). ``subject_of`` returns ``(subject, subject_ref)`` when the
    request is about one person (their consent is then asked, O24-9.1; the audit names the ref)."""
    if action not in ACTION_ROLES:
        raise ValueError(f"unknown action {action!r}: add it to the permission table first")
    cats = tuple(categories)

    def dependency(
        request: Request,
        principal: Principal = Depends(current_principal),
        session: Session = Depends(db_session, scope="function"),
    ) -> PiRead:
        about = subject_of(request) if subject_of is not None else None
        subject, subject_ref = about if about is not None else (None, None)
        return decide_read(
            session,
            principal,
            action,
            purpose=purpose_of(request),
            view=view_of(request),
            categories=cats,
            system=system,
            subject=subject,
            subject_ref=subject_ref,
            route=request.url.path,
        )

    dependency.pi_read = (action, cats)  # type: ignore[attr-defined]  # the matrix test reads it
    return dependency


__all__ = [
    "PURPOSE_COOKIE",
    "PURPOSE_HEADER",
    "PURPOSE_PARAM",
    "VIEW_PARAM",
    "PiRead",
    "decide_read",
    "purpose_of",
    "require_pi_read",
    "view_of",
]
