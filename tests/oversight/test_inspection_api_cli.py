"""Self-inspection, exposure and evidence through the API, the CLI and the console: roles, files,
bad input (unknown finding, closing without evidence, closing twice, a year in the future)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app as root_cli
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.oversight.inspection_models import InspectionFinding, InspectionRun

from .conftest import PASSWORD

pytestmark = pytest.mark.obligation("O24-16", "O24-17", "O24-22")
Account = Callable[..., dict[str, str]]
runner = CliRunner()


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_api_run_read_close_and_bad_input(app_client: TestClient, account: Account, session: Session) -> None:
    officer = account("olga", "compliance_officer", utcnow())
    auditor = account("audrey", "auditor", utcnow())
    operator = account("otto", "operator", utcnow())
    future = calendar.to_local_date(utcnow()).year + 1
    r = app_client.post("/api/oversight/inspections", json={"year": future}, headers=officer)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "year", r.text
    assert _count(session, InspectionRun) == 0
    assert app_client.post("/api/oversight/inspections", json={}, headers=auditor).status_code == 403
    assert app_client.get("/api/oversight/findings", headers=operator).status_code == 403
    r = app_client.post("/api/oversight/inspections", json={}, headers=officer)
    assert r.status_code == 201, r.text
    rep = r.json()
    run = rep["run"]
    assert rep["findings"] and len(rep["obligations"]) == 60
    assert app_client.get(f"/api/oversight/inspections/{run}", headers=auditor).json()["run"] == run
    assert (
        app_client.get("/api/oversight/inspections", headers=auditor).json()["inspections"][0]["run"] == run
    )
    r = app_client.get("/api/oversight/inspections/99999", headers=auditor)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = app_client.get(f"/api/oversight/inspections/{run}/report?format=pdf&lang=en", headers=auditor)
    assert (
        r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
    )
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
    assert "Personal-information protection self-inspection" in text
    r = app_client.get(f"/api/oversight/inspections/{run}/report?format=html&lang=zh", headers=auditor)
    assert r.status_code == 200 and "个人信息保护自查报告" in r.text
    assert (
        app_client.get(f"/api/oversight/inspections/{run}/report?lang=fr", headers=auditor).status_code == 422
    )

    fid = rep["findings"][0]["id"]
    r = app_client.post(f"/api/oversight/findings/{fid}/close", json={"evidence": " "}, headers=officer)
    assert r.status_code == 422 and r.json()["error"]["code"] == "finding_evidence_required"
    assert "O24-16" in r.json()["error"]["obligations"]
    r = app_client.post("/api/oversight/findings/424242/close", json={"evidence": "x"}, headers=officer)
    assert r.status_code == 404 and r.json()["error"]["code"] == "finding_unknown"
    r = app_client.post(f"/api/oversight/findings/{fid}/close", json={"evidence": "x"}, headers=auditor)
    assert r.status_code == 403
    r = app_client.patch(
        f"/api/oversight/findings/{fid}", json={"owner": "olga", "due_date": "2027-02-28"}, headers=officer
    )
    assert r.status_code == 200 and r.json()["owner"] == "olga" and r.json()["due_date"] == "2027-02-28"
    r = app_client.patch(f"/api/oversight/findings/{fid}", json={"due_date": "tomorrow"}, headers=officer)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "due_date"
    r = app_client.post(
        f"/api/oversight/findings/{fid}/close",
        json={"evidence": "制度文件 ZD-7", "note": "已整改"},
        headers=officer,
    )
    assert (
        r.status_code == 200
        and r.json()["status"] == "closed"
        and r.json()["close_evidence"] == "制度文件 ZD-7"
    )
    r = app_client.post(f"/api/oversight/findings/{fid}/close", json={"evidence": "again"}, headers=officer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "finding_closed"
    closed = session.get(InspectionFinding, fid)
    assert closed is not None and closed.close_evidence == "制度文件 ZD-7"
    r = app_client.get("/api/oversight/findings?status=closed", headers=auditor)
    assert [f["id"] for f in r.json()["findings"]] == [fid]
    assert app_client.get("/api/oversight/findings?status=done", headers=auditor).status_code == 422

    x = app_client.get("/api/oversight/exposure", headers=auditor).json()
    assert x["gaps"] >= 1 and all(g["finding"] != fid for a in x["articles"] for g in a["gaps"])
    assert app_client.post("/api/oversight/evidence", json={}, headers=auditor).status_code == 403
    r = app_client.post("/api/oversight/evidence", json={"run": run}, headers=officer)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip", r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        manifest = json.loads(zf.read("MANIFEST.json"))
    assert manifest["inspection_run"] == run and r.headers["x-content-sha256"]
    r = app_client.post("/api/oversight/evidence", json={"run": 777}, headers=officer)
    assert r.status_code == 404


def test_cli_inspect_findings_close_exposure_evidence(
    db_engine: Any, session: Session, tmp_path: Path
) -> None:
    pdf, html = tmp_path / "r.pdf", tmp_path / "r.html"
    r = runner.invoke(
        root_cli, ["oversight", "inspect", "--lang", "en", "--pdf", str(pdf), "--html", str(html)]
    )
    assert r.exit_code == 0, r.output
    assert "self-inspection" in r.output and "no data" in r.output  # an empty database says so
    assert pdf.read_bytes()[:5] == b"%PDF-" and "No data" in html.read_text(encoding="utf-8")
    future = str(calendar.to_local_date(utcnow()).year + 1)
    r = runner.invoke(root_cli, ["oversight", "inspect", "--year", future])
    assert r.exit_code == 2 and "year" in r.output and "Traceback" not in r.output
    r = runner.invoke(root_cli, ["oversight", "inspect", "--pdf", str(tmp_path / "no" / "such" / "x.pdf")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert _count(session, InspectionRun) == 1  # the failed write left no run behind
    r = runner.invoke(root_cli, ["oversight", "findings", "--format", "json"])
    assert r.exit_code == 0
    findings = json.loads(r.output)["findings"]
    fid = str(findings[0]["id"])
    r = runner.invoke(root_cli, ["oversight", "close", fid])
    assert r.exit_code == 2 and "finding_evidence_required" in r.output
    r = runner.invoke(root_cli, ["oversight", "close", "99999", "--evidence", "x"])
    assert r.exit_code == 2 and "finding_unknown" in r.output
    r = runner.invoke(root_cli, ["oversight", "close", fid, "--evidence", "ZG-1", "--note", "done"])
    assert r.exit_code == 0 and f"closed finding {fid}" in r.output
    r = runner.invoke(root_cli, ["oversight", "close", fid, "--evidence", "ZG-1"])
    assert r.exit_code != 0 and "finding_closed" in r.output
    r = runner.invoke(root_cli, ["oversight", "update", findings[1]["id"].__str__(), "--owner", "olga"])
    assert r.exit_code == 0 and "owner olga" in r.output
    r = runner.invoke(root_cli, ["oversight", "exposure"])
    assert r.exit_code == 0 and "O24-23" in r.output and "yuan" in r.output
    out = tmp_path / "bundle.zip"
    r = runner.invoke(root_cli, ["oversight", "evidence", "--out", str(out)])
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as zf:
        assert "audit/verify_audit.py" in zf.namelist()


def _console(client: TestClient, username: str) -> TestClient:
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/console"})
    assert r.status_code == 303, r.text
    return client


def test_console_run_show_close_and_exposure(
    app_client: TestClient, account: Account, session: Session
) -> None:
    account("olga", "compliance_officer", utcnow())
    account("tian", "operator", utcnow())
    c = _console(app_client, "olga")
    r = c.get("/console/inspection", params={"lang": "en"})
    assert r.status_code == 200 and 'id="no-run"' in r.text and 'href="/console/inspection"' in r.text
    r = c.post("/console/inspection", data={"year": "2999"})
    assert r.status_code == 422 and 'data-code="validation_error"' in r.text
    r = c.post("/console/inspection", data={"year": ""})
    assert r.status_code == 200 and 'id="inspection-report"' in r.text and 'id="chart-complaints"' in r.text
    fid = session.scalars(select(InspectionFinding.id).order_by(InspectionFinding.id)).first()
    r = c.post(f"/console/inspection/findings/{fid}/close", data={"evidence": "", "note": "x"})
    assert r.status_code == 422 and 'data-code="finding_evidence_required"' in r.text
    r = c.post(f"/console/inspection/findings/{fid}/close", data={"evidence": "整改单 7"})
    assert r.status_code == 200 and "整改单 7" in r.text
    r = c.post(f"/console/inspection/findings/{fid}/close", data={"evidence": "again"})
    assert r.status_code == 409 and 'data-code="finding_closed"' in r.text
    r = c.get("/console/inspection", params={"year": "1999"})
    assert r.status_code == 422 and 'data-code="validation_error"' in r.text
    r = c.get("/console/exposure", params={"lang": "zh"})
    assert (
        r.status_code == 200 and 'id="exposure-total"' in r.text and "O24-23" in r.text and "罚款" in r.text
    )
    assert 'href="/console/inspection"' in r.text and 'href="/console/exposure"' in r.text  # the nav
    c.post("/logout")
    c = _console(app_client, "tian")
    assert c.get("/console/inspection").status_code == 403
    assert c.post("/console/inspection", data={"year": ""}).status_code == 403
