"""The sharing decision (CSL-42.1): no provision to others without consent, except information
de-identified beyond restoration; against the real inventory's sharing register, in the service,
the API and the CLI, each decision audited without personal information."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.cli import app as root_cli
from piguard.consent import engine as consent_engine
from piguard.consent import service as consent
from piguard.consent.purposes import set_source
from piguard.consent.service import EvidenceIn
from piguard.core import db
from piguard.core.errors import PiguardError
from piguard.core.reasons import Decision
from piguard.discovery.kanon import check_k_anonymity
from piguard.identity import service as identity
from piguard.inventory import rules
from piguard.inventory import service as inventory
from piguard.inventory.demo import demo_text
from piguard.inventory.document import validate

pytestmark = pytest.mark.obligation("CSL-42.1")
STAFF = Actor("staff", "alice")
PHONE = "phone:13800138000"
DIGITS = "13800138000"
runner = CliRunner()

#: a generalised data set: every (age band, city) shared by at least 2 rows, or not
PASSING = [{"age": "30-39", "city": "北京市"}] * 3 + [{"age": "40-49", "city": "上海市"}] * 2
FAILING = [*PASSING, {"age": "50-59", "city": "拉萨市"}]


def _inventory_data() -> dict[str, Any]:
    """The demo inventory plus a recipient abroad that receives login IPs for security."""
    data = yaml.safe_load(demo_text())
    data["third_parties"].append(
        {
            "id": "overseas_soc",
            "name": "Example Security Ltd",
            "location": "outside_china",
            "purposes": ["security"],
        }
    )
    billing = next(s for s in data["systems"] if s["id"] == "billing")
    for f in billing["tables"][0]["fields"]:
        if f["column"] == "login_ip":
            f["third_parties"] = ["overseas_soc"]
    return data


def _shown() -> EvidenceIn:
    return EvidenceIn(channel="app", text_shown="同意向短信服务商提供手机号用于营销", client_ip="10.0.0.8")


@pytest.fixture(autouse=True)
def real_source() -> Iterator[None]:
    set_source(None)  # the purposes come from the inventory, as in production
    consent_engine.reset_caches()
    yield
    consent_engine.reset_caches()


@pytest.fixture()
def inv(session: Session) -> Session:
    inventory.apply(session, validate(_inventory_data()), STAFF, source="test")
    session.commit()
    return session


def codes(d: Decision) -> set[str]:
    return {r.code for r in d.reasons}


def every_reason_carries_csl_42_1(d: Decision) -> bool:
    return bool(d.reasons) and all("CSL-42.1" in r.obligations for r in d.reasons)


def _entries(session: Session) -> list[AuditEntry]:
    session.commit()  # the audit batch is written at flush or commit
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == "consent.share_decided").order_by(AuditEntry.seq)
        )
    )


# ------------------------------------------------------------------------------------- service


def test_consent_and_a_declared_provision_allow(inv: Session) -> None:
    consent.grant(inv, PHONE, "marketing", _shown(), actor=STAFF)
    d = consent.may_share(inv, PHONE, "sms_vendor", "marketing", ["phone_mobile", "email"], actor=STAFF)
    assert d.allowed, d.to_dict()
    assert codes(d) == {"sharing_declared", "consent_valid"}
    assert every_reason_carries_csl_42_1(d)
    assert "O24-9.1" in d.obligations


def test_an_unregistered_third_party_is_refused(inv: Session) -> None:
    consent.grant(inv, PHONE, "marketing", _shown(), actor=STAFF)
    d = consent.may_share(inv, PHONE, "data_broker", "marketing", ["phone_mobile"], actor=STAFF)
    assert not d.allowed and "third_party_unregistered" in codes(d)
    [r] = [r for r in d.reasons if r.code == "third_party_unregistered"]
    assert r.detail["registered"] == ["overseas_soc", "payment", "sms_vendor"]
    assert r.message_zh and r.message_en and every_reason_carries_csl_42_1(d)


def test_a_provision_the_register_does_not_declare_is_refused(inv: Session) -> None:
    consent.grant(inv, PHONE, "marketing", _shown(), actor=STAFF)
    consent.accept_rules(inv, PHONE, _shown(), actor=STAFF)
    # the vendor receives phone and e-mail for marketing, not for billing
    d = consent.may_share(inv, PHONE, "sms_vendor", "billing", ["phone_mobile"], actor=STAFF)
    assert not d.allowed and "sharing_not_declared" in codes(d)
    [r] = [r for r in d.reasons if r.code == "sharing_not_declared"]
    assert r.detail["declared"] == [] and "O24-9.3" in r.obligations
    # payment receives the bank card for billing, not the name
    d = consent.may_share(inv, PHONE, "payment", "billing", ["bank_card", "name"], actor=STAFF)
    assert not d.allowed
    [r] = [r for r in d.reasons if r.code == "sharing_not_declared"]
    assert r.detail["categories"] == ["name"] and r.detail["declared"] == ["bank_card", "phone_mobile"]
    assert every_reason_carries_csl_42_1(d)
    assert consent.may_share(inv, PHONE, "payment", "billing", ["bank_card"], actor=STAFF).allowed


def test_no_consent_and_a_withdrawn_consent_are_refused(inv: Session) -> None:
    d = consent.may_share(inv, PHONE, "sms_vendor", "marketing", ["phone_mobile"], actor=STAFF)
    assert not d.allowed and codes(d) >= {"no_consent", "sharing_declared"}
    assert every_reason_carries_csl_42_1(d)
    consent.grant(inv, PHONE, "marketing", _shown(), actor=STAFF)
    inv.commit()
    assert consent.may_share(inv, PHONE, "sms_vendor", "marketing", ["phone_mobile"], actor=STAFF).allowed
    consent.withdraw(inv, PHONE, "marketing", _shown(), actor=STAFF)
    inv.commit()
    d = consent.may_share(inv, PHONE, "sms_vendor", "marketing", ["phone_mobile"], actor=STAFF)
    assert not d.allowed
    [r] = [r for r in d.reasons if r.code == "no_consent"]
    assert r.detail["status"] == "withdrawn" and "CSL-42.1" in r.obligations


def test_a_recipient_abroad_is_flagged(inv: Session) -> None:
    consent.accept_rules(inv, PHONE, _shown(), actor=STAFF)
    d = consent.may_share(inv, PHONE, "overseas_soc", "security", ["ip_address"], actor=STAFF)
    assert d.allowed and "cross_border_recipient" in codes(d)
    [entry] = _entries(inv)
    assert entry.detail["cross_border"] is True


def test_a_provision_the_rules_in_force_do_not_tell_is_refused(session: Session) -> None:
    inventory.apply(session, validate(yaml.safe_load(demo_text())), STAFF, source="test")
    rules.publish(session, STAFF, effective=date(2026, 1, 1))
    consent.accept_rules(session, PHONE, _shown(), actor=STAFF)
    session.commit()
    # the recipient abroad is added to the inventory, not yet published: users were never told
    inventory.apply(session, validate(_inventory_data()), STAFF, source="test")
    session.commit()
    d = consent.may_share(session, PHONE, "overseas_soc", "security", ["ip_address"], actor=STAFF)
    assert not d.allowed and "sharing_not_published" in codes(d), d.to_dict()
    [r] = [r for r in d.reasons if r.code == "sharing_not_published"]
    assert r.detail["rules_version"] == 1 and "O24-8" in r.obligations and every_reason_carries_csl_42_1(d)
    # published: a new third party is a material change, the consent to version 1 must be renewed
    rules.publish(session, STAFF, effective=date(2026, 2, 1))
    session.commit()
    d = consent.may_share(session, PHONE, "overseas_soc", "security", ["ip_address"], actor=STAFF)
    assert not d.allowed and codes(d) & {"renewal_needed"} and "sharing_not_published" not in codes(d)
    consent.accept_rules(session, PHONE, _shown(), actor=STAFF)
    session.commit()
    d = consent.may_share(session, PHONE, "overseas_soc", "security", ["ip_address"], actor=STAFF)
    assert d.allowed and "cross_border_recipient" in codes(d), d.to_dict()


# ------------------------------------------------------------------------------------- de-identified


def deid_share(
    session: Session,
    method: str | None,
    *,
    subject: str | None = None,
    to: str = "sms_vendor",
    rows: list[dict[str, str]] | None = None,
) -> Decision:
    """The vendor's marketing phone numbers, said to be de-identified by ``method`` (and the
    generalised data set ``rows`` checked for 2-anonymity on age and city)."""
    report = check_k_anonymity(rows, ["age", "city"], 2) if rows is not None else None
    return consent.may_share(
        session,
        subject,
        to,
        "marketing",
        ["phone_mobile"],
        deidentified=True,
        method=method,
        k_anonymity=report,
        actor=STAFF,
    )


def test_information_deidentified_beyond_restoration_needs_no_consent(inv: Session) -> None:
    # nobody consented: redacted information may still go to a registered recipient
    d = deid_share(inv, "redact")
    assert d.allowed and "deidentified_beyond_restoration" in codes(d)
    assert "no_consent" not in codes(d) and every_reason_carries_csl_42_1(d)
    # generalised with a passed k-anonymity check of the data set, a subject named or not
    for subject in (PHONE, None):
        d = deid_share(inv, "generalise", subject=subject, rows=PASSING)
        assert d.allowed
        [r] = [r for r in d.reasons if r.code == "deidentified_beyond_restoration"]
        assert r.detail == {"method": "generalise", "k": 2}
    # the register still applies to de-identified information
    d = deid_share(inv, "redact", to="data_broker")
    assert not d.allowed and "third_party_unregistered" in codes(d)


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("pseudonymise", "deidentification_reversible"),
        ("hash", "deidentification_reversible"),
        ("mask", "deidentification_reversible"),
        (None, "deidentification_unproven"),
        ("generalise", "k_anonymity_missing"),
    ],
)
def test_reversible_or_unproven_deidentification_is_refused(
    inv: Session, method: str | None, code: str
) -> None:
    d = deid_share(inv, method)
    assert not d.allowed and code in codes(d), d.to_dict()
    assert every_reason_carries_csl_42_1(d)


def test_a_failed_k_anonymity_check_is_refused(inv: Session) -> None:
    d = deid_share(inv, "generalise", rows=FAILING)
    assert not d.allowed and "not_k_anonymous" in codes(d) and every_reason_carries_csl_42_1(d)
    # a failed check refuses whichever method it comes with
    d = deid_share(inv, "redact", rows=FAILING)
    assert not d.allowed and "not_k_anonymous" in codes(d)


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"purpose": "resale"}, "purpose", "unknown_purpose"),
        ({"categories": []}, "categories", "validation_error"),
        ({"categories": ["phone_mobile", "shoe_size"]}, "categories", "validation_error"),
        ({"categories": "phone_mobile"}, "categories", "validation_error"),
        ({"third_party": "  "}, "third_party", "validation_error"),
        ({"third_party": "x" * 65}, "third_party", "validation_error"),
        ({"subject": None}, "subject", "validation_error"),
        ({"subject": "phone:1"}, "subject", "validation_error"),
        ({"method": "redact"}, "method", "validation_error"),
        ({"deidentified": True, "method": "rot13"}, "method", "validation_error"),
        ({"deidentified": "yes"}, "deidentified", "validation_error"),
    ],
)
def test_bad_input_is_a_clear_error(inv: Session, kwargs: dict[str, Any], field: str, code: str) -> None:
    args: dict[str, Any] = {
        "subject": PHONE,
        "third_party": "sms_vendor",
        "purpose": "marketing",
        "categories": ["phone_mobile"],
        **kwargs,
    }
    subject, party, purpose, cats = (args.pop(k) for k in ("subject", "third_party", "purpose", "categories"))
    with pytest.raises(PiguardError) as exc:
        consent.may_share(inv, subject, party, purpose, cats, actor=STAFF, **args)
    err = exc.value
    assert err.code == code and err.http_status == 422
    assert any(f.field == field for f in err.fields), err.fields
    assert DIGITS not in str(err.to_dict() if hasattr(err, "to_dict") else err)
    assert _entries(inv) == []  # nothing decided, nothing audited


# ------------------------------------------------------------------------------------- audit


def test_each_decision_is_audited_without_personal_information(inv: Session) -> None:
    consent.grant(inv, PHONE, "marketing", _shown(), actor=STAFF)
    consent.may_share(inv, PHONE, "sms_vendor", "marketing", ["phone_mobile"], actor=STAFF)
    consent.may_share(inv, PHONE, "13900139000", "marketing", ["phone_mobile"], actor=STAFF)
    consent.may_share(
        inv, None, "payment", "billing", ["bank_card"], deidentified=True, method="pseudonymise", actor=STAFF
    )
    allowed, unregistered, reversible = _entries(inv)
    row = consent.subject_row(inv, consent.parse(PHONE), create=False)
    assert row is not None
    assert allowed.outcome == "ok" and allowed.subject_ref == f"consent_subject:{row.id}"
    assert allowed.purpose == "marketing" and allowed.data_categories == ["phone_mobile"]
    assert allowed.detail["third_party"] == "sms_vendor" and "CSL-42.1" in allowed.obligations
    assert "O24-13.6" in allowed.obligations
    assert unregistered.outcome == "refused" and "third_party_unregistered" in unregistered.detail["reasons"]
    # a third-party id the register does not know is the caller's text: kept only as a digest
    assert unregistered.detail["third_party"].startswith("unregistered:")
    assert reversible.subject_ref == "deidentified" and reversible.detail["method"] == "pseudonymise"
    assert reversible.outcome == "refused" and reversible.detail["deidentified"] is True
    subject_hash = consent.parse(PHONE).hash
    for e in (allowed, unregistered, reversible):
        text = json.dumps(
            {"ref": e.subject_ref, "detail": e.detail, "cats": e.data_categories}, ensure_ascii=False
        )
        assert DIGITS not in text and "13900139000" not in text and subject_hash not in text


# ------------------------------------------------------------------------------------- API and CLI


def _headers(username: str, roles: list[str]) -> dict[str, str]:
    with db.unit_of_work() as session:
        staff = identity.ensure_staff(session, username, "a long test password 1", roles, username)
        plaintext, _row = identity.issue_token(session, staff, ["*"], timedelta(days=1))
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture()
def stored(db_engine) -> None:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        inventory.apply(session, validate(_inventory_data()), STAFF, source="test")


def test_api_share_decisions(stored: None) -> None:
    client = TestClient(create_app())
    body = {
        "subject": PHONE,
        "third_party": "sms_vendor",
        "purpose": "marketing",
        "categories": ["phone_mobile"],
    }
    assert client.post("/api/consent/share-decisions", json=body).status_code == 401
    officer = _headers("olga", ["compliance_officer"])
    r = client.post("/api/consent/share-decisions", json=body, headers=officer)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["outcome"] == "refuse" and "no_consent" in [x["code"] for x in out["reasons"]]
    assert all("CSL-42.1" in x["obligations"] and x["message"]["zh"] for x in out["reasons"])
    ev = {"channel": "web", "text_shown": "同意向短信服务商提供手机号"}
    r = client.post(
        "/api/consent/grant", json={"subject": PHONE, "purpose": "marketing", "evidence": ev}, headers=officer
    )
    assert r.status_code == 201
    r = client.post("/api/consent/share-decisions", json=body, headers=officer)
    assert r.json()["outcome"] == "allow"
    # de-identified: the data set is checked here, not taken on the caller's word
    deid = {**body, "subject": None, "deidentified": True, "method": "generalise"}
    for rows, outcome in ((PASSING, "allow"), (FAILING, "refuse")):
        kin = {"rows": rows, "quasi_identifiers": ["age", "city"], "k": 2}
        r = client.post("/api/consent/share-decisions", json={**deid, "k_anonymity": kin}, headers=officer)
        assert r.status_code == 200 and r.json()["outcome"] == outcome, r.text
    # bad input: clear errors, no personal information echoed
    r = client.post("/api/consent/share-decisions", json={**body, "categories": []}, headers=officer)
    assert r.status_code == 422 and any(f["field"] == "categories" for f in r.json()["error"]["fields"])
    r = client.post("/api/consent/share-decisions", json={**body, "purpose": "resale"}, headers=officer)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_purpose"
    r = client.post("/api/consent/share-decisions", json={**body, "subject": "phone:1"}, headers=officer)
    assert r.status_code == 422 and "phone:1" not in r.text
    r = client.post("/api/consent/share-decisions", json={**body, "extra": 1}, headers=officer)
    assert r.status_code == 422


def test_cli_may_share(stored: None, tmp_path: Path) -> None:
    args = [
        "consent",
        "may-share",
        PHONE,
        "--to",
        "sms_vendor",
        "--purpose",
        "marketing",
        "-c",
        "phone_mobile",
    ]
    r = runner.invoke(root_cli, args)
    assert r.exit_code == 1, r.output
    assert "REFUSE" in r.output and "no_consent" in r.output and "CSL-42.1" in r.output
    r = runner.invoke(
        root_cli, ["consent", "grant", PHONE, "marketing", "--text", "同意向短信服务商提供手机号"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(root_cli, [*args, "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["outcome"] == "allow"
    assert DIGITS not in r.stdout
    r = runner.invoke(
        root_cli,
        [
            "consent",
            "may-share",
            PHONE,
            "--to",
            "data_broker",
            "--purpose",
            "marketing",
            "-c",
            "phone_mobile",
        ],
    )
    assert r.exit_code == 1 and "third_party_unregistered" in r.output
    # a de-identified table: no subject, the k-anonymity check run on the file
    table = tmp_path / "deid.csv"
    table.write_text("age,city\n" + "".join(f"{x['age']},{x['city']}\n" for x in PASSING), encoding="utf-8")
    deid = ["consent", "may-share", "--to", "sms_vendor", "--purpose", "marketing", "-c", "phone_mobile"]
    r = runner.invoke(
        root_cli,
        [*deid, "--deidentified", "generalise", "--k-table", str(table), "--qi", "age,city", "--k", "2"],
    )
    assert r.exit_code == 0, r.output
    assert "deidentified_beyond_restoration" in r.output
    r = runner.invoke(root_cli, [*deid, "--deidentified", "pseudonymise"])
    assert r.exit_code == 1 and "deidentification_reversible" in r.output
    # bad input: clear errors, exit 2, no traceback
    for bad in (
        [*deid[:-2]],  # no category
        [*deid, "--deidentified", "rot13"],
        [
            *deid,
            "--deidentified",
            "generalise",
            "--k-table",
            str(tmp_path / "missing.csv"),
            "--qi",
            "age",
            "--k",
            "2",
        ],
        [*deid, "--deidentified", "generalise", "--k-table", str(table)],
        ["consent", "may-share", PHONE, "--to", "sms_vendor", "--purpose", "resale", "-c", "phone_mobile"],
    ):
        r = runner.invoke(root_cli, bad)
        assert r.exit_code == 2, (bad, r.output)
        assert "Traceback" not in r.output
