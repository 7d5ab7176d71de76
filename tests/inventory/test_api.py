"""The inventory API (role-protected, O24-13.3) and the public rules API and pages (no login, O24-8)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from piguard.app import create_app
from piguard.core import db
from piguard.identity import service as identity
from piguard.inventory.demo import load_demo_inventory

from .conftest import dump, field

STAFF = {"officer": ["compliance_officer"], "auditor": ["auditor"], "desk": ["operator"]}
PASSWORD = "inventory-test-pass-2026"


@pytest.fixture()
def client(db_engine) -> TestClient:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        for name, roles in STAFF.items():
            identity.ensure_staff(session, name, PASSWORD, roles, name)
    return TestClient(create_app(), follow_redirects=False)


def _login(client: TestClient, username: str) -> None:
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/console"})
    assert r.status_code == 303, r.text


@pytest.mark.obligation("O24-13.3")
def test_roles(client: TestClient, demo_data) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/inventory").status_code == 401
    _login(client, "desk")
    assert client.get("/api/inventory").status_code == 200
    r = client.post("/api/inventory/publish", json={})
    assert r.status_code == 403 and "O24-13.3" in r.json()["error"]["obligations"]
    _login(client, "auditor")
    assert client.get("/api/inventory").status_code == 200
    assert client.put("/api/inventory", json=demo_data).status_code == 403
    _login(client, "officer")
    r = client.put("/api/inventory", json={**demo_data, "purposes": [{"id": "spying"}]})
    assert r.status_code == 422
    assert any(
        f["field"] == "purposes[0].id" and "known:" in f["message"] for f in r.json()["error"]["fields"]
    )
    assert client.put("/api/inventory", json=[1, 2]).status_code == 422
    r = client.put("/api/inventory", json=demo_data)
    assert r.status_code == 200, r.text
    assert r.json()["fields"] == 8
    assert client.get("/api/inventory").json()["operator"]["name"] == "示例网络科技有限公司"


@pytest.mark.obligation("O24-5", "O24-8")
def test_import_yaml_errors_and_check(client: TestClient, demo_yaml: str, demo_data) -> None:  # type: ignore[no-untyped-def]
    _login(client, "officer")
    bad = demo_yaml.replace("categories: [ip_address]", "categories: [ip]")
    r = client.post("/api/inventory/import?filename=inv.yaml", content=bad.encode())
    assert r.status_code == 422
    [f] = r.json()["error"]["fields"]
    assert f["field"].endswith("categories[0]") and f["message"].startswith("inv.yaml, line ")
    assert client.get("/api/inventory").json() == {}  # nothing imported
    r = client.post("/api/inventory/import", content=b"operator: [")
    assert r.status_code == 422 and "line" in r.json()["error"]["message"]["en"]
    r = client.post("/api/inventory/import", content="operator: {name: x}".encode("utf-16"))
    assert r.status_code == 422 and "UTF-8" in r.json()["error"]["message"]["en"]
    field(demo_data, "crm", "customers", "id_no")["purposes"] = ["marketing"]
    assert client.put("/api/inventory", json=demo_data).status_code == 200
    check = client.get("/api/inventory/check").json()
    assert check["outcome"] == "hold"
    codes = {f["code"]: f["obligations"] for f in check["findings"]}
    assert codes["category_not_needed"] == ["O24-9.3", "CSL-41.2"]
    assert {p["id"] for p in client.get("/api/inventory/purposes").json()} >= {"marketing"}
    assert any(p["id"] == "legal_obligation" for p in client.get("/api/inventory/taxonomy").json())


@pytest.mark.obligation("O24-8")
def test_publish_and_public_api(client: TestClient, demo_yaml: str) -> None:
    assert client.get("/api/rules/privacy/current").status_code == 404
    assert client.get("/rules/privacy").status_code == 404
    _login(client, "officer")
    assert client.post("/api/inventory/import", content=demo_yaml.encode()).status_code == 200
    r = client.post("/api/inventory/publish", json={"effective_date": "2026-07-01"})
    assert r.status_code == 201, r.text
    assert r.json()["number"] == 1
    r = client.post("/api/inventory/publish", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "rules_unchanged"
    anonymous = TestClient(create_app())
    cur = anonymous.get("/api/rules/privacy/current?lang=en").json()
    assert cur["number"] == 1 and cur["text"].startswith("# 示例网络科技有限公司: rules")
    assert anonymous.get("/api/rules/privacy/current?lang=fr").status_code == 422
    assert [v["number"] for v in anonymous.get("/api/rules/privacy/versions").json()] == [1]
    assert anonymous.get("/api/rules/privacy/versions/7").status_code == 404
    page = anonymous.get("/rules/privacy")
    assert page.status_code == 200 and "个人信息收集使用规则" in page.text


@pytest.mark.obligation("O24-8")
def test_public_diff(client: TestClient) -> None:
    with db.unit_of_work() as session:
        load_demo_inventory(session)
    anonymous = TestClient(create_app())
    d = anonymous.get("/api/rules/privacy/diff?from=1&to=2&lang=zh").json()
    assert d["material_purposes"] == ["marketing"]
    assert any(line.startswith("+### 6. 营销推广") for line in d["unified"])
    page = anonymous.get("/rules/privacy/versions/2?lang=en")
    assert page.status_code == 200 and 'id="rules-diff"' in page.text and "diff_add" in page.text
    assert "<script" not in page.text.split('id="rules-text"')[1].split("</article>")[0]
    assert anonymous.get("/rules/privacy/versions/1").status_code == 200
    assert anonymous.get("/rules/privacy/versions/99").status_code == 404


def test_console_pages(client: TestClient, demo_yaml: str, demo_data) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/console/inventory")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    _login(client, "officer")
    assert "尚无清单" in client.get("/console/inventory").text
    r = client.post("/console/inventory", data={"yaml_text": demo_yaml.replace("P6M", "six months")})
    assert r.status_code == 422 and "ISO 8601" in r.text and "six months" in r.text
    r = client.post("/console/inventory", data={"yaml_text": demo_yaml})
    assert r.status_code == 303
    page = client.get("/console/inventory?lang=en").text
    assert "customers" in page and "inv-check-ok" in page
    r = client.post("/console/inventory/publish", data={"effective_date": "2026-08-01"})
    assert r.status_code == 303 and r.headers["location"].endswith("published=1")
    assert "2026-08-01" in client.get("/console/inventory/versions").text
    r = client.post("/console/inventory/publish", data={"effective_date": "bad"})
    assert r.status_code == 422
    r = client.post(
        "/console/inventory", data={"yaml_text": dump(demo_data)}, headers={"origin": "http://evil.example"}
    )
    assert r.status_code == 403
    _login(client, "auditor")
    page = client.get("/console/inventory").text
    assert "inv-yaml" not in page  # read-only
    assert client.post("/console/inventory", data={"yaml_text": demo_yaml}).status_code == 403
