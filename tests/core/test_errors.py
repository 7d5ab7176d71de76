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


def test_input_the_database_cannot_store_is_a_422_not_a_500(db_engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    app = create_app()

    @app.get("/echo")
    def echo(q: str) -> dict[str, str]:
        with db_engine.connect() as conn:
            return {"q": str(conn.execute(text("SELECT :q"), {"q": q}).scalar_one())}

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/echo", params={"q": "a\x00b"})
    if db_engine.dialect.name == "postgresql":  # PostgreSQL text cannot hold NUL
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "validation_error"
    else:
        assert r.status_code == 200


def test_numbers_beyond_the_database_integers_are_a_422(db_engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    app = create_app()

    @app.get("/page")
    def page(offset: int) -> dict[str, int]:
        with db_engine.connect() as conn:
            return {"n": int(conn.execute(text("SELECT 1 LIMIT 1 OFFSET :o"), {"o": offset}).scalar() or 0)}

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/page", params={"offset": 2**63})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
