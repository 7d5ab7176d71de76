"""decide_access: role-based access (O24-13.3), agents (O24-11), pluggable checks (O24-9.3, O24-15)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from piguard.core.db import utcnow
from piguard.core.reasons import Outcome, Reason
from piguard.identity import access
from piguard.identity.access import (
    ACCESS_CHECKS,
    ACTION_ROLES,
    ALL_ROLES,
    AccessRequest,
    Hold,
    allowed_scopes,
    decide_access,
    register_access_check,
    register_action,
)
from piguard.identity.principal import Principal

pytestmark = pytest.mark.obligation("O24-13.3")


def staff(*roles: str, **kw) -> Principal:  # type: ignore[no-untyped-def]
    return Principal(actor_type="staff", actor_id="alice", username="alice", roles=frozenset(roles), **kw)


def agent(expires_in: timedelta | None, org: str | None = "Outsourcer Ltd") -> Principal:
    return Principal(
        actor_type="agent",
        actor_id="agent1",
        username="agent1",
        roles=frozenset({"agent"}),
        agent_org=org,
        access_expires_at=utcnow() + expires_in if expires_in is not None else None,
    )


@pytest.fixture()
def clean_checks() -> Iterator[None]:
    before = list(ACCESS_CHECKS)
    yield
    ACCESS_CHECKS[:] = before


def test_allow_carries_the_role_reason_with_its_obligation() -> None:
    d = decide_access(staff("compliance_officer"), "pi.export")
    assert d.allowed and d.reasons[0].code == "role_permits"
    assert "O24-13.3" in d.obligations


def test_refusal_names_the_obligation_and_the_roles_needed() -> None:
    d = decide_access(staff("operator"), "pi.export")
    assert d.outcome is Outcome.REFUSE
    [r] = d.reasons
    assert r.code == "role_not_permitted" and r.obligations == ("O24-13.3",)
    assert r.detail["required_any"] == ["compliance_officer"]
    assert r.message_zh and r.message_en


def test_unknown_actions_are_denied_by_default() -> None:
    d = decide_access(staff(*ALL_ROLES), "nuclear.launch")
    assert not d.allowed and d.reasons[0].code == "unknown_action"


def test_auditor_is_read_only() -> None:
    for action, roles in ACTION_ROLES.items():
        if "auditor" in roles:
            assert action.endswith((".read", ".verify")) or action == "token.self", action


def test_admin_does_not_read_personal_information() -> None:
    for action in ("pi.read", "pi.read_clear", "pi.export", "pi.delete"):
        assert not decide_access(staff("admin"), action).allowed


@pytest.mark.obligation("O24-11")
def test_expired_agent_is_refused_with_o24_11() -> None:
    d = decide_access(agent(timedelta(seconds=-1)), "cases.read")
    assert not d.allowed
    assert [r.code for r in d.reasons] == ["agent_access_expired"]
    assert d.obligations == ("O24-11",)


@pytest.mark.obligation("O24-11")
def test_agent_without_expiry_or_organisation_is_refused() -> None:
    assert decide_access(agent(None), "cases.read").reasons[0].code == "agent_access_expired"
    assert (
        decide_access(agent(timedelta(days=1), org=None), "cases.read").reasons[0].code
        == "agent_unregistered"
    )


@pytest.mark.obligation("O24-11")
def test_current_agent_is_allowed_within_scope_only() -> None:
    ok = decide_access(agent(timedelta(days=1)), "cases.read")
    assert ok.allowed and {"O24-11", "O24-13.3"} <= set(ok.obligations)
    assert not decide_access(agent(timedelta(days=1)), "pi.export").allowed


def test_token_scopes_narrow_roles() -> None:
    p = staff("compliance_officer", scopes=frozenset({"audit:*"}), via="token")
    assert decide_access(p, "audit.read").allowed and decide_access(p, "audit.verify").allowed
    assert decide_access(p, "pi.export").reasons[0].code == "token_scope_missing"


@pytest.mark.obligation("O24-9.3", "O24-15")
def test_pluggable_checks_refuse_and_hold_without_editing_decide_access(clean_checks: None) -> None:
    ACCESS_CHECKS.clear()  # only this test's checks: the product's own (bulk review …) hold too

    @register_access_check
    def purpose_needed(req: AccessRequest) -> Reason | None:
        if req.action.startswith("pi.") and not req.purpose:
            return Reason("purpose_missing", ("O24-9.3",), "A purpose is required.", "须说明用途。")
        return None

    def bulk_export_needs_approval(req: AccessRequest) -> Hold | None:
        if req.action == "pi.export" and req.context.get("rows", 0) > 1000:
            return Hold(Reason("approval_required", ("O24-13.3",), "Needs a checker.", "须经复核。"))
        return None

    ACCESS_CHECKS.append(bulk_export_needs_approval)
    register_access_check(purpose_needed)  # registering twice keeps one
    assert ACCESS_CHECKS.count(purpose_needed) == 1

    officer = staff("compliance_officer")
    refused = decide_access(officer, "pi.read")
    assert (
        not refused.allowed
        and refused.reasons[0].code == "purpose_missing"
        and "O24-9.3" in refused.obligations
    )
    assert decide_access(officer, "pi.read", purpose="customer_service").allowed
    held = decide_access(officer, "pi.export", purpose="regulator_request", context={"rows": 5000})
    assert held.outcome is Outcome.HOLD and held.reasons[0].code == "approval_required"
    # refusals win over holds, and every reason keeps its ids
    both = decide_access(officer, "pi.export", context={"rows": 5000})
    assert both.outcome is Outcome.REFUSE and {r.code for r in both.reasons} == {
        "purpose_missing",
        "approval_required",
    }


def test_checks_see_the_data_categories_and_context(clean_checks: None) -> None:
    seen: list[AccessRequest] = []
    ACCESS_CHECKS.append(lambda req: seen.append(req) or None)  # type: ignore[func-returns-value]
    decide_access(
        staff("operator"),
        "pi.read",
        purpose="billing",
        data_categories=["phone_mobile"],
        context={"ticket": "T-1"},
    )
    [req] = seen
    assert (
        req.data_categories == ("phone_mobile",)
        and req.purpose == "billing"
        and req.context["ticket"] == "T-1"
    )
    assert req.session is None


def test_register_action_extends_the_table() -> None:
    try:
        register_action("widgets.polish", ["operator"])
        assert decide_access(staff("operator"), "widgets.polish").allowed
        assert "widgets:polish" in allowed_scopes({"operator"})
        with pytest.raises(ValueError):
            register_action("widgets.polish", ["wizard"])
    finally:
        access.ACTION_ROLES.pop("widgets.polish", None)


def test_principal_as_actor() -> None:
    p = staff("operator")
    actor = p.as_actor()
    assert (actor.type, actor.id) == ("staff", "alice")
