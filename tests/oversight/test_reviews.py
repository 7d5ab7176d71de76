"""Responsibility register (O24-13.1), access reviews (O24-13.5) and storage media (O24-13.4):
services, API, CLI, console and bad input (clear errors with ids, nothing changed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.audit.models import AuditEntry
from piguard.cli import app as root_cli
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.identity import service as identity
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.inventory.demo import load_demo_inventory
from piguard.oversight import access_reviews, agents, media, responsibilities
from piguard.oversight.reviews_models import (
    Medium,
    MediumCustody,
    MediumDestruction,
    Responsibility,
    ReviewCampaign,
    ReviewItem,
)

from .conftest import ACTOR, PASSWORD

runner = CliRunner()
Account = Callable[..., dict[str, str]]


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _audited(session: Session, action: str) -> int:
    session.expire_all()
    return int(
        session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0
    )


def _p(session: Session, username: str) -> Principal:
    session.expire_all()
    return identity.principal_for_staff(identity.require_staff(session, username), via="session")


def _staff(session: Session, username: str, roles: list[str], **kw: Any) -> None:
    identity.create_staff(session, username=username, password=PASSWORD, roles=roles, **kw)


@pytest.fixture()
def inventory(session: Session) -> None:
    load_demo_inventory(session)  # systems crm and billing
    session.commit()


def _expect(call: Callable[[], Any], code: str, obligation: str, status: int | None = None) -> PiguardError:
    with pytest.raises(PiguardError) as info:
        call()
    err = info.value
    assert err.code == code, (err.code, err.message_en)
    assert obligation in err.obligations
    if status is not None:
        assert err.http_status == status
    return err


# ------------------------------------------------------------------------------ responsibilities


@pytest.mark.obligation("O24-13.1")
def test_register_gaps_and_bad_input(session: Session, inventory: None) -> None:
    _staff(session, "lena", ["compliance_officer"])
    _staff(session, "otto", ["operator"])
    session.commit()
    first = {g.kind for g in responsibilities.gaps(session)}
    assert first == {"pi_protection", "system", "category"}
    assert responsibilities.standing(session).outcome.value == "hold"

    _expect(
        lambda: responsibilities.assign(session, kind="system", scope="nosuch", username="lena", actor=ACTOR),
        "system_unknown",
        "O24-13.1",
        404,
    )
    _expect(
        lambda: responsibilities.assign(session, kind="system", scope="crm", username="ghost", actor=ACTOR),
        "staff_unknown",
        "O24-13.1",
        404,
    )
    _expect(
        lambda: responsibilities.assign(
            session, kind="category", scope="gossip", username="lena", actor=ACTOR
        ),
        "category_unknown",
        "O24-13.1",
    )
    _expect(
        lambda: responsibilities.assign(session, kind="planet", username="lena", actor=ACTOR),
        "validation_error",
        "O24-13.1",
        422,
    )
    session.rollback()
    assert _count(session, Responsibility) == 0

    responsibilities.assign(session, kind="pi_protection", username="lena", actor=ACTOR)
    crm = responsibilities.assign(session, kind="system", scope="crm", username="otto", actor=ACTOR)
    session.commit()
    _expect(
        lambda: responsibilities.assign(session, kind="system", scope="crm", username="otto", actor=ACTOR),
        "responsibility_exists",
        "O24-13.1",
        409,
    )
    session.rollback()
    gaps = {(g.kind, g.scope) for g in responsibilities.gaps(session)}
    assert ("pi_protection", "") not in gaps and ("system", "crm") not in gaps
    assert ("system", "billing") in gaps and ("category", "id_card") in gaps
    assert all(g.reason.obligations == ("O24-13.1",) for g in responsibilities.gaps(session))
    # owners review; without an owner the PI-protection lead does
    assert responsibilities.reviewers_for(session, "crm") == [identity.require_staff(session, "otto").id]
    assert responsibilities.reviewers_for(session, "billing") == [identity.require_staff(session, "lena").id]

    responsibilities.end(session, crm.id, actor=ACTOR)
    session.commit()
    _expect(lambda: responsibilities.end(session, crm.id, actor=ACTOR), "responsibility_ended", "O24-13.1")
    _expect(
        lambda: responsibilities.end(session, "²", actor=ACTOR), "responsibility_unknown", "O24-13.1", 404
    )
    assert ("system", "crm") in {(g.kind, g.scope) for g in responsibilities.gaps(session)}
    assert _count(session, Responsibility) == 2  # the ended one stays in the history
    assert _audited(session, "oversight.responsibility.assigned") == 2
    assert _audited(session, "oversight.responsibility.ended") == 1


@pytest.mark.obligation("O24-13.1")
def test_register_yaml_round_trip_and_an_unknown_name_changes_nothing(
    session: Session, inventory: None
) -> None:
    _staff(session, "lena", ["compliance_officer"])
    _staff(session, "otto", ["operator"])
    session.commit()
    doc = {
        "responsibilities": {
            "pi_protection": ["lena"],
            "systems": {"crm": ["otto"], "billing": ["lena"]},
            "categories": {"id_card": ["lena"]},
            "branches": {"上海分公司": ["otto"]},
        }
    }
    out = responsibilities.import_yaml(session, yaml.safe_dump(doc, allow_unicode=True), actor=ACTOR)
    session.commit()
    assert out == {"added": 5, "ended": 0, "kept": 0}
    exported = yaml.safe_load(responsibilities.export_yaml(session))
    assert exported == doc
    before = _count(session, Responsibility)

    bad = {
        "responsibilities": {
            "pi_protection": ["lena"],
            "systems": {"crm": ["ghost"], "nosuch": ["otto"]},
            "categories": {"gossip": ["lena"]},
        }
    }
    err = _expect(
        lambda: responsibilities.import_doc(session, bad, actor=ACTOR),
        "responsibility_import_invalid",
        "O24-13.1",
    )
    assert len(err.fields) == 3  # each unknown name listed
    session.rollback()
    assert _count(session, Responsibility) == before
    assert yaml.safe_load(responsibilities.export_yaml(session)) == doc
    with pytest.raises(PiguardError) as info:
        responsibilities.import_yaml(session, "a: [", actor=ACTOR)
    assert info.value.code == "validation_error"

    smaller = {"responsibilities": {"pi_protection": ["lena"], "systems": {"crm": ["otto"]}}}
    assert responsibilities.import_doc(session, smaller, actor=ACTOR) == {"added": 0, "ended": 3, "kept": 2}
    session.commit()
    assert yaml.safe_load(responsibilities.export_yaml(session))["responsibilities"]["systems"] == {
        "crm": ["otto"]
    }


# -------------------------------------------------------------------------------- access reviews


@pytest.fixture()
def review_world(session: Session, inventory: None) -> dict[str, Any]:
    """lena: PI-protection lead and billing owner; olga: crm owner; pat: operator+auditor; ada: an
    agent whose firm's contract names crm only."""
    now = utcnow()
    agents.register_firm(
        session,
        code="kefu-crm",
        name="外包客服",
        contract_no="WB-9",
        contract_start=now - timedelta(days=5),
        contract_end=now + timedelta(days=200),
        scope_systems=["crm"],
        actor=ACTOR,
    )
    _staff(session, "lena", ["compliance_officer"])
    _staff(session, "olga", ["compliance_officer"])
    _staff(session, "pat", ["operator", "auditor"])
    _staff(
        session,
        "ada",
        ["agent"],
        kind="agent",
        agent_org="kefu-crm",
        access_expires_at=now + timedelta(days=100),
    )
    responsibilities.assign(session, kind="pi_protection", username="lena", actor=ACTOR)
    responsibilities.assign(session, kind="system", scope="crm", username="olga", actor=ACTOR)
    responsibilities.assign(session, kind="system", scope="billing", username="lena", actor=ACTOR)
    session.commit()
    return {"now": now}


def _item(session: Session, campaign: ReviewCampaign, username: str, system: str, role: str) -> ReviewItem:
    return next(
        i
        for i in access_reviews.items_of(session, campaign)
        if (i.username, i.system_id, i.role) == (username, system, role)
    )


@pytest.mark.obligation("O24-13.5")
def test_campaign_snapshot_owner_decides_and_revocation_takes_effect_at_once(
    session: Session, review_world: dict[str, Any]
) -> None:
    lena, olga = _p(session, "lena"), _p(session, "olga")
    _expect(lambda: access_reviews.open_campaign(session, _p(session, "pat")), "forbidden", "O24-13.3", 403)
    campaign = access_reviews.open_campaign(session, lena, title="H2")
    session.commit()
    items = access_reviews.items_of(session, campaign)
    seen = {(i.username, i.system_id, i.role) for i in items}
    assert ("ada", "crm", "agent") in seen and ("ada", "billing", "agent") not in seen  # contract scope
    assert {("pat", s, r) for s in ("crm", "billing") for r in ("operator", "auditor")} <= seen
    assert len(items) == 2 + 2 + 4 + 1  # lena, olga on both systems; pat x2 roles on both; ada on crm
    assert access_reviews.campaign_to_dict(session, campaign)["state"] == "open"

    # reviewing one's own access is refused, naming O24-13.5; nothing changes
    own = _item(session, campaign, "olga", "crm", "compliance_officer")
    _expect(
        lambda: access_reviews.decide(session, olga, own.id, decision="confirm"),
        "access_review_self",
        "O24-13.5",
        403,
    )
    # someone who is not the system's owner may not decide
    pat_crm = _item(session, campaign, "pat", "crm", "auditor")
    _expect(
        lambda: access_reviews.decide(session, lena, pat_crm.id, decision="confirm"),
        "access_review_not_reviewer",
        "O24-13.5",
        403,
    )
    # a revocation needs a reason; unknown items and decisions are clear errors
    _expect(
        lambda: access_reviews.decide(session, olga, pat_crm.id, decision="revoke"),
        "validation_error",
        "O24-13.5",
        422,
    )
    _expect(
        lambda: access_reviews.decide(session, olga, "999999", decision="confirm"),
        "access_review_item_unknown",
        "O24-13.5",
        404,
    )
    _expect(
        lambda: access_reviews.decide(session, olga, pat_crm.id, decision="maybe"),
        "validation_error",
        "O24-13.5",
        422,
    )
    session.rollback()
    session.expire_all()
    assert {i.status for i in access_reviews.items_of(session, campaign)} == {"pending"}

    # before: pat may read the audit log (auditor)
    assert decide_access(_p(session, "pat"), "audit.read", context={"session": session}).allowed
    out = access_reviews.decide(session, olga, pat_crm.id, decision="revoke", note="不再负责审计")
    session.commit()
    assert out.outcome.value == "refuse" and out.reasons[0].code == "access_revoked"
    assert out.reasons[0].obligations == ("O24-13.5",)
    # at once: the role is gone in identity, the next decision refuses
    after = decide_access(_p(session, "pat"), "audit.read", context={"session": session})
    assert not after.allowed and after.reasons[0].code == "role_not_permitted"
    assert identity.require_staff(session, "pat").roles == frozenset({"operator"})
    # the same role's item on the other system closed with it; revoking twice is refused
    billing = _item(session, campaign, "pat", "billing", "auditor")
    assert billing.status == "revoked" and billing.superseded_by == pat_crm.id
    _expect(
        lambda: access_reviews.decide(session, olga, pat_crm.id, decision="revoke", note="again"),
        "access_review_already_decided",
        "O24-13.5",
        409,
    )
    _expect(
        lambda: access_reviews.decide(session, lena, billing.id, decision="confirm"),
        "access_review_already_decided",
        "O24-13.5",
    )
    session.rollback()
    # confirm works for the owner
    assert access_reviews.decide(
        session, olga, _item(session, campaign, "ada", "crm", "agent").id, decision="confirm"
    ).allowed
    session.commit()
    # the agent's only role revoked: the account is deactivated (tokens and sessions end)
    ada_item = _item(session, campaign, "pat", "crm", "operator")
    access_reviews.decide(session, olga, ada_item.id, decision="revoke", note="调岗")
    session.commit()
    pat = identity.require_staff(session, "pat")
    assert pat.active is False
    assert _item(session, campaign, "pat", "billing", "operator").status == "revoked"
    assert _audited(session, "oversight.access_review.opened") == 1
    assert _audited(session, "oversight.access_review.revoked") == 2
    assert _audited(session, "oversight.access_review.confirmed") == 1


@pytest.mark.obligation("O24-13.5")
def test_unreviewed_access_after_the_due_date_is_flagged(
    session: Session, review_world: dict[str, Any]
) -> None:
    lena = _p(session, "lena")
    assert access_reviews.standing(session).reasons[0].code == "access_review_never_run"
    opened = review_world["now"] - timedelta(days=40)
    campaign = access_reviews.open_campaign(session, lena, now=opened)
    session.commit()
    # decided on time: one item; the rest stays unreviewed past the 30-day due date
    olga_item = _item(session, campaign, "lena", "crm", "compliance_officer")
    access_reviews.decide(
        session, _p(session, "olga"), olga_item.id, decision="confirm", now=opened + timedelta(days=1)
    )
    session.commit()
    within = access_reviews.overdue(session, now=opened + timedelta(days=29))
    assert within == []
    late = access_reviews.overdue(session, now=opened + timedelta(days=31))
    assert len(late) == len(access_reviews.items_of(session, campaign)) - 1
    assert all(
        r["reason"]["code"] == "access_unreviewed" and r["reason"]["obligations"] == ["O24-13.5"]
        for r in late
    )
    assert olga_item.id not in {r["id"] for r in late}
    standing = access_reviews.standing(session, now=opened + timedelta(days=31))
    assert standing.outcome.value == "hold" and standing.reasons[0].code == "access_unreviewed"
    assert (
        access_reviews.campaign_to_dict(session, campaign, now=opened + timedelta(days=31))["state"]
        == "overdue"
    )
    # six months on, the next campaign is due too
    much_later = opened + timedelta(days=200)
    assert "access_review_due" in {r.code for r in access_reviews.standing(session, now=much_later).reasons}


@pytest.mark.obligation("O24-13.5")
def test_access_reviews_api_and_a_revoked_role_is_refused_on_the_next_call(
    app_client: TestClient, account: Account, session: Session, inventory: None
) -> None:
    officer = account("lena", "compliance_officer", utcnow())
    owner = account("olga", "compliance_officer", utcnow())
    auditor = account("audrey", "auditor", utcnow())
    responsibilities.assign(session, kind="pi_protection", username="lena", actor=ACTOR)
    responsibilities.assign(session, kind="system", scope="crm", username="olga", actor=ACTOR)
    session.commit()
    assert app_client.post("/api/access-reviews", json={}, headers=auditor).status_code == 403
    r = app_client.post("/api/access-reviews", json={"title": "API"}, headers=officer)
    assert r.status_code == 201, r.text
    body = r.json()
    ref = body["ref"]
    items = {(i["username"], i["system"]): i for i in body["items"]}
    assert app_client.get("/api/audit", headers=auditor).status_code == 200
    own = items[("olga", "crm")]
    r = app_client.post(
        f"/api/access-reviews/items/{own['id']}/decision", json={"decision": "confirm"}, headers=owner
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "access_review_self"
    assert "O24-13.5" in r.json()["error"]["obligations"]
    mine = app_client.get("/api/access-reviews/mine", headers=owner).json()["items"]
    assert own["id"] not in {i["id"] for i in mine} and {i["system"] for i in mine} == {"crm"}
    target = items[("audrey", "crm")]
    r = app_client.post(
        f"/api/access-reviews/items/{target['id']}/decision",
        json={"decision": "revoke", "note": "离岗"},
        headers=owner,
    )
    assert r.status_code == 200 and r.json()["decision"]["outcome"] == "refuse", r.text
    # auditor's only role: the account is deactivated, its token no longer works
    assert app_client.get("/api/audit", headers=auditor).status_code == 401
    r = app_client.post(
        f"/api/access-reviews/items/{target['id']}/decision",
        json={"decision": "revoke", "note": "again"},
        headers=owner,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "access_review_already_decided"
    r = app_client.post(
        "/api/access-reviews/items/%C2%B2/decision", json={"decision": "confirm"}, headers=owner
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "access_review_item_unknown"
    detail = app_client.get(f"/api/access-reviews/{ref}", headers=officer).json()
    assert detail["counts"]["revoked"] >= 1
    listed = app_client.get("/api/access-reviews", headers=officer).json()
    assert listed["campaigns"][0]["ref"] == ref and listed["standing"]["outcome"] == "allow"
    assert app_client.get("/api/access-reviews/overdue", headers=officer).json() == {"overdue": []}
    assert app_client.get("/api/access-reviews/nosuch", headers=officer).status_code == 404
    r = app_client.get("/api/responsibilities", headers=officer).json()
    assert {g["scope"] for g in r["gaps"] if g["kind"] == "system"} == {"billing"}
    r = app_client.post(
        "/api/responsibilities",
        json={"kind": "system", "scope": "billing", "username": "ghost"},
        headers=officer,
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "staff_unknown"
    assert "O24-13.1" in r.json()["error"]["obligations"]
    r = app_client.post(
        "/api/responsibilities",
        json={"kind": "system", "scope": "billing", "username": "lena"},
        headers=officer,
    )
    assert r.status_code == 201
    rid = r.json()["id"]
    assert "billing" in app_client.get("/api/responsibilities/yaml", headers=officer).text
    assert app_client.delete(f"/api/responsibilities/{rid}", headers=officer).status_code == 200
    r = app_client.post("/api/responsibilities/import", json={"yaml": "responsibilities: 3"}, headers=officer)
    assert r.status_code == 422


# ----------------------------------------------------------------------------------------- media


@pytest.mark.obligation("O24-13.4")
def test_media_custody_and_witnessed_destruction(session: Session, inventory: None) -> None:
    _staff(session, "lena", ["compliance_officer"])
    _staff(session, "wang", ["compliance_officer"])
    _staff(session, "otto", ["operator"])
    session.commit()
    lena, wang, otto = _p(session, "lena"), _p(session, "wang"), _p(session, "otto")
    kw: dict[str, Any] = {
        "kind": "tape",
        "holder": "lena",
        "location": "机房 A",
        "categories": ["name"],
        "system": "crm",
    }
    _expect(lambda: media.register_medium(session, otto, label="T1", **kw), "forbidden", "O24-13.3", 403)
    _expect(
        lambda: media.register_medium(session, lena, label="T1", **{**kw, "holder": "ghost"}),
        "staff_unknown",
        "O24-13.4",
        404,
    )
    _expect(
        lambda: media.register_medium(session, lena, label="T1", **{**kw, "system": "nosuch"}),
        "system_unknown",
        "O24-13.4",
        404,
    )
    _expect(
        lambda: media.register_medium(session, lena, label="T1", **{**kw, "kind": "floppy"}),
        "validation_error",
        "O24-13.4",
        422,
    )
    _expect(
        lambda: media.register_medium(session, lena, label="a b/c", **kw), "validation_error", "O24-13.4", 422
    )
    _expect(
        lambda: media.register_medium(session, lena, label="T1", **{**kw, "categories": ["gossip"]}),
        "category_unknown",
        "O24-13.4",
    )
    session.rollback()
    assert _count(session, Medium) == 0 and _count(session, MediumCustody) == 0

    media.register_medium(session, lena, label="T1", encrypted=True, **kw)
    session.commit()
    _expect(lambda: media.register_medium(session, lena, label="T1", **kw), "medium_exists", "O24-13.4", 409)
    session.rollback()
    media.transfer(session, lena, "T1", to="otto", location="财务部", note="对账")
    session.commit()
    d = media.medium_to_dict(session, media.get_medium(session, "T1"))
    assert d["holder"] == "otto" and d["location"] == "财务部"
    assert [(h["from"], h["to"]) for h in d["custody"]] == [(None, "lena"), ("lena", "otto")]
    _expect(
        lambda: media.transfer(session, lena, "T1", to="ghost", location="x"), "staff_unknown", "O24-13.4"
    )
    _expect(
        lambda: media.transfer(session, lena, "nope", to="otto", location="x"),
        "medium_unknown",
        "O24-13.4",
        404,
    )
    session.rollback()

    # destruction: never without a proposal, never witnessed by the proposer
    _expect(
        lambda: media.witness_destruction(session, wang, "T1"), "medium_destruction_not_proposed", "O24-13.4"
    )
    _expect(
        lambda: media.propose_destruction(session, lena, "T1", method="burying"),
        "validation_error",
        "O24-13.4",
        422,
    )
    session.rollback()
    held = media.propose_destruction(session, lena, "T1", method="degauss", note="到期")
    session.commit()
    assert held.outcome.value == "hold" and held.reasons[0].obligations == ("O24-13.4",)
    _expect(
        lambda: media.propose_destruction(session, wang, "T1", method="shred"),
        "medium_destruction_pending",
        "O24-13.4",
    )
    _expect(lambda: media.witness_destruction(session, lena, "T1"), "medium_self_witness", "O24-13.4", 403)
    _expect(lambda: media.witness_destruction(session, otto, "T1"), "forbidden", "O24-13.3", 403)
    session.rollback()
    assert media.get_medium(session, "T1").status == "destruction_pending"
    done = media.witness_destruction(session, wang, "T1")
    session.commit()
    assert done.allowed and done.reasons[0].code == "medium_destroyed_with_witness"
    d = media.medium_to_dict(session, media.get_medium(session, "T1"))
    assert d["status"] == "destroyed" and d["destruction"]["witnessed_by"] == "staff:wang"
    assert d["destruction"]["proposed_by"] == "staff:lena" and d["destruction"]["certificate_ref"].startswith(
        "MD-"
    )
    # a destroyed medium: no second destruction, no hand-over
    for call in (
        lambda: media.propose_destruction(session, lena, "T1", method="shred"),
        lambda: media.witness_destruction(session, wang, "T1"),
        lambda: media.transfer(session, lena, "T1", to="wang", location="x"),
    ):
        _expect(call, "medium_already_destroyed", "O24-13.4", 409)
    session.rollback()
    assert _count(session, MediumDestruction) == 1 and _count(session, MediumCustody) == 2
    for action in ("registered", "transferred", "destruction_proposed", "destroyed"):
        assert _audited(session, f"oversight.medium.{action}") == 1


@pytest.mark.obligation("O24-13.4")
def test_media_api(app_client: TestClient, account: Account, session: Session, inventory: None) -> None:
    lena = account("lena", "compliance_officer", utcnow())
    wang = account("wang", "compliance_officer", utcnow())
    audrey = account("audrey", "auditor", utcnow())
    body = {
        "label": "USB-1",
        "kind": "usb",
        "holder": "lena",
        "location": "合规部",
        "categories": ["phone_mobile"],
    }
    assert app_client.post("/api/media", json=body, headers=audrey).status_code == 403
    r = app_client.post("/api/media", json={**body, "holder": "ghost"}, headers=lena)
    assert r.status_code == 404 and r.json()["error"]["code"] == "staff_unknown"
    assert _count(session, Medium) == 0
    assert app_client.post("/api/media", json=body, headers=lena).status_code == 201
    r = app_client.post("/api/media/USB-1/transfers", json={"to": "wang", "location": "机房"}, headers=lena)
    assert r.status_code == 200 and r.json()["holder"] == "wang"
    r = app_client.post("/api/media/USB-1/destruction", json={"method": "shred"}, headers=lena)
    assert r.status_code == 200 and r.json()["decision"]["outcome"] == "hold"
    r = app_client.post("/api/media/USB-1/destruction/witness", json={}, headers=lena)
    assert r.status_code == 403 and r.json()["error"]["code"] == "medium_self_witness"
    r = app_client.post("/api/media/USB-1/destruction/witness", json={}, headers=wang)
    assert r.status_code == 200 and r.json()["status"] == "destroyed"
    r = app_client.post("/api/media/USB-1/destruction/witness", json={}, headers=wang)
    assert r.status_code == 409 and r.json()["error"]["code"] == "medium_already_destroyed"
    assert "O24-13.4" in r.json()["error"]["obligations"]
    assert app_client.get("/api/media", headers=audrey).json()["media"][0]["status"] == "destroyed"
    assert len(app_client.get("/api/media/USB-1", headers=audrey).json()["custody"]) == 2
    assert app_client.get("/api/media/nope", headers=audrey).status_code == 404


# ------------------------------------------------------------------------------------ CLI, console


@pytest.mark.obligation("O24-13.1", "O24-13.4", "O24-13.5")
def test_cli(db_engine: Any, session: Session, inventory: None, tmp_path: Any) -> None:
    _staff(session, "lena", ["compliance_officer"])
    _staff(session, "wang", ["compliance_officer"])
    _staff(session, "otto", ["operator"])
    session.commit()
    r = runner.invoke(root_cli, ["responsibilities", "assign", "system", "ghost", "--scope", "crm"])
    assert r.exit_code == 2 and "staff_unknown" in r.output and "O24-13.1" in r.output
    r = runner.invoke(root_cli, ["responsibilities", "assign", "system", "wang", "--scope", "nosuch"])
    assert r.exit_code == 2 and "system_unknown" in r.output
    r = runner.invoke(root_cli, ["responsibilities", "gaps", "--format", "json"])
    assert r.exit_code == 1 and {g["kind"] for g in json.loads(r.output)["gaps"]} >= {
        "pi_protection",
        "system",
    }
    doc = tmp_path / "resp.yaml"
    doc.write_text(
        yaml.safe_dump(
            {
                "responsibilities": {
                    "pi_protection": ["lena"],
                    "systems": {"crm": ["wang"], "billing": ["wang"]},
                }
            }
        ),
        encoding="utf-8",
    )
    r = runner.invoke(root_cli, ["responsibilities", "import", str(doc)])
    assert r.exit_code == 0 and "3 added" in r.output, r.output
    r = runner.invoke(root_cli, ["responsibilities", "export"])
    assert yaml.safe_load(r.output)["responsibilities"]["systems"]["crm"] == ["wang"]

    def as_(user: str, *args: str) -> Any:
        return runner.invoke(root_cli, [*args, "--as", user, "--password-stdin"], input=PASSWORD + "\n")

    r = as_("lena", "access-reviews", "open", "--title", "CLI")
    assert r.exit_code == 0 and "item(s)" in r.output, r.output
    ref = r.output.split()[1].rstrip(":")
    r = runner.invoke(root_cli, ["access-reviews", "show", ref, "--format", "json"])
    items = {(i["username"], i["system"]): i["id"] for i in json.loads(r.output)["items"]}
    r = as_("wang", "access-reviews", "confirm", str(items[("wang", "crm")]))
    assert r.exit_code == 1 and "access_review_self" in r.output and "O24-13.5" in r.output
    r = as_("wang", "access-reviews", "revoke", str(items[("otto", "crm")]), "--note", "调岗")
    assert r.exit_code == 0 and "access_revoked" in r.output, r.output
    r = as_("wang", "access-reviews", "revoke", str(items[("otto", "billing")]), "--note", "again")
    assert r.exit_code == 1 and "access_review_already_decided" in r.output
    r = runner.invoke(root_cli, ["access-reviews", "overdue"])
    assert r.exit_code == 0 and "standing: allow" in r.output

    r = as_("lena", "media", "add", "TAPE-9", "--kind", "tape", "--holder", "ghost", "--location", "机房")
    assert r.exit_code == 2 and "staff_unknown" in r.output and "O24-13.4" in r.output
    r = as_(
        "lena",
        "media",
        "add",
        "TAPE-9",
        "--kind",
        "tape",
        "--holder",
        "lena",
        "--location",
        "机房",
        "--category",
        "name",
    )
    assert r.exit_code == 0, r.output
    r = as_("lena", "media", "destroy", "TAPE-9", "--method", "shred")
    assert r.exit_code == 0 and "medium_destruction_needs_witness" in r.output
    r = as_("lena", "media", "witness", "TAPE-9")
    assert r.exit_code == 1 and "medium_self_witness" in r.output
    r = as_("wang", "media", "witness", "TAPE-9")
    assert r.exit_code == 0 and "destroyed" in r.output
    r = runner.invoke(root_cli, ["media", "list", "--format", "json"])
    assert json.loads(r.output)["media"][0]["destruction"]["witnessed_by"] == "staff:wang"


def _console(client: TestClient, username: str) -> TestClient:
    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/console"})
    assert r.status_code == 303, r.text
    return client


@pytest.mark.obligation("O24-13.1", "O24-13.4", "O24-13.5")
def test_console_pages(app_client: TestClient, account: Account, session: Session, inventory: None) -> None:
    account("lena", "compliance_officer", utcnow())
    account("wang", "compliance_officer", utcnow())
    account("audrey", "auditor", utcnow())
    account("otto", "operator", utcnow())
    c = _console(app_client, "lena")
    r = c.get("/console/responsibilities")
    assert r.status_code == 200 and 'data-kind="pi_protection"' in r.text and "nav" in r.text
    r = c.post("/console/responsibilities", data={"kind": "system", "scope": "crm", "username": "ghost"})
    assert r.status_code == 404 and 'data-code="staff_unknown"' in r.text and "O24-13.1" in r.text
    for data in (
        {"kind": "pi_protection", "username": "lena"},
        {"kind": "system", "scope": "crm", "username": "otto"},
        {"kind": "system", "scope": "billing", "username": "wang"},
    ):
        assert c.post("/console/responsibilities", data=data).status_code == 200
    r = c.get("/console/responsibilities")
    assert 'data-scope="crm" data-username="otto"' in r.text
    r = c.post("/console/access-reviews", data={"title": "Console"})
    assert r.status_code == 200 and 'data-state="open"' in r.text
    campaign = access_reviews.list_campaigns(session)[0]
    mine = _item(session, campaign, "lena", "billing", "compliance_officer")
    # lena's own access (and she is not billing's owner either): refused with the obligation id
    r = c.post(f"/console/access-reviews/items/{mine.id}", data={"decision": "confirm"})
    assert r.status_code == 403 and 'data-code="access_review_self"' in r.text and "O24-13.5" in r.text
    other = _item(session, campaign, "otto", "billing", "operator")
    r = c.post(f"/console/access-reviews/items/{other.id}", data={"decision": "confirm"})
    assert r.status_code == 403 and 'data-code="access_review_not_reviewer"' in r.text
    r = c.get("/console/media")
    assert r.status_code == 200 and 'id="medium-form"' in r.text
    r = c.post("/console/media", data={"label": "D1", "kind": "disk", "holder": "lena", "location": "机房"})
    assert r.status_code == 200 and 'data-label="D1" data-status="in_custody"' in r.text
    r = c.post("/console/media/D1/destroy", data={"method": "degauss"})
    assert r.status_code == 200 and 'data-status="destruction_pending"' in r.text
    r = c.post("/console/media/D1/witness", data={})
    assert r.status_code == 403 and 'data-code="medium_self_witness"' in r.text

    o = _console(app_client, "otto")
    r = o.get("/console/access-reviews")  # otto owns crm: his queue holds crm items, not his own
    assert r.status_code == 200 and 'id="campaigns"' not in r.text
    assert 'data-system="crm"' in r.text and 'data-username="otto"' not in r.text
    target = _item(session, campaign, "audrey", "crm", "auditor")
    r = o.post(f"/console/access-reviews/items/{target.id}", data={"decision": "revoke", "note": "离岗"})
    assert r.status_code == 200 and 'data-outcome="refuse"' in r.text
    assert o.get("/console/media").status_code == 403

    w = _console(app_client, "wang")
    r = w.post("/console/media/D1/witness", data={})
    assert r.status_code == 200 and 'data-status="destroyed"' in r.text and 'class="certificate"' in r.text
    # audrey's only role was revoked: her session ended
    a = app_client
    a.cookies.clear()
    r = a.post("/login", data={"username": "audrey", "password": PASSWORD, "next": "/console"})
    assert r.status_code != 303


@pytest.mark.obligation("O24-13.1", "O24-13.4", "O24-13.5", "O24-13.6")
def test_no_personal_information_in_the_audit_details(session: Session, review_world: dict[str, Any]) -> None:
    """Free text may hold anything (a phone number in a note, an address as a location): none of it
    reaches the audit log, which gets ids only. The discovery engine finds nothing there."""
    from piguard.discovery.engine import detect

    pii = "客户张三 13812345678 身份证 110101199003078515 北京市海淀区中关村大街1号"
    lena, olga = _p(session, "lena"), _p(session, "olga")
    responsibilities.assign(
        session, kind="branch", scope="海淀分公司", username="pat", title=pii[:100], actor=ACTOR
    )
    campaign = access_reviews.open_campaign(session, lena, title=pii)
    access_reviews.decide(
        session, olga, _item(session, campaign, "pat", "crm", "auditor").id, decision="revoke", note=pii
    )
    access_reviews.decide(
        session, olga, _item(session, campaign, "ada", "crm", "agent").id, decision="confirm", note=pii
    )
    media.register_medium(
        session,
        lena,
        label="T9",
        kind="paper",
        holder="pat",
        location=pii[:200],
        description=pii,
        categories=["name"],
    )
    media.transfer(session, lena, "T9", to="olga", location=pii, note=pii)
    media.propose_destruction(session, olga, "T9", method="shred", note=pii)
    media.witness_destruction(session, lena, "T9", note=pii)
    session.commit()
    session.expire_all()
    entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action.like("oversight.%"))))
    assert len(entries) >= 8
    for e in entries:
        text = json.dumps({"detail": e.detail, "subject": e.subject_ref}, ensure_ascii=False)
        assert detect(text) == [], (e.action, text)
        assert "13812345678" not in text and "中关村" not in text


@pytest.mark.obligation("O24-13.1", "O24-13.4", "O24-13.5")
def test_the_demo_data_shows_on_the_console(app_client: TestClient, session: Session) -> None:
    from piguard.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo

    load_demo(session)
    session.commit()
    load_demo(session)  # idempotent
    session.commit()
    assert _count(session, ReviewCampaign) == 1 and _count(session, Medium) == 3
    app_client.cookies.clear()
    r = app_client.post(
        "/login", data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD, "next": "/console"}
    )
    assert r.status_code == 303
    r = app_client.get("/console/responsibilities")
    assert 'data-kind="pi_protection"' in r.text and 'class="gap"' in r.text
    r = app_client.get("/console/access-reviews")
    assert 'class="campaign"' in r.text and 'class="review-item"' in r.text  # demo owns crm: items wait
    r = app_client.get("/console/media")
    assert 'data-status="destruction_pending"' in r.text and "USB-0042" in r.text


@pytest.mark.obligation("O24-13.5")
def test_the_next_campaign_is_due_in_months_counted_in_china() -> None:
    """Regression: months were counted on the UTC date. 18:00 UTC on 30 Mar 2027 is 02:00 on 31 Mar
    in Shanghai; six months on is 30 Sep there (18:00 UTC on 29 Sep), not 1 Oct."""
    from datetime import UTC, datetime

    opened = datetime(2027, 3, 30, 18, 0, tzinfo=UTC)
    assert access_reviews._add_months(opened, 6) == datetime(2027, 9, 29, 18, 0, tzinfo=UTC)
    assert access_reviews._add_months(datetime(2026, 12, 31, 20, 0, tzinfo=UTC), 6) == datetime(
        2027, 6, 30, 20, 0, tzinfo=UTC
    )
