"""Issue 10 over the API and the CLI: bound tokens (O31-13, O31-10), ``--scope sms:inbound`` in the
CLI, signature and template review, templates' kind trusted only while the text matches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.core.db import make_engine
from piguard.identity import service as identity
from piguard.messaging.registry import service as registry

from .gw_setup import AD, BUSINESS_PORT, COMMERCIAL_PORT, USER, build_registry, give_consent

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _fast_hasher() -> Iterator[None]:
    previous = identity.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    identity.use_password_hasher(previous)


@pytest.fixture()
def client(db_engine, session: Session) -> TestClient:  # type: ignore[no-untyped-def]
    identity.create_staff(session, username="otto", password=PASSWORD, roles=["operator"])
    identity.create_staff(session, username="olga", password=PASSWORD, roles=["compliance_officer"])
    session.commit()
    return TestClient(create_app())


def _token(session: Session, username: str, *scopes: str, content_provider: str | None = None) -> str:
    staff = identity.require_staff(session, username)
    plaintext, _ = identity.issue_token(
        session, staff, scopes, timedelta(days=1), content_provider=content_provider
    )
    session.commit()
    return plaintext


def _msg(sender: str, text: str = AD, **kw: object) -> dict[str, object]:
    return {"sender": sender, "recipient": USER, "text": text, "message_type": "promotions", **kw}


@pytest.mark.obligation("O31-13", "O31-10")
def test_a_token_bound_to_a_content_provider_cannot_send_for_another(
    client: TestClient, session: Session
) -> None:
    reg = build_registry(session)
    give_consent(session, reg)
    bound = _token(session, "otto", "sms:submit", content_provider="civic")
    free = _token(session, "otto", "sms:submit")
    h = {"Authorization": f"Bearer {bound}"}
    r = client.post("/api/sms/submit", json=_msg(COMMERCIAL_PORT + "07"), headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "refuse" and body["content_provider"] == "civic"
    refusal = next(x for x in body["reasons"] if x["code"] == "sender_not_this_provider")
    assert set(refusal["obligations"]) == {"O31-13", "O31-10"}
    batch = client.post(
        "/api/sms/submit/batch", json={"messages": [_msg(COMMERCIAL_PORT + "07")]}, headers=h
    ).json()
    assert batch["results"][0]["outcome"] == "refuse"
    ok = client.post(
        "/api/sms/submit", json=_msg(COMMERCIAL_PORT + "07"), headers={"Authorization": f"Bearer {free}"}
    )
    assert ok.json()["outcome"] == "allow"
    mine = _token(session, "otto", "sms:submit", content_provider="youpin")
    ok = client.post(
        "/api/sms/submit", json=_msg(COMMERCIAL_PORT + "08"), headers={"Authorization": f"Bearer {mine}"}
    )
    assert ok.json()["outcome"] == "allow"


@pytest.mark.obligation("O31-13")
def test_binding_to_an_unknown_content_provider_is_a_clear_error(
    client: TestClient, session: Session
) -> None:
    build_registry(session)
    r = client.post("/api/auth/login", json={"username": "otto", "password": PASSWORD})
    assert r.status_code == 200
    r = client.post("/api/auth/tokens", json={"scopes": ["sms:submit"], "content_provider": "nobody"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.post("/api/auth/tokens", json={"scopes": ["sms:submit"], "content_provider": "youpin"})
    assert r.status_code == 201 and r.json()["content_provider_id"] is not None


@pytest.mark.obligation("O24-13.3")
def test_the_cli_issues_a_token_with_scope_sms_inbound(tmp_path: Path) -> None:
    """Run as a user does (a fresh process that never imported the API): the scope is known."""
    from piguard.models import metadata

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    env = {**os.environ, "PIGUARD_DATABASE_URL": url}
    code = "import sys; from piguard.cli import main; sys.argv = ['piguard', *sys.argv[1:]]; main()"

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = run("staff", "create", "smsc", "-r", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    out = run("staff", "token", "smsc", "--scope", "sms:submit", "--scope", "sms:inbound")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("pgt_") and "sms:inbound" in out.stderr


@pytest.mark.obligation("O31-21", "O31-12")
def test_signature_review_over_the_api(client: TestClient, session: Session) -> None:
    build_registry(session)
    assert client.post("/api/auth/login", json={"username": "olga", "password": PASSWORD}).status_code == 200
    taken = client.post("/api/sms/content-providers/civic/signatures", json={"text": "【优品商城】"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "signature_taken"
    assert "youpin" in taken.json()["error"]["message"]["en"]
    sub = client.post("/api/sms/content-providers/civic/signatures", json={"text": "应急提醒"})
    assert sub.status_code == 201 and sub.json()["status"] == "submitted"
    bad = client.post(f"/api/sms/signatures/{sub.json()['id']}/review", json={"decision": "approved"})
    assert bad.status_code == 422
    ok = client.post(
        f"/api/sms/signatures/{sub.json()['id']}/review",
        json={"decision": "approved", "evidence": "机构名称与统一社会信用代码一致"},
    )
    assert ok.status_code == 200 and ok.json()["approved"] is True and ok.json()["reviewed_by"] == "olga"
    listed = client.get("/api/sms/content-providers/civic/signatures").json()
    assert {s["text"]: s["status"] for s in listed} == {"市应急管理局": "approved", "应急提醒": "approved"}
    assert (
        client.post(
            "/api/sms/signatures/nope/review", json={"decision": "approved", "evidence": "x"}
        ).status_code
        == 404
    )


NOTICE_TEMPLATE = "【优品商城】您的订单{order}已发货，快递单号{tracking}，请注意查收。"


@pytest.mark.obligation("O31-19", "O31-21")
def test_templates_crud_and_review_over_the_api(client: TestClient, session: Session) -> None:
    build_registry(session)
    assert client.post("/api/auth/login", json={"username": "olga", "password": PASSWORD}).status_code == 200
    r = client.post(
        "/api/sms/templates",
        json={
            "content_provider": "youpin",
            "name": "发货通知",
            "text": NOTICE_TEMPLATE,
            "kind": "notification",
        },
    )
    assert r.status_code == 201 and r.json()["status"] == "submitted", r.text
    tid = r.json()["id"]
    bad = client.post(
        "/api/sms/templates",
        json={"content_provider": "youpin", "name": "x", "text": "{a}{b}", "kind": "notification"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "text"
    assert client.get(f"/api/sms/templates/{tid}").json()["kind"] == "notification"
    assert [t["id"] for t in client.get("/api/sms/templates?content_provider=youpin").json()] == [tid]
    ok = client.post(
        f"/api/sms/templates/{tid}/review", json={"decision": "approved", "evidence": "样例已核对"}
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["reviewed_by"] == "olga"
    changed = client.patch(f"/api/sms/templates/{tid}", json={"text": NOTICE_TEMPLATE + "回T退订"})
    assert changed.json()["status"] == "submitted" and changed.json()["approved"] is False
    renamed = client.patch(f"/api/sms/templates/{tid}", json={"name": "发货"})
    assert renamed.json()["status"] == "submitted" and renamed.json()["name"] == "发货"
    unsigned = client.post(
        "/api/sms/templates",
        json={
            "content_provider": "youpin",
            "name": "无签名",
            "text": "您的订单{order}已发货",
            "kind": "notification",
        },
    ).json()["id"]
    refused = client.post(
        f"/api/sms/templates/{unsigned}/review", json={"decision": "approved", "evidence": "看过"}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "template_signature_unapproved"
    assert client.delete(f"/api/sms/templates/{unsigned}").status_code == 204
    assert client.get(f"/api/sms/templates/{unsigned}").status_code == 404


@pytest.mark.obligation("O31-19")
def test_a_reviewed_templates_kind_is_trusted_only_while_the_text_matches(session: Session) -> None:
    from piguard.messaging.gateway import submit as batch
    from piguard.messaging.gateway.decision import GatewayRequest

    from .gw_setup import at_noon

    build_registry(session)
    tpl = registry.create_template(
        session,
        content_provider="youpin",
        name="会员日",
        text="【优品商城】会员日{day}到店领取礼品。",
        kind="notification",
    )
    registry.review_template(session, tpl.id, decision="approved", evidence="非营销，门店领取通知")

    def send(text: str, template_id: int | None) -> tuple[str | None, str | None, set[str]]:
        req = GatewayRequest("sms", BUSINESS_PORT, USER, text, template_id=template_id)
        [res] = batch.submit(session, [req], now=at_noon(), dry_run=True)
        return res.outcome, res.kind, {r.code for r in res.reasons}

    outcome, kind, codes = send("【优品商城】会员日12月8日到店领取礼品。", tpl.id)
    assert (outcome, kind) == ("allow", "notification") and "template_matched" in codes
    outcome, kind, codes = send("【优品商城】会员日12月8日到店领取礼品。全场5折，满299减50", tpl.id)
    assert "template_text_changed" in codes and "template_matched" not in codes
    assert outcome == "refuse" and kind == "commercial"  # the review decides: an advert from a service port
    outcome, kind, codes = send("【优品商城】会员日https://x.cn到店领取礼品。", tpl.id)
    assert "template_text_changed" in codes
    registry.update_template(session, tpl.id, text="【优品商城】会员日{day}到店领取好礼。")
    outcome, kind, codes = send("【优品商城】会员日12月8日到店领取好礼。", tpl.id)
    assert "template_not_approved" in codes and "template_matched" not in codes


@pytest.mark.obligation("O31-21", "O31-19")
def test_registry_cli_reviews_signatures_and_templates(db_engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    from piguard.messaging.cli import app

    build_registry(session)
    runner = CliRunner()

    def ok(*args: str) -> object:
        r = runner.invoke(app, ["registry", *args])
        assert r.exit_code == 0, (r.output, r.exception)
        return json.loads(r.stdout)

    sig = ok("add-signature", "civic", "应急提醒")
    assert sig["status"] == "submitted"  # type: ignore[index]
    done = ok("review-signature", str(sig["id"]), "--decision", "approved", "--evidence", "机构名称")  # type: ignore[index]
    assert done["approved"] is True  # type: ignore[index]
    assert {s["text"] for s in ok("signatures", "civic")} == {"市应急管理局", "应急提醒"}  # type: ignore[attr-defined]
    tpl = ok(
        "add-template",
        "--content-provider",
        "youpin",
        "--name",
        "n",
        "--text",
        NOTICE_TEMPLATE,
        "--kind",
        "notification",
    )
    tid = str(tpl["id"])  # type: ignore[index]
    assert (
        ok("review-template", tid, "--decision", "rejected", "--evidence", "单号格式不符")["status"]
        == "rejected"
    )  # type: ignore[index]
    assert ok("update-template", tid, "--kind", "verification_code")["status"] == "submitted"  # type: ignore[index]
    assert [t["id"] for t in ok("templates", "--content-provider", "youpin")] == [int(tid)]  # type: ignore[attr-defined]
    taken = runner.invoke(app, ["registry", "add-signature", "civic", "优品商城"])
    assert taken.exit_code != 0 and getattr(taken.exception, "code", None) == "signature_taken"
    assert "youpin" in str(getattr(taken.exception, "message_en", ""))
    r = runner.invoke(app, ["registry", "delete-template", tid])
    assert r.exit_code == 0 and ok("templates") == []
