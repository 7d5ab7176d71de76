"""Delivery reports and replies for content providers: pushed to the callback URL each one
registers, signed with its own HMAC secret, retried with back-off, and kept to poll (issue 13.6).

A content provider learns what became of its messages (O31-11: the delivery time and state are part
of the record it may be asked for) and what its recipients answered, above all 退订 (O31-20: the
opt-out has already ended the consent in piguard; the content provider is told so that its own
lists agree). Events are recorded in the same transaction as the report or the reply they describe,
only for content providers that turned them on (an endpoint row, with or without a URL), and pushed
at least once: a receiver deduplicates by the event ``id``.

Push: ``POST url`` with ``{"events": [...]}`` (at most :data:`PUSH_BATCH`, one content provider),
``Content-Type: application/json``, ``X-Piguard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>." + body under the secret>``; a 2xx answer delivers them, anything else (another status, a
redirect, a timeout, a refused address) is retried with back-off until
``PIGUARD_SMS_CALLBACK_VALIDITY_HOURS``, then the event is ``failed`` (still there to poll).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core import crypto
from piguard.core.db import utcnow
from piguard.core.errors import PiguardError, invalid_field
from piguard.core.refs import new_ref
from piguard.identity.principal import Principal
from piguard.messaging.callbacks.models import EVENT_KINDS, CallbackEndpoint, CallbackEvent
from piguard.messaging.models import MessageRecord
from piguard.messaging.registry.service import actor_of
from piguard.messaging.settings import MessagingSettings, get_messaging_settings
from piguard.regulations.markers import carries

#: Events in one push request (one content provider's, oldest first).
PUSH_BATCH = 100
#: Seconds a pusher's claim on events lasts (a pusher that died mid-request: pushed again after it).
LEASE_SECONDS = 120
MAX_URL = 500
EVENTS = cast(Table, CallbackEvent.__table__)


def _needs_bound() -> PiguardError:
    return PiguardError(
        "content_provider_token_required",
        "Receipts and replies belong to one content provider: use a token bound to it "
        "(piguard staff token --content-provider CODE), or the CLI (piguard sms callback).",
        "回执与上行回复属于某一内容提供者：请使用绑定该内容提供者的令牌"
        "（piguard staff token --content-provider CODE），或使用命令行（piguard sms callback）。",
        obligations=("O24-13.3",),
        http_status=403,
        exit_code=2,
    )


def _not_enabled() -> PiguardError:
    return PiguardError(
        "callbacks_not_enabled",
        "Receipts and replies are kept for this content provider once it turns them on: "
        "PUT /api/sms/callback (with a URL to have them pushed, or without one to poll).",
        "该内容提供者开启后才会保存回执与上行回复：PUT /api/sms/callback（提供 URL 即推送，不提供则仅供查询）。",
        http_status=409,
        exit_code=2,
    )


def bound_content_provider(principal: Principal) -> int:
    """The content provider a token is bound to; other callers are refused (O24-13.3)."""
    if principal.content_provider_id is None:
        raise _needs_bound()
    return principal.content_provider_id


# ------------------------------------------------------------------------------------ endpoints


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global or ip.is_multicast


def check_url(url: object, settings: MessagingSettings | None = None) -> str:
    """A callback URL piguard may call: http(s) with a host, no credentials, not piguard's own network.

    Plain http needs ``PIGUARD_SMS_CALLBACK_ALLOW_HTTP``; an address literal that is private,
    loopback or link-local needs ``PIGUARD_SMS_CALLBACK_ALLOW_PRIVATE`` (names are checked again when
    resolved, at each push)."""
    cfg = settings or get_messaging_settings()
    if not isinstance(url, str) or not url.strip():
        raise invalid_field("url", "a URL is required", "需要 URL")
    url = url.strip()
    if len(url) > MAX_URL or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise invalid_field("url", f"at most {MAX_URL} printable characters", f"至多 {MAX_URL} 个可打印字符")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise invalid_field("url", "not a URL", "不是有效的 URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise invalid_field("url", "an http(s) URL with a host", "须为含主机名的 http(s) URL")
    if parts.scheme == "http" and not cfg.sms_callback_allow_http:
        raise invalid_field("url", "https only (PIGUARD_SMS_CALLBACK_ALLOW_HTTP)", "仅限 https")
    if parts.username or parts.password:
        raise invalid_field("url", "no user or password in the URL", "URL 中不得包含用户名或密码")
    try:
        literal = _private(host)
    except ValueError:
        literal = host.lower() == "localhost" or host.lower().endswith(".localhost")
    if literal and not cfg.sms_callback_allow_private:
        raise invalid_field(
            "url",
            "a private, loopback or link-local address (PIGUARD_SMS_CALLBACK_ALLOW_PRIVATE)",
            "不得指向内网、回环或链路本地地址",
        )
    return url


def get_endpoint(session: Session, content_provider_id: int) -> CallbackEndpoint | None:
    return session.scalar(
        select(CallbackEndpoint).where(CallbackEndpoint.content_provider_id == content_provider_id)
    )


@carries("O31-11", "O31-20")
def set_endpoint(
    session: Session,
    content_provider_id: int,
    *,
    url: str | None,
    receipts: bool = True,
    replies: bool = True,
    rotate_secret: bool = False,
    principal: Principal | None = None,
) -> tuple[CallbackEndpoint, str | None]:
    """Turn receipts and replies on for a content provider (``url`` None: kept to poll only), or
    change them. Returns the endpoint and, when it is new or ``rotate_secret``, the HMAC secret: it
    is shown this once (stored encrypted)."""
    if not isinstance(receipts, bool) or not isinstance(replies, bool):
        raise invalid_field("receipts", "true or false", "须为 true 或 false")
    clean = None if url is None else check_url(url)
    ep = get_endpoint(session, content_provider_id)
    secret: str | None = None
    now = utcnow()
    if ep is None:
        secret = secrets.token_urlsafe(32)
        ep = CallbackEndpoint(
            content_provider_id=content_provider_id,
            secret_enc=crypto.encrypt(secret),
            created_at=now,
        )
        session.add(ep)
    elif rotate_secret:
        secret = secrets.token_urlsafe(32)
        ep.secret_enc = crypto.encrypt(secret)
    ep.url, ep.receipts, ep.replies, ep.active, ep.updated_at = clean, receipts, replies, True, now
    session.flush()
    record(
        session,
        action="sms.callback.set",
        actor=actor_of(principal),
        subject_ref=f"content_provider:{content_provider_id}",
        obligations=("O31-11", "O31-20"),
        detail={
            "push": clean is not None,
            "receipts": receipts,
            "replies": replies,
            "secret_rotated": secret is not None,
        },
    )
    return ep, secret


def remove_endpoint(
    session: Session, content_provider_id: int, *, principal: Principal | None = None
) -> bool:
    """Turn them off: no new events; those kept stay to poll until the records' retention ends."""
    ep = get_endpoint(session, content_provider_id)
    if ep is None:
        return False
    ep.active, ep.updated_at = False, utcnow()
    record(
        session,
        action="sms.callback.removed",
        actor=actor_of(principal),
        subject_ref=f"content_provider:{content_provider_id}",
        obligations=("O31-11",),
    )
    return True


def endpoint_dict(ep: CallbackEndpoint, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "url": ep.url,
        "push": ep.url is not None,
        "receipts": ep.receipts,
        "replies": ep.replies,
        "active": ep.active,
        "updated_at": ep.updated_at,
    }
    if secret is not None:
        out["secret"] = secret  # shown once
    return out


# ------------------------------------------------------------------------------------ events


def _wants(session: Session, content_provider_id: int, kind: str) -> CallbackEndpoint | None:
    ep = get_endpoint(session, content_provider_id)
    if ep is None or not ep.active or not (ep.receipts if kind == "receipt" else ep.replies):
        return None
    return ep


#: Payload keys that hold a user's number or words: stored encrypted.
_PI_KEYS = ("from", "text")


def _event(
    cp_id: int, kind: str, ref: str, ep: CallbackEndpoint, at: datetime, data: dict[str, Any]
) -> CallbackEvent:
    clear = {k: v for k, v in data.items() if k not in _PI_KEYS}
    secret_part = {k: v for k, v in data.items() if k in _PI_KEYS}
    return CallbackEvent(
        content_provider_id=cp_id,
        kind=kind,
        message_ref=ref,
        payload=json.dumps(clear, ensure_ascii=False, default=str),
        payload_enc=crypto.encrypt(json.dumps(secret_part, ensure_ascii=False)) if secret_part else None,
        status="pending" if ep.url else "poll",
        next_attempt_at=at,
        created_at=at,
    )


@carries("O31-11")
def record_receipt(
    session: Session, message_ref: str, status: str, at: datetime, error: str | None = None
) -> None:
    """A message of a content provider reached ``delivered`` or ``failed``: an event for it, when
    the content provider wants receipts (called by ``records.deliver_report``)."""
    row = session.execute(
        select(MessageRecord.content_provider_id, MessageRecord.client_ref).where(
            MessageRecord.ref == message_ref
        )
    ).first()
    cp_id = row[0] if row is not None else None
    if row is None or cp_id is None:
        return
    client_ref = row[1]
    ep = _wants(session, cp_id, "receipt")
    if ep is None:
        return
    data = {
        "ref": message_ref,
        "client_ref": client_ref,
        "status": status,
        "at": at.isoformat(),
        "error": error,
    }
    session.add(_event(cp_id, "receipt", message_ref, ep, at, data))


@carries("O31-20", "O31-11")
def record_reply(
    session: Session,
    content_provider_ids: Sequence[int],
    *,
    ref: str,
    sender: str,
    to: str,
    text: str,
    intent: str,
    consent_ended: bool,
    at: datetime,
) -> None:
    """A recipient's reply to a code of these content providers (several when the code names
    several): an event for each that wants replies (called by ``subscriptions.inbound``)."""
    for cp_id in dict.fromkeys(content_provider_ids):
        ep = _wants(session, cp_id, "reply")
        if ep is not None:
            data = {
                "ref": ref,
                "from": sender,
                "to": to,
                "text": text,
                "intent": intent,
                "consent_ended": consent_ended,
                "at": at.isoformat(),
            }
            session.add(_event(cp_id, "reply", ref, ep, at, data))


def event_dict(ev: CallbackEvent) -> dict[str, Any]:
    """What a content provider receives (pushed or polled): the clear part, and the encrypted part
    (the replying number and text) decrypted."""
    out: dict[str, Any] = {"id": ev.id, "kind": ev.kind, **json.loads(ev.payload or "{}")}
    if ev.payload_enc:
        out.update(json.loads(crypto.decrypt(ev.payload_enc)))
    return out


@carries("O31-11", "O31-20")
def poll(
    session: Session,
    content_provider_id: int,
    kind: str,
    *,
    after: int = 0,
    limit: int = 100,
    principal: Principal | None = None,
) -> dict[str, Any]:
    """A content provider's events of one kind after the cursor ``after`` (an event id), oldest
    first; ``next`` is the cursor for the following call. Replies hold the users' numbers and words,
    so reading them is audited (their count, never their content)."""
    if kind not in EVENT_KINDS:
        raise invalid_field("kind", f"one of {', '.join(EVENT_KINDS)}", f"须为 {'、'.join(EVENT_KINDS)} 之一")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise invalid_field("after", "an event id (0 or more)", "须为事件编号（不小于 0）")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise invalid_field("limit", "1 to 1000", "须为 1 至 1000")
    if get_endpoint(session, content_provider_id) is None:
        raise _not_enabled()
    rows = list(
        session.scalars(
            select(CallbackEvent)
            .where(
                CallbackEvent.content_provider_id == content_provider_id,
                CallbackEvent.kind == kind,
                CallbackEvent.id > after,
            )
            .order_by(CallbackEvent.id)
            .limit(limit)
        )
    )
    if kind == "reply" and rows:
        record(
            session,
            action="sms.replies.read",
            actor=actor_of(principal),
            subject_ref=f"content_provider:{content_provider_id}",
            data_categories=("phone_mobile", "message_content"),
            purpose="service_provision",
            obligations=("O31-20", "O24-13.6"),
            detail={"events": len(rows), "after": after},
        )
    return {"events": [event_dict(r) for r in rows], "next": rows[-1].id if rows else after}


# ------------------------------------------------------------------------------------ push


@dataclass(frozen=True, slots=True)
class Push:
    """One request to make: a content provider's claimed events."""

    content_provider_id: int
    url: str
    secret: str
    event_ids: tuple[int, ...]
    body: bytes


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Piguard-Signature`` value: ``t=<timestamp>,v1=<hex HMAC-SHA256("<t>." + body)>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def claim_due(session: Session, *, now: datetime | None = None, limit: int = 1000) -> tuple[str, list[Push]]:
    """Claim the pending events that are due (and those whose earlier claim ran out), grouped into
    requests per content provider. The caller commits before sending."""
    now = now or utcnow()
    token = new_ref()
    due = (
        select(CallbackEvent.id)
        .where(
            ((CallbackEvent.status == "pending") & (CallbackEvent.next_attempt_at <= now))
            | ((CallbackEvent.status == "sending") & (CallbackEvent.lease_until < now))
        )
        .order_by(CallbackEvent.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return token, []
    session.execute(
        update(CallbackEvent)
        .where(CallbackEvent.id.in_(ids), CallbackEvent.status.in_(("pending", "sending")))
        .values(status="sending", claim=token, lease_until=now + timedelta(seconds=LEASE_SECONDS)),
        execution_options={"synchronize_session": False},
    )
    events = list(
        session.scalars(
            select(CallbackEvent)
            .where(CallbackEvent.claim == token)
            .order_by(CallbackEvent.content_provider_id, CallbackEvent.id)
            .execution_options(populate_existing=True)
        )
    )
    endpoints = {
        ep.content_provider_id: ep
        for ep in session.scalars(
            select(CallbackEndpoint).where(
                CallbackEndpoint.content_provider_id.in_({e.content_provider_id for e in events})
            )
        )
    }
    pushes: list[Push] = []
    by_cp: dict[int, list[CallbackEvent]] = {}
    for ev in events:
        by_cp.setdefault(ev.content_provider_id, []).append(ev)
    for cp_id, evs in by_cp.items():
        ep = endpoints.get(cp_id)
        if ep is None or not ep.active or not ep.url:
            # turned off or poll-only since: kept to poll, no longer pushed
            session.execute(
                update(CallbackEvent)
                .where(CallbackEvent.id.in_([e.id for e in evs]))
                .values(status="poll", claim=None, lease_until=None),
                execution_options={"synchronize_session": False},
            )
            continue
        secret = crypto.decrypt(ep.secret_enc)
        for i in range(0, len(evs), PUSH_BATCH):
            chunk = evs[i : i + PUSH_BATCH]
            body = json.dumps({"events": [event_dict(e) for e in chunk]}, ensure_ascii=False).encode()
            pushes.append(Push(cp_id, ep.url, secret, tuple(e.id for e in chunk), body))
    return token, pushes


def _retry_delay(attempts: int, cfg: MessagingSettings) -> float:
    return float(
        min(cfg.sms_callback_retry_max_seconds, cfg.sms_callback_retry_base_seconds * 2 ** (attempts - 1))
    )


@carries("O31-11")
def settle(
    session: Session, token: str, outcomes: Sequence[tuple[Push, str | None]], *, now: datetime | None = None
) -> dict[str, int]:
    """Write each push's outcome (``None``: accepted; else the error): delivered, or back to
    pending with a back-off, or failed past the validity. Returns counts."""
    now = now or utcnow()
    cfg = get_messaging_settings()
    validity = timedelta(hours=cfg.sms_callback_validity_hours)
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for push, error in outcomes:
        if error is None:
            session.execute(
                update(CallbackEvent)
                .where(CallbackEvent.id.in_(push.event_ids), CallbackEvent.claim == token)
                .values(status="delivered", delivered_at=now, claim=None, lease_until=None, last_error=None),
                execution_options={"synchronize_session": False},
            )
            counts["delivered"] += len(push.event_ids)
            continue
        for ev in session.scalars(
            select(CallbackEvent).where(CallbackEvent.id.in_(push.event_ids), CallbackEvent.claim == token)
        ):
            ev.attempts += 1
            ev.claim, ev.lease_until, ev.last_error = None, None, error[:64]
            nxt = now + timedelta(seconds=_retry_delay(ev.attempts, cfg))
            if nxt > ev.created_at + validity:
                ev.status, ev.next_attempt_at = "failed", None
                counts["failed"] += 1
            else:
                ev.status, ev.next_attempt_at = "pending", nxt
                counts["retry"] += 1
    return counts


Poster = Callable[[Push, dict[str, str], float], int]


def _addresses_allowed(url: str, cfg: MessagingSettings) -> bool:
    if cfg.sms_callback_allow_private:
        return True
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return True  # unresolvable: the request itself fails and is retried
    return not any(_private(str(info[4][0]).split("%")[0]) for info in infos)


def deliver(push: Push, post: Poster, *, now: float | None = None) -> str | None:
    """Make one push; ``None`` when the receiver answered 2xx, else a short error code (no URL,
    body or answer is logged: they may hold a user's number)."""
    cfg = get_messaging_settings()
    if not _addresses_allowed(push.url, cfg):
        return "address_not_allowed"
    t = int(now if now is not None else time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Piguard-Signature": sign(push.secret, t, push.body),
        "X-Piguard-Event-Count": str(len(push.event_ids)),
        "User-Agent": "piguard-callbacks/1",
    }
    try:
        status = post(push, headers, cfg.sms_callback_timeout_seconds)
    except Exception as exc:  # any transport failure is a retry, never a crash of the worker
        return type(exc).__name__[:64]
    if 200 <= status < 300:
        return None
    return "redirect_not_followed" if 300 <= status < 400 else f"http_{status}"


def purge(session: Session, older_than: datetime) -> int:
    """Events older than the records' retention go with them."""
    res = session.execute(delete(EVENTS).where(EVENTS.c.created_at < older_than))
    return int(getattr(res, "rowcount", 0) or 0)
