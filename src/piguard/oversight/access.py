"""The guards of a purpose-bound read of personal information, installed into identity's decision.

Identity decides roles and token scopes and refuses any read without a purpose; it cannot know the
inventory, the consent ledger, the training records or the agent register, which sit above it. This
module (imported with the oversight API, the console and the CLI) registers the rest with
:func:`piguard.identity.access.register_access_check`, and marks them installed so identity stops
failing closed:

- ``purpose`` (O24-9.3, O24-13.3): the purpose is declared (inventory, else the packaged list), the
  categories are ones it needs, and clear text only for categories its taxonomy entry lists in
  ``clear``;
- ``consent`` (O24-9.1): when the read is about one person, :func:`piguard.consent.service.may`
  decides; for a purpose the service requires only suspension and cancellation refuse (the
  service contract, not a consent, is its basis), for an optional one the consent itself;
- ``training`` (O24-15): clear text needs current required training; a masked view with lapsed
  training is allowed and says why clear text is not;
- ``agent_scope`` (O24-11): an agent's firm must be registered, active and within its contract,
  and the purpose, categories and system within the contract's scope. For non-PI actions an
  expired or suspended firm refuses too.
"""

from __future__ import annotations

from datetime import datetime

from piguard.consent import service as consent
from piguard.core.reasons import Reason
from piguard.identity.access import (
    PI_GUARDS_INSTALLED,
    AccessRequest,
    CheckResult,
    Satisfied,
    register_access_check,
)
from piguard.inventory.taxonomy import taxonomy
from piguard.oversight import agents, training
from piguard.regulations.markers import carries


def _r(code: str, ids: tuple[str, ...], en: str, zh: str, **detail: object) -> Reason:
    return Reason(code, ids, en, zh, dict(detail))


def _no_session() -> Reason:
    return _r(
        "pi_session_missing",
        ("O24-13.3",),
        "The read cannot be checked without the database.",
        "无法在没有数据库的情况下检查此次读取。",
    )


@carries("O24-9.3", "O24-13.3")
def check_purpose(req: AccessRequest) -> CheckResult:
    view = req.context.get("pi")
    if view is None or not req.purpose:
        return None
    session = req.session
    if session is None:
        return _no_session()
    known = consent.purposes(session)
    p = known.get(req.purpose)
    if p is None:
        return _r(
            "purpose_not_declared",
            ("O24-9.3", "O24-13.3"),
            f"{req.purpose!r} is not a declared purpose; known: {', '.join(sorted(known))}.",
            f"“{req.purpose}”不是已声明的用途；可用：{'、'.join(sorted(known))}。",
            purpose=req.purpose,
            known=sorted(known),
        )
    cats = set(req.data_categories)
    if p.categories is not None and not cats <= p.categories:
        extra = sorted(cats - p.categories)
        return _r(
            "category_not_needed",
            ("O24-9.3", "CSL-41.2"),
            f"The purpose {req.purpose!r} does not need {', '.join(extra)}.",
            f"用途“{req.purpose}”不需要：{'、'.join(extra)}。",
            purpose=req.purpose,
            categories=extra,
        )
    if view == "clear":
        kind = taxonomy().get(req.purpose)
        needs = kind.clear if kind is not None else frozenset()
        not_needed = sorted(cats - needs)
        if not_needed or not cats:
            return _r(
                "clear_text_not_needed",
                ("O24-13.3", "O24-9.3"),
                f"The purpose {req.purpose!r} does not need {', '.join(not_needed) or 'these data'} in "
                "clear text: the view stays masked.",
                f"用途“{req.purpose}”无需明文查看{'、'.join(not_needed) or '这些信息'}：仅可查看脱敏信息。",
                purpose=req.purpose,
                categories=not_needed,
                clear_for_purpose=sorted(needs),
            )
    return Satisfied(
        _r(
            "purpose_permits",
            ("O24-9.3", "O24-13.3"),
            f"Read for the declared purpose {req.purpose!r} ({view}).",
            f"为已声明的用途“{req.purpose}”读取（{'明文' if view == 'clear' else '脱敏'}）。",
            purpose=req.purpose,
            view=view,
        )
    )


_CONTRACT_BASIS = frozenset({"no_consent", "renewal_needed", "consent_expired"})


@carries("O24-9.1", "O24-9.4", "O24-14.2")
def check_consent(req: AccessRequest) -> CheckResult:
    subject = req.context.get("subject")
    if req.context.get("pi") is None or not subject or not req.purpose:
        return None
    session = req.session
    if session is None:
        return _no_session()
    known = consent.purposes(session)
    p = known.get(req.purpose)
    if p is None:
        return None  # check_purpose refuses it
    decision = consent.may(
        session, req.principal.as_actor(), str(subject), req.data_categories, req.purpose, now=req.now
    )
    if decision.allowed:
        return Satisfied(decision.reasons[0])
    objections = [r for r in decision.reasons if not (p.required and r.code in _CONTRACT_BASIS)]
    if objections:
        return objections[0]
    return Satisfied(
        _r(
            "consent_not_basis",
            ("O24-9.1",),
            f"The purpose {req.purpose!r} is required for the service: the rules accepted for the "
            "service, not a separate consent, are its basis.",
            f"用途“{req.purpose}”为提供服务所必需：以服务规则而非单独同意为依据。",
            purpose=req.purpose,
        )
    )


@carries("O24-15")
def check_training(req: AccessRequest) -> CheckResult:
    view = req.context.get("pi")
    if view is None or req.principal.actor_type not in ("staff", "agent"):
        return None
    session = req.session
    if session is None:
        return _no_session()
    st = training.status(session, req.principal.staff_id, now=req.now)
    if st.current:
        return Satisfied(
            _r("training_current", ("O24-15",), "Required training is current.", "必修培训在有效期内。")
        )
    if st.no_courses:
        en, zh, code = (
            "No required training course is registered: clear text needs current training.",
            "尚未登记必修培训课程：查看明文须有有效培训。",
            "training_not_registered",
        )
    else:
        names = [*st.lapsed, *st.missing]
        en = f"Required training has lapsed or is missing ({', '.join(names)}): clear text is not available."
        zh = f"必修培训已过期或未完成（{'、'.join(names)}）：不能查看明文。"
        code = "training_lapsed"
    reason = _r(code, ("O24-15",), en, zh, lapsed=list(st.lapsed), missing=list(st.missing))
    if view == "clear":
        return reason
    # masked reads stay open; the reason travels with the allow so the reader knows why
    return Satisfied(reason)


def _firm_current(firm: object, now: datetime) -> Reason | None:
    assert isinstance(firm, agents.AgentFirm)
    if firm.status != "active":
        return _r(
            "agent_firm_not_active",
            ("O24-11",),
            f"The agent firm is {firm.status}: its agents have no access.",
            f"代理机构状态为 {firm.status}：其人员无访问权限。",
            firm=firm.code,
            status=firm.status,
        )
    if now < firm.contract_start or now >= firm.contract_end:
        return _r(
            "agent_contract_expired" if now >= firm.contract_end else "agent_contract_not_started",
            ("O24-11",),
            "The agent firm's contract is not in force.",
            "代理机构的合同不在有效期内。",
            firm=firm.code,
            contract_end=firm.contract_end.isoformat(),
        )
    return None


@carries("O24-11")
def check_agent_scope(req: AccessRequest) -> CheckResult:
    p = req.principal
    if p.actor_type != "agent" or not p.agent_org:
        return None  # identity's own agent check refuses an agent without a firm
    view = req.context.get("pi")
    session = req.session
    if session is None:
        return _no_session() if view is not None else None
    firm = agents.find_firm(session, p.agent_org)
    if firm is None:
        if view is None:
            return None  # non-PI work of a firm not yet in the register: identity's expiry rules
        return _r(
            "agent_firm_unregistered",
            ("O24-11",),
            "The agent's firm is not in the agent register: no personal information is shown.",
            "代理人员所属机构未登记：不显示个人信息。",
        )
    lapsed = _firm_current(firm, req.now)
    if lapsed is not None:
        return lapsed
    if view is None:
        return None
    outside: dict[str, list[str]] = {}
    if req.purpose and req.purpose not in firm.scope_purposes:
        outside["purposes"] = [req.purpose]
    cats = sorted(set(req.data_categories) - set(firm.scope_categories))
    if cats:
        outside["categories"] = cats
    system = req.context.get("system")
    if system and system not in firm.scope_systems:
        outside["systems"] = [str(system)]
    if outside:
        parts = "; ".join(f"{k}: {', '.join(v)}" for k, v in outside.items())
        return _r(
            "agent_outside_scope",
            ("O24-11",),
            f"Outside the agent contract's scope ({parts}).",
            f"超出代理合同授权范围（{parts}）。",
            firm=firm.code,
            **outside,
        )
    return Satisfied(
        _r(
            "agent_within_scope",
            ("O24-11",),
            "Within the agent contract's scope and period.",
            "在代理合同的授权范围与期限内。",
            firm=firm.code,
            contract_end=firm.contract_end.isoformat(),
        )
    )


def install() -> None:
    """Register the guards (idempotent) and tell identity they are there."""
    for check in (check_purpose, check_consent, check_training, check_agent_scope):
        register_access_check(check)
    PI_GUARDS_INSTALLED.update({"purpose", "consent", "training", "agent_scope"})


install()
