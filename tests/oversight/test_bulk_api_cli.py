"""Bulk operations through the API and the CLI (O24-13.3): the maker-checker flow end to end, each
bad input a clear error in the one error shape (code, zh/en, obligation ids) with nothing changed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.cli import app as root_cli
from piguard.core import db
from piguard.identity import service as identity
from piguard.oversight.bulk_models import BulkRequest

from .bulk_setup import PASSWORD, export_csv

pytestmark = pytest.mark.obligation("O24-13.3")
runner = CliRunner()


def _headers(username: str, roles: tuple[str, ...] = ("compliance_officer",)) -> dict[str, str]:
    with db.unit_of_work() as session:
        staff = identity.ensure_staff(session, username, PASSWORD, list(roles), username)
        tok, _row = identity.issue_token(session, staff, ["*"], timedelta(days=1))
    return {"Authorization": f"Bearer {tok}"}


@pytest.fixture()
def client(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app())


def _body(**kw: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "export",
        "purpose": "complaint_handling",
        "justification": "complaint statistics",
        "system": "crm",
        "dataset": "complaints",
        "recipients": ["Internal audit"],
        "data": export_csv(600),
    }
    body.update(kw)
    return body


def _expire(ref: str, column: str) -> None:
    with db.unit_of_work() as session:
        past = db.utcnow() - timedelta(minutes=1)
        session.execute(update(BulkRequest).where(BulkRequest.ref == ref).values({column: past}))


def _error(r, code: str, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]["zh"] and err["message"]["en"]
    assert "O24-13.3" in err["obligations"]
    return err


@pytest.mark.obligation("O24-13.3", "O24-13.6")
def test_api_maker_checker_flow(client: TestClient) -> None:
    maker, checker = _headers("maker"), _headers("checker")
    r = client.post("/api/bulk", json=_body(), headers=maker)
    assert r.status_code == 201, r.text
    req = r.json()["request"]
    ref = req["ref"]
    assert r.json()["decision"]["outcome"] == "hold" and req["status"] == "pending"
    assert req["pi_summary"]["categories"] == {"id_card": 600, "name": 600, "phone_mobile": 600}
    assert "data" not in req and "sealed" not in r.text

    _error(client.post(f"/api/bulk/{ref}/approve", json={}, headers=maker), "bulk_self_approval", 403)
    _error(
        client.get(f"/api/bulk/{ref}/download?recipient=Internal audit", headers=maker),
        "bulk_not_approved",
        403,
    )
    r = client.post(f"/api/bulk/{ref}/approve", json={"note": "ok"}, headers=checker)
    assert r.status_code == 200 and r.json()["decision"]["outcome"] == "allow"
    assert r.json()["request"]["decided_by"] == "staff:checker"

    r = client.get(f"/api/bulk/{ref}/download", params={"recipient": "Internal audit"}, headers=maker)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.startswith(f"# piguard export {ref}") and r.headers["cache-control"] == "no-store"
    assert len(r.text.splitlines()) == 602
    r = client.post(f"/api/bulk/{ref}/trace", json={"data": r.text}, headers=checker)
    assert r.json()["trace"]["recipient"] == "Internal audit"
    detail = client.get(f"/api/bulk/{ref}", headers=checker).json()
    assert [d["recipient_index"] for d in detail["downloads"]] == [0]
    listed = client.get("/api/bulk", params={"status": "approved"}, headers=checker).json()["requests"]
    assert [x["ref"] for x in listed] == [ref]
    audit = client.get("/api/audit", params={"subject_ref": ref}, headers=checker).json()
    assert {e["action"] for e in audit["items"]} >= {"bulk.request", "bulk.approve", "bulk.download"}

    _expire(ref, "package_expires_at")
    err = _error(
        client.get(f"/api/bulk/{ref}/download?recipient=Internal audit", headers=maker),
        "bulk_export_expired",
        410,
    )
    assert err["reasons"][0]["obligations"] == ["O24-13.3"]


def test_api_approving_after_expiry_and_bad_input(client: TestClient) -> None:
    maker, checker = _headers("maker"), _headers("checker")
    ref = client.post("/api/bulk", json=_body(), headers=maker).json()["request"]["ref"]
    _expire(ref, "expires_at")
    _error(client.post(f"/api/bulk/{ref}/approve", json={}, headers=checker), "bulk_request_expired", 409)
    assert client.get(f"/api/bulk/{ref}", headers=checker).json()["request"]["status"] == "expired"

    err = _error(
        client.post("/api/bulk", json=_body(purpose="curiosity"), headers=maker), "bulk_unknown_purpose", 422
    )
    assert "O24-9.3" in err["obligations"]
    err = _error(
        client.post("/api/bulk", json=_body(data=export_csv(5)), headers=maker), "bulk_review_not_needed", 422
    )
    assert err["reasons"][0]["detail"]["rows"] == 5
    r = client.post("/api/bulk", json=_body(kind="shred"), headers=maker)
    assert r.status_code == 422
    assert client.get("/api/bulk/nosuchref", headers=checker).status_code == 404
    r = client.post("/api/bulk", json=_body(), headers=_headers("oper", ("operator",)))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert len(client.get("/api/bulk", headers=checker).json()["requests"]) == 1


def test_api_destruction_certificate(client: TestClient) -> None:
    maker, checker = _headers("maker"), _headers("checker")
    body = _body(
        kind="destroy",
        purpose="service_provision",
        recipients=[],
        data=None,
        rows=9000,
        categories=["name", "phone_mobile"],
        method="crypto_erase",
    )
    ref = client.post("/api/bulk", json=body, headers=maker).json()["request"]["ref"]
    _error(client.get(f"/api/bulk/{ref}/certificate", headers=checker), "bulk_not_approved", 409)
    assert client.post(f"/api/bulk/{ref}/approve", json={}, headers=checker).status_code == 200
    r = client.post(f"/api/bulk/{ref}/destroy", json={}, headers=maker)
    assert r.status_code == 200, r.text
    cert = client.get(f"/api/bulk/{ref}/certificate", headers=checker).json()["certificate"]
    assert cert["how"]["method"] == "crypto_erase" and cert["approved_by"] == "staff:checker"
    html = client.get(
        f"/api/bulk/{ref}/certificate", params={"format": "html", "lang": "en"}, headers=checker
    )
    assert html.headers["content-type"].startswith("text/html") and "Cryptographic erasure" in html.text
    assert "密钥销毁" in client.get(f"/api/bulk/{ref}/certificate?format=html", headers=checker).text


def _cli(args: list[str], username: str) -> object:
    return runner.invoke(
        root_cli, ["bulk", *args, "--as", username, "--password-stdin"], input=PASSWORD + "\n"
    )


def test_cli_maker_checker_flow(db_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _headers("maker")
    _headers("checker")
    data = tmp_path / "export.csv"
    data.write_text(export_csv(600), encoding="utf-8")
    r = _cli(
        [
            "request",
            "export",
            "--purpose",
            "complaint_handling",
            "--justification",
            "stats",
            "--system",
            "crm",
            "--dataset",
            "complaints",
            "--recipient",
            "Internal audit",
            "--data",
            str(data),
            "--format",
            "json",
        ],
        "maker",
    )
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    ref = json.loads(r.output)["request"]["ref"]  # type: ignore[attr-defined]

    r = _cli(["approve", ref, "--format", "json"], "maker")
    assert r.exit_code == 1 and "bulk_self_approval" in r.output and "O24-13.3" in r.output  # type: ignore[attr-defined]
    r = _cli(["approve", ref], "checker")
    assert r.exit_code == 0 and "approved" in r.output  # type: ignore[attr-defined]
    out = tmp_path / "out.csv"
    r = _cli(["download", ref, "--recipient", "Internal audit", "--out", str(out)], "maker")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert out.read_text(encoding="utf-8").startswith(f"# piguard export {ref}")
    r = _cli(["list", "--format", "json"], "checker")
    assert json.loads(r.output)["requests"][0]["status"] == "approved"  # type: ignore[attr-defined]
    r = _cli(["certificate", ref], "checker")
    assert r.exit_code == 1 and "bulk_not_approved" in r.output  # type: ignore[attr-defined]

    r = runner.invoke(root_cli, ["bulk", "list", "--as", "checker", "--password-stdin"], input="wrong\n")
    assert r.exit_code != 0 and "login_failed" in r.output


def test_cli_destruction_and_certificate(db_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _headers("maker")
    _headers("checker")
    r = _cli(
        [
            "request",
            "destroy",
            "--purpose",
            "billing",
            "--justification",
            "retention ended",
            "--system",
            "billing",
            "--dataset",
            "bills_2018",
            "--rows",
            "50000",
            "--category",
            "name",
            "--category",
            "bank_card",
            "--method",
            "deletion",
            "--format",
            "json",
        ],
        "maker",
    )
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    ref = json.loads(r.output)["request"]["ref"]  # type: ignore[attr-defined]
    assert _cli(["approve", ref], "checker").exit_code == 0  # type: ignore[attr-defined]
    r = _cli(["destroy", ref], "maker")
    assert r.exit_code == 0 and "certificate" in r.output  # type: ignore[attr-defined]
    html = tmp_path / "cert.html"
    r = _cli(["certificate", ref, "--html", str(html), "--lang", "en", "--format", "json"], "checker")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert json.loads(r.output)["certificate"]["how"]["method"] == "deletion"  # type: ignore[attr-defined]
    assert "Deletion from the system" in html.read_text(encoding="utf-8")


def test_the_worker_shreds_expired_packages(client: TestClient) -> None:
    maker, checker = _headers("maker"), _headers("checker")
    ref = client.post("/api/bulk", json=_body(), headers=maker).json()["request"]["ref"]
    assert client.post(f"/api/bulk/{ref}/approve", json={}, headers=checker).status_code == 200
    _expire(ref, "package_expires_at")
    r = runner.invoke(root_cli, ["worker", "--once"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["bulk_packages_shredded"] == 1
    with db.unit_of_work() as session:
        req = session.query(BulkRequest).filter_by(ref=ref).one()
        assert req.wrapped_key is None and req.sealed is None and req.status == "approved"
    audit = client.get(
        "/api/audit", params={"subject_ref": ref, "action": "bulk.purge"}, headers=checker
    ).json()
    assert len(audit["items"]) == 1
