from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.core import db
from piguard.identity import service as identity
from piguard.rights import demo

PHONE = "13800138000"


def _headers(username: str, roles: list[str]) -> dict[str, str]:
    with db.unit_of_work() as session:
        staff = identity.ensure_staff(session, username, "a long test password 1", roles, username)
        tok, _row = identity.issue_token(session, staff, ["*"], timedelta(days=1))
    return {"Authorization": f"Bearer {tok}"}


@pytest.mark.obligation("O24-9.2", "CSL-43")
def test_api_open_run_show_export_and_console(session: Session, target: dict[str, object]) -> None:
    demo.make_customer_db(str(target["url"]), [PHONE], schema=target["schema"])  # type: ignore[arg-type]
    doc = demo.system_doc(str(target["url"]), schema=target["schema"])  # type: ignore[arg-type]
    demo.add_system(session, doc)
    manual = {
        **demo.system_doc(str(target["url"])),
        "id": "legacy",
        "connector": {"kind": "manual", "owner": "运维部"},
    }
    demo.add_system(session, manual)
    session.commit()
    client = TestClient(create_app(), follow_redirects=False)
    h = _headers("olga", ["compliance_officer"])
    r = client.post("/api/rights", json={"kind": "access", "subject": f"phone:{PHONE}"}, headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = client.post(
        "/api/rights",
        json={"kind": "correction", "subject": f"phone:{PHONE}", "changes": {"salary": 1}},
        headers=h,
    )
    assert r.status_code == 422 and "salary" in r.text
    assert client.post("/api/rights/run", headers=h).status_code == 200
    r = client.get(f"/api/rights/{rid}", headers=h)  # a read of PI names its purpose
    assert r.status_code == 403 and r.json()["error"]["reasons"][0]["code"] == "purpose_missing"
    h = {**h, "X-Piguard-Purpose": "service_provision"}
    shown = client.get(f"/api/rights/{rid}", headers=h).json()
    assert shown["purpose"] == "service_provision"  # the only purpose this inventory declares
    task = next(s for s in shown["steps"] if s["action"] == "manual")
    assert task["status"] == "manual" and shown["export"] is None
    r = client.post(f"/api/rights/steps/{task['id']}/complete", json={"rows": 1}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "done"
    client.post("/api/rights/run", params={"id": rid}, headers=h)
    shown = client.get(f"/api/rights/{rid}", headers=h).json()
    assert shown["status"] == "answered" and shown["export"]
    r = client.get(f"/api/rights/{rid}/export", headers=h)
    assert r.status_code == 200 and PHONE in r.text
    # the console page (a bearer token is not a console session: log in as staff)
    with db.unit_of_work() as s:
        identity.ensure_staff(s, "cora", "a long test password 1", ["compliance_officer"], "cora")
    r = client.post(
        "/login", data={"username": "cora", "password": "a long test password 1", "next": "/console"}
    )
    assert r.status_code == 303, r.text
    page = client.get(f"/console/rights/{rid}")  # the purpose picker first, no data
    assert page.status_code == 200 and 'id="rights-steps"' not in page.text
    page = client.get(f"/console/rights/{rid}", params={"purpose": "service_provision"})
    assert page.status_code == 200
    assert 'id="rights-steps"' in page.text and f"/console/rights/{rid}/export" in page.text
    assert client.get(f"/console/rights/{rid}/export").status_code == 200
    pdf = client.get(f"/console/rights/{rid}/export", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    import io

    import pypdf

    text = "".join(pg.extract_text() for pg in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "个人信息副本" in text and PHONE in text  # the person's own data, for them
    assert client.get(f"/console/rights/{rid}/export", params={"format": "docx"}).status_code == 422
    assert client.get("/console/rights/999999").status_code == 404
