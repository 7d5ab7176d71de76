"""Portal pages over HTTP: what is held, consents withdrawn in one click, requests and complaints
filed and followed with their due dates; a user sees and acts only on their own data (another
person's case or consent is refused and audited, O24-10)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.cases import service as cases
from piguard.consent import service as consent
from piguard.core import db
from piguard.identity.portal import PORTAL_COOKIE

from .test_portal_login import KNOWN, ask, client, code_from_outbox, sign_in  # noqa: F401

pytestmark = pytest.mark.obligation("O24-10", "O24-9.1", "O24-9.2", "O24-12", "O24-13.6")

OTHER = "13800138001"


def signed_in(client: TestClient, number: str = KNOWN) -> TestClient:  # noqa: F811
    ask(client, number)
    assert sign_in(client, number, code_from_outbox(number)).status_code == 303
    return client


def _ref_of(response: object) -> str:
    location = response.headers["location"]  # type: ignore[attr-defined]
    return str(location).split("/portal/cases/")[1].split("?")[0]


def portal_audit(action: str) -> list[AuditEntry]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_anonymous_visitors_are_sent_to_the_login_page(client: TestClient) -> None:  # noqa: F811
    for path in ("/portal", "/portal/new", "/portal/cases/1", "/portal/cases/1/export"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/portal/login", path
    r = client.post("/portal/consents/withdraw", data={"target": "purpose:marketing"})
    assert r.status_code == 303 and r.headers["location"] == "/portal/login"


def test_home_shows_what_is_held_consents_rules_and_cases(client: TestClient) -> None:  # noqa: F811
    signed_in(client)
    r = client.get("/portal")
    assert r.status_code == 200
    html = r.text
    assert 'id="held"' in html and "held-system" in html  # systems from the demo inventory
    assert 'data-ref="purpose:marketing" data-status="granted"' in html
    assert 'data-ref="sms:' in html  # the SMS subscription beside the purpose consents
    assert 'href="/rules/privacy"' in html
    assert KNOWN not in html
    en = client.get("/portal?lang=en").text
    assert "What we hold about you" in en and "My consents and SMS subscriptions" in en
    assert portal_audit("portal.held.viewed") and portal_audit("consent.listed")


def test_withdraw_own_consent_in_one_click_refuses_the_next_use(client: TestClient) -> None:  # noqa: F811
    signed_in(client)
    r = client.post(
        "/portal/consents/withdraw", data={"target": "purpose:marketing"}, headers={"hx-request": "true"}
    )
    assert r.status_code == 200 and 'data-ref="purpose:marketing" data-status="withdrawn"' in r.text
    with db.unit_of_work() as session:
        d = consent.may(session, None, f"phone:{KNOWN}", ["phone_mobile"], "marketing")
    assert not d.allowed
    [entry] = [e for e in portal_audit("consent.withdrawn") if e.actor_type == "end_user"]
    assert entry.actor_id and len(entry.actor_id) == 32


def test_another_users_consent_is_refused_and_audited(client: TestClient) -> None:  # noqa: F811
    with db.unit_of_work() as session:
        other = consent.list_for_subject(session, f"phone:{OTHER}")
        sms_ref, status = next((e.ref, e.status) for e in other.entries if e.ledger == "sms")
    signed_in(client)
    r = client.post("/portal/consents/withdraw", data={"target": sms_ref})
    assert r.status_code == 404
    with db.unit_of_work() as session:
        still = consent.list_for_subject(session, f"phone:{OTHER}")
        assert next(e for e in still.entries if e.ref == sms_ref).status == status
    [refusal] = portal_audit("portal.access.refused")
    assert refusal.outcome == "refused" and refusal.actor_type == "end_user"
    assert refusal.detail["requested"] == "consent"


def test_another_users_case_is_refused_and_audited(client: TestClient) -> None:  # noqa: F811
    with db.unit_of_work() as session:
        theirs = cases.open_case(
            session,
            kind="pi_complaint",
            received=datetime.now(UTC),
            actor=Actor("staff", "operator"),
            text="他人的投诉内容",
            source="phone",
            subject=f"phone:{OTHER}",
        )
        ref, case_id = theirs.ref, theirs.id
    signed_in(client)
    for key in (ref, str(case_id), "NOSUCHCASE"):
        r = client.get(f"/portal/cases/{key}")
        assert r.status_code == 404 and "他人的投诉内容" not in r.text
        assert client.get(f"/portal/cases/{key}/export").status_code == 404
    refusals = portal_audit("portal.access.refused")
    assert len(refusals) == 6 and {e.detail["requested"] for e in refusals} == {"case"}
    assert "他人的投诉内容" not in client.get("/portal").text


def test_file_a_complaint_follow_it_and_see_the_staff_answer(client: TestClient) -> None:  # noqa: F811
    signed_in(client)
    r = client.post("/portal/new", data={"kind": "pi_complaint", "text": "客服泄露了我的住址"})
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and 'id="no-reply"' in page.text
    with db.unit_of_work() as session:
        case = cases.get(session, _ref_of(r))
        assert (
            case.kind == "pi_complaint"
            and case.source == "portal"
            and case.subject_masked == "+86138****8000"
        )
        state = cases.clock_state(case)
        assert case.due_date == cases.clock_state(case).due and not state.overdue
        cases.reply(session, case, "已核实并处理，相关人员已培训。", Actor("staff", "demo"))
        ref, due = case.ref, case.due_date
    page = client.get(f"/portal/cases/{ref}")
    assert 'id="reply"' in page.text and "已核实并处理" in page.text
    assert f'<strong id="due">{due.isoformat()}</strong>' in page.text
    home = client.get("/portal").text
    assert f'data-ref="{ref}" data-kind="pi_complaint" data-status="answered"' in home
    assert portal_audit("portal.complaint.filed")


def assert_due_after_days(case: Any, days: int) -> None:
    """``days`` counted from the day the case was received in Asia/Shanghai (not its UTC date); a
    last day that is not a working day moves to the next working day."""
    from piguard.core import calendar

    local = calendar.to_local_date(case.received_at)
    last = date.fromordinal(local.toordinal() + days)
    cal = calendar.get_calendar()
    assert case.due_date >= last
    assert all(
        not cal.is_working_day(date.fromordinal(d))
        for d in range(last.toordinal(), case.due_date.toordinal())
    )
    assert cal.is_working_day(case.due_date) or case.due_date == last


def test_a_request_is_a_case_on_its_clock(client: TestClient) -> None:  # noqa: F811
    signed_in(client)
    r = client.post("/portal/new", data={"kind": "deletion", "text": "请删除我的营销数据"})
    assert r.status_code == 303
    with db.unit_of_work() as session:
        case = cases.get(session, _ref_of(r))
        assert case.kind == "deletion" and case.source == "portal"
        assert_due_after_days(case, 15)
        assert "CSL-43" in case.obligations


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "pi_complaint", "text": ""}, "请填写内容"),
        ({"kind": "incident", "text": "x"}, "请选择"),
        ({"kind": "pi_complaint", "text": "x" * 2001}, "2000"),
    ],
)
def test_bad_filing_is_a_clear_error(client: TestClient, data: dict[str, str], message: str) -> None:  # noqa: F811
    signed_in(client)
    r = client.post("/portal/new", data=data)
    assert r.status_code == 422 and message in r.text


def test_due_dates_across_a_holiday_and_past_the_data(client: TestClient) -> None:  # noqa: F811
    """An SMS complaint received by phone on 2026-09-28 counts 15 working days over National Day
    (1-7 October off, Saturday 10 October worked): due 2026-10-23, not the weekends-only 2026-10-19;
    one received on 2026-12-21 runs past the packaged holiday data (2026-12-31) and says so."""
    with db.unit_of_work() as session:
        across = cases.open_case(
            session,
            kind="sms_complaint",
            received="2026-09-28T10:00:00+08:00",
            actor=Actor("staff", "operator"),
            text="国庆前的短信投诉",
            source="phone",
            subject=f"phone:{KNOWN}",
        )
        late = cases.open_case(
            session,
            kind="sms_complaint",
            received="2026-12-21T10:00:00+08:00",
            actor=Actor("staff", "operator"),
            text="年底的短信投诉",
            source="phone",
            subject=f"phone:{KNOWN}",
            now=datetime(2026, 12, 21, 3, 0, tzinfo=UTC),
        )
        a_ref, l_ref = across.ref, late.ref
        assert across.due_date == date(2026, 10, 23) and not across.due_estimated
        assert late.due_date is not None and late.due_date.year == 2027 and late.due_estimated
    signed_in(client)
    a = client.get(f"/portal/cases/{a_ref}").text
    assert '<strong id="due">2026-10-23</strong>' in a and 'id="estimated"' not in a
    b = client.get(f"/portal/cases/{l_ref}").text
    assert 'id="estimated"' in b and "官方节假日数据" in b
    home = client.get("/portal").text
    assert (
        f'data-ref="{l_ref}" data-kind="sms_complaint" data-status="open" data-due="{late.due_date}" data-estimated="true"'
        in home
    )


def test_portal_cookie_is_scoped_to_the_portal(client: TestClient) -> None:  # noqa: F811
    ask(client, KNOWN)
    r = sign_in(client, KNOWN, code_from_outbox(KNOWN))
    assert "Path=/portal" in r.headers["set-cookie"] and PORTAL_COOKIE in r.headers["set-cookie"]


def _sent_ref(number: str) -> str:
    from piguard.messaging.models import MessageRecord
    from piguard.messaging.records import protect

    with db.unit_of_work() as session:
        h = protect.address_hash("+86" + number)
        return str(
            session.scalars(
                select(MessageRecord.ref).where(
                    MessageRecord.recipient_hash == h,
                    MessageRecord.direction == "out",
                    MessageRecord.outcome == "allow",
                    MessageRecord.kind != "verification_code",
                )
            ).first()
        )


@pytest.mark.obligation("O31-27")
def test_sms_complaint_names_one_of_the_users_own_messages(client: TestClient) -> None:  # noqa: F811
    mine, theirs = _sent_ref(KNOWN), _sent_ref(OTHER)
    assert mine != "None" and theirs != "None"
    signed_in(client)
    form = client.get("/portal/new").text
    assert f'value="{mine}"' in form and f'value="{theirs}"' not in form
    r = client.post(
        "/portal/new", data={"kind": "sms_complaint", "text": "未订阅却收到营销短信", "message_ref": theirs}
    )
    assert r.status_code == 404
    [refusal] = portal_audit("portal.access.refused")
    assert refusal.detail["requested"] == "message"
    r = client.post(
        "/portal/new", data={"kind": "sms_complaint", "text": "未订阅却收到营销短信", "message_ref": mine}
    )
    assert r.status_code == 303
    with db.unit_of_work() as session:
        case = cases.get(session, _ref_of(r))
        assert case.message_ref == mine and case.classification == "sms" and case.content_provider_id
        assert case.due_basis == "sms_complaint.feedback_working_days"


@pytest.mark.obligation("O24-9.2")
def test_correction_names_an_inventory_field_and_the_value_is_kept_encrypted(client: TestClient) -> None:  # noqa: F811
    from piguard.rights import service as rights

    signed_in(client)
    form = client.get("/portal/new").text
    assert 'name="field"' in form and 'value="email"' in form
    r = client.post("/portal/new", data={"kind": "correction", "text": "", "field": "", "value": ""})
    assert r.status_code == 422
    r = client.post("/portal/new", data={"kind": "correction", "text": "", "field": "no_such", "value": "x"})
    assert r.status_code == 422 and "no_such" in r.text
    r = client.post(
        "/portal/new",
        data={"kind": "correction", "text": "邮箱写错了", "field": "email", "value": "new@example.cn"},
    )
    assert r.status_code == 303
    with db.unit_of_work() as session:
        req = rights.get(session, _ref_of(r))
        assert req.kind == "correction" and req.changed_columns == ["email"]
        assert "new@example.cn" not in (req.changes_enc or "")
        case = cases.get(session, req.case_id)
        assert case.source == "portal" and case.subject_hash == req.subject_hash
    for e in portal_audit("rights.open") + portal_audit("portal.request.filed"):
        assert "new@example.cn" not in str(e.detail)
