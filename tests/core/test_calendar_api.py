"""GET /api/calendar/…: public, the Deadline with its estimate flag, bad input as 422 in the error shape.

The real app factory builds the app, mounted with the calendar router alone so the test does not
depend on other domains being importable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from piguard import app as app_module
from piguard.core import calendar as cal


@pytest.fixture()
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(app_module, "DOMAIN_ROUTERS", ["piguard.core.calendar_views"])
    with TestClient(app_module.create_app()) as c:
        yield c


@pytest.mark.obligation("O31-27")
def test_working_days(client: TestClient) -> None:
    r = client.get("/api/calendar/deadline", params={"start": "2026-09-28", "working_days": 15})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["due"] == "2026-10-23" and body["start"] == "2026-09-28"
    assert body["kind"] == "working_days" and body["count"] == 15
    assert body["estimated"] is False and body["warning_en"] is None and body["warning_zh"] is None
    assert body["ends_at"] == "2026-10-24T00:00:00+08:00"


@pytest.mark.obligation("O24-12")
def test_calendar_days(client: TestClient) -> None:
    r = client.get("/api/calendar/deadline", params={"start": "2026-09-20", "days": 15})
    assert r.status_code == 200
    assert r.json()["due"] == "2026-10-08"


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-09-27T16:30:00%2B00:00&working_days=15",  # properly encoded +
        "start=2026-09-27T16:30:00+00:00&working_days=15",  # raw + read back as a space
        "start=2026-09-27T16:30:00Z&working_days=15",
    ],
)
def test_aware_datetime_is_shanghai_date(client: TestClient, query: str) -> None:
    r = client.get(f"/api/calendar/deadline?{query}")
    assert r.status_code == 200, r.text
    assert r.json()["start"] == "2026-09-28" and r.json()["due"] == "2026-10-23"


@pytest.mark.obligation("O24-12")
def test_estimated(client: TestClient) -> None:
    r = client.get("/api/calendar/deadline", params={"start": "2027-01-01", "days": 15})
    body = r.json()
    assert r.status_code == 200
    assert body["due"] == "2027-01-18" and body["estimated"] is True and body["estimated_years"] == [2027]
    assert "2027" in body["warning_en"] and "估算" in body["warning_zh"]


def test_loaded_schedule_applies(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "year: 2027\nholidays:\n  - {start: 2027-01-01, end: 2027-01-03, name: 元旦}\n", encoding="utf-8"
    )
    cal.load_schedule(path)
    r = client.get("/api/calendar/deadline", params={"start": "2026-12-28", "working_days": 5})
    assert r.json()["due"] == "2027-01-05" and r.json()["estimated"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-09-28"}, "days"),
        ({"start": "2026-09-28", "days": 15, "working_days": 15}, "days"),
        ({"start": "2026-09-28", "days": -3}, "days"),
        ({"start": "2026-09-28", "working_days": 0}, "working_days"),
        ({"start": "2026-09-28", "working_days": 5000}, "working_days"),
        ({"start": "2026-09-28T09:00:00", "days": 15}, "start"),  # naive
        ({"start": "not a date", "days": 15}, "start"),
        ({"start": "2026-09-28", "days": "x"}, "query.days"),
        ({"days": 15}, "query.start"),
    ],
)
def test_bad_input_is_422_in_error_shape(client: TestClient, params: dict[str, object], field: str) -> None:
    r = client.get("/api/calendar/deadline", params=params)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert err["message"]["en"] and err["message"]["zh"]
    assert field in [f["field"] for f in err["fields"]]


def test_year_view(client: TestClient) -> None:
    r = client.get("/api/calendar/years/2026")
    assert r.status_code == 200
    body = r.json()
    assert body["covered"] is True and body["covered_until"] == "2026-12-31"
    assert {"date": "2026-10-10", "name": "国庆节 National Day"} in body["workdays"]
    beyond = client.get("/api/calendar/years/2027").json()
    assert beyond["covered"] is False and beyond["holidays"] == []


def test_in_openapi_as_public(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/calendar/deadline"]["get"]
    assert "security" not in op
    assert "200" in op["responses"]
