"""The self-inspection (O24-16): figures from the database, findings tracked to closure, HTML and
PDF in zh and en whose figures match the database, bad input."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pypdf
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piguard.audit import service as audit
from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.cases import service as cases
from piguard.cases.incident_models import Incident
from piguard.cases.models import COMPLAINT_KINDS, OPEN_STATUSES, Case
from piguard.consent.models import ConsentEvent, ConsentState, ConsentSubject
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError
from piguard.identity.models import Staff
from piguard.oversight import inspection, inspection_report
from piguard.oversight.inspection_models import InspectionFinding, InspectionRun
from piguard.oversight.models import AgentFirm

pytestmark = pytest.mark.obligation("O24-16")
ACTOR = Actor.system("test-inspector")


def _count(session: Session, stmt: object) -> int:
    return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def _figure(text: str, label: str, value: object) -> bool:
    return re.search(re.escape(label) + r"\s+" + re.escape(str(value)) + r"(\s|$)", text) is not None


@pytest.fixture()
def demo(session: Session) -> Session:
    from piguard.demo import load_demo

    load_demo(session)
    session.commit()
    return session


def test_a_year_in_the_future_or_before_order_24_is_refused_and_nothing_is_written(session: Session) -> None:
    this_year = calendar.to_local_date(utcnow()).year
    for bad in (this_year + 1, 2012, "20x6", True, 1.5):
        with pytest.raises(PiguardError) as e:
            inspection.inspect(session, year=bad, actor=ACTOR)
        assert e.value.fields and e.value.fields[0].field == "year", bad
        assert "Traceback" not in e.value.message_en
    session.rollback()
    assert _count(session, select(func.count()).select_from(InspectionRun)) == 0
    with pytest.raises(PiguardError) as e:
        inspection.period(this_year + 1)
    assert "future" in e.value.fields[0].message
    p = inspection.period(this_year)
    assert p.partial and p.start.isoformat() == f"{this_year}-01-01" and p.since < p.until <= utcnow()
    last = inspection.period(this_year - 1)
    assert not last.partial and last.end.isoformat() == f"{this_year - 1}-12-31"
    assert last.until == p.since  # the years meet without a gap


def test_an_empty_database_still_gets_a_report_that_says_no_data(session: Session) -> None:
    run = inspection.inspect(session, actor=ACTOR)
    session.commit()
    rep = inspection.report(session, run)
    assert rep["has_data"] is False
    assert rep["figures"]["complaints"]["total"]["received"] == 0
    assert len(rep["obligations"]) == rep["matrix_counts"]["total"] == 60
    html_en = inspection_report.inspection_html(rep, "en")
    assert 'id="no-data"' in html_en and "No data" in html_en
    assert "数据库中尚无可度量的数据" in inspection_report.inspection_html(rep, "zh")
    text = _pdf_text(inspection_report.inspection_pdf(rep, "en"))
    assert "No data" in text
    assert "数据库中尚无" in _pdf_text(inspection_report.inspection_pdf(rep, "zh"))
    with pytest.raises(PiguardError) as e:
        inspection_report.inspection_pdf(rep, "fr")
    assert e.value.fields[0].field == "lang"


def test_the_demo_figures_in_the_report_and_its_pdf_match_the_database(demo_in_midyear: Session) -> None:
    s = demo_in_midyear  # the year's figures hold all of the demo
    result = audit.verify(s)
    audit.record_verification(s, result, ACTOR)
    s.commit()
    now = utcnow()
    run = inspection.inspect(s, actor=ACTOR, now=now)
    s.commit()
    rep = inspection.report(s, run)
    p = inspection.period(None, now)
    f = rep["figures"]
    expected = {
        "subjects": _count(s, select(func.count()).select_from(ConsentSubject)),
        "granted": _count(
            s, select(func.count()).select_from(ConsentState).where(ConsentState.status == "granted")
        ),
        "withdrawals": _count(
            s,
            select(func.count())
            .select_from(ConsentEvent)
            .where(ConsentEvent.event == "withdraw", ConsentEvent.at >= p.since, ConsentEvent.at < p.until),
        ),
        "complaints": _count(
            s,
            select(func.count())
            .select_from(Case)
            .where(Case.kind.in_(COMPLAINT_KINDS), Case.received_at >= p.since, Case.received_at < p.until),
        ),
        "overdue": _count(
            s,
            select(func.count())
            .select_from(Case)
            .where(Case.status.in_(OPEN_STATUSES), Case.due_date < calendar.to_local_date(now)),
        ),
        "staff": _count(s, select(func.count()).select_from(Staff).where(Staff.active.is_(True))),
        "firms": _count(s, select(func.count()).select_from(AgentFirm)),
        "incidents": _count(s, select(func.count()).select_from(Incident)),
    }
    assert expected["subjects"] > 0 and expected["complaints"] > 0 and expected["incidents"] > 0
    assert f["consents"]["subjects"] == expected["subjects"]
    assert f["consents"]["states"]["granted"] == expected["granted"]
    assert f["consents"]["events"].get("withdraw", 0) == expected["withdrawals"]
    assert f["complaints"]["total"]["received"] == expected["complaints"]
    assert (
        sum(
            f["complaints"]["total"].get(k, 0)
            for k in ("on_time", "late", "open", "overdue", "no_clock", "rejected")
        )
        == expected["complaints"]
    )
    assert f["overdue"]["count"] == expected["overdue"]
    assert f["training"]["staff"] == expected["staff"]
    assert f["agents"]["firms"] == expected["firms"]
    assert f["incidents"]["total"] == expected["incidents"]
    assert f["audit"]["last_ok"] is True and f["audit"]["verified_in_period"] is True
    assert rep["has_data"] is True
    # the demo's serious incident is not reported yet, one complaint is overdue: both are findings
    keys = {x["key"] for x in rep["findings"]}
    assert "incidents:serious_not_reported" in keys
    assert ("cases:pi_complaint:overdue" in keys) or ("cases:sms_complaint:overdue" in keys)
    assert "audit:never_verified" not in keys and "audit:verify_failed" not in keys
    assert all(x["owner"] and x["due_date"] for x in rep["findings"])
    # obligation by obligation: the rows carry the figures that speak for them
    rows = {r["id"]: r for r in rep["obligations"]}
    assert "complaints" in rows["O24-12"]["measures"] and "audit" in rows["O24-13.6"]["measures"]
    assert rows["O24-16"]["status"] == "built"

    labels = dict(inspection_report.figure_groups(rep, "en")[0][1])
    for lang in ("en", "zh"):
        t = inspection_report.translator(lang)
        text = _pdf_text(inspection_report.inspection_pdf(rep, lang))
        assert _figure(text, t("f.consent_subjects"), expected["subjects"]), lang
        assert _figure(text, t("f.consent_granted"), expected["granted"]), lang
        assert _figure(text, t("f.consent_withdrawals"), expected["withdrawals"]), lang
        assert _figure(text, f"{t('g.complaints')} {t('f.received')}", expected["complaints"]), lang
        assert _figure(text, t("f.overdue_now"), expected["overdue"]), lang
        assert _figure(text, t("f.training_staff"), expected["staff"]), lang
        assert _figure(text, t("f.agents_firms"), expected["firms"]), lang
        assert _figure(text, t("f.incidents_total"), expected["incidents"]), lang
        for finding in rep["findings"]:
            assert finding["obligations"][0] in text
    assert labels  # the groups render in both languages
    html = inspection_report.inspection_html(rep, "zh")
    assert 'id="chart-complaints"' in html and 'id="chart-consents"' in html and 'id="chart-refusals"' in html
    assert "13800138000" not in html  # counts only, never a person's number


def test_rerunning_keeps_open_findings_instead_of_duplicating_them(demo: Session) -> None:
    first = inspection.inspect(demo, actor=ACTOR)
    demo.commit()
    n = len(first.report["findings_seen"])
    assert n > 0 and first.report["findings_opened"] == n
    second = inspection.inspect(demo, actor=ACTOR)
    demo.commit()
    assert (
        second.report["findings_kept"] >= n and second.report["findings_opened"] <= 1
    )  # audit:never_verified
    open_keys = [f.key for f in inspection.list_findings(demo, status="open")]
    assert len(open_keys) == len(set(open_keys))
    assert set(first.report["findings_seen"]) <= set(second.report["findings_seen"])
    kept = demo.get(InspectionFinding, first.report["findings_seen"][0])
    assert kept is not None and kept.first_run_id == first.id and kept.last_run_id == second.id


def test_closing_needs_evidence_closes_once_and_a_gap_that_persists_comes_back(demo: Session) -> None:
    run = inspection.inspect(demo, actor=ACTOR)
    demo.commit()
    fid = run.report["findings_seen"][0]
    with pytest.raises(PiguardError) as e:
        inspection.close_finding(demo, fid, evidence="   ", note="done", actor=ACTOR)
    assert e.value.code == "finding_evidence_required" and "O24-16" in e.value.obligations
    demo.rollback()
    assert demo.get(InspectionFinding, fid).status == "open"  # type: ignore[union-attr]
    for unknown in ("999999", "abc", "²", -1):
        with pytest.raises(PiguardError) as e:
            inspection.close_finding(demo, unknown, evidence="x", actor=ACTOR)
        assert e.value.code == "finding_unknown" and e.value.http_status == 404
    done = inspection.close_finding(demo, fid, evidence="整改记录 ZG-2026-01", note="已整改", actor=ACTOR)
    demo.commit()
    assert done.status == "closed" and done.closed_by and done.close_evidence == "整改记录 ZG-2026-01"
    with pytest.raises(PiguardError) as e:
        inspection.close_finding(demo, fid, evidence="again", actor=ACTOR)
    assert e.value.code == "finding_closed" and e.value.http_status == 409
    with pytest.raises(PiguardError) as e:
        inspection.update_finding(demo, fid, owner="alice", actor=ACTOR)
    assert e.value.code == "finding_closed"
    demo.rollback()
    closed = demo.get(InspectionFinding, fid)
    assert closed is not None and closed.close_evidence == "整改记录 ZG-2026-01"
    actions = [
        a
        for (a,) in demo.execute(select(AuditEntry.action).where(AuditEntry.subject_ref == f"finding:{fid}"))
    ]
    assert actions == ["oversight.finding.closed"]
    # the gap behind it is still there: the next run raises it again, pointing at the closed one
    again = inspection.inspect(demo, actor=ACTOR)
    demo.commit()
    recurring = [f for f in inspection.list_findings(demo, status="open") if f.key == closed.key]
    assert (
        len(recurring) == 1
        and recurring[0].recurs == fid
        and recurring[0].id in again.report["findings_seen"]
    )


def test_owner_and_due_date_can_be_changed_and_bad_values_change_nothing(demo: Session) -> None:
    run = inspection.inspect(demo, actor=ACTOR)
    demo.commit()
    fid = run.report["findings_seen"][0]
    f = inspection.update_finding(demo, fid, owner="olga", due_date="2027-03-31", severity="low", actor=ACTOR)
    demo.commit()
    assert (f.owner, f.due_date.isoformat(), f.severity) == ("olga", "2027-03-31", "low")
    for kwargs, field in (
        ({"due_date": "31/03/2027"}, "due_date"),
        ({"severity": "urgent"}, "severity"),
        ({"owner": "   "}, "owner"),
        ({}, "body"),
    ):
        with pytest.raises(PiguardError) as e:
            inspection.update_finding(demo, fid, actor=ACTOR, **kwargs)  # type: ignore[arg-type]
        assert e.value.fields[0].field == field, kwargs
        demo.rollback()
    again = demo.get(InspectionFinding, fid)
    assert again is not None and (again.owner, again.severity) == ("olga", "low")


@pytest.mark.obligation("O24-12")
def test_a_complaint_answered_late_and_one_overdue_become_findings_under_their_article(
    session: Session,
) -> None:
    # a fixed day of last year, so the 40 days lie inside the period whatever today is
    now = datetime(calendar.to_local_date(utcnow()).year - 1, 6, 15, 4, tzinfo=UTC)
    received = now - timedelta(days=40)
    late = cases.open_case(
        session, kind="pi_complaint", received=received, text="投诉", actor=ACTOR, now=received
    )
    cases.reply(session, late, "已处理", ACTOR, now=now)
    cases.open_case(session, kind="pi_complaint", received=received, text="投诉二", actor=ACTOR, now=received)
    cases.open_case(
        session, kind="pi_complaint", received=now - timedelta(days=2), text="三", actor=ACTOR, now=now
    )
    session.commit()
    run = inspection.inspect(session, actor=ACTOR, now=now)
    session.commit()
    rep = inspection.report(session, run)
    findings = {f["key"]: f for f in rep["findings"]}
    totals = rep["figures"]["complaints"]["total"]
    assert (totals["received"], totals["late"], totals["overdue"], totals["open"]) == (3, 1, 1, 1)
    assert findings["cases:pi_complaint:late"]["obligations"] == ["O24-12"]
    assert findings["cases:pi_complaint:overdue"]["detail"]["overdue"] == 1
    month = received.strftime("%Y-%m")
    assert any(m["month"] == month and m.get("late") == 1 for m in rep["figures"]["complaints"]["by_month"])
    assert rep["figures"]["overdue"]["count"] == 1
    assert rep["figures"]["overdue"]["cases"][0]["kind"] == "pi_complaint"


@pytest.mark.obligation("O24-15")
def test_a_finding_whose_gap_is_gone_stays_open_until_closed_with_evidence(session: Session) -> None:
    from piguard.identity import service as identity
    from piguard.oversight import training

    identity.create_staff(session, username="wang", password="a long enough password 1", roles=["operator"])
    first = inspection.inspect(session, actor=ACTOR)
    session.commit()
    gap = next(f for f in inspection.list_findings(session, run=first) if f.key == "training:no_courses")
    assert gap.obligations == ["O24-15"]
    training.add_course(session, code="pi-basics", title_zh="基础", title_en="Basics", actor=ACTOR)
    training.record_completion(session, username="wang", course="pi-basics", actor=ACTOR)
    second = inspection.inspect(session, actor=ACTOR)
    session.commit()
    rep = inspection.report(session, second)
    listed = {f["id"]: f for f in rep["findings"]}
    assert gap.id not in second.report["findings_seen"]
    assert listed[gap.id]["seen"] is False and listed[gap.id]["status"] == "open"
    assert "not found by this run" in inspection_report.inspection_html(rep, "en")
    assert rep["figures"]["training"]["coverage"] == 1.0
    inspection.close_finding(session, gap.id, evidence="课程 pi-basics 已登记并完成", actor=ACTOR)
    session.commit()
    assert gap.id not in {f["id"] for f in inspection.report(session, second)["findings"]}


def test_the_worker_inspects_last_year_once_it_has_ended(db_engine: object, session: Session) -> None:
    from piguard.worker import _inspect_yearly

    this_year = calendar.to_local_date(utcnow()).year
    assert inspection.yearly_due(session) == this_year - 1
    partial = inspection.inspect(
        session, year=this_year - 1, actor=ACTOR, now=datetime(this_year - 1, 6, 1, tzinfo=UTC)
    )
    session.commit()
    assert partial.period_end.isoformat() == f"{this_year - 1}-06-01"
    assert inspection.yearly_due(session) == this_year - 1  # a mid-year run does not cover the year
    failed: list[str] = []
    run_id = _inspect_yearly(failed)
    assert failed == [] and run_id is not None
    session.expire_all()
    run = session.get(InspectionRun, run_id)
    assert (
        run is not None
        and run.year == this_year - 1
        and run.period_end.isoformat() == f"{this_year - 1}-12-31"
    )
    assert run.generated_by == "system:worker.inspection"
    assert _inspect_yearly(failed) is None and inspection.yearly_due(session) is None  # once


@pytest.mark.obligation("O24-13.5", "O24-13.1")
def test_access_reviews_and_responsibilities_are_measured_and_their_gaps_become_findings(
    demo: Session,
) -> None:
    from piguard.oversight import access_reviews, responsibilities
    from piguard.oversight.reviews_models import ReviewCampaign, ReviewItem

    now = utcnow()
    run = inspection.inspect(demo, actor=ACTOR, now=now)
    demo.commit()
    rep = inspection.report(demo, run)
    ar = rep["figures"]["access_reviews"]
    assert ar["measured"] is True
    assert ar["campaigns"] == _count(demo, select(func.count()).select_from(ReviewCampaign))
    assert ar["items"] == _count(demo, select(func.count()).select_from(ReviewItem))
    assert ar["by_status"].get("pending", 0) == _count(
        demo, select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "pending")
    )
    gaps = responsibilities.gaps(demo)
    assert rep["figures"]["responsibilities"]["gaps"] == len(gaps) > 0  # the demo leaves some
    keys = {f.key for f in inspection.list_findings(demo, status="open")}
    assert "responsibilities:gaps" in keys
    # past every campaign's due date the demo's waiting items are unreviewed access: a finding
    later = now + timedelta(days=400)
    assert access_reviews.statistics(demo, now - timedelta(days=1), later, now=later)["overdue"] == ar[
        "by_status"
    ].get("pending", 0)
    inspection.inspect(demo, actor=ACTOR, now=later)
    demo.commit()
    keys = {f.key for f in inspection.list_findings(demo, status="open")}
    assert {"access_reviews:unreviewed", "access_reviews:due"} <= keys
    for lang, label in (("en", "Access reviews"), ("zh", "访问权限复核")):
        text = _pdf_text(inspection_report.inspection_pdf(rep, lang))
        assert label in text
