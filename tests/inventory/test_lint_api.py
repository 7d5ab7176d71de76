"""``POST /api/policy/lint`` (inventory.read, O24-13.3) and the console lint page: pasted text or a
published rules version, the JSON shape of ``piguard policy lint --format json``, clear errors."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.cli import app as cli_app
from piguard.core import db
from piguard.core.db import utcnow
from piguard.identity import service as identity
from piguard.inventory import service as inventory
from piguard.inventory.demo import load_demo_inventory
from piguard.inventory.lint import ITEM_IDS

pytestmark = pytest.mark.obligation("O24-8", "O24-9.2", "O24-12")

PASSWORD = "inventory-lint-pass-2026"
STAFF = {"officer": ["compliance_officer"], "desk": ["operator"]}
VAGUE = "我们采取符合业界标准的安全措施保护您的个人信息。如有问题请联系我们。"


@pytest.fixture()
def client(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        for name, roles in STAFF.items():
            identity.ensure_staff(session, name, PASSWORD, roles, name)
        # an outsourced agent (O24-11) holds no inventory.read
        identity.create_staff(
            session,
            username="nobody",
            password=PASSWORD,
            roles=["agent"],
            kind="agent",
            agent_org="Outsourcer Ltd",
            access_expires_at=utcnow() + timedelta(days=1),
        )
        load_demo_inventory(session)
    return TestClient(create_app(), follow_redirects=False)


def _login(client: TestClient, username: str) -> None:
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/console"})
    assert r.status_code == 303, r.text


@pytest.mark.obligation("O24-13.3")
def test_the_api_needs_inventory_read(client: TestClient) -> None:
    assert client.post("/api/policy/lint", json={"text": VAGUE}).status_code == 401
    _login(client, "nobody")
    r = client.post("/api/policy/lint", json={"text": VAGUE})
    assert r.status_code == 403 and "O24-13.3" in r.json()["error"]["obligations"]


def test_pasted_text_has_the_cli_json_shape(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _login(client, "desk")
    r = client.post("/api/policy/lint", json={"text": VAGUE, "format": "text"})
    assert r.status_code == 200, r.text
    body = r.json()
    path = tmp_path / "p.txt"
    path.write_text(VAGUE, encoding="utf-8")
    out = CliRunner().invoke(cli_app, ["policy", "lint", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert body == json.loads(out.stdout)
    assert [i["id"] for i in body["items"]] == list(ITEM_IDS)
    security = next(i for i in body["items"] if i["id"] == "security_measures")
    assert security == {
        "id": "security_measures",
        "present": False,
        "articles": ["CSL-42.2", "O24-10", "NPC-4", "CSL-40"],
        "evidence": [],
    }


def test_a_published_version_passes_in_both_languages(client: TestClient) -> None:
    _login(client, "desk")
    with db.unit_of_work() as session:
        current = inventory.current_rules_version(session)
        assert current is not None
        number, text_en = current.number, current.text_en
    for lang in ("zh", "en"):
        r = client.post("/api/policy/lint", json={"version": number, "lang": lang})
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [i["id"] for i in items if not i["present"]] == [], lang
    ev = next(i for i in r.json()["items"] if i["id"] == "inquiry_channel")["evidence"][0]
    assert text_en[ev["start"] : ev["end"]] == ev["text"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": "x", "version": 1}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x", "format": "pdf"}, "format"),
        ({"version": 1, "lang": "fr"}, "lang"),
        ({"version": "one"}, "version"),
        ({"text": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_requests_say_what_was_wrong(client: TestClient, body: dict, field: str) -> None:  # type: ignore[type-arg]
    _login(client, "desk")
    r = client.post("/api/policy/lint", json=body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and err["message"]["zh"] and err["message"]["en"]
    assert any(f["field"].startswith(field) for f in err["fields"]), err


def test_an_unknown_version_is_not_found(client: TestClient) -> None:
    _login(client, "desk")
    r = client.post("/api/policy/lint", json={"version": 99})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# ------------------------------------------------------------------ console page


def test_console_lints_a_published_version_from_the_inventory_page(client: TestClient) -> None:
    assert client.get("/console/inventory/lint").status_code == 303  # login first
    _login(client, "desk")
    page = client.get("/console/inventory").text
    assert 'id="inv-lint-link"' in page and "/console/inventory/lint?version=2" in page
    r = client.get("/console/inventory/lint?version=2&rules_lang=en&lang=en")
    assert r.status_code == 200
    html = r.text
    assert "16 of 16 items present" in html
    for item_id in ITEM_IDS:
        assert f'id="lint-item-{item_id}" data-present="true"' in html
    assert '<a class="id" href="/console/rules/CSL-42.1">CSL-42.1</a>' in html
    assert "<mark" in html and "privacy@example.cn" in html


def test_console_pasted_text_shows_gaps_and_escapes_markup(client: TestClient) -> None:
    _login(client, "desk")
    text = VAGUE + "<script>alert(1)</script>"
    r = client.post(
        "/console/inventory/lint",
        data={"source": "text", "text": text, "format": "text"},
        headers={"hx-request": "true", "origin": "http://testserver"},
    )
    assert r.status_code == 200, r.text
    assert r.text.lstrip().startswith('<section id="lint-result">')  # htmx: the fragment only
    assert 'id="lint-item-security_measures" data-present="false"' in r.text
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text


def test_console_errors_are_shown_not_raised(client: TestClient) -> None:
    _login(client, "desk")
    origin = {"origin": "http://testserver"}
    r = client.post("/console/inventory/lint", data={"source": "version", "version": "x"}, headers=origin)
    assert r.status_code == 422 and 'id="lint-errors"' in r.text and "version" in r.text
    r = client.post("/console/inventory/lint", data={"source": "version", "version": "99"}, headers=origin)
    assert r.status_code == 404 and 'id="lint-errors"' in r.text
    r = client.post("/console/inventory/lint", data={"source": "text", "text": ""}, headers=origin)
    assert r.status_code == 422 and 'id="lint-errors"' in r.text


@pytest.mark.obligation("O24-13.3")
def test_console_needs_inventory_read(client: TestClient) -> None:
    _login(client, "nobody")
    assert client.get("/console/inventory/lint").status_code == 403
    r = client.post("/console/inventory/lint", data={"text": VAGUE}, headers={"origin": "http://testserver"})
    assert r.status_code == 403
