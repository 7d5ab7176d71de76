"""The consent ledger: grants, refusals, withdrawals and expiry with evidence, the use decision and
its reasons, bad input (O24-9.1, O24-9.3, O24-9.4, O24-14.2, CSL-41.1, CSL-41.2, CRL-29, NPC-2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.consent import service
from piguard.consent.models import ConsentEvent, ConsentSubject
from piguard.consent.purposes import PurposeView, StaticPurposes
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError

from .conftest import OTHER, PHONE, PURPOSES, STAFF, shown


def _codes(decision) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.code for r in decision.reasons]


@pytest.mark.obligation("O24-9.1", "CSL-41.1", "CRL-29", "NPC-2")
def test_no_consent_is_refused_with_its_ids(session: Session, source: StaticPurposes) -> None:
    d = service.may(session, STAFF, PHONE, ["phone_mobile"], "marketing")
    assert not d.allowed and _codes(d) == ["no_consent"]
    assert {"O24-9.1", "CSL-41.1", "CRL-29", "NPC-2"} <= set(d.obligations)


@pytest.mark.obligation("O24-9.1", "O24-10")
def test_grant_keeps_evidence_and_never_the_identifier_in_clear(
    session: Session, source: StaticPurposes
) -> None:
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    assert service.may(session, STAFF, PHONE, ["phone_mobile"], "marketing").allowed
    row = session.scalar(select(ConsentSubject))
    assert (
        row is not None and "13800138000" not in row.subject_hash and row.subject_masked == "+86138****8000"
    )
    e = session.scalar(select(ConsentEvent).where(ConsentEvent.event == "grant"))
    assert e is not None
    assert (e.channel, e.client_ip, e.terminal, e.rules_version, e.text_version) == (
        "app",
        "10.0.0.8",
        "app 5.1 / Android",
        1,
        "1",
    )
    assert "营销推广" in e.text_shown
    for table in (ConsentSubject, ConsentEvent, AuditEntry):
        for r in session.scalars(select(table)):
            assert "13800138000" not in repr({c.name: getattr(r, c.key) for c in r.__table__.columns})  # type: ignore[attr-defined]


@pytest.mark.obligation("O24-9.1", "CSL-41.1")
def test_withdrawing_consent_denies_the_next_use_at_once(session: Session, source: StaticPurposes) -> None:
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    assert service.may(session, STAFF, PHONE, ["name"], "marketing").allowed  # cache warm
    service.withdraw(session, PHONE, "marketing", shown("撤回营销同意"), actor=STAFF)
    # same transaction, not yet committed: its own withdrawal already counts
    d = service.may(session, STAFF, PHONE, ["name"], "marketing")
    assert not d.allowed and _codes(d) == ["no_consent"] and d.reasons[0].detail["status"] == "withdrawn"
    session.commit()
    assert not service.may(session, STAFF, PHONE, ["name"], "marketing").allowed
    history = [h["event"] for h in service.history(session, PHONE)]
    assert history == ["withdraw", "grant"]


@pytest.mark.obligation("O24-9.1", "O24-9.2")
def test_optional_purpose_refused_keeps_the_service(session: Session, source: StaticPurposes) -> None:
    service.accept_rules(session, PHONE, shown("《个人信息收集使用规则》第1版"), actor=STAFF)
    service.refuse(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    assert not service.may(session, STAFF, PHONE, ["phone_mobile"], "marketing").allowed
    # the required purposes are covered by accepting the rules, with no separate consent
    ok = service.may(session, STAFF, PHONE, ["phone_mobile", "name"], "service_provision")
    assert ok.allowed and ok.reasons[0].code == "consent_valid" and ok.reasons[0].detail["required"] is True
    assert service.may(session, STAFF, PHONE, ["bank_card"], "billing").allowed


@pytest.mark.obligation("O24-9.1", "O24-9.2", "CSL-41.1")
def test_material_rules_change_requires_renewal_before_the_purpose_is_allowed(
    session: Session, source: StaticPurposes
) -> None:
    service.accept_rules(session, PHONE, shown("规则第1版"), actor=STAFF)
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    service.grant(session, PHONE, "analytics", shown(), actor=STAFF)
    session.commit()
    assert service.may(session, STAFF, PHONE, ["email"], "marketing").allowed
    # version 2 adds a third party to marketing and a new required purpose: both material
    source.publish(
        2, [*PURPOSES, PurposeView("security", True, frozenset({"ip_address"}))], {"marketing", "security"}
    )
    session.commit()  # the next transaction sees the new version
    d = service.may(session, STAFF, PHONE, ["email"], "marketing")
    assert not d.allowed and _codes(d) == ["renewal_needed"]
    assert d.reasons[0].detail == {"purpose": "marketing", "given_version": 1, "current_version": 2}
    d = service.may(session, STAFF, PHONE, ["ip_address"], "security")
    assert not d.allowed and _codes(d) == ["renewal_needed"]
    # a purpose version 2 did not change is still allowed on the old consent
    assert service.may(session, STAFF, PHONE, ["account"], "analytics").allowed
    assert service.may(session, STAFF, PHONE, ["name"], "service_provision").allowed
    assert (1, "marketing", 1) in [(1, p, v) for _sid, p, v in service.needing_renewal(session)]
    service.grant(session, PHONE, "marketing", shown("营销推广（第2版：新增第三方）"), actor=STAFF)
    service.accept_rules(session, PHONE, shown("规则第2版"), actor=STAFF)
    session.commit()
    assert service.may(session, STAFF, PHONE, ["email"], "marketing").allowed
    assert service.may(session, STAFF, PHONE, ["ip_address"], "security").allowed


@pytest.mark.obligation("O24-9.3", "CSL-41.2")
def test_category_the_purpose_does_not_need_is_refused(session: Session, source: StaticPurposes) -> None:
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    d = service.may(session, STAFF, PHONE, ["phone_mobile", "id_card"], "marketing")
    assert not d.allowed and _codes(d) == ["category_not_needed"]
    assert d.reasons[0].detail["categories"] == ["id_card"] and {"O24-9.3", "CSL-41.2"} <= set(d.obligations)


@pytest.mark.obligation("O24-9.3", "CSL-41.1")
def test_undeclared_purpose_is_refused(session: Session, source: StaticPurposes) -> None:
    d = service.may(session, STAFF, PHONE, ["name"], "resale")
    assert not d.allowed and _codes(d) == ["purpose_not_declared"]
    assert "marketing" in d.reasons[0].detail["known"]


@pytest.mark.obligation("O24-9.4")
def test_cancelled_account_refuses_every_use(session: Session, source: StaticPurposes) -> None:
    service.accept_rules(session, PHONE, shown("规则第1版"), actor=STAFF)
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    assert service.cancel_account(session, PHONE, shown("注销账号"), actor=STAFF) == 3
    session.commit()
    for purpose, cats in (("service_provision", ["name"]), ("marketing", ["name"])):
        d = service.may(session, STAFF, PHONE, cats, purpose)
        assert not d.allowed and "account_cancelled" in _codes(d)
    with pytest.raises(PiguardError) as err:
        service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    assert "O24-9.4" in err.value.obligations


@pytest.mark.obligation("O24-14.2")
def test_suspended_processing_is_refused_until_resumed(session: Session, source: StaticPurposes) -> None:
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    assert service.may(session, STAFF, PHONE, ["name"], "marketing").allowed
    sus = service.suspend(session, "marketing", order_ref="工信部〔2026〕12号", actor=STAFF)
    session.commit()
    d = service.may(session, STAFF, PHONE, ["name"], "marketing")
    assert not d.allowed and _codes(d) == ["processing_suspended"] and d.obligations == ("O24-14.2",)
    service.resume(session, sus.id, actor=STAFF)
    session.commit()
    assert service.may(session, STAFF, PHONE, ["name"], "marketing").allowed


@pytest.mark.obligation("O24-9.1")
def test_consent_past_its_period_expires(session: Session, source: StaticPurposes) -> None:
    now = utcnow()
    service.grant(
        session, PHONE, "marketing", shown(), actor=STAFF, valid_until=now + timedelta(days=30), now=now
    )
    session.commit()
    assert service.may(session, STAFF, PHONE, ["name"], "marketing", now=now + timedelta(days=29)).allowed
    d = service.may(session, STAFF, PHONE, ["name"], "marketing", now=now + timedelta(days=31))
    assert _codes(d) == ["consent_expired"]
    assert service.expire_due(session, now=now + timedelta(days=31)) == 1
    session.commit()
    assert service.history(session, PHONE)[0]["event"] == "expire"


@pytest.mark.obligation("O24-9.1")
def test_consent_for_an_unknown_purpose_is_refused_with_o24_9_1(
    session: Session, source: StaticPurposes
) -> None:
    with pytest.raises(PiguardError) as err:
        service.grant(session, PHONE, "resale", shown(), actor=STAFF)
    e = err.value
    assert e.code == "unknown_purpose" and "O24-9.1" in e.obligations
    assert "marketing" in e.message_en and e.fields[0].field == "purpose"


@pytest.mark.parametrize(
    ("subject", "field_hint"),
    [
        ("13800138000", "kind:value"),
        ("phone:12345", "mobile"),
        ("passport:E1234567", "unknown kind"),
        ("id_card:1234", "resident ID"),
        ("ref:xyz", "32 hex"),
        ("email:not-an-address", "e-mail"),
        (None, "kind:value"),
    ],
)
def test_bad_subject_is_a_clear_error_that_never_echoes_it(
    session: Session, source: StaticPurposes, subject: object, field_hint: str
) -> None:
    with pytest.raises(PiguardError) as err:
        service.may(session, STAFF, subject, ["name"], "marketing")  # type: ignore[arg-type]
    e = err.value
    assert e.code == "validation_error" and e.fields[0].field == "subject"
    text = e.message_en + " ".join(f.message for f in e.fields)
    assert field_hint in text
    if isinstance(subject, str) and ":" in subject:
        assert subject.partition(":")[2] not in text or subject.endswith(":xyz")


def test_bad_evidence_and_category_are_clear_errors(session: Session, source: StaticPurposes) -> None:
    from piguard.consent.service import EvidenceIn

    cases = [
        (EvidenceIn("carrier-pigeon", "x", client_ip="10.0.0.1"), "channel"),
        (EvidenceIn("app", "  ", client_ip="10.0.0.1"), "text_shown"),
        (EvidenceIn("app", "text", client_ip="999.1.1.1"), "client_ip"),
        (EvidenceIn("app", "text"), "client_ip"),
    ]
    for ev, field in cases:
        with pytest.raises(PiguardError) as err:
            service.grant(session, PHONE, "marketing", ev, actor=STAFF)
        assert err.value.fields[0].field == field
    with pytest.raises(PiguardError) as err:
        service.may(session, STAFF, PHONE, ["shoe_size"], "marketing")
    assert err.value.fields[0].field == "categories" and "phone_mobile" in err.value.fields[0].message
    with pytest.raises(PiguardError) as err:
        service.grant(session, PHONE, "marketing", shown(), actor=STAFF, rules_version=7)
    assert err.value.fields[0].field == "rules_version"
    with pytest.raises(PiguardError) as err:
        service.withdraw(session, OTHER, "marketing", shown(), actor=STAFF)
    assert err.value.code == "not_granted"


@pytest.mark.obligation("O24-13.6")
def test_use_audits_the_read_with_its_purpose(session: Session, source: StaticPurposes) -> None:
    service.grant(session, PHONE, "marketing", shown(), actor=STAFF)
    session.commit()
    assert service.use(session, STAFF, PHONE, ["phone_mobile"], "marketing").allowed
    assert not service.use(session, STAFF, OTHER, ["phone_mobile"], "marketing").allowed
    session.commit()
    entries = list(
        session.scalars(select(AuditEntry).where(AuditEntry.action == "pi.read").order_by(AuditEntry.seq))
    )
    assert [(e.purpose, e.outcome) for e in entries] == [("marketing", "ok"), ("marketing", "refused")]
    assert entries[0].data_categories == ["phone_mobile"] and "O24-9.1" in entries[0].obligations
    assert entries[1].subject_ref == "consent_subject:unknown"


@pytest.mark.obligation("O24-9.3")
def test_purposes_declared_before_any_published_version_are_read_again(session: Session) -> None:
    from piguard.consent import engine as consent_engine
    from piguard.consent.purposes import set_source

    src = StaticPurposes(PURPOSES[:1], version=None)
    set_source(src)
    consent_engine.reset_caches()
    try:
        d = service.may(session, STAFF, PHONE, ["name"], "marketing")
        assert d.reasons[0].code == "purpose_not_declared"
        session.commit()
        src._purposes = list(PURPOSES)  # the operator declares marketing (nothing published yet)
        d = service.may(session, STAFF, PHONE, ["name"], "marketing")
        assert d.reasons[0].code == "no_consent"
    finally:
        set_source(None)
        consent_engine.reset_caches()


def test_default_source_falls_back_to_the_packaged_purposes(session: Session) -> None:
    from piguard.consent.purposes import InventoryPurposes, packaged_purposes

    src = InventoryPurposes()
    got = {p.id: p for p in src.purposes(session)}
    if src._inventory() is None:
        assert got == {p.id: p for p in packaged_purposes()}
        assert src.current_rules_version(session) is None
    assert got["service_provision"].required and not got["marketing"].required
    assert got["marketing"].categories and "phone_mobile" in got["marketing"].categories


@pytest.mark.obligation("O24-9.1")
def test_expiry_job_writes_the_history(session: Session, source: StaticPurposes) -> None:
    from piguard.consent.jobs import expire_consents

    now = utcnow()
    service.grant(
        session, PHONE, "marketing", shown(), actor=STAFF, valid_until=now + timedelta(days=1), now=now
    )
    service.grant(
        session, OTHER, "marketing", shown(), actor=STAFF, valid_until=now + timedelta(days=9), now=now
    )
    session.commit()
    assert expire_consents(now + timedelta(days=2)) == 1
    assert service.history(session, PHONE)[0]["event"] == "expire"
    assert service.history(session, OTHER)[0]["event"] == "grant"
