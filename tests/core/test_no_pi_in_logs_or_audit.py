"""No personal information in logs or in audit details, across every domain (issue 9, O24-10,
CSL-40, O24-13.6).

One representative workflow per domain runs through the real API and services with every logger at
DEBUG (SQL included): the demo data set (inventory, consent, SMS, cases, incidents, rights,
bulk, agents, training, reviews), then consent granted and withdrawn, a complaint whose text holds a
phone number, an ID number and an e-mail, a rights request carried out, an incident scanned, an
SMS submitted and opted out of, a portal login code, a self-inspection and an audit verification.
Every log line and every audit entry's detail is scanned with the discovery engine: zero findings
of the person's identifiers.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.audit.models import AuditEntry
from piguard.core.logging import configure_logging
from piguard.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo
from piguard.discovery.engine import detect
from piguard.identity import service as identity

pytestmark = pytest.mark.obligation("O24-10", "CSL-40", "NPC-3", "O24-13.6")

PHONE = "13912345678"
ID_NUMBER = "110101199003074514"
EMAIL = "zhang.wei@example.cn"
#: what the scan looks for: the identifiers a person is found by
CATEGORIES = ("phone_mobile", "id_card", "email", "bank_card")
EVIDENCE = {"channel": "api", "text_shown": "是否同意？ Do you agree?"}


@pytest.fixture(autouse=True)
def _fast_hasher() -> Iterator[None]:
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    identity.use_password_hasher(previous)


def _debug_everywhere(stream: io.StringIO) -> None:
    configure_logging("DEBUG", stream=stream)
    for name in ("sqlalchemy.engine", "uvicorn", "httpx", "piguard"):
        logging.getLogger(name).setLevel(logging.DEBUG)


def _findings(text: str) -> list[str]:
    return sorted({f.category for f in detect(text, CATEGORIES)})


def test_every_domain_logs_and_audits_no_personal_information(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    _debug_everywhere(stream)
    load_demo(session)
    session.commit()
    client = TestClient(create_app())
    _debug_everywhere(stream)  # create_app configures logging again
    statuses: dict[str, int] = {}

    def call(name: str, method: str, path: str, **kw: object) -> dict[str, object]:
        r = client.request(method, path, **kw)  # type: ignore[arg-type]
        statuses[name] = r.status_code
        assert r.status_code < 500, (name, r.status_code, r.text[:300])
        try:
            body = r.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    login = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    call("login", "POST", "/api/auth/login", json=login)
    subject = f"phone:{PHONE}"
    call("consent.grant", "POST", "/api/consent/grant",
         json={"subject": subject, "purpose": "marketing", "evidence": EVIDENCE})  # fmt: skip
    call("consent.read", "POST", "/api/consent/subject", json={"subject": subject},
         params={"purpose": "complaint_handling"})  # fmt: skip
    call("consent.withdraw", "POST", "/api/consent/withdraw",
         json={"subject": subject, "target": "marketing", "evidence": EVIDENCE})  # fmt: skip
    text = f"我的手机 {PHONE}、身份证 {ID_NUMBER}、邮箱 {EMAIL} 被泄露，请核查。"
    case = call("cases.open", "POST", "/api/cases",
                json={"kind": "pi_complaint", "received": "2026-11-30T10:00:00+08:00", "text": text,
                      "subject": subject, "source": "phone"})  # fmt: skip
    ref = str(case.get("ref"))
    call("cases.read", "GET", f"/api/cases/{ref}", params={"purpose": "complaint_handling"})
    call("cases.note", "POST", f"/api/cases/{ref}/note", json={"text": f"回电 {PHONE}，核对 {ID_NUMBER}"})
    call("cases.reply", "POST", f"/api/cases/{ref}/reply", json={"text": f"已处理，如有疑问请致电 {PHONE}"})
    req = call("rights.open", "POST", "/api/rights", json={"kind": "access", "subject": subject})
    call("rights.run", "POST", "/api/rights/run")
    call("rights.read", "GET", f"/api/rights/{req.get('id')}", params={"purpose": "complaint_handling"})
    inc = call("incidents.open", "POST", "/api/incidents",
               json={"kind": "leak", "discovered": "2026-12-01T09:00:00+08:00", "categories": ["phone_mobile"],
                     "text": f"导出文件含 {PHONE} {ID_NUMBER}", "title": "导出文件外泄"})  # fmt: skip
    ikey = str(inc.get("ref") or inc.get("id"))
    call("incidents.scan", "POST", f"/api/incidents/{ikey}/scan",
         json={"text": f"{PHONE},{ID_NUMBER},{EMAIL}\n13800138000,110101199003078515,a@b.cn", "name": "leak.csv"})  # fmt: skip
    call("sms.submit", "POST", "/api/sms/submit",
         json={"sender": "106900010107", "recipient": PHONE, "text": f"【优品商城】您的身份证{ID_NUMBER}已登记"})  # fmt: skip
    call(
        "sms.inbound",
        "POST",
        "/api/sms/inbound",
        json={"sender": PHONE, "to": "106900010107", "text": "退订"},
    )
    call("sms.records", "GET", "/api/sms/records", params={"purpose": "complaint_handling"})
    call("discovery.detect", "POST", "/api/discovery/detect", json={"text": text})
    call("oversight.inspect", "POST", "/api/oversight/inspections", json={})
    call("audit.verify", "GET", "/api/audit/verify")
    portal = TestClient(create_app())
    _debug_everywhere(stream)
    r = portal.post("/portal/login/code", data={"phone": PHONE}, headers={"Origin": "http://testserver"})
    statuses["portal.code"] = r.status_code
    assert r.status_code < 500

    # the workflow ran (a test that checks nothing would pass on an empty log)
    for name in (
        "login",
        "consent.grant",
        "cases.open",
        "cases.read",
        "rights.open",
        "incidents.open",
        "sms.submit",
    ):
        assert statuses[name] < 400, (name, statuses[name])
    # the scan would see them if they were there
    assert _findings(text) == ["email", "id_card", "phone_mobile"]
    lines = [x for x in stream.getvalue().splitlines() if x.strip()]
    assert len(lines) > 50, len(lines)
    bad = [(line[:200], found) for line in lines if (found := _findings(line))]
    assert not bad, bad[:5]
    assert PHONE not in stream.getvalue() and ID_NUMBER not in stream.getvalue()

    session.expire_all()
    entries = list(session.scalars(select(AuditEntry)))
    actions = {e.action for e in entries}
    assert {"case.open", "pi.read", "consent.grant"} <= actions or len(actions) > 20, sorted(actions)
    leaks = []
    for e in entries:
        detail = json.dumps(
            {"detail": e.detail, "subject": e.subject_ref, "purpose": e.purpose},
            ensure_ascii=False,
            default=str,
        )
        if found := _findings(detail):
            leaks.append((e.action, found, detail[:200]))
    assert not leaks, leaks[:5]
