"""The report to the authority of what the gateway stopped as prohibited content (CSL-47): real gateway
submissions, counts per content provider and category, no text and no number, stored on a case,
audited, by CLI, API and the worker; bad periods are clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.cases.complaints_setup import LOAN, NOTICE, USER, Reg, build_registry
from tests.messaging.gw_setup import at_noon
from typer.testing import CliRunner

from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.cases import complaints, content_reports, jobs, service
from piguard.cases.models import Case, CaseEvent
from piguard.cases.settings import reset_cases_settings
from piguard.core import calendar
from piguard.core.errors import PiguardError
from piguard.messaging import service as messaging
from piguard.messaging.models import MessageRecord
from piguard.regulations.parameters import value

pytestmark = pytest.mark.obligation("CSL-47")

STAFF = Actor("staff", "7")
#: a prohibited message that also holds a person's number (kept encrypted in the record)
LOAN_PI = "【优品商城】黑户可贷，无视征信，无抵押秒批，当天到账，加微信或致电13900139000"
#: what must never appear in a report: the recipient, numbers in the texts, the texts themselves
SECRETS = (USER, "13900139000", "4008123456", "黑户可贷", "无视征信", "快递单号")


def _send(session: Session, text: str, at: datetime, recipient: str = USER) -> Any:
    res = messaging.submit(session, [messaging.GatewayRequest("sms", "10690002", recipient, text)], now=at)[0]
    session.commit()
    return res


def _day_of_traffic(session: Session) -> tuple[Reg, date, datetime]:
    """youpin's business port at noon (China) the day before: two identical loan adverts and one with a
    number, refused as prohibited; one honest notice, allowed."""
    reg = build_registry(session)
    at = at_noon() - timedelta(days=1)
    for i, text in enumerate((LOAN, LOAN, LOAN_PI)):
        res = _send(session, text, at + timedelta(minutes=i))
        assert res.outcome == "refuse" and "prohibited_content" in [r.code for r in res.reasons]
    assert _send(session, NOTICE, at + timedelta(minutes=5)).outcome == "allow"
    return reg, calendar.to_local_date(at), at


def _everything_written(session: Session, case: Case) -> str:
    """The case, its timeline and its audit entries, as text (where PI must not be)."""
    evs = service.events(session, case)
    audit = service.audit_trail(session, case)
    return json.dumps(
        [
            service.to_dict(case, with_text=True),
            case.detail,
            [service.event_dict(e) for e in evs],
            [{"action": a.action, "detail": a.detail} for a in audit],
        ],
        ensure_ascii=False,
        default=str,
    )


@pytest.mark.obligation("O31-16")
def test_report_counts_only_the_prohibited_messages_names_categories_and_holds_no_text_or_number(
    session: Session,
) -> None:
    reg, day, at = _day_of_traffic(session)
    case = content_reports.prohibited_content_draft_report(session, first=day, last=day, actor=STAFF)
    session.commit()
    assert case.kind == "content_report" and case.source == "system" and case.due_date is None
    assert case.obligations == ["CSL-47", "O31-16"]
    d = content_reports.report_dict(case)
    assert d["period"] == {"from": day.isoformat(), "to": day.isoformat()}
    assert d["summary"]["messages"] == 3 and d["summary"]["content_providers"] == 1  # not the notice
    [cp] = d["providers"]
    assert cp["content_provider_id"] == reg.youpin_id and cp["code"] == "youpin" and cp["messages"] == 3
    cats = {c["category"]: c for c in cp["categories"]}
    assert "illegal_lending" in cats
    lending = cats["illegal_lending"]
    assert lending["count"] == 3 and lending["label"]["zh"] == "非法放贷"
    assert {"O31-16", "CSL-47"} <= set(lending["obligations"])
    assert [p["id"] for p in lending["ports"]] == [reg.business_port_id]
    assert lending["first"] == at.isoformat() and lending["last"] == (at + timedelta(minutes=2)).isoformat()
    digests = {x["sha256"]: x["count"] for x in lending["digests"]}
    # the digest is of the content as sent (the clear text of the one with a number, never stored clear)
    assert digests == {complaints.content_hash(LOAN): 2, complaints.content_hash(LOAN_PI): 1}
    assert lending["distinct_contents"] == 2
    assert cp["measures"]["stopped_at_gateway"] and not cp["measures"]["suspended_now"]
    zh, en = d["report"]["zh"], d["report"]["en"]
    assert "违法信息" in zh and "第四十七条" in zh and "CSL-47" in zh and "O31-16" in zh
    assert "非法放贷" in zh and "illegal_lending" in zh and complaints.content_hash(LOAN) in zh
    assert "共 3 条" in zh and case.ref in zh and day.isoformat() in zh
    assert "Art. 47" in en and "stopped 3 message(s)" in en and "illegal lending" in en
    # where the records are kept: the dated parameter, not a literal
    months = value("sms_records.retention_months", on=case.received_at)
    assert f"不少于 {months} 个月" in zh and "sms_records.retention_months" in zh
    for secret in SECRETS:
        assert secret not in zh and secret not in en
        assert secret not in _everything_written(session, case)
    # kept on the case's timeline and in the audit log
    assert [e.kind for e in service.events(session, case)] == ["opened", "report"]
    actions = [a.action for a in service.audit_trail(session, case)]
    assert actions == ["case.open", "case.report"]
    report_ev = service.events(session, case)[-1]
    assert report_ev.reasons[0]["code"] == "content_report_drafted"
    assert report_ev.reasons[0]["obligations"] == ["CSL-47", "O31-16"]


@pytest.mark.obligation("O31-16")
def test_the_report_says_what_the_gateway_decided_then_not_what_todays_rules_say(session: Session) -> None:
    """The record keeps the prohibited category of its decision; a report built later reads it
    instead of reviewing the text again (rules change; the record is the evidence). Rows written
    before the category was stored are still reviewed again."""
    _reg, day, _at = _day_of_traffic(session)
    recs = list(session.scalars(select(MessageRecord).where(MessageRecord.outcome == "refuse")))
    assert len(recs) == 3
    decided = {r["category"] for r in recs[0].reasons if r["code"] == "prohibited_content"}
    assert "illegal_lending" in decided
    for rec in recs:
        assert {r["category"] for r in rec.reasons if r["code"] == "prohibited_content"} == decided
    # as if the rules of the day had called the first one gambling only: the report follows the record
    first = recs[0]
    kept = [r for r in first.reasons if r["code"] != "prohibited_content"]
    gambling = next(r for r in first.reasons if r["code"] == "prohibited_content")
    first.reasons = [*kept, {**gambling, "category": "gambling"}]
    # and an older row, written before the category was stored: reviewed again
    older = recs[1]
    older.reasons = [{k: v for k, v in r.items() if k != "category"} for r in older.reasons]
    session.commit()
    case = content_reports.prohibited_content_draft_report(session, first=day, last=day, actor=STAFF)
    session.commit()
    [cp] = content_reports.report_dict(case)["providers"]
    cats = {c["category"]: c["count"] for c in cp["categories"]}
    assert cats == {"gambling": 1, **{c: 2 for c in decided}}
    labels = {c["category"]: c["label"] for c in cp["categories"]}
    assert labels["gambling"] == {"zh": "赌博", "en": "gambling"}


@pytest.mark.obligation("O31-28")
def test_drafting_again_adds_a_version_with_the_suspension_and_a_sent_report_gets_a_supplement(
    session: Session,
) -> None:
    _, day, _ = _day_of_traffic(session)
    first = content_reports.prohibited_content_draft_report(session, first=day, actor=STAFF)
    messaging.suspend_content_provider(
        session, "youpin", reason="CSL-47 prohibited content", obligations=("CSL-47",)
    )
    again = content_reports.prohibited_content_draft_report(session, first=day.isoformat(), actor=STAFF)
    assert again.id == first.id and again.detail["version"] == 2
    measures = content_reports.report_dict(again)["providers"][0]["measures"]
    assert measures["suspended_now"] and measures["suspended_obligations"] == ["CSL-47"]
    assert [s["action"] for s in measures["suspensions"]] == ["suspend"]
    assert "暂停发送状态" in again.detail["report"] and "（第 2 版）" in again.detail["report"]
    assert [e.kind for e in service.events(session, again)].count("report") == 2
    service.close(session, again, STAFF, note="已报送通信管理局")
    supplement = content_reports.prohibited_content_draft_report(session, first=day, actor=STAFF)
    assert supplement.id != first.id and supplement.detail["supplements"] == first.ref
    assert "补充报告" in supplement.detail["report"] and first.ref in supplement.detail["report"]
    assert content_reports.find(session, content_reports.period(day, day)) == supplement


def test_an_empty_period_gives_an_honest_nothing_stopped_report(session: Session) -> None:
    reg, day, _ = _day_of_traffic(session)
    quiet = day - timedelta(days=3)
    case = content_reports.prohibited_content_draft_report(session, first=quiet, last=quiet, actor=STAFF)
    d = content_reports.report_dict(case)
    assert d["summary"] == {"messages": 0, "content_providers": 0, "by_category": {}}
    assert d["providers"] == []
    assert "未拦截" in d["report"]["zh"] and "（0 条）" in d["report"]["zh"]
    assert "Nothing was stopped" in d["report"]["en"]
    assert service.events(session, case)[-1].reasons[0]["message"]["zh"].endswith("已起草报告如实说明。")
    assert reg.youpin_id


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2026-12-06", "2026-12-01", "to"),  # ends before it begins
        ("2026-13-01", None, "from"),  # no such date
        ("yesterday", None, "from"),
        ("2026-12-01T00:00:00+08:00", None, "from"),  # a time, not a China date
        (None, "2026-12-01", "from"),  # an end without a beginning
        ("2999-01-01", None, "from"),  # not begun
    ],
)
def test_a_bad_period_is_a_clear_bilingual_error_and_writes_nothing(
    session: Session, first: str | None, last: str | None, field: str
) -> None:
    with pytest.raises(PiguardError) as err:
        content_reports.prohibited_content_draft_report(session, first=first, last=last, actor=STAFF)
    e = err.value
    assert e.code == "invalid_report_period" and e.http_status == 422 and "CSL-47" in e.obligations
    assert e.message_en.startswith("Invalid report period") and e.message_zh.startswith("报告期间无效")
    assert e.fields[0].field == field
    assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_the_period_defaults_to_yesterday_in_china_and_ends_today_at_the_latest() -> None:
    # 16:30 UTC on 6 December is already 7 December in Shanghai
    now = datetime.fromisoformat("2026-12-06T16:30:00+00:00")
    p = content_reports.period(now=now)
    assert (p.first, p.last) == (date(2026, 12, 6), date(2026, 12, 6))
    assert (
        p.since.isoformat() == "2026-12-05T16:00:00+00:00"
        and p.until.isoformat() == "2026-12-06T16:00:00+00:00"
    )
    assert content_reports.period("2026-12-07", now=now).last == date(2026, 12, 7)
    with pytest.raises(PiguardError) as err:
        content_reports.period("2026-12-01", "2026-12-08", now=now)
    assert err.value.fields[0].field == "to" and "2026-12-07" in err.value.message_zh


def test_cli_drafts_the_report_as_text_and_json_and_refuses_a_bad_period(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    from piguard.cli import app

    _, day, _ = _day_of_traffic(session)
    runner = CliRunner()
    r = runner.invoke(app, ["cases", "prohibited-report", "--from", day.isoformat(), "--to", day.isoformat()])
    assert r.exit_code == 0, r.output
    assert "content_report" in r.output and "非法放贷" in r.output and "Summary" in r.output
    assert all(s not in r.output for s in SECRETS)
    r = runner.invoke(app, ["cases", "prohibited-report", "--from", day.isoformat(), "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (
        out["summary"]["messages"] == 3 and out["version"] == 2 and out["obligations"] == ["CSL-47", "O31-16"]
    )
    r = runner.invoke(app, ["cases", "prohibited-report", "--from", "2026-12-06", "--to", "2026-12-01"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "报告期间无效" in r.output and "Invalid report period" in r.output
    r = runner.invoke(app, ["cases", "prohibited-report", "--format", "pdf"])
    assert r.exit_code != 0 and "Traceback" not in r.output


@pytest.fixture()
def client(db_engine, session: Session) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    from piguard.app import create_app
    from piguard.identity import service as identity

    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for name, roles in (("otto", ["operator"]), ("audrey", ["auditor"])):
        identity.create_staff(session, username=name, password="correct horse battery", roles=roles)
    session.commit()
    yield TestClient(create_app())
    identity.use_password_hasher(previous)


def _login(client: TestClient, name: str) -> None:
    r = client.post("/api/auth/login", json={"username": name, "password": "correct horse battery"})
    assert r.status_code == 200, r.text


def test_api_drafts_and_lists_reports_with_auth_and_refuses_a_bad_period(
    client: TestClient, session: Session
) -> None:
    _, day, _ = _day_of_traffic(session)
    body = {"from": day.isoformat(), "to": day.isoformat()}
    assert client.post("/api/cases/prohibited-reports", json=body).status_code == 401
    assert client.get("/api/cases/prohibited-reports").status_code == 401
    _login(client, "audrey")  # auditor: reads, does not draft
    assert client.post("/api/cases/prohibited-reports", json=body).status_code == 403
    assert client.get("/api/cases/prohibited-reports").json() == {"reports": []}
    _login(client, "otto")
    r = client.post("/api/cases/prohibited-reports", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["summary"]["messages"] == 3 and out["case"]["kind"] == "content_report"
    assert all(s not in r.text for s in SECRETS)
    r = client.post("/api/cases/prohibited-reports", json={"from": "2026-12-06", "to": "2026-12-01"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_report_period"
    assert r.json()["error"]["fields"][0]["field"] == "to"
    assert client.post("/api/cases/prohibited-reports", json={**body, "extra": 1}).status_code == 422
    listed = client.get("/api/cases/prohibited-reports").json()["reports"]
    assert [x["case"]["ref"] for x in listed] == [out["case"]["ref"]]
    # the console's case page names the report's own articles (not O31-28, the complaint's report)
    page = client.get(f"/console/cases/{out['case']['id']}", params={"purpose": "complaint_handling"})
    assert page.status_code == 200 and 'id="case-report"' in page.text, page.text[:500]
    heading = page.text.split('id="case-report"')[0].rsplit("<h2>", 1)[1]
    assert "/console/rules/CSL-47" in heading and "O31-28" not in heading
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_the_worker_drafts_yesterdays_report_once_when_enabled(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, day, at = _day_of_traffic(session)
    now = at + timedelta(days=1)  # the next China day, at noon
    assert "content_report" not in jobs.run_once(session, now)  # off by default
    monkeypatch.setenv("PIGUARD_CASES_CONTENT_REPORT_DAILY", "true")
    reset_cases_settings()
    try:
        ref = jobs.run_once(session, now)["content_report"]
        assert ref is not None
        assert jobs.run_once(session, now + timedelta(hours=1))["content_report"] is None  # once a day
        case = service.get(session, ref)
        assert case.detail["period"] == {"from": day.isoformat(), "to": day.isoformat()}
        assert case.detail["summary"]["messages"] == 3
        ev = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "report")
        ).one()
        assert ev.actor == "system:worker.cases"
    finally:
        monkeypatch.delenv("PIGUARD_CASES_CONTENT_REPORT_DAILY")
        reset_cases_settings()


def test_the_migrated_schema_admits_a_content_report_case_and_the_downgrade_removes_them(
    backend: str, make_backend_engine
) -> None:  # type: ignore[no-untyped-def]
    from piguard.core import migrate

    engine = make_backend_engine(backend)
    migrate.upgrade(engine)
    with Session(engine) as s:
        case = content_reports.prohibited_content_draft_report(s, first="2026-01-05", actor=STAFF)
        s.commit()
        assert case.kind == "content_report"
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 2
    migrate.downgrade(engine, "08215f729091")  # the revision before: the kind goes with its cases
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    migrate.upgrade(engine)
