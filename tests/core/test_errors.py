"""One error shape for API and CLI; no stack traces to clients."""

from __future__ import annotations

from fastapi.testclient import TestClient

from piguard.app import create_app
from piguard.core.errors import refused
from piguard.core.reasons import Decision, Outcome, Reason


def test_decision_combine_prefers_refusal_and_keeps_all_reasons() -> None:
    a = Reason("a", ("O31-10",), "no sender", "无发送号码")
    h = Reason("h", ("O31-17",), "held", "暂缓")
    d = Decision.combine([], [a], [h])
    assert d.outcome is Outcome.REFUSE
    assert d.obligations == ("O31-10", "O31-17")
    assert Decision.combine([], [], [h]).outcome is Outcome.HOLD
    assert Decision.combine([], [], []).allowed


def test_refused_error_carries_ids_and_both_languages() -> None:
    d = Decision.refuse(Reason("no_consent", ("O31-18.1", "NPC-7"), "No consent.", "未经同意。"))
    body = refused(d).to_dict()["error"]
    assert body["code"] == "refused"
    assert body["obligations"] == ["O31-18.1", "NPC-7"]
    assert body["message"]["zh"] and body["message"]["en"]
    assert body["reasons"][0]["obligations"] == ["O31-18.1", "NPC-7"]


def test_unknown_route_uses_error_shape() -> None:
    client = TestClient(create_app())
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_healthz_and_metrics_are_public() -> None:
    client = TestClient(create_app())
    assert client.get("/healthz").json()["status"] in ("ok", "degraded")
    m = client.get("/metrics")
    assert m.status_code == 200 and "piguard_http_requests_total" in m.text


def test_internal_error_has_no_trace() -> None:
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail 13812345678")

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "secret" not in r.text and "Traceback" not in r.text
