"""The public rules API on the real application."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from piguard.app import create_app
from piguard.regulations.parameters import all_parameters


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def test_list_rules(client: TestClient) -> None:
    r = client.get("/api/rules")
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 60
    assert {"id": "O24-12", "penalty": "O24-22"}.items() <= next(
        x for x in rows if x["id"] == "O24-12"
    ).items()


def test_list_rules_filters(client: TestClient) -> None:
    rows = client.get("/api/rules", params={"source": "CSL"}).json()
    assert rows and {x["source"] for x in rows} == {"CSL"}
    rows = client.get("/api/rules", params={"section": "G"}).json()
    assert {x["id"] for x in rows} == {"O24-17", "O24-19", "O31-30", "O31-31", "O24-22", "O24-23", "O31-34"}


def test_bad_filter_is_422_in_the_error_shape(client: TestClient) -> None:
    r = client.get("/api/rules", params={"source": "O99"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"


@pytest.mark.obligation("O31-34")
def test_one_rule_with_text_parameters_and_penalty(client: TestClient) -> None:
    r = client.get("/api/rules/O31-27")
    assert r.status_code == 200
    d = r.json()
    assert d["title_zh"] and d["title_en"] and "15 working days" in d["text_en"]
    assert d["source"]["id"] == "O31" and d["source"]["file"] == "miit-order-31-sms-management.txt"
    assert {p["name"]: p["value"] for p in d["parameters"]} == {
        "sms_complaint.feedback_working_days": 15,
        "sms_complaint.reporting_centre_transfer_working_days": 5,
    }
    assert d["penalty"]["id"] == "O31-34" and d["penalty"]["applies_to_paragraphs"] == [3]
    assert (d["penalty"]["fine_min_yuan"], d["penalty"]["fine_max_yuan"]) == (10000, 30000)
    assert d["piguard_does"]["zh"]


def test_rule_values_on_a_date(client: TestClient) -> None:
    d = client.get("/api/rules/O31-27", params={"on": "2015-01-01"}).json()
    assert all(p["in_force"] is False and p["value"] is None for p in d["parameters"])
    assert d["penalty"]["fine_max_yuan"] is None


def test_unknown_rule_is_404_in_the_error_shape(client: TestClient) -> None:
    r = client.get("/api/rules/O31-18.3")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "not_found"
    assert "O31-18.3" in err["message"]["en"] and "O31-18.2" in err["message"]["en"]
    assert err["message"]["zh"]


def test_matrix(client: TestClient) -> None:
    r = client.get("/api/rules/matrix")
    assert r.status_code == 200
    m = r.json()
    assert m["counts"]["total"] == 60 == len(m["rows"])
    row = next(x for x in m["rows"] if x["id"] == "O24-22")
    assert any(c["location"].startswith("piguard.regulations.service:penalty_for:") for c in row["code"])
    r = client.get("/api/rules/matrix", params={"status": "partial"})
    assert {x["status"] for x in r.json()["rows"]} <= {"partial"}
    assert client.get("/api/rules/matrix", params={"status": "done"}).status_code == 422


def test_parameters(client: TestClient) -> None:
    r = client.get("/api/parameters")
    assert r.status_code == 200
    by_name = {p["name"]: p for p in r.json()}
    assert set(by_name) == {q.name for q in all_parameters()}
    assert {"complaint.reply_days", "rights.request_reply_days"} <= set(by_name)
    p = by_name["sms_records.retention_months"]
    assert (p["value"], p["unit"], p["bound"], p["reference"]["id"]) == (5, "months", "at_least", "O31-11")
    assert p["unit_label"] == {"en": "months", "zh": "个月"}
    early = {p["name"]: p for p in client.get("/api/parameters", params={"on": "2014-06-01"}).json()}
    assert early["complaint.reply_days"]["value"] == 15
    assert early["sms_records.retention_months"]["in_force"] is False


def test_one_parameter(client: TestClient) -> None:
    r = client.get("/api/parameters/complaint.reply_days")
    assert r.status_code == 200
    d = r.json()
    assert d["value"] == 15 and d["effective"] == "2013-09-01"
    assert d["values"] == [{"effective": "2013-09-01", "value": 15}]
    assert d["description"]["zh"] and d["description"]["en"]


def test_unknown_parameter_and_bad_date(client: TestClient) -> None:
    r = client.get("/api/parameters/complaint.reply_day")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/api/parameters/complaint.reply_days", params={"on": "not-a-date"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_rules_api_is_public_and_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/rules",
        "/api/rules/matrix",
        "/api/rules/{obligation_id}",
        "/api/parameters",
        "/api/parameters/{name}",
    ):
        op = spec["paths"][path]["get"]
        assert "security" not in op
        assert "200" in op["responses"]
    detail = spec["paths"]["/api/rules/{obligation_id}"]["get"]["responses"]
    assert detail["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ObligationDetail")
    assert detail["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


def test_matrix_rows_carry_their_capability_and_missing_parts(client: TestClient) -> None:
    rows = {x["id"]: x for x in client.get("/api/rules/matrix").json()["rows"]}
    # A row names its capability and parts; a built one (the sharing register and decision) misses none.
    row = rows["CSL-42.1"]
    assert row["status"] == "built" and row["missing"] == []
    assert row["capability"]["zh"] and row["capability"]["en"]
    assert "sharing-register" in [p["key"] for p in row["parts"] if p["met"]]
    for r in rows.values():
        assert (r["status"] == "built") == (r["missing"] == []), r["id"]
        assert all(p["met"] is False and p["under"] for p in r["missing"]), r["id"]
    assert rows["O24-13.3"]["status"] == "built" and rows["O24-13.3"]["missing"] == []
    assert rows["O31-28"]["status"] == "built" and rows["O31-28"]["missing"] == []
