"""Import and export in one transaction, the interface the consent domain reads, published rules
with their material changes and diff (O24-5, O24-8, O24-9.2, O24-12)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.core.config import reset_settings
from piguard.core.errors import PiguardError
from piguard.inventory import rules, service
from piguard.inventory.demo import load_demo_inventory, without_purpose
from piguard.inventory.document import parse
from piguard.inventory.models import InvField
from piguard.regulations.parameters import value

from .conftest import dump, field

ACTOR = Actor("staff", "1")


@pytest.mark.obligation("O24-8")
def test_export_reads_back_unchanged(session: Session, demo_yaml: str) -> None:
    service.import_yaml(session, demo_yaml, "demo.yaml", ACTOR)
    first = service.export(session)
    service.import_yaml(session, service.export_yaml(session), "again.yaml", ACTOR)
    assert service.export(session) == first
    assert first["systems"][0]["location"] == "in_china"
    assert field(first, "crm", "customers", "mobile")["purposes"] == ["service_provision", "marketing"]


@pytest.mark.obligation("O24-5")
def test_import_never_half_applies(session: Session, demo_yaml: str, demo_data) -> None:  # type: ignore[no-untyped-def]
    service.import_yaml(session, demo_yaml, "demo.yaml", ACTOR)
    session.commit()
    before = service.export(session)
    # Valid systems first, a bad field in the last one: nothing of it may land.
    demo_data["systems"][0]["name"] = "renamed"
    demo_data["systems"][-1]["tables"][0]["fields"][-1]["categories"] = ["nonsense"]
    with pytest.raises(PiguardError):
        service.import_yaml(session, dump(demo_data), "bad.yaml", ACTOR)
    assert service.export(session) == before
    # And a failure inside the database rolls the whole replacement back with the caller's transaction.
    doc = parse(demo_yaml)
    service.apply(session, doc, ACTOR)
    session.add(InvField(table_id=10**6, column="x"))  # no such table: the flush fails
    with pytest.raises(Exception):  # noqa: B017 - the database's integrity error, whatever the driver
        session.flush()
    session.rollback()
    assert service.export(session) == before


@pytest.mark.obligation("O24-5")
def test_purposes_interface(session: Session, demo_yaml: str) -> None:
    assert service.purposes(session) == [] and service.get_purpose(session, "marketing") is None
    service.import_yaml(session, demo_yaml, "demo.yaml", ACTOR)
    marketing = service.get_purpose(session, "marketing")
    assert marketing is not None and marketing.required is False and marketing.optional_only
    assert marketing.categories == {"phone_mobile", "email"}
    assert marketing.third_parties == {"sms_vendor"}
    billing = service.get_purpose(session, "billing")
    assert billing is not None and billing.required and billing.third_parties == {"payment"}
    assert service.get_purpose(session, "advertising") is None


@pytest.mark.obligation("O24-8", "O24-9.2", "O24-12", "CSL-41.1")
def test_published_rules_carry_every_disclosure(session: Session, demo_yaml: str) -> None:
    service.import_yaml(session, demo_yaml, "demo.yaml", ACTOR)
    v = rules.publish(session, ACTOR, effective=date(2026, 3, 1))
    assert v.number == 1 and service.current_rules_version(session) is v
    zh, en = v.text_zh, v.text_en
    days = value("complaint.reply_days", on=date(2026, 3, 1))
    for needle in (
        "示例网络科技有限公司",
        "privacy@example.cn",
        "营销推广",
        "手机号码",
        "拒绝后您不会收到商业性信息",
        "注销账号",
        "示例短信服务有限公司",
        "中华人民共和国境内",
        "AES-256-GCM",
        "审计日志",
        "培训",
        "泄露",
        f"{days} 日内答复",
        "2026-03-01",
    ):
        assert needle in zh, needle
    for needle in (
        "Marketing",
        "If you refuse",
        "cancel",
        "sending marketing messages",
        f"within {days} days",
    ):
        assert needle in en, needle
    session.commit()
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "inventory.rules.publish")).all()
    assert len(audit) == 1


@pytest.mark.obligation("O24-12")
def test_complaint_period_comes_from_the_dated_parameter(
    session: Session, demo_yaml: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    service.import_yaml(session, demo_yaml, "demo.yaml", ACTOR)
    monkeypatch.setattr(
        rules, "value", lambda name, on=None: 9 if name == "complaint.reply_days" else value(name, on)
    )
    v = rules.publish(session, ACTOR, effective=date(2026, 3, 1))
    assert "9 日内答复" in v.text_zh and "within 9 days" in v.text_en


@pytest.mark.obligation("O24-8")
def test_material_changes_need_renewal(session: Session, demo_data) -> None:  # type: ignore[no-untyped-def]
    service.apply(session, parse(dump(without_purpose(demo_data, "marketing"))), ACTOR)
    v1 = rules.publish(session, ACTOR, effective=date(2026, 1, 1))
    assert set(v1.material_purposes) == {p["id"] for p in demo_data["purposes"]} - {"marketing"}
    # Same inventory again: nothing to publish.
    with pytest.raises(PiguardError) as exc:
        rules.publish(session, ACTOR, effective=date(2026, 1, 2))
    assert exc.value.code == "rules_unchanged"
    # A wording change only (necessity) is not material.
    changed = without_purpose(demo_data, "marketing")
    field(changed, "crm", "customers", "name")["necessity"] = "开通服务"
    service.apply(session, parse(dump(changed)), ACTOR)
    v2 = rules.publish(session, ACTOR, effective=date(2026, 2, 1))
    assert v2.material_purposes == []
    # New purpose (marketing) with a new third party; billing gains a category.
    field(demo_data, "billing", "invoices", "msisdn")["categories"] = ["phone_mobile", "name"]
    service.apply(session, parse(dump(demo_data)), ACTOR)
    v3 = rules.publish(session, ACTOR, effective=date(2026, 3, 1))
    assert v3.material_purposes == ["billing", "marketing"]
    assert {"kind": "new_category", "value": "name"} in v3.changes["billing"]
    assert service.material_changes_since(session, 1) == {"billing", "marketing"}
    assert service.material_changes_since(session, 2) == {"billing", "marketing"}
    assert service.material_changes_since(session, 3) == set()
    # A new third party for an existing purpose is material too.
    demo_data["third_parties"].append(
        {"id": "crm_vendor", "name": "外包客服公司", "purposes": ["complaint_handling"]}
    )
    field(demo_data, "crm", "complaints", "contact_phone")["third_parties"] = ["crm_vendor"]
    service.apply(session, parse(dump(demo_data)), ACTOR)
    v4 = rules.publish(session, ACTOR, effective=date(2026, 4, 1))
    assert v4.changes == {"complaint_handling": [{"kind": "new_third_party", "value": "crm_vendor"}]}
    assert service.material_changes_since(session, 3) == {"complaint_handling"}


@pytest.mark.obligation("O24-8")
def test_diff_between_versions(session: Session) -> None:
    load_demo_inventory(session)
    html = rules.diff_html(session, 1, 2, "zh")
    assert "营销推广" in html and "diff_add" in html
    lines = rules.diff_lines(session, 1, 2, "en")
    assert any(line.startswith("+### 6. Marketing") for line in lines)
    with pytest.raises(PiguardError) as exc:
        rules.diff_html(session, 1, 99, "zh")
    assert exc.value.code == "not_found"
    with pytest.raises(PiguardError):
        rules.diff_html(session, 1, 2, "fr")


@pytest.mark.obligation("O24-8")
def test_effective_date_cannot_go_back(session: Session, demo_data) -> None:  # type: ignore[no-untyped-def]
    service.apply(session, parse(dump(demo_data)), ACTOR)
    rules.publish(session, ACTOR, effective=date(2026, 5, 1))
    del field(demo_data, "crm", "customers", "name")["necessity"]
    service.apply(session, parse(dump(demo_data)), ACTOR)
    with pytest.raises(PiguardError) as exc:
        rules.publish(session, ACTOR, effective=date(2026, 4, 1))
    assert exc.value.fields[0].field == "effective_date"


@pytest.mark.obligation("O24-8")
def test_publish_without_inventory_is_refused(session: Session) -> None:
    with pytest.raises(PiguardError) as exc:
        rules.publish(session, ACTOR)
    assert "O24-8" in exc.value.message_en


@pytest.mark.obligation("O24-8")
def test_operator_overrides_the_templates(
    session: Session, demo_yaml: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "privacy.en.md.j2").write_text(
        "# Our own rules for {{ operator.name }}\n\nComplaints answered within {{ complaint_reply_days }} days.\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PIGUARD_RULES_TEMPLATES_DIR", str(tmp_path))
    reset_settings()
    service.import_yaml(session, demo_yaml, "demo.yaml", ACTOR)
    v = rules.publish(session, ACTOR)
    assert v.text_en.startswith("# Our own rules for 示例网络科技有限公司")
    assert "个人信息收集使用规则" in v.text_zh  # the packaged Chinese template still applies
    (tmp_path / "privacy.en.md.j2").write_text("{{ no_such_variable }}", encoding="utf-8")
    field_changed = service.export(session)
    field_changed["operator"]["phone"] = "010-1"
    service.apply(session, parse(dump(field_changed)), ACTOR)
    with pytest.raises(PiguardError) as exc:
        rules.publish(session, ACTOR)
    assert exc.value.code == "rules_template_error"


def test_markdown_is_escaped() -> None:
    html = rules.markdown_html("# <b>x</b>\n\n- a & b\n- **c**\n\npara\nline")
    assert "<h1>&lt;b&gt;x&lt;/b&gt;</h1>" in html
    assert "<li>a &amp; b</li>" in html and "<strong>c</strong>" in html
    assert "<p>para line</p>" in html


def test_demo_loader_is_idempotent(session: Session) -> None:
    load_demo_inventory(session)
    load_demo_inventory(session)
    assert [v.number for v in rules.versions(session)] == [2, 1]
    assert session.scalar(select(func.count()).select_from(InvField)) > 0


@pytest.mark.obligation("O24-13.6")
def test_audit_entries_hold_no_contact_details(session: Session, demo_yaml: str, capsys) -> None:  # type: ignore[no-untyped-def]
    service.import_yaml(session, demo_yaml, "demo.yaml", ACTOR)
    rules.publish(session, ACTOR)
    session.commit()
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action.like("inventory.%"))).all()
    assert {e.action for e in entries} == {"inventory.import", "inventory.rules.publish"}
    for e in entries:
        text = str(e.detail)
        assert "privacy@example.cn" not in text and "400-810-0000" not in text
    captured = capsys.readouterr()
    assert "privacy@example.cn" not in captured.out + captured.err
