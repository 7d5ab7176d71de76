"""Incidents: detail, scan of what leaked, remedial actions, severity by dated parameters, the report,
notices through the gateway, and the authority's suspension enforced by a real gateway submit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.cases import incidents
from piguard.cases.incident_models import IncidentNotice, IncidentPerson, IncidentScan
from piguard.cases.models import CaseEvent
from piguard.consent import engine as consent_engine
from piguard.consent import service as consent
from piguard.core.errors import PiguardError
from piguard.messaging import service as messaging
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.models import MessageRecord
from piguard.regulations.parameters import value

from .incident_setup import AD_PORT, LEAK_TEXT, LEAKED, LEAKED_2, NOTICE_PORT, STAFF, setup_world

FOUND = "2026-12-01T10:00:00+08:00"


@pytest.fixture()
def world(session: Session) -> Session:
    setup_world(session)
    return session


def _open(s: Session, **kw: object) -> incidents.Case:  # type: ignore[name-defined]
    args: dict[str, object] = {"kind": "leak", "discovered": FOUND, "actor": STAFF, "systems": ["crm"]}
    args.update(kw)
    case = incidents.open_incident(s, **args)  # type: ignore[arg-type]
    s.commit()
    return case


@pytest.mark.obligation("O24-14.1", "CSL-42.2", "NPC-4", "O24-13.2")
def test_an_incident_is_a_case_with_systems_and_categories_from_the_inventory(world: Session) -> None:
    case = _open(world, occurred="2026-11-30T22:00:00+08:00", title="CRM 导出外泄")
    c, inc = incidents.get(world, case.id)
    assert c.kind == "incident" and c.status == "open"
    assert inc.systems == ["crm"]
    # no categories given: those the inventory declares for the crm system
    assert {"name", "id_card", "phone_mobile"} <= set(inc.categories)
    d = incidents.to_dict(world, c, inc)
    assert d["incident_kind"] == "leak" and d["severity"]["severity"] == "not_serious"
    assert [e["kind"] for e in d["timeline"]][:1] == ["opened"]
    assert set(d["obligations"]) >= {"O24-14.1", "CSL-42.2"}


@pytest.mark.obligation("O24-14.1")
def test_bad_input_is_refused_naming_what_was_wrong(world: Session) -> None:
    with pytest.raises(PiguardError) as e:
        incidents.open_incident(world, kind="leak", discovered=FOUND, actor=STAFF, systems=["nowhere"])
    assert (
        e.value.code == "validation_error"
        and "nowhere" in e.value.message_en
        and "未知系统" in e.value.message_zh
    )
    assert "crm" in e.value.fields[0].message  # lists the known systems
    with pytest.raises(PiguardError) as e:
        incidents.open_incident(world, kind="leak", discovered=FOUND, actor=STAFF, categories=["shoe_size"])
    assert "shoe_size" in e.value.message_en and e.value.fields[0].field == "categories"
    with pytest.raises(PiguardError) as e:
        incidents.open_incident(world, kind="breach", discovered=FOUND, actor=STAFF)
    assert e.value.fields[0].field == "kind"
    with pytest.raises(PiguardError) as e:
        incidents.open_incident(
            world, kind="leak", discovered=FOUND, occurred="2026-12-02T10:00:00+08:00", actor=STAFF
        )
    assert e.value.fields[0].field == "occurred"
    with pytest.raises(PiguardError):
        incidents.open_incident(world, kind="leak", discovered=FOUND, people=-3, actor=STAFF)
    world.rollback()
    assert incidents.queue(world) == []  # nothing was written


@pytest.mark.obligation("O24-14.1", "CSL-42.2", "O24-10")
def test_a_scan_of_what_leaked_keeps_counts_never_the_values(world: Session, tmp_path: Path) -> None:
    case = _open(world, categories=["name"])
    leaked = tmp_path / "export.csv"
    leaked.write_text(LEAK_TEXT, encoding="utf-8")
    row = incidents.scan(world, case, path=leaked, actor=STAFF)
    world.commit()
    assert row.counts["phone_mobile"] == 2 and row.counts["id_card"] >= 1
    assert row.source_name == "export.csv" and len(row.sha256) == 64
    _, inc = incidents.get(world, case.id)
    assert {"phone_mobile", "id_card"} <= set(inc.categories)  # the scan's categories join the incident's
    # the values found are nowhere in the incident's rows, its timeline or the audit log
    dumped = json.dumps(
        [[r.counts, r.errors, r.source_name] for r in world.scalars(select(IncidentScan))]
        + [[e.summary, e.detail, e.reasons] for e in world.scalars(select(CaseEvent))]
        + [[a.detail, a.subject_ref] for a in world.scalars(select(AuditEntry))],
        ensure_ascii=False,
    )
    for value_found in (LEAKED, LEAKED_2, "110101199003074514", "张三"):
        assert value_found not in dumped
    text_scan = incidents.scan(world, case, text="联系电话 13800138099", actor=STAFF)
    assert text_scan.counts == {"phone_mobile": 1} and text_scan.source_kind == "text"


@pytest.mark.obligation("O24-14.1")
def test_an_unreadable_file_is_a_clear_error(world: Session, tmp_path: Path) -> None:
    case = _open(world)
    with pytest.raises(PiguardError) as e:
        incidents.scan(world, case, path=tmp_path / "missing.csv", actor=STAFF)
    assert e.value.code == "incident_scan_unreadable" and "missing.csv" in e.value.message_en
    assert "无法扫描" in e.value.message_zh and e.value.obligations == ("O24-14.1",)
    binary = tmp_path / "dump.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(PiguardError) as e:
        incidents.scan(world, case, path=binary, actor=STAFF)
    assert e.value.code == "incident_scan_unreadable" and "binary" in e.value.message_en
    with pytest.raises(PiguardError) as e:
        incidents.scan(world, case, path=tmp_path, actor=STAFF)
    assert "not a file" in e.value.message_en
    with pytest.raises(PiguardError):
        incidents.scan(world, case, text="   ", actor=STAFF)
    assert incidents.scans(world, case) == []


@pytest.mark.obligation("O24-14.1", "CSL-42.2", "NPC-4", "CRL-29")
def test_remedial_actions_with_owner_done_and_containment_on_the_timeline(world: Session) -> None:
    case = _open(world)
    a = incidents.add_action(world, case, title="撤销导出权限", owner="安全部", due="2026-12-03", actor=STAFF)
    b = incidents.add_action(world, case, title="通知外包商", owner="合规部", actor=STAFF)
    incidents.complete_action(world, case, a.id, contains=True, actor=STAFF)
    world.commit()
    c, inc = incidents.get(world, case.id)
    d = incidents.to_dict(world, c, inc)
    assert [(x["id"], x["done"]) for x in d["actions"]] == [(a.id, True), (b.id, False)]
    assert d["actions"][0]["due"] == "2026-12-03" and d["contained_at"] is not None
    assert c.status == "in_progress"
    steps = [e for e in d["timeline"] if e["kind"] == "step"]
    assert len(steps) == 3 and all("NPC-4" in e["obligations"] for e in steps)
    with pytest.raises(PiguardError) as e:
        incidents.complete_action(world, case, a.id, actor=STAFF)
    assert e.value.code == "incident_action_done"
    with pytest.raises(PiguardError) as e:
        incidents.add_action(world, case, title="x", owner="", actor=STAFF)
    assert e.value.fields[0].field == "owner"
    with pytest.raises(PiguardError) as e:
        incidents.complete_action(world, case, 99999, actor=STAFF)
    assert e.value.code == "not_found"


@pytest.mark.obligation("O24-14.1")
def test_severity_comes_from_the_dated_parameters(world: Session) -> None:
    t_all = value("incident.serious_people_affected", on=datetime(2026, 12, 1, tzinfo=UTC))
    t_sens = value("incident.serious_people_affected_sensitive", on=datetime(2026, 12, 1, tzinfo=UTC))
    assert t_sens < t_all
    plain = _open(world, categories=["name", "phone_mobile"], people=t_all - 1)
    assert incidents.get(world, plain.id)[1].severity == "not_serious"
    sev = incidents.assess(world, plain, people=t_all, actor=STAFF)
    assert sev.serious and sev.obligations == ("O24-14.1", "CSL-42.2")
    assert any(r.code == "serious_people" and r.detail["threshold"] == t_all for r in sev.reasons)
    sensitive = _open(world, categories=["id_card"], people=t_sens - 1)
    assert not incidents.severity_of(world, sensitive, incidents.get(world, sensitive.id)[1]).serious
    assert incidents.assess(world, sensitive, people=t_sens, actor=STAFF).serious
    # the operator may judge it serious below the thresholds, with a reason; never without one
    small = _open(world, categories=["name"], people=2)
    with pytest.raises(PiguardError) as e:
        incidents.assess(world, small, raise_serious=True, actor=STAFF)
    assert e.value.fields[0].field == "note"
    raised = incidents.assess(world, small, raise_serious=True, note="涉及高管通讯录", actor=STAFF)
    assert raised.serious and any(r.code == "serious_judged" for r in raised.reasons)
    world.commit()
    events = [e for e in incidents.cases.events(world, small) if e.kind == "note"]
    assert events and "report without delay" in events[-1].summary


@pytest.mark.obligation("O24-14.1", "CSL-42.2")
def test_the_report_to_the_authority_in_zh_and_en_flags_a_serious_incident(
    world: Session, tmp_path: Path
) -> None:
    case = _open(world, people=5000, authority="北京市通信管理局", title="CRM 导出外泄")
    incidents.add_action(
        world, case, title="撤销导出权限", owner="安全部", done=True, contains=True, actor=STAFF
    )
    out = incidents.generate_report(world, case, actor=STAFF)
    world.commit()
    assert out["serious"] and out["report_without_delay"] and out["obligations"] == ["O24-14.1", "CSL-42.2"]
    zh, en = out["zh"], out["en"]
    assert "须立即报告" in zh and "O24-14.1" in zh and "北京市通信管理局" in zh
    assert "REPORT WITHOUT DELAY" in en and "Resident ID number" in en
    for needle in ("撤销导出权限", "5000", "2026-12-01 10:00", "身份证号"):
        assert needle in zh
    assert "privacy@example.cn" in zh  # who to contact: the inventory's operator contact by default
    _, inc = incidents.get(world, case.id)
    assert inc.report_zh == zh and inc.report_en == en and inc.report_generated_at is not None
    assert any(e.kind == "report" for e in incidents.cases.events(world, case))
    # the operator's own template replaces the packaged one
    (tmp_path / "incident_report.zh.md.j2").write_text(
        "报告 {{ ref }} 人数 {{ people }}{% if serious %} 立即报告{% endif %}\n", encoding="utf-8"
    )
    custom = incidents.generate_report(world, case, template_dir=tmp_path, actor=STAFF)
    assert custom["zh"].strip() == f"报告 {case.ref} 人数 5000 立即报告"
    assert "REPORT WITHOUT DELAY" in custom["en"]  # the English one is still the packaged template
    (tmp_path / "incident_report.zh.md.j2").write_text("{{ no_such_thing }}", encoding="utf-8")
    with pytest.raises(PiguardError) as e:
        incidents.generate_report(world, case, template_dir=tmp_path, actor=STAFF)
    assert e.value.code == "incident_report_template_error"


@pytest.mark.obligation("CSL-42.2", "O24-14.1", "CRL-29")
def test_notices_go_through_the_gateway_as_service_notices_and_failures_show(world: Session) -> None:
    case = _open(world, categories=["phone_mobile", "name"])
    # no one here consented to commercial messages: a service notice does not need it
    batch = incidents.notify(world, case, [LEAKED, f"phone:{LEAKED_2}"], sender=NOTICE_PORT, actor=STAFF)
    world.commit()
    assert (batch.sent, batch.failed) == (2, 0)
    out = batch.to_dict()
    assert all("*" in n["to"] and n["to"] not in (LEAKED, LEAKED_2) for n in out["notices"])
    refs = [n["message_ref"] for n in out["notices"]]
    rows = world.scalars(select(MessageRecord).where(MessageRecord.ref.in_(refs))).all()
    assert len(rows) == 2 and {r.kind for r in rows} == {"notification"}  # recorded and queued as notices
    # the people are kept as keyed hash and masked only
    stored = json.dumps([[p.subject_hash, p.subject_masked] for p in world.scalars(select(IncidentPerson))])
    assert LEAKED not in stored and LEAKED_2 not in stored
    # asked again, those already notified are skipped; a bad sender is a visible failure
    again = incidents.notify(world, case, [LEAKED], sender=NOTICE_PORT, actor=STAFF)
    assert again.skipped == 1 and again.notices == []
    bad = incidents.notify(world, case, [LEAKED], sender="10699999", again=True, actor=STAFF)
    world.commit()
    assert bad.failed == 1 and bad.notices[0].outcome == "refuse"
    assert any(r["code"] == "sender_unregistered" for r in bad.notices[0].reasons)
    c, inc = incidents.get(world, case.id)
    d = incidents.to_dict(world, c, inc)
    assert d["notices"] == {"total": 3, "sent": 2, "failed": 1}
    assert any(n["failed"] for n in d["notice_list"])
    assert [e["detail"]["failed"] for e in d["timeline"] if e["kind"] == "notice"] == [0, 0, 1]


@pytest.mark.obligation("CSL-42.2")
def test_notices_to_zero_people_are_refused(world: Session) -> None:
    case = _open(world)
    with pytest.raises(PiguardError) as e:
        incidents.notify(world, case, [], sender=NOTICE_PORT, actor=STAFF)
    assert e.value.fields[0].field == "recipients" and "CSL-42.2" in e.value.obligations
    assert "没有告知对象" in e.value.message_zh + e.value.fields[0].message
    with pytest.raises(PiguardError) as e:
        incidents.notify(world, case, ["  ", ""], sender=NOTICE_PORT, actor=STAFF)
    assert e.value.fields[0].field == "recipients"
    with pytest.raises(PiguardError) as e:
        incidents.notify(world, case, ["not-a-number"], sender=NOTICE_PORT, actor=STAFF)
    assert "not-a-number" not in e.value.message_en  # the value is never echoed
    assert world.scalars(select(IncidentNotice)).first() is None


def _ad() -> GatewayRequest:
    return GatewayRequest(
        channel="sms",
        sender=AD_PORT,
        recipient="13800138000",  # consented in the demo data
        text="【优品商城】会员专享：全场春装5折起，满299减50，限时3天，详询4008123456 回T退订",
        message_type="promotions",
    )


@pytest.mark.obligation("O24-14.2")
def test_the_authoritys_suspension_is_enforced_by_the_gateway_and_lifted(world: Session) -> None:
    assert messaging.submit(world, [_ad()], now=datetime.now(UTC))[0].outcome in ("allow", "hold")
    case = _open(world)
    order = incidents.suspend(
        world,
        case,
        order_ref="京通管〔2026〕12号",
        authority="北京市通信管理局",
        content_providers=["youpin"],
        purposes=["marketing"],
        actor=STAFF,
    )
    world.commit()
    consent_engine.reset_caches()
    refused = messaging.submit(world, [_ad()])[0]
    assert refused.outcome == "refuse"
    why = next(r for r in refused.reasons if r.code == "content_provider_suspended")
    assert "O24-14.2" in why.obligations and "京通管〔2026〕12号" in str(why.detail)
    # the consent ledger refuses processing for the purpose too
    d = consent.may(world, STAFF, "phone:13800138000", ["phone_mobile"], "marketing")
    assert not d.allowed and "O24-14.2" in d.obligations
    # a notice through the suspended content provider's port fails, visibly
    n = incidents.notify(world, case, [LEAKED], sender=NOTICE_PORT, actor=STAFF)
    assert n.failed == 1
    lifted = incidents.lift(world, case, order.id, lift_ref="京通管〔2026〕13号", actor=STAFF)
    world.commit()
    consent_engine.reset_caches()
    assert lifted.status == "lifted" and lifted.lifted_at is not None
    assert messaging.submit(world, [_ad()])[0].outcome in ("allow", "hold")
    assert consent.may(world, STAFF, "phone:13800138000", ["phone_mobile"], "marketing").obligations != (
        "O24-14.2",
    )
    kinds = [e.kind for e in incidents.cases.events(world, case)]
    assert kinds.count("stop") == 2
    with pytest.raises(PiguardError) as e:
        incidents.lift(world, case, order.id, lift_ref="again", actor=STAFF)
    assert e.value.code == "incident_order_lifted"


@pytest.mark.obligation("O24-14.2", "O31-28")
def test_lifting_restores_a_suspension_that_was_there_before(world: Session) -> None:
    messaging.suspend_content_provider(
        world, "youpin", reason="complaint: prohibited content", obligations=("O31-28",)
    )
    case = _open(world)
    order = incidents.suspend(
        world, case, order_ref="京通管〔2026〕14号", content_providers=["youpin"], actor=STAFF
    )
    cp = messaging.get_content_provider(world, "youpin")
    assert set(cp.suspended_obligations) == {"O31-28", "O24-14.2"}
    incidents.lift(world, case, order.id, lift_ref="京通管〔2026〕15号", actor=STAFF)
    world.commit()
    cp = messaging.get_content_provider(world, "youpin")
    assert cp.suspended and cp.suspended_obligations == ["O31-28"]
    assert "kept_after_lift" in incidents.orders(world, case)[0].effect


@pytest.mark.obligation("O24-14.2")
def test_a_suspension_without_an_order_reference_or_scope_is_refused(world: Session) -> None:
    case = _open(world)
    with pytest.raises(PiguardError) as e:
        incidents.suspend(world, case, order_ref="", content_providers=["youpin"], actor=STAFF)
    assert e.value.code == "incident_order_ref_missing" and e.value.obligations == ("O24-14.2",)
    assert "文号" in e.value.message_zh
    with pytest.raises(PiguardError) as e:
        incidents.suspend(world, case, order_ref="X-1", actor=STAFF)
    assert e.value.fields[0].field == "scope"
    with pytest.raises(PiguardError) as e:
        incidents.suspend(world, case, order_ref="X-1", content_providers=["nobody"], actor=STAFF)
    assert e.value.code == "not_found"
    with pytest.raises(PiguardError) as e:
        incidents.suspend(world, case, order_ref="X-1", purposes=["resale"], actor=STAFF)
    assert "resale" in e.value.message_en
    world.rollback()
    assert not messaging.get_content_provider(world, "youpin").suspended
    assert incidents.orders(world, case) == []


def test_an_unknown_incident_or_another_kind_of_case_is_not_found(world: Session) -> None:
    with pytest.raises(PiguardError) as e:
        incidents.get(world, 424242)
    assert e.value.code == "not_found" and e.value.http_status == 404
    other = incidents.cases.open_case(world, kind="pi_complaint", received=FOUND, text="投诉", actor=STAFF)
    with pytest.raises(PiguardError):
        incidents.get(world, other.id)


def test_demo_has_one_open_incident(session: Session) -> None:
    from piguard.demo import load_demo

    load_demo(session)
    session.commit()
    load_demo(session)  # idempotent
    session.commit()
    rows = incidents.queue(session)
    assert len(rows) == 1
    d = incidents.to_dict(session, *rows[0])
    assert d["severity"]["serious"] and d["report"]["zh"] and d["notices"]["sent"] == 3
    assert session.execute(text("select count(*) from incident_actions")).scalar_one() == 2


@pytest.mark.obligation("O24-14.1")
def test_the_templates_folder_setting_replaces_the_packaged_report(
    world: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "incident_report.en.md.j2").write_text(
        "Report {{ ref }}: {{ people }} people\n", encoding="utf-8"
    )
    monkeypatch.setenv("PIGUARD_INCIDENT_TEMPLATES_DIR", str(tmp_path))
    case = _open(world, people=7)
    out = incidents.generate_report(world, case, actor=STAFF)
    assert out["en"].strip() == f"Report {case.ref}: 7 people" and "个人信息安全事件报告" in out["zh"]
    monkeypatch.setenv("PIGUARD_INCIDENT_TEMPLATES_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(PiguardError) as e:
        incidents.generate_report(world, case, actor=STAFF)
    assert e.value.fields[0].field == "template_dir"


@pytest.mark.obligation("O24-14.1")
def test_an_uploaded_file_name_stays_a_name(world: Session, tmp_path: Path) -> None:
    case = _open(world)
    row = incidents.scan(world, case, data=LEAK_TEXT.encode("utf-8"), name="../../etc/leak.csv", actor=STAFF)
    assert row.source_name == "leak.csv" and row.counts["phone_mobile"] == 2
    row = incidents.scan(world, case, data=b"phone 13800138099", name="..", actor=STAFF)
    assert row.source_name == "upload"
    with pytest.raises(PiguardError) as e:
        incidents.scan(world, case, data=b"", name="empty.csv", actor=STAFF)
    assert e.value.code == "incident_scan_unreadable"
