"""The third-party sharing register (CSL-42.1): service, CLI, API, and the published rules that
list the same recipients."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.audit.service import Actor
from piguard.cli import app as root_cli
from piguard.core import db
from piguard.identity import service as identity
from piguard.inventory import rules
from piguard.inventory import service as inventory
from piguard.inventory.demo import demo_text
from piguard.inventory.document import validate

from .conftest import field

pytestmark = pytest.mark.obligation("CSL-42.1")
STAFF = Actor("staff", "alice")
PASSWORD = "sharing-test-pass-2026"
runner = CliRunner()


def with_overseas(data: dict[str, Any]) -> dict[str, Any]:
    """The demo inventory plus a recipient abroad (login IPs for security) and one receiving nothing."""
    data["third_parties"] += [
        {
            "id": "overseas_soc",
            "name": "Example Security Ltd",
            "contact": "soc@example.com",
            "location": "outside_china",
            "purpose": {"zh": "安全监测", "en": "security monitoring"},
            "purposes": ["security"],
        },
        {"id": "idle", "name": "闲置合作方", "location": "in_china"},
    ]
    field(data, "billing", "invoices", "login_ip")["third_parties"] = ["overseas_soc"]
    return data


def _load(session: Session, data: dict[str, Any]) -> None:
    inventory.apply(session, validate(with_overseas(data)), STAFF, source="test")


def test_register_lists_each_recipient_with_what_it_receives(session: Session, demo_data) -> None:  # type: ignore[no-untyped-def]
    _load(session, demo_data)
    register = {r.id: r for r in inventory.sharing_register(session)}
    assert list(register) == ["sms_vendor", "payment", "overseas_soc", "idle"]
    sms = register["sms_vendor"]
    assert sms.categories == ("email", "phone_mobile") and sms.purposes == ("marketing",)
    assert sms.contact == "dpo@sms.example.cn" and not sms.cross_border
    # the mobile number serves service_provision too, but only its marketing use goes to the vendor
    assert [(f.system, f.table, f.column, f.purposes) for f in sms.fields] == [
        ("crm", "customers", "mobile", ("marketing",)),
        ("crm", "customers", "email", ("marketing",)),
    ]
    assert sms.categories_for("marketing") == {"email", "phone_mobile"}
    assert sms.categories_for("service_provision") == frozenset()
    soc = register["overseas_soc"]
    assert soc.cross_border and soc.location == "outside_china"
    assert soc.by_purpose() == {"security": ["ip_address"]}
    assert register["idle"].fields == () and register["idle"].categories == ()
    d = soc.to_dict()
    assert d["cross_border"] is True and d["obligations"] == ["CSL-42.1"]
    assert d["purpose"] == {"zh": "安全监测", "en": "security monitoring"}
    assert inventory.sharing_recipient(session, "payment") == register["payment"]
    assert inventory.sharing_recipient(session, "nobody") is None


def test_the_register_follows_a_change_in_the_same_transaction(session: Session, demo_data) -> None:  # type: ignore[no-untyped-def]
    _load(session, demo_data)
    assert [r.id for r in inventory.sharing_register(session)][-1] == "idle"
    changed = with_overseas(yaml.safe_load(demo_text()))
    changed["third_parties"] = [q for q in changed["third_parties"] if q["id"] != "idle"]
    inventory.apply(session, validate(changed), STAFF, source="test")  # not committed yet
    assert "idle" not in [r.id for r in inventory.sharing_register(session)]
    # a savepoint rolled back takes its change with it
    with session.begin_nested() as sp:
        inventory.apply(session, validate(yaml.safe_load(demo_text())), STAFF, source="test")
        assert "overseas_soc" not in [r.id for r in inventory.sharing_register(session)]
        sp.rollback()
    assert "overseas_soc" in [r.id for r in inventory.sharing_register(session)]


def test_the_published_register_is_what_the_rules_in_force_say(session: Session, demo_data) -> None:  # type: ignore[no-untyped-def]
    inventory.apply(session, validate(yaml.safe_load(demo_text())), STAFF, source="test")
    assert inventory.published_sharing_register(session) is None  # nothing published yet
    rules.publish(session, STAFF, effective=date(2026, 1, 1))
    got = inventory.published_sharing_register(session)  # same transaction: the new version
    assert got is not None and got[0] == 1 and [r.id for r in got[1]] == ["sms_vendor", "payment"]
    _load(session, demo_data)  # the recipient abroad, declared but not published
    assert "overseas_soc" in [r.id for r in inventory.sharing_register(session)]
    got = inventory.published_sharing_register(session)
    assert got is not None and got[0] == 1 and "overseas_soc" not in [r.id for r in got[1]]
    rules.publish(session, STAFF, effective=date(2026, 2, 1))
    got = inventory.published_sharing_register(session)
    assert got is not None and got[0] == 2
    assert {r.id: r.by_purpose() for r in got[1]}["overseas_soc"] == {"security": ["ip_address"]}


def test_no_inventory_means_an_empty_register(session: Session) -> None:
    assert inventory.sharing_register(session) == []


def test_published_rules_list_the_registers_recipients(session: Session, demo_data) -> None:  # type: ignore[no-untyped-def]
    _load(session, demo_data)
    v = rules.publish(session, STAFF, effective=date(2026, 3, 1))
    en, zh = rules.text_of(v, "en"), rules.text_of(v, "zh")
    assert (
        "- Example Security Ltd (outside the People's Republic of China): for security monitoring; "
        "information provided: IP address; contact: soc@example.com."
    ) in en.splitlines()
    assert (
        "- Example Security Ltd（中华人民共和国境外）：用于安全监测，提供的信息为IP地址，联系方式：soc@example.com。"
        in zh.splitlines()
    )
    assert (
        "- 示例短信服务有限公司（中华人民共和国境内）：用于发送营销短信，提供的信息为电子邮箱、手机号码，联系方式：dpo@sms.example.cn。"
        in zh
    )
    # a declared party that receives nothing is listed as such (it used to read "用于，提供的信息为无")
    assert "- 闲置合作方（中华人民共和国境内）：目前未向其提供个人信息。" in zh.splitlines()
    assert (
        "- 闲置合作方 (within the People's Republic of China): no personal information is provided to it at present."
        in en.splitlines()
    )


def test_cli_sharing_table_and_json(db_engine, demo_data) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(root_cli, ["inventory", "sharing"])
    assert r.exit_code == 2 and "inventory" in r.output and "Traceback" not in r.output
    with db.unit_of_work() as session:
        _load(session, demo_data)
    r = runner.invoke(root_cli, ["inventory", "sharing", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [e["id"] for e in data] == ["sms_vendor", "payment", "overseas_soc", "idle"]
    assert data[2]["cross_border"] and data[2]["by_purpose"] == {"security": ["ip_address"]}
    r = runner.invoke(root_cli, ["inventory", "sharing"])
    assert r.exit_code == 0
    assert "overseas_soc" in r.stdout and "OUTSIDE CHINA" in r.stdout and "境外" in r.stdout
    assert "billing.invoices.login_ip (security)" in r.stdout
    assert "receives no field" in r.stdout
    r = runner.invoke(root_cli, ["inventory", "sharing", "--format", "xml"])
    assert r.exit_code == 2 and "format" in r.output


def test_api_sharing_needs_inventory_read(db_engine, demo_data) -> None:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        identity.ensure_staff(session, "desk", PASSWORD, ["operator"], "desk")
        _load(session, demo_data)
    client = TestClient(create_app(), follow_redirects=False)
    assert client.get("/api/inventory/sharing").status_code == 401
    r = client.post("/login", data={"username": "desk", "password": PASSWORD, "next": "/console"})
    assert r.status_code == 303
    r = client.get("/api/inventory/sharing")
    assert r.status_code == 200, r.text
    by_id = {e["id"]: e for e in r.json()}
    assert by_id["payment"]["categories"] == ["bank_card", "phone_mobile"]
    assert by_id["overseas_soc"]["cross_border"] is True
