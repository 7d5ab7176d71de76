"""Access decisions: roles (O24-13.3), agent scope and expiry (O24-11), and pluggable checks.

The permission table is data (:data:`ACTION_ROLES`): an action such as ``"pi.export"`` maps to the
roles that may perform it. A token carries scopes (``"pi:export"``, ``"pi:*"``, ``"*"``) that can only
narrow what its holder's roles allow.

Other rooms add their own conditions without editing :func:`decide_access` by appending to
:data:`ACCESS_CHECKS` (or decorating with :func:`register_access_check`): purpose limitation
(O24-9.3), current training (O24-15), maker-checker holds for bulk export (O24-13.3). A check
receives an :class:`AccessRequest` and returns ``None`` (no objection), a :class:`Reason` (refuse),
:class:`Hold` (hold for approval) or :class:`Satisfied` (a reason recorded on the allow side).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from piguard.core.db import utcnow
from piguard.core.observability import DECISIONS
from piguard.core.reasons import Decision, Reason
from piguard.identity.principal import Principal, scope_covers, scope_for_action
from piguard.regulations.markers import carries

ADMIN = "admin"
COMPLIANCE_OFFICER = "compliance_officer"
OPERATOR = "operator"
AGENT = "agent"
AUDITOR = "auditor"

#: Every role, with what it is for (English / Chinese), shown by the CLI and the docs.
ROLES: dict[str, tuple[str, str]] = {
    ADMIN: (
        "System administrator: accounts, tokens, configuration; no personal information.",
        "系统管理员：账号、令牌、配置；不接触个人信息。",
    ),
    COMPLIANCE_OFFICER: (
        "Compliance officer: rules, consent, rights requests, cases, exports, approvals.",
        "合规专员：规则、同意、用户权利请求、投诉与事件、导出与审批。",
    ),
    OPERATOR: (
        "Operator staff: customer service and message sending within their duties.",
        "运营/客服人员：在职责范围内处理客户服务与短信发送。",
    ),
    AGENT: (
        "Outsourced agent (O24-11): customer-service work only, until their access expires.",
        "代理（外包）人员（O24-11）：仅限客服工作，且在授权期限内。",
    ),
    AUDITOR: (
        "Auditor: read-only view of rules, audit log, staff and oversight records.",
        "审计员：只读查看规则、审计日志、人员与监督记录。",
    ),
}
ALL_ROLES: frozenset[str] = frozenset(ROLES)

#: Roles an outsourced agent account may hold (O24-11: scoped access).
AGENT_ROLES: frozenset[str] = frozenset({AGENT, OPERATOR})


def _roles(*names: str) -> frozenset[str]:
    return frozenset(names)


_READERS = _roles(ADMIN, COMPLIANCE_OFFICER, AUDITOR)
_PI_WORKERS = _roles(COMPLIANCE_OFFICER, OPERATOR, AGENT)

#: The permission table (O24-13.3): action -> roles that may perform it. Deny by default: an action
#: missing here is refused. Extend with :func:`register_action`.
ACTION_ROLES: dict[str, frozenset[str]] = {
    # identity
    "staff.read": _READERS,
    "staff.manage": _roles(ADMIN),
    "token.self": ALL_ROLES,
    # rules and the audit log
    "rules.read": ALL_ROLES,
    "audit.read": _READERS,
    "audit.verify": _READERS,
    # personal information of end users
    "pi.read": _PI_WORKERS,  # masked view
    # unmasked, only with a purpose whose inventory entry needs it, current training (O24-15) and,
    # for agents, a contract whose scope covers it (O24-11): see piguard.identity.purpose
    "pi.read_clear": _PI_WORKERS,
    "pi.write": _PI_WORKERS,
    "pi.export": _roles(COMPLIANCE_OFFICER),
    "pi.delete": _roles(COMPLIANCE_OFFICER),
    # inventory and published rules
    "inventory.read": _roles(ADMIN, COMPLIANCE_OFFICER, OPERATOR, AUDITOR),
    "inventory.manage": _roles(ADMIN, COMPLIANCE_OFFICER),
    # consent
    "consent.read": _roles(COMPLIANCE_OFFICER, OPERATOR, AGENT, AUDITOR),
    "consent.manage": _roles(COMPLIANCE_OFFICER, OPERATOR),
    # messaging
    "sms.submit": _roles(COMPLIANCE_OFFICER, OPERATOR),
    # replies and delivery reports from the SMS centre (listed here, not registered by the API
    # module on import: `piguard staff token --scope sms:inbound` must know it without the API)
    "sms.inbound": _roles(COMPLIANCE_OFFICER, OPERATOR),
    "sms.read": _roles(COMPLIANCE_OFFICER, OPERATOR, AUDITOR),
    "sms.manage": _roles(ADMIN, COMPLIANCE_OFFICER),
    # user rights requests and cases
    "rights.read": _roles(COMPLIANCE_OFFICER, OPERATOR, AGENT, AUDITOR),
    "rights.manage": _PI_WORKERS,
    "cases.read": _roles(COMPLIANCE_OFFICER, OPERATOR, AGENT, AUDITOR),
    "cases.manage": _PI_WORKERS,
    # discovery scans, and the detect/mask/k-anonymity API
    "discovery.read": ALL_ROLES,
    "discovery.detect": _PI_WORKERS,
    "discovery.mask": _PI_WORKERS,
    "discovery.kanon": _roles(COMPLIANCE_OFFICER),
    "scan.read": _READERS,
    "scan.run": _roles(ADMIN, COMPLIANCE_OFFICER),
    # oversight: training, agents, reviews, media, self-inspection
    "oversight.read": _READERS,
    "oversight.manage": _roles(COMPLIANCE_OFFICER),
    "approval.decide": _roles(COMPLIANCE_OFFICER),
}


def register_action(action: str, roles: Sequence[str]) -> None:
    """Add an action to the permission table, or add roles to an existing one."""
    unknown = set(roles) - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    if "." not in action:
        raise ValueError("actions are written 'domain.verb'")
    ACTION_ROLES[action] = ACTION_ROLES.get(action, frozenset()) | frozenset(roles)


def actions_for_roles(roles: frozenset[str] | set[str]) -> list[str]:
    return sorted(a for a, allowed in ACTION_ROLES.items() if allowed & roles)


def allowed_scopes(roles: frozenset[str] | set[str]) -> frozenset[str]:
    """The token scopes these roles may hold: one per permitted action, ``domain:*`` and ``*``."""
    scopes = {scope_for_action(a) for a in actions_for_roles(roles)}
    scopes |= {f"{s.partition(':')[0]}:*" for s in scopes}
    if scopes:
        scopes.add("*")
    return frozenset(scopes)


def known_scopes() -> frozenset[str]:
    return allowed_scopes(ALL_ROLES)


# ---------------------------------------------------------------------------- pluggable checks


@dataclass(frozen=True)
class AccessRequest:
    """What a check sees. ``context`` may carry ``"session"`` (a SQLAlchemy Session, for checks
    that read the database, e.g. training records) and ``"now"``."""

    principal: Principal
    action: str
    purpose: str | None
    data_categories: tuple[str, ...]
    context: Mapping[str, Any]
    now: datetime

    @property
    def session(self) -> Session | None:
        s = self.context.get("session")
        return s if isinstance(s, Session) else None


@dataclass(frozen=True, slots=True)
class Hold:
    """Returned by a check to hold the request (e.g. for maker-checker approval)."""

    reason: Reason


@dataclass(frozen=True, slots=True)
class Satisfied:
    """Returned by a check to record why it had no objection (shown with the allow)."""

    reason: Reason


CheckResult = Reason | Hold | Satisfied | None
AccessCheck = Callable[[AccessRequest], CheckResult]

#: Checks run by every :func:`decide_access` after the built-in ones; append to add conditions.
ACCESS_CHECKS: list[AccessCheck] = []


def register_access_check(check: AccessCheck) -> AccessCheck:
    """Add ``check`` to :data:`ACCESS_CHECKS` (once); usable as a decorator."""
    if check not in ACCESS_CHECKS:
        ACCESS_CHECKS.append(check)
    return check


def _r(code: str, obligations: tuple[str, ...], en: str, zh: str, **detail: Any) -> Reason:
    return Reason(code, obligations, en, zh, dict(detail))


@carries("O24-11")
def check_agent(req: AccessRequest) -> CheckResult:
    """Outsourced agents act only while registered to an organisation and before their expiry."""
    p = req.principal
    if p.actor_type != "agent":
        return None
    if not p.agent_org:
        return _r(
            "agent_unregistered",
            ("O24-11",),
            "Agent account is not registered to an agent organisation.",
            "代理人员账号未登记所属代理机构。",
        )
    if p.access_expires_at is None or p.access_expires_at <= req.now:
        return _r(
            "agent_access_expired",
            ("O24-11",),
            "The agent's access has expired.",
            "代理人员的访问授权已过期。",
            expired_at=p.access_expires_at.isoformat() if p.access_expires_at else None,
        )
    return Satisfied(
        _r(
            "agent_access_current",
            ("O24-11",),
            "Agent is registered and within the access period.",
            "代理人员已登记且在授权期限内。",
            agent_org=p.agent_org,
            expires_at=p.access_expires_at.isoformat(),
        )
    )


@carries("O24-13.3")
def check_role(req: AccessRequest) -> CheckResult:
    allowed = ACTION_ROLES.get(req.action)
    if allowed is None:
        return _r(
            "unknown_action",
            ("O24-13.3",),
            f"Action {req.action!r} is not in the permission table; access is denied by default.",
            f"操作 {req.action!r} 不在权限表中，默认拒绝。",
            action=req.action,
        )
    held = sorted(req.principal.roles & allowed)
    if not held:
        return _r(
            "role_not_permitted",
            ("O24-13.3",),
            f"None of your roles may perform {req.action!r}.",
            f"您的角色无权执行 {req.action!r}。",
            action=req.action,
            roles=sorted(req.principal.roles),
            required_any=sorted(allowed),
        )
    return Satisfied(
        _r(
            "role_permits",
            ("O24-13.3",),
            f"Role {held[0]!r} may perform {req.action!r}.",
            f"角色 {held[0]!r} 可执行 {req.action!r}。",
            action=req.action,
            roles=held,
        )
    )


@carries("O24-13.3")
def check_scope(req: AccessRequest) -> CheckResult:
    scope = scope_for_action(req.action)
    if scope_covers(req.principal.scopes, scope):
        return None
    return _r(
        "token_scope_missing",
        ("O24-13.3",),
        f"The token does not carry the scope {scope!r}.",
        f"令牌不具备权限范围 {scope!r}。",
        scope=scope,
    )


#: How a request reads personal information (``context["pi"]``): masked by default, or clear text.
PI_VIEWS = ("masked", "clear")
#: The guards a PI read needs beyond roles, installed by the rooms above that know the purposes,
#: consent, training and the agent register (``piguard.oversight.access`` adds its names here).
#: Until all of them are installed every PI read is refused: the decision fails closed.
PI_GUARDS_NEEDED: frozenset[str] = frozenset({"purpose", "consent", "training", "agent_scope"})
PI_GUARDS_INSTALLED: set[str] = set()


@carries("O24-13.3", "O24-9.3")
def check_pi_view(req: AccessRequest) -> CheckResult:
    """A read of personal information names a purpose; clear text needs ``pi.read_clear`` too."""
    view = req.context.get("pi")
    if view is None:
        return None
    if view not in PI_VIEWS:
        return _r(
            "pi_view_unknown",
            ("O24-13.3",),
            f"Unknown view {str(view)[:16]!r}: use masked or clear.",
            "未知的视图：请使用 masked（脱敏）或 clear（明文）。",
        )
    missing = sorted(PI_GUARDS_NEEDED - PI_GUARDS_INSTALLED)
    if missing:
        return _r(
            "pi_guards_missing",
            ("O24-13.3",),
            "Personal information cannot be shown: the purpose, consent, training and agent checks are "
            "not installed in this process.",
            "无法显示个人信息：本进程未加载用途、同意、培训与代理商检查。",
            missing=missing,
        )
    if not req.purpose:
        return _r(
            "purpose_missing",
            ("O24-9.3", "O24-13.3"),
            "Name the purpose of this read of personal information (query parameter purpose= or header "
            "X-Piguard-Purpose).",
            "读取个人信息须说明用途（查询参数 purpose= 或请求头 X-Piguard-Purpose）。",
        )
    if view == "clear":
        allowed = ACTION_ROLES["pi.read_clear"]
        if not req.principal.roles & allowed:
            return _r(
                "clear_text_role_not_permitted",
                ("O24-13.3",),
                "Your roles see personal information masked only.",
                "您的角色只能查看脱敏后的个人信息。",
                required_any=sorted(allowed),
            )
        if not scope_covers(req.principal.scopes, scope_for_action("pi.read_clear")):
            return _r(
                "token_scope_missing",
                ("O24-13.3",),
                "The token does not carry the scope 'pi:read_clear'.",
                "令牌不具备权限范围 'pi:read_clear'。",
                scope="pi:read_clear",
            )
    return None


#: The checks every decision runs first (not meant to be edited at run time).
BUILTIN_CHECKS: tuple[AccessCheck, ...] = (check_agent, check_role, check_scope, check_pi_view)


@carries("O24-13.3", "O24-11")
def decide_access(
    principal: Principal,
    action: str,
    *,
    purpose: str | None = None,
    data_categories: Sequence[str] = (),
    context: Mapping[str, Any] | None = None,
) -> Decision:
    """May ``principal`` perform ``action`` (for ``purpose``, on ``data_categories``)?

    Runs the built-in checks (agent registration and expiry, role, token scope) and then every
    check in :data:`ACCESS_CHECKS`. Refusals win over holds, holds over allow; an allow lists why
    (role permits, agent current...), a refusal or hold lists the objections; every reason names
    its obligation ids.
    """
    ctx: Mapping[str, Any] = context or {}
    now = ctx.get("now")
    req = AccessRequest(
        principal=principal,
        action=action,
        purpose=purpose,
        data_categories=tuple(data_categories),
        context=ctx,
        now=now if isinstance(now, datetime) else utcnow(),
    )
    allows: list[Reason] = []
    refusals: list[Reason] = []
    holds: list[Reason] = []
    for check in (*BUILTIN_CHECKS, *ACCESS_CHECKS):
        result = check(req)
        if result is None:
            continue
        if isinstance(result, Reason):
            refusals.append(result)
        elif isinstance(result, Hold):
            holds.append(result.reason)
        else:
            allows.append(result.reason)
    # a refusal or hold shows only the objections: "your role may do this" would only confuse it
    decision = Decision.combine([] if refusals or holds else allows, refusals, holds)
    DECISIONS.labels("identity", decision.outcome.value).inc()
    return decision


__all__ = [
    "ACCESS_CHECKS",
    "ACTION_ROLES",
    "AGENT_ROLES",
    "ALL_ROLES",
    "BUILTIN_CHECKS",
    "PI_GUARDS_INSTALLED",
    "PI_GUARDS_NEEDED",
    "PI_VIEWS",
    "ROLES",
    "AccessCheck",
    "AccessRequest",
    "CheckResult",
    "Hold",
    "Satisfied",
    "actions_for_roles",
    "allowed_scopes",
    "decide_access",
    "known_scopes",
    "register_access_check",
    "register_action",
]
