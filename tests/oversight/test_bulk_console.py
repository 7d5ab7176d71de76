"""The bulk console pages over HTTP (O24-13.3): both languages, roles, errors shown with their ids,
the destruction certificate page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from piguard.app import create_app
from piguard.core import db
from piguard.identity import service as identity

from .bulk_setup import PASSWORD, export_csv

pytestmark = pytest.mark.obligation("O24-13.3")


@pytest.fixture()
def clients(db_engine) -> dict[str, TestClient]:  # type: ignore[no-untyped-def]
    out = {}
    with db.unit_of_work() as session:
        for name, roles in (
            ("maker", ["compliance_officer"]),
            ("checker", ["compliance_officer"]),
            ("aud", ["auditor"]),
        ):
            identity.ensure_staff(session, name, PASSWORD, roles, name)
    for name in ("maker", "checker", "aud"):
        c = TestClient(create_app(), follow_redirects=False)
        r = c.post("/login", data={"username": name, "password": PASSWORD, "next": "/console/bulk"})
        assert r.status_code == 303, r.text
        out[name] = c
    return out


FORM = {
    "kind": "destroy",
    "purpose": "billing",
    "justification": "retention ended",
    "system": "billing",
    "dataset": "bills_2018",
    "rows": "20000",
    "categories": "name,bank_card",
    "method": "physical",
}


def test_destruction_through_the_console_in_both_languages(clients: dict[str, TestClient]) -> None:
    maker, checker, aud = clients["maker"], clients["checker"], clients["aud"]
    r = maker.get("/console/bulk", params={"lang": "en"})
    assert r.status_code == 200 and "Bulk export, copy and destruction" in r.text and "500 rows" in r.text
    r = maker.post("/console/bulk", data={**FORM, "purpose": "curiosity"})
    assert r.status_code == 422 and "bulk_unknown_purpose" in r.text and "O24-9.3" in r.text
    r = maker.post("/console/bulk", data={**FORM, "rows": "3", "categories": "name"})
    assert r.status_code == 422 and "bulk_review_not_needed" in r.text
    r = maker.post("/console/bulk", data={**FORM, "rows": "many"})
    assert r.status_code == 422 and "rows" in r.text
    r = maker.post("/console/bulk", data=FORM)
    assert r.status_code == 303
    page = r.headers["location"].split("?")[0]
    ref = page.rsplit("/", 1)[1]

    r = maker.get(f"{page}/certificate")
    assert r.status_code == 409 and "O24-13.3" in r.text and "never approved" in r.text
    r = aud.post(f"{page}/approve", data={})
    assert r.status_code == 403 and "O24-13.3" in r.text
    r = maker.post(f"{page}/approve", data={})
    assert r.status_code == 403 and "bulk_self_approval" in r.text
    r = checker.post(f"{page}/approve", data={"note": "ok"})
    assert r.status_code == 303
    r = maker.get(page)
    assert 'id="bulk-destroy"' in r.text and "approved" in r.text
    assert maker.post(f"{page}/destroy", data={}).status_code == 303
    r = aud.get(f"{page}/certificate", params={"lang": "en"})
    assert r.status_code == 200 and "Physical destruction of the media" in r.text and ref in r.text
    r = aud.get(f"{page}/certificate", params={"lang": "zh"})
    assert "物理销毁介质" in r.text and "staff:checker" in r.text
    r = maker.post(f"{page}/explode", data={})
    assert r.status_code == 422
    r = maker.get("/console/bulk/nosuchref")
    assert r.status_code == 404


def test_the_export_page_shows_the_summary_never_the_values(clients: dict[str, TestClient]) -> None:
    maker = clients["maker"]
    data = export_csv(600)
    form = {
        **FORM,
        "kind": "export",
        "purpose": "complaint_handling",
        "rows": "",
        "categories": "",
        "method": "",
        "recipients": "Internal audit",
        "data": data,
    }
    r = maker.post("/console/bulk", data=form)
    assert r.status_code == 303, r.text
    page = maker.get(r.headers["location"])
    assert 'id="bulk-summary"' in page.text and "600" in page.text
    first = data.splitlines()[1].split(",")
    assert first[1] not in page.text and first[2] not in page.text and first[0] not in page.text
