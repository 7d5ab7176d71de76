"""Discovery API: every endpoint requires a login with the right role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.identity import service

pytestmark = pytest.mark.obligation("O24-13.3", "O24-10", "CSL-42.1")
PASSWORD = "correct horse battery"


@pytest.fixture()
def app(db_engine) -> FastAPI:  # type: ignore[no-untyped-def]
    return create_app()


@pytest.fixture()
def client_for(app: FastAPI, session: Session) -> Callable[[str], TestClient]:
    from argon2 import PasswordHasher

    previous = service.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for username, roles in (
        ("olga", ["compliance_officer"]),
        ("otto", ["operator"]),
        ("audrey", ["auditor"]),
    ):
        service.create_staff(session, username=username, password=PASSWORD, roles=roles)
    session.commit()

    def make(username: str) -> TestClient:
        client = TestClient(app)
        r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return client

    yield make  # type: ignore[misc]
    service.use_password_hasher(previous)


def test_requires_authentication(app: FastAPI) -> None:
    client = TestClient(app)
    for path in ("/api/discovery/detect", "/api/discovery/mask", "/api/discovery/k-anonymity"):
        r = client.post(path, json={"text": "13812345678"})
        assert r.status_code == 401, path
    assert client.get("/api/discovery/categories").status_code == 401


def test_detect_and_mask(client_for: Callable[[str], TestClient]) -> None:
    otto = client_for("otto")
    r = otto.post("/api/discovery/detect", json={"text": "手机13812345678"})
    assert r.status_code == 200
    assert r.json() == {"findings": [{"start": 2, "end": 13, "category": "phone_mobile", "confidence": 1.0}]}
    r = otto.post("/api/discovery/mask", json={"text": "手机13812345678", "method": "mask"})
    assert r.json()["text"] == "手机138****5678"
    r = otto.post("/api/discovery/detect", json={"text": "x", "categories": ["phone"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = otto.post("/api/discovery/mask", json={"text": "x", "method": "shred"})
    assert r.status_code == 422
    assert len(otto.get("/api/discovery/categories").json()) == 17


def test_roles(client_for: Callable[[str], TestClient]) -> None:
    audrey = client_for("audrey")
    assert audrey.post("/api/discovery/detect", json={"text": "x"}).status_code == 403
    otto = client_for("otto")
    body = {"rows": [{"a": 1}, {"a": 1}, {"a": 2}], "quasi_identifiers": ["a"], "k": 2}
    assert otto.post("/api/discovery/k-anonymity", json=body).status_code == 403
    r = client_for("olga").post("/api/discovery/k-anonymity", json=body)
    assert r.status_code == 200 and r.json()["failing_rows"] == [2] and not r.json()["satisfied"]


def test_token_scopes_are_enforced_on_discovery(
    client_for: Callable[[str], TestClient], session: Session
) -> None:
    """Issue 14.6: a token scoped to ``sms:read`` used /detect, /mask and /k-anonymity."""
    from datetime import timedelta

    from fastapi.testclient import TestClient as Client

    from piguard.app import create_app as make_app

    client_for("olga")  # creates the accounts
    olga = service.get_staff_by_username(session, "olga")
    assert olga is not None
    narrow, _ = service.issue_token(session, olga, ["sms:read"], timedelta(days=1))
    detect_only, _ = service.issue_token(session, olga, ["discovery:detect"], timedelta(days=1))
    session.commit()
    client = Client(make_app())
    h = {"Authorization": f"Bearer {narrow}"}
    for path, body in (
        ("/api/discovery/detect", {"text": "手机13812345678"}),
        ("/api/discovery/mask", {"text": "手机13812345678", "method": "mask"}),
        ("/api/discovery/k-anonymity", {"rows": [{"a": "1"}], "quasi_identifiers": ["a"], "k": 2}),
    ):
        r = client.post(path, json=body, headers=h)
        assert r.status_code == 403, (path, r.text)
        assert "token_scope_missing" in {x["code"] for x in r.json()["error"]["reasons"]}, path
        assert "O24-13.3" in r.json()["error"]["obligations"]
    r = client.post(
        "/api/discovery/detect",
        json={"text": "手机13812345678"},
        headers={"Authorization": f"Bearer {detect_only}"},
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/api/discovery/mask",
        json={"text": "手机13812345678", "method": "mask"},
        headers={"Authorization": f"Bearer {detect_only}"},
    )
    assert r.status_code == 403


@pytest.mark.obligation("O24-4")
def test_detect_with_the_ner_tier(
    client_for: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from piguard.discovery import ner

    otto = client_for("otto")
    text = "昨天下午李建国在会上说明了情况。"
    assert otto.post("/api/discovery/detect", json={"text": text}).json() == {"findings": []}
    r = otto.post("/api/discovery/detect", json={"text": text, "ner": True})
    assert r.status_code == 200
    assert [(f["start"], f["end"], f["category"]) for f in r.json()["findings"]] == [(4, 7, "name")]
    r = otto.post("/api/discovery/detect", json={"text": text * 7000, "ner": True})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "text"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if piguard[ner] were not installed
    monkeypatch.setattr(ner, "_LOADED", {})
    r = otto.post("/api/discovery/detect", json={"text": text, "ner": True})
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "ner_unavailable" and "piguard[ner]" in err["message"]["zh"]
    assert "李建国" not in r.text
