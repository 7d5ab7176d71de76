"""Receipts and replies for content providers (issue 13.6): pushed to a real HTTP receiver with an
HMAC signature, retried with back-off, recorded, and kept to poll over the API; bad input refused."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.app import create_app
from piguard.core.errors import PiguardError
from piguard.core.logging import configure_logging
from piguard.identity import service as identity
from piguard.identity.tokens import issue_token
from piguard.messaging import jobs
from piguard.messaging.callbacks import jobs as callback_jobs
from piguard.messaging.callbacks import service as callbacks
from piguard.messaging.callbacks.models import CallbackEndpoint, CallbackEvent
from piguard.messaging.gateway.submit import submit
from piguard.messaging.records import service as records
from piguard.messaging.settings import get_messaging_settings
from piguard.messaging.subscriptions.inbound import receive_reply

from .gw_setup import COMMERCIAL_PORT, USER, ad, at_noon, build_registry, give_consent

pytestmark = pytest.mark.obligation("O31-11", "O31-20")


class Receiver:
    """A content provider's HTTP endpoint on loopback: records each request, answers from a script."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                code = outer.answers.pop(0) if outer.answers else 200
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/piguard/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, i: int = -1) -> list[dict[str, Any]]:
        return list(json.loads(self.requests[i][1])["events"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    # a loopback receiver over plain http: both need the operator's explicit leave
    monkeypatch.setenv("PIGUARD_SMS_CALLBACK_ALLOW_HTTP", "true")
    monkeypatch.setenv("PIGUARD_SMS_CALLBACK_ALLOW_PRIVATE", "true")
    get_messaging_settings.cache_clear()
    r = Receiver()
    yield r
    r.close()
    get_messaging_settings.cache_clear()


@pytest.fixture()
def strict() -> Iterator[None]:
    get_messaging_settings.cache_clear()
    yield
    get_messaging_settings.cache_clear()


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a content provider's receiver does (docs/sms-callbacks.md)."""
    parts = dict(p.split("=", 1) for p in headers["x-piguard-signature"].split(","))
    mac = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"])


def _delivered_message(session: Session, reg: Any) -> str:
    [r] = submit(session, [ad(client_ref="order-42")], now=at_noon())
    assert r.outcome == "allow", r.reasons
    records.deliver_report(session, r.ref or "", "delivered", at=at_noon() + timedelta(seconds=5))
    session.commit()
    return r.ref or ""


def test_a_receipt_is_pushed_signed_and_delivered_once(session: Session, receiver: Receiver) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    _, secret = callbacks.set_endpoint(session, reg.youpin_id, url=receiver.url)
    session.commit()
    assert secret
    ref = _delivered_message(session, reg)
    out = callback_jobs.push_due()
    assert out["delivered"] == 1 and out["requests"] == 1
    [(headers, body)] = receiver.requests
    assert _verify(secret, headers, body)
    assert not _verify(secret + "x", headers, body)
    [ev] = receiver.events()
    assert ev["kind"] == "receipt" and ev["ref"] == ref and ev["client_ref"] == "order-42"
    assert ev["status"] == "delivered" and ev["error"] is None and isinstance(ev["id"], int)
    # delivered: nothing pushed again
    assert callback_jobs.push_due()["requests"] == 0 and len(receiver.requests) == 1
    stored = session.scalar(select(CallbackEvent).execution_options(populate_existing=True))
    assert stored is not None and stored.status == "delivered" and stored.delivered_at is not None


def test_a_refused_push_is_retried_with_back_off_then_fails_past_the_validity(
    session: Session, receiver: Receiver
) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    callbacks.set_endpoint(session, reg.youpin_id, url=receiver.url)
    session.commit()
    _delivered_message(session, reg)
    receiver.answers = [503, 302]
    t0 = at_noon() + timedelta(minutes=1)
    assert callback_jobs.push_due(t0)["retry"] == 1
    ev = session.scalar(select(CallbackEvent).execution_options(populate_existing=True))
    assert ev is not None and ev.status == "pending" and ev.attempts == 1 and ev.last_error == "http_503"
    assert ev.next_attempt_at is not None and ev.next_attempt_at > t0
    # not due yet: nothing sent
    assert callback_jobs.push_due(t0 + timedelta(seconds=1))["requests"] == 0
    # due: a redirect is not followed (it could lead anywhere), and counts as a failure
    assert callback_jobs.push_due(t0 + timedelta(minutes=10))["retry"] == 1
    ev = session.scalar(select(CallbackEvent).execution_options(populate_existing=True))
    assert ev is not None and ev.last_error == "redirect_not_followed" and ev.attempts == 2
    # the receiver stays down past the validity (48 h): failed, kept to poll
    receiver.answers = [500]
    assert callback_jobs.push_due(at_noon() + timedelta(hours=49))["failed"] == 1
    ev = session.scalar(select(CallbackEvent).execution_options(populate_existing=True))
    assert ev is not None and ev.status == "failed"
    assert len(receiver.requests) == 3


def test_a_reply_is_pushed_with_the_number_and_kept_encrypted(session: Session, receiver: Receiver) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    _, secret = callbacks.set_endpoint(session, reg.youpin_id, url=receiver.url, receipts=False)
    session.commit()
    res = receive_reply(
        session, channel="sms", sender=USER, to=COMMERCIAL_PORT + "07", text="退订", received_at=at_noon()
    )
    session.commit()
    assert res.intent == "opt_out"
    stored = session.scalar(select(CallbackEvent))
    assert stored is not None and stored.kind == "reply"
    # the number and the words only encrypted at rest
    assert USER[-8:] not in (stored.payload or "") and "退订" not in (stored.payload or "")
    assert stored.payload_enc and USER[-8:] not in stored.payload_enc
    callback_jobs.push_due()
    [ev] = receiver.events()
    assert ev["from"].endswith(USER[-8:]) and ev["text"] == "退订" and ev["intent"] == "opt_out"
    assert ev["consent_ended"] is True and ev["to"] == COMMERCIAL_PORT + "07"
    assert _verify(secret, *receiver.requests[-1])
    # receipts were turned off: a delivery makes no event
    _delivered = submit(session, [ad(sender=COMMERCIAL_PORT + "08")], now=at_noon())
    session.commit()
    assert session.scalars(select(CallbackEvent)).all() == [stored]


def test_nothing_is_kept_for_a_content_provider_that_did_not_turn_them_on(session: Session) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    _delivered_message(session, reg)
    receive_reply(
        session, channel="sms", sender=USER, to=COMMERCIAL_PORT + "07", text="好的", received_at=at_noon()
    )
    session.commit()
    assert session.scalars(select(CallbackEvent)).all() == []
    with pytest.raises(PiguardError) as err:
        callbacks.poll(session, reg.youpin_id, "receipt")
    assert err.value.code == "callbacks_not_enabled" and err.value.http_status == 409


def test_poll_only_endpoints_keep_events_and_never_push(session: Session, receiver: Receiver) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    callbacks.set_endpoint(session, reg.youpin_id, url=None)
    session.commit()
    ref = _delivered_message(session, reg)
    assert callback_jobs.push_due()["requests"] == 0 and receiver.requests == []
    page = callbacks.poll(session, reg.youpin_id, "receipt")
    assert [e["ref"] for e in page["events"]] == [ref] and page["next"] == page["events"][0]["id"]
    assert callbacks.poll(session, reg.youpin_id, "receipt", after=page["next"])["events"] == []


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "required"),
        ("ftp://example.cn/x", "http(s)"),
        ("http://example.cn/hook", "https only"),
        ("https://user:pw@example.cn/hook", "no user"),
        ("https://127.0.0.1/hook", "private"),
        ("https://10.1.2.3/hook", "private"),
        ("https://[::1]/hook", "private"),
        ("https://169.254.169.254/latest", "private"),
        ("https://localhost/hook", "private"),
        ("https://example.cn/" + "x" * 600, "at most"),
        ("https://example.cn/a b", "printable"),
        ("https://exa mple.cn:99999/", "printable"),
        ("https://example.cn:99999/", "not a URL"),
    ],
)
def test_bad_callback_urls_are_refused_with_what_was_wrong(
    session: Session, strict: None, url: str, fragment: str
) -> None:
    reg = build_registry(session)
    with pytest.raises(PiguardError) as err:
        callbacks.set_endpoint(session, reg.youpin_id, url=url)
    assert err.value.http_status == 422
    assert fragment in json.dumps(err.value.to_dict(), ensure_ascii=False)
    assert session.scalars(select(CallbackEndpoint)).all() == []


def test_a_name_that_resolves_to_a_private_address_is_not_pushed_to(
    session: Session, strict: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL check at registration sees only the name; the address it resolves to is checked at
    each push (a public name pointing into piguard's own network is refused)."""
    import socket

    reg = build_registry(session)
    give_consent(session, reg)
    callbacks.set_endpoint(session, reg.youpin_id, url="https://hooks.example.cn/piguard")
    session.commit()
    _delivered_message(session, reg)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.0.0.8", 0))])
    sent: list[object] = []
    with session.begin_nested():
        _token, pushes = callbacks.claim_due(session)
    assert len(pushes) == 1
    assert callbacks.deliver(pushes[0], lambda *a: sent.append(a) or 200) == "address_not_allowed"
    assert sent == []


# ------------------------------------------------------------------------------------ API

PASSWORD = "correct horse battery"


@pytest.fixture()
def api(db_engine, session: Session, receiver: Receiver) -> Iterator[tuple[TestClient, dict[str, str], Any]]:  # type: ignore[no-untyped-def]
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    reg = build_registry(session)
    give_consent(session, reg)
    staff = identity.create_staff(session, username="yp-integration", password=PASSWORD, roles=["operator"])
    bound, _ = issue_token(session, staff, ["sms:submit"], timedelta(days=1), content_provider="youpin")
    unbound, _ = issue_token(session, staff, ["sms:submit"], timedelta(days=1))
    session.commit()
    yield TestClient(create_app()), {"bound": bound, "unbound": unbound}, reg
    identity.use_password_hasher(previous)


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_bound_token_sets_its_callback_and_polls_its_receipts_and_replies(
    api: tuple[TestClient, dict[str, str], Any], session: Session, receiver: Receiver
) -> None:
    client, tokens, reg = api
    r = client.put("/api/sms/callback", json={"url": None}, headers=_h(tokens["bound"]))
    assert r.status_code == 200, r.text
    assert r.json()["push"] is False and len(r.json()["secret"]) >= 40
    assert "secret" not in client.get("/api/sms/callback", headers=_h(tokens["bound"])).json()
    ref = _delivered_message(session, reg)
    receive_reply(
        session, channel="sms", sender=USER, to=COMMERCIAL_PORT + "07", text="退订", received_at=at_noon()
    )
    session.commit()
    got = client.get("/api/sms/receipts", headers=_h(tokens["bound"])).json()
    assert [e["ref"] for e in got["events"]] == [ref]
    again = client.get("/api/sms/receipts", params={"after": got["next"]}, headers=_h(tokens["bound"])).json()
    assert again["events"] == [] and again["next"] == got["next"]
    replies = client.get("/api/sms/replies", headers=_h(tokens["bound"])).json()["events"]
    assert [e["intent"] for e in replies] == ["opt_out"] and replies[0]["text"] == "退订"
    # turning push on later: a rotated secret is shown, the old one no longer signs
    r = client.put(
        "/api/sms/callback", json={"url": receiver.url, "rotate_secret": True}, headers=_h(tokens["bound"])
    )
    assert r.status_code == 200 and r.json()["push"] is True and r.json()["secret"]
    assert client.delete("/api/sms/callback", headers=_h(tokens["bound"])).status_code == 204
    assert client.get("/api/sms/callback", headers=_h(tokens["bound"])).json()["active"] is False


def test_callback_api_refuses_unbound_tokens_and_bad_input(
    api: tuple[TestClient, dict[str, str], Any], session: Session
) -> None:
    client, tokens, _ = api
    r = client.get("/api/sms/receipts", headers=_h(tokens["unbound"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "content_provider_token_required"
    assert "O24-13.3" in r.json()["error"]["obligations"]
    r = client.get("/api/sms/receipts", headers=_h(tokens["bound"]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "callbacks_not_enabled"
    for bad in ({"url": 5}, {"url": "https://x.cn", "extra": 1}, {"receipts": "yes"}):
        assert client.put("/api/sms/callback", json=bad, headers=_h(tokens["bound"])).status_code == 422
    client.put("/api/sms/callback", json={}, headers=_h(tokens["bound"]))
    for params in ({"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 5000}):
        assert client.get("/api/sms/receipts", params=params, headers=_h(tokens["bound"])).status_code == 422
    assert client.get("/api/sms/receipts").status_code == 401


def test_the_worker_round_pushes_and_no_number_reaches_the_logs(
    db_engine,
    session: Session,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    callbacks.set_endpoint(session, reg.youpin_id, url=receiver.url)
    session.commit()
    receive_reply(
        session, channel="sms", sender=USER, to=COMMERCIAL_PORT + "07", text="退订", received_at=at_noon()
    )
    session.commit()
    receiver.answers = [500]
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        out = jobs.run_once()
    finally:
        configure_logging("INFO")
    assert out["failed"] == [] and out["callbacks"]["retry"] == 1
    logged = stream.getvalue()
    assert "callbacks.push_failed" in logged and "http_500" in logged
    assert USER[-8:] not in logged and "退订" not in logged and "127.0.0.1:" not in logged


def test_the_callback_commands(db_engine, session: Session, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from piguard.cli import app

    reg = build_registry(session)
    give_consent(session, reg)
    runner = CliRunner()
    res = runner.invoke(
        app, ["sms", "callback", "set", "--content-provider", "youpin", "--url", receiver.url]
    )
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout.strip().splitlines()[-1])
    assert first["push"] is True and first["secret"]
    shown = json.loads(runner.invoke(app, ["sms", "callback", "show", "--content-provider", "youpin"]).stdout)
    assert shown["url"] == receiver.url and "secret" not in shown
    res = runner.invoke(app, ["sms", "callback", "set", "--content-provider", "youpin", "--url", "ftp://x"])
    assert res.exit_code == 2 and "http(s)" in res.output
    res = runner.invoke(app, ["sms", "callback", "set", "--content-provider", "nobody"])
    assert res.exit_code == 2 and "not_found" in res.output
    _delivered_message(session, reg)
    res = runner.invoke(app, ["sms", "callback", "push"])
    assert res.exit_code == 0 and json.loads(res.stdout)["delivered"] == 1
    assert _verify(first["secret"], *receiver.requests[-1])
    res = runner.invoke(app, ["sms", "callback", "remove", "--content-provider", "youpin"])
    assert res.exit_code == 0 and json.loads(res.stdout)["removed"] is True
