"""The case console over HTTP: the queues by due date with clocks and flags, the case page with its
timeline, reasons and audit trail, the forms, roles and bad input."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from piguard.app import create_app
from piguard.audit.service import Actor
from piguard.cases import service
from piguard.cases.models import Case
from piguard.core import calendar, db
from piguard.demo import DEMO_STAFF, DEMO_USERNAME, load_demo

PASSWORDS = {u: p for u, p, _roles, _name in DEMO_STAFF}
pytestmark = pytest.mark.obligation("O24-12", "O31-27")


@pytest.fixture()
def client(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        load_demo(session)
    return TestClient(create_app(), follow_redirects=False)


def _login(client: TestClient, username: str) -> None:
    r = client.post(
        "/login", data={"username": username, "password": PASSWORDS[username], "next": "/console"}
    )
    assert r.status_code == 303, r.text


def test_queue_is_ordered_by_due_date_with_flags_and_tabs(client: TestClient) -> None:
    # one case whose period runs past the packaged holiday data: flagged estimated in the queue
    covered = calendar.get_calendar().covered_until
    assert covered is not None
    received = datetime.combine(covered - timedelta(days=2), time(10), tzinfo=calendar.SHANGHAI)
    with db.unit_of_work() as session:
        est = service.open_case(
            session, kind="sms_complaint", received=received, actor=Actor("staff", "t"), text="估算",
            now=received + timedelta(hours=1),
        )  # fmt: skip
        est_id = est.id
    _login(client, "auditor")  # cases.read
    r = client.get("/console/cases")
    assert r.status_code == 200
    dues = re.findall(r'data-due="([0-9-]*)"', r.text)
    # most urgent first; cases without a period (incidents) last
    dated = [d for d in dues if d]
    assert dated and dues == sorted(dated) + [""] * (len(dues) - len(dated))
    assert 'data-overdue="true"' in r.text  # the demo's old complaint
    assert re.search(rf'data-id="{est_id}"[^>]*data-estimated="true"', r.text)
    assert "13800138001" not in r.text  # subjects masked
    kinds = set(re.findall(r'data-kind="([a-z_]+)"', r.text))
    assert {"pi_complaint", "sms_complaint", "sms_report_transfer"} <= kinds
    r = client.get("/console/cases", params={"tab": "requests"})  # the demo's requests, linked to their steps
    kinds = set(re.findall(r'data-kind="([a-z_]+)"', r.text))
    assert r.status_code == 200 and kinds == {"access", "correction", "deletion", "cancellation"}, kinds
    assert re.search(r'href="/console/rights/\d+" class="case-link"', r.text)
    assert client.get("/console/cases", params={"tab": "nonsense"}).status_code == 200
    # an auditor sees no forms and cannot post them
    with db.unit_of_work() as session:
        cid = session.scalar(select(Case.id).where(Case.kind == "sms_report_transfer"))
    page = client.get(f"/console/cases/{cid}")  # no purpose picked: the picker, no data
    assert page.status_code == 200 and "case-report" not in page.text and "complaint_handling" in page.text
    page = client.get(f"/console/cases/{cid}", params={"purpose": "complaint_handling"})
    assert page.status_code == 200 and "form-reply" not in page.text
    assert (
        "case-report" in page.text and "O31-28" in page.text and "complained_prohibited_content" in page.text
    )
    assert "case.open" in page.text  # the audit trail
    assert client.post(f"/console/cases/{cid}/note", data={"text": "x"}).status_code == 403
    assert client.get("/console/cases/999999").status_code == 404


def test_staff_assign_note_reply_close_from_the_page(client: TestClient) -> None:
    _login(client, DEMO_USERNAME)
    with db.unit_of_work() as session:
        cid = session.scalar(select(Case.id).where(Case.kind == "pi_complaint").order_by(Case.id))
    h = {"HX-Request": "true"}
    r = client.post(f"/console/cases/{cid}/assign", data={"owner": "王五"}, headers=h)
    assert r.status_code == 303  # shown again only for a purpose: none picked yet, back to the page
    assert client.get(f"/console/cases/{cid}", params={"purpose": "complaint_handling"}).status_code == 200
    r = client.post(f"/console/cases/{cid}/assign", data={"owner": "李四"}, headers=h)
    assert r.status_code == 200 and 'id="case-main"' in r.text and "李四" in r.text
    r = client.post(f"/console/cases/{cid}/note", data={"text": "a\x07b"}, headers=h)
    assert r.status_code == 200 and 'role="alert"' in r.text and "含有控制字符" in r.text
    r = client.post(f"/console/cases/{cid}/reply", data={"text": "已核查，系第三方泄露，已处理。"})
    assert r.status_code == 303
    r = client.post(f"/console/cases/{cid}/close", data={"note": ""}, headers=h)
    assert 'id="case-status">closed' in r.text
    r = client.post(f"/console/cases/{cid}/reply", data={"text": "again"})
    assert r.status_code == 409 and "不能再次答复" in r.text
