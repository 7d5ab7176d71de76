"""FastAPI dependencies: who is calling, and may they.

``current_principal`` reads ``Authorization: Bearer <token>`` or the console session cookie
(:data:`SESSION_COOKIE`). ``require_roles(...)`` and ``require_action(...)`` build dependencies that
return the principal or raise 403 with reasons citing O24-13.3 (and O24-11 for agents)::

    @router.get("/api/audit")
    def search(principal: Principal = Depends(require_action("audit.read")), ...): ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.config import get_settings
from piguard.core.deps import client_ip, db_session
from piguard.core.errors import PiguardError, forbidden, unauthenticated
from piguard.core.reasons import Outcome, Reason
from piguard.identity import service
from piguard.identity.access import ACTION_ROLES, decide_access
from piguard.identity.principal import Principal
from piguard.regulations.markers import carries

SESSION_COOKIE = "piguard_session"
_TERMINAL_MAX = 128


def terminal_of(request: Request) -> str | None:
    """Where the request came from, as far as the client says (its User-Agent, truncated)."""
    ua = request.headers.get("user-agent")
    return ua[:_TERMINAL_MAX] if ua else None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthenticated()
    return value.strip()


def _resolve(request: Request, session: Session) -> Principal | None:
    ip, terminal = client_ip(request), terminal_of(request)
    token = _bearer(request)
    if token is not None:
        return service.principal_from_token(session, token, client_ip=ip, terminal=terminal)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        _check_same_origin(request)
        return service.principal_from_session(session, cookie, client_ip=ip, terminal=terminal)
    return None


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@carries("O24-13.3")
def _check_same_origin(request: Request) -> None:
    """A request that changes something with the session cookie must come from piguard's own pages:
    an ``Origin`` (or, without it, ``Referer``) naming another site is refused (cross-site request
    forgery; a foreign page could otherwise mint a ``*`` token with the user's session)."""
    if request.method in _SAFE_METHODS:
        return
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        return  # no browser context (CLI tools, tests): SameSite=Lax already keeps cross-site POSTs out
    own = f"{request.url.scheme}://{request.url.netloc}"
    if claimed == own or claimed.startswith(own + "/"):
        return
    reason = Reason(
        "cross_origin_request",
        ("O24-13.3",),
        "This request came from another site's page; piguard acts on a session only for its own pages.",
        "该请求来自其他网站的页面；piguard 仅接受来自自身页面的会话请求。",
        {"origin": claimed[:200]},
    )
    raise forbidden((reason,))


#: the same check for other session cookies (the end-user portal's)
check_same_origin = _check_same_origin


def current_principal(
    request: Request, session: Session = Depends(db_session, scope="function")
) -> Principal:
    """The authenticated principal; 401 ``unauthenticated`` when no valid token or session."""
    principal = _resolve(request, session)
    if principal is None:
        raise unauthenticated()
    request.state.principal = principal
    return principal


def optional_principal(
    request: Request, session: Session = Depends(db_session, scope="function")
) -> Principal | None:
    """The principal if the request carries valid credentials, else None (never raises 401)."""
    try:
        principal = _resolve(request, session)
    except PiguardError as err:
        if err.code == "forbidden":  # a cross-site request: refused, not treated as anonymous
            raise
        return None
    if principal is not None:
        request.state.principal = principal
    return principal


def _audit_refusal(session: Session, principal: Principal, action: str, reasons: tuple[Reason, ...]) -> None:
    """Record the refused attempt and commit it now: the error that follows rolls the request back."""
    obligations: dict[str, None] = {"O24-13.6": None}
    for r in reasons:
        for o in r.obligations:
            obligations.setdefault(o, None)
    record(
        session,
        action="identity.access.refused",
        actor=principal.as_actor(),
        outcome="refused",
        obligations=tuple(obligations),
        client_ip=principal.client_ip,
        terminal=principal.terminal,
        detail={"requested": action, "reasons": [r.code for r in reasons]},
    )
    session.commit()


@carries("O24-13.3")
def require_roles(*roles: str, scope: str | None = None) -> Callable[..., Principal]:
    """Dependency: the principal must hold at least one of ``roles`` (403 ``forbidden`` otherwise)
    and, when it is a token, carry ``scope`` (without a ``scope``, only an unrestricted ``*`` token
    passes: a token scoped to ``sms:read`` never reaches a role-only endpoint)."""
    wanted = frozenset(roles)
    needed = scope or "*"

    def dependency(
        principal: Principal = Depends(current_principal),
        session: Session = Depends(db_session, scope="function"),
    ) -> Principal:
        reasons: list[Reason] = []
        if not principal.roles & wanted:
            reasons.append(
                Reason(
                    "role_not_permitted",
                    ("O24-13.3",),
                    f"One of these roles is required: {', '.join(sorted(wanted))}.",
                    f"需要以下角色之一：{', '.join(sorted(wanted))}。",
                    {"required_any": sorted(wanted)},
                )
            )
        if not principal.has_scope(needed):
            reasons.append(
                Reason(
                    "token_scope_missing",
                    ("O24-13.3",),
                    f"The token does not carry the scope {needed!r}.",
                    f"令牌不具备权限范围 {needed!r}。",
                    {"scope": needed},
                )
            )
        if not reasons:
            return principal
        _audit_refusal(session, principal, "roles:" + ",".join(sorted(wanted)), tuple(reasons))
        raise forbidden(tuple(reasons))

    return dependency


@carries("O24-13.3", "O24-11")
def require_action(
    action: str, *, purpose: str | None = None, context: Mapping[str, Any] | None = None
) -> Callable[..., Principal]:
    """Dependency: :func:`decide_access` must allow ``action`` (403 with its reasons otherwise)."""
    if action not in ACTION_ROLES:
        raise ValueError(f"unknown action {action!r}: add it to the permission table first")

    def dependency(
        principal: Principal = Depends(current_principal),
        session: Session = Depends(db_session, scope="function"),
    ) -> Principal:
        decision = decide_access(
            principal, action, purpose=purpose, context={**(context or {}), "session": session}
        )
        if decision.allowed:
            return principal
        _audit_refusal(session, principal, action, decision.reasons)
        if decision.outcome is Outcome.HOLD:
            raise PiguardError(
                "held",
                "Held: this needs approval first.",
                "需先经审批。",
                obligations=decision.obligations,
                reasons=decision.reasons,
                http_status=403,
                exit_code=1,
            )
        raise forbidden(decision.reasons)

    return dependency


def login(session: Session, request: Request, username: str, password: str) -> tuple[Principal, str]:
    """Authenticate and open a console session; returns the principal and the cookie value.

    A failed attempt is committed before the error propagates, so the lockout counts it (the
    request's unit of work would otherwise roll it back).
    """
    try:
        principal = service.authenticate(
            session, username, password, client_ip(request), terminal=terminal_of(request)
        )
    except PiguardError:
        session.commit()
        raise
    return principal, service.start_session(session, principal)


def set_session_cookie(response: Response, value: str) -> None:
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    settings = get_settings()
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=settings.env == "production", path="/"
    )
