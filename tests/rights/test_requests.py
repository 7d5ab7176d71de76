from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, func, select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.cases import service as cases
from piguard.consent import service as consent
from piguard.consent import subjects
from piguard.core.errors import PiguardError
from piguard.messaging.models import MessageRecord
from piguard.regulations.parameters import value
from piguard.rights import demo, service
from piguard.rights.models import RightsStep

STAFF = Actor("staff", "7")
PHONES = ["13800138000", "13800138001"]


def _setup(session: Session, target: dict[str, object]) -> None:
    demo.make_customer_db(str(target["url"]), PHONES, schema=target["schema"])  # type: ignore[arg-type]
    demo.add_system(session, demo.system_doc(str(target["url"]), schema=target["schema"]))  # type: ignore[arg-type]
    session.commit()


def _rows(target: dict[str, object], table: str, col: str, value: str) -> int:
    eng = create_engine(str(target["url"]))
    t = Table(table, MetaData(schema=target["schema"]), autoload_with=eng)  # type: ignore[arg-type]
    with eng.connect() as c:
        n = c.execute(select(func.count()).select_from(t).where(t.c[col] == value)).scalar_one()
    eng.dispose()
    return int(n)


def _audit_count(session: Session, action: str) -> int:

    return int(
        session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0
    )


@pytest.mark.obligation("O24-9.2", "CSL-43", "O24-13.2")
def test_access_exports_every_row(session: Session, target: dict[str, object]) -> None:
    _setup(session, target)
    req = service.open_request(session, kind="access", subject=f"phone:{PHONES[0]}", actor=STAFF)
    session.commit()
    opened = service.open_dict(session, req)
    assert opened["kind"] == "access" and opened["due"] and "O24-9.2" in opened["obligations"]
    service.run_pending(session, request_id=req.id)
    shown = service.show(session, req.id)
    assert shown["status"] == "answered"
    by_table = {(s["system"], s["table"]): s for s in shown["steps"]}
    assert by_table[("shop", "members")]["rows"] == 1
    assert by_table[("shop", "orders")]["rows"] == 2
    path = service.export_path(session, req.id)
    assert path is not None
    doc = json.loads(path.read_text("utf-8"))
    tables = {p["table"]: p["rows"] for p in doc["systems"]}
    assert {r["phone"] for r in tables["members"]} == {PHONES[0]}
    assert len(tables["orders"]) == 2
    assert PHONES[1] not in path.read_text("utf-8")
    assert (path.parent / "export.html").is_file()
    # each step audited once
    assert _audit_count(session, "rights.step") == len(shown["steps"])


@pytest.mark.obligation("O24-9.2")
def test_unknown_person_finds_nothing(session: Session, target: dict[str, object]) -> None:
    _setup(session, target)
    req = service.open_request(session, kind="access", subject="phone:13911112222", actor=STAFF)
    session.commit()
    service.run_pending(session)
    shown = service.show(session, req.id)
    assert shown["status"] == "answered"
    assert "no personal information" in shown["reply"]


@pytest.mark.obligation("CSL-43", "NPC-8")
def test_deletion_deletes_or_deidentifies_and_opts_out(session: Session, target: dict[str, object]) -> None:
    _setup(session, target)
    ev = consent.EvidenceIn(channel="app", text_shown="营销", terminal="t1")
    subject = f"phone:{PHONES[0]}"
    consent.grant(session, subject, "marketing", ev, actor=STAFF) if _has_purpose(
        session, "marketing"
    ) else None
    req = service.open_request(session, kind="deletion", subject=subject, actor=STAFF)
    session.commit()
    service.run_pending(session)
    assert _rows(target, "members", "phone", PHONES[0]) == 0
    assert _rows(target, "orders", "buyer_phone", PHONES[0]) == 0
    # orders are de-identified (kept, personal fields cleared): the other person's rows untouched
    assert _rows(target, "orders", "buyer_phone", PHONES[1]) == 2
    assert _rows(target, "members", "phone", PHONES[1]) == 1
    assert not any(e.active for e in consent.list_for_subject(session, subject).entries)
    assert service.show(session, req.id)["status"] == "answered"


def _has_purpose(session: Session, pid: str) -> bool:
    return pid in consent.purposes(session)


def _sent_to(session: Session, s: subjects.Subject, at: datetime) -> None:
    """One message record sent to ``s`` at ``at``."""
    session.add(
        MessageRecord(
            ref="r1",
            at=at,
            direction="out",
            channel="sms",
            sender="106",
            recipient_hash=s.hash,
            recipient_masked=s.masked,
            recipient_enc="x",
            content="",
            outcome="allow",
            status="sent",
        )
    )
    session.flush()


@pytest.mark.obligation("O24-9.4", "O31-11")
def test_cancellation_keeps_message_records_and_ends_consents(
    session: Session, target: dict[str, object]
) -> None:
    from piguard.core.db import utcnow

    _setup(session, target)
    subject = f"phone:{PHONES[0]}"
    s = subjects.parse(subject)
    _sent_to(session, s, utcnow())
    req = service.open_request(session, kind="cancellation", subject=subject, actor=STAFF)
    session.commit()
    service.run_pending(session)
    shown = service.show(session, req.id)
    assert shown["status"] == "answered"
    assert _rows(target, "members", "phone", PHONES[0]) == 0
    assert (
        session.scalar(
            select(func.count()).select_from(MessageRecord).where(MessageRecord.recipient_hash == s.hash)
        )
        == 1
    )
    kept = shown["result"]["kept"]
    assert kept and kept[0]["obligations"] == ["O31-11"] and kept[0]["until"]
    assert "O31-11" in shown["reply"]
    ledger = consent.list_for_subject(session, subject)
    assert ledger.cancelled_at is not None
    assert not any(e.active for e in ledger.entries)


@pytest.mark.obligation("O31-11")
def test_records_kept_until_is_the_day_in_china_not_the_utc_date(
    session: Session, target: dict[str, object]
) -> None:
    """Regression: a record sent at 20:00 UTC on 31 Dec is sent on 1 Jan in China; kept 5 months,
    it is kept until 1 Jun (the UTC date of that instant is still 31 May)."""
    _setup(session, target)
    subject = f"phone:{PHONES[0]}"
    s = subjects.parse(subject)
    _sent_to(session, s, datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    req = service.open_request(session, kind="cancellation", subject=subject, actor=STAFF)
    session.commit()
    service.run_pending(session)
    [kept] = service.show(session, req.id)["result"]["kept"]
    months = value("sms_records.retention_months", on=datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    assert int(months) == 5  # the figure the expected date below is worked out for
    assert kept["until"] == "2027-06-01"


@pytest.mark.obligation("O24-9.2", "CSL-43")
def test_correction_updates_mapped_field(session: Session, target: dict[str, object]) -> None:
    _setup(session, target)
    req = service.open_request(
        session,
        kind="correction",
        subject=f"phone:{PHONES[0]}",
        actor=STAFF,
        changes='{"nickname": "新名字"}',
    )
    session.commit()
    service.run_pending(session)
    assert _rows(target, "members", "nickname", "新名字") == 1
    assert service.show(session, req.id)["status"] == "answered"


@pytest.mark.obligation("O24-9.2")
def test_bad_input_is_refused(session: Session, target: dict[str, object]) -> None:
    _setup(session, target)
    for kwargs, code in [
        ({"kind": "nope", "subject": "phone:13800138000"}, "validation_error"),
        ({"kind": "correction", "subject": "phone:13800138000", "changes": "{bad"}, "validation_error"),
        (
            {"kind": "correction", "subject": "phone:13800138000", "changes": '{"salary": 1}'},
            "validation_error",
        ),
        ({"kind": "access", "subject": "nonsense"}, "validation_error"),
    ]:
        with pytest.raises(PiguardError) as err:
            service.open_request(session, actor=STAFF, **kwargs)  # type: ignore[arg-type]
        assert err.value.code == code
        assert err.value.message_zh and err.value.message_en
    other = subjects.parse("phone:13800138001")
    with pytest.raises(PiguardError) as err:
        service.open_request(
            session, kind="access", subject="phone:13800138000", actor=Actor("end_user", other.hash)
        )
    assert err.value.code == "rights_other_subject" and "O24-10" in err.value.obligations
    session.commit()
    assert _audit_count(session, "rights.refused") == 1


@pytest.mark.obligation("O24-9.2")
def test_missing_column_changes_nothing(session: Session, target: dict[str, object]) -> None:
    doc = demo.system_doc(str(target["url"]), schema=target["schema"])  # type: ignore[arg-type]
    doc["tables"][0]["fields"].append(
        {"column": "no_such_col", "categories": ["name"], "purposes": ["service_provision"]}
    )
    demo.make_customer_db(str(target["url"]), PHONES, schema=target["schema"])  # type: ignore[arg-type]
    demo.add_system(session, doc)
    req = service.open_request(session, kind="deletion", subject=f"phone:{PHONES[0]}", actor=STAFF)
    session.commit()
    service.run_pending(session)
    shown = service.show(session, req.id)
    failed = [s for s in shown["steps"] if s["status"] == "failed"]
    assert failed and "no_such_col" in failed[0]["last_error"]
    assert _rows(target, "members", "phone", PHONES[0]) == 1
    assert shown["status"] != "answered"


@pytest.mark.obligation("O24-9.2")
def test_database_down_waits_and_retries(session: Session, tmp_path: Path, target: dict[str, object]) -> None:
    from datetime import timedelta

    from piguard.core.db import utcnow

    _setup(session, target)
    down = f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}"
    demo.add_system(session, demo.system_doc(down))
    req = service.open_request(session, kind="deletion", subject=f"phone:{PHONES[0]}", actor=STAFF)
    session.commit()
    service.run_pending(session)
    shown = service.show(session, req.id)
    assert shown["status"] == "waiting"
    waiting = [s for s in shown["steps"] if s["status"] == "waiting"]
    assert waiting and waiting[0]["attempts"] == 1 and waiting[0]["next_attempt_at"]
    case = cases.get(session, req.case_id)
    assert any("unavailable" in e.summary for e in cases.events(session, case))
    assert shown["due"] == service.open_dict(session, req)["due"]
    # the database comes back: the next round after the backoff finishes the request
    demo.add_system(session, demo.system_doc(str(target["url"]), schema=target["schema"]))  # type: ignore[arg-type]
    session.commit()
    service.run_pending(session, now=utcnow() + timedelta(hours=2))
    assert service.show(session, req.id)["status"] == "answered"


@pytest.mark.obligation("O24-9.2")
def test_manual_task(session: Session, target: dict[str, object]) -> None:
    doc = demo.system_doc(str(target["url"]))
    doc["connector"] = {"kind": "manual", "owner": "电商部"}
    demo.add_system(session, doc)
    req = service.open_request(session, kind="deletion", subject=f"phone:{PHONES[0]}", actor=STAFF)
    session.commit()
    service.run_pending(session)
    shown = service.show(session, req.id)
    task = next(s for s in shown["steps"] if s["action"] == "manual")
    assert task["status"] == "manual" and task["owner"] == "电商部" and task["deadline"] == shown["due"]
    assert shown["status"] != "answered"
    service.complete_task(session, task["id"], actor=STAFF, rows=3)
    session.commit()
    with pytest.raises(PiguardError):
        service.complete_task(session, task["id"], actor=STAFF)
    service.run_pending(session)
    assert service.show(session, req.id)["status"] == "answered"
    assert session.get(RightsStep, task["id"]).completed_by == "staff:7"  # type: ignore[union-attr]
