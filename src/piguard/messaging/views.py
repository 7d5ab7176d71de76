"""Gateway API: submit (single and batch), inbound replies, delivery reports, records, counters.
Registry and consent-request routes live in ``registry/views.py`` and ``subscriptions/views.py``."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import ORJSONResponse
from pydantic import AwareDatetime, ValidationError
from sqlalchemy.orm import Session

from piguard.core.db import utcnow
from piguard.core.deps import db_session
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.core.gcpause import batch_gc
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead, require_pi_read
from piguard.messaging import schemas, service
from piguard.messaging.callbacks.views import router as callbacks_router
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.monitor.views import router as monitor_router
from piguard.messaging.registry.views import router as registry_router
from piguard.messaging.settings import get_messaging_settings
from piguard.messaging.subscriptions.views import router as consent_router
from piguard.regulations.markers import carries

router = APIRouter(tags=["sms gateway"])
router.include_router(registry_router)
router.include_router(consent_router)
router.include_router(monitor_router)
router.include_router(callbacks_router)


def _request(body: schemas.SubmitIn) -> GatewayRequest:
    return GatewayRequest(**body.model_dump())


@carries("O31-13", "O31-10")
def _bind(req: GatewayRequest, principal: Principal) -> GatewayRequest:
    """A token bound to a content provider sends as that provider only (a port of another one is
    refused by the gateway as ``sender_not_this_provider``), as an SMPP account bound to one does."""
    if principal.content_provider_id is not None:
        req.content_provider_id = principal.content_provider_id
    return req


_ITEM_FIELDS = frozenset(schemas.SubmitIn.model_fields)
_KINDS = frozenset(("verification_code", "notification", "commercial", "public_welfare", "emergency"))
_STR_LIMITS = (("sender", 254), ("recipient", 254), ("text", 20_000))


def _plain_str(v: object, limit: int) -> bool:
    return type(v) is str and len(v) <= limit and len(v.strip()) == len(v)


def _parse_item(item: object) -> GatewayRequest:
    """One batch item as a :class:`GatewayRequest`. The usual well-formed item is checked here in
    plain Python (what ``SubmitIn`` accepts unchanged: exact types, no surrounding white space to
    strip, within the limits); anything else goes through ``SubmitIn`` itself, so a bad item gets
    exactly the model's per-field error."""
    if type(item) is dict and item.keys() <= _ITEM_FIELDS:
        g = item.get
        channel, kind, mt, camp, ref, tpl = (
            g("channel", "sms"),
            g("kind"),
            g("message_type"),
            g("campaign_id"),
            g("client_ref"),
            g("template_id"),
        )
        if (
            all(_plain_str(g(f), n) for f, n in _STR_LIMITS)
            and (channel == "sms" or channel == "email")
            and type(channel) is str
            and (kind is None or (type(kind) is str and kind in _KINDS))
            and (mt is None or _plain_str(mt, 64))
            and (camp is None or type(camp) is int)
            and (ref is None or _plain_str(ref, 64))
            and (tpl is None or type(tpl) is int)
        ):
            return GatewayRequest(
                channel, item["sender"], item["recipient"], item["text"], kind, mt, camp, ref, template_id=tpl
            )
    if not isinstance(item, dict):
        raise validation_error([FieldError("item", "must be an object / 须为对象")])
    return _request(schemas.SubmitIn.model_validate(item))


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# the shape ``schemas.ResultOut`` / ``ReasonOut`` give (every field present), built directly: a batch
# of 1000 would otherwise be validated and encoded field by field
_ERROR_DEFAULTS: dict[str, Any] = {
    "ref": None,
    "outcome": None,
    "status": None,
    "kind": None,
    "content_provider": None,
    "emergency": False,
    "duplicate": False,
    "obligations": [],
    "reasons": [],
}


def _reason_out(r: Any) -> dict[str, Any]:
    return {
        "code": r.code,
        "obligations": list(r.obligations),
        "message": {"zh": r.message_zh, "en": r.message_en},
        "detail": r.detail or None,
    }


def _item_error(exc: ValidationError) -> PiguardError:
    fields = [
        FieldError(".".join(str(p) for p in e.get("loc", ())) or "item", str(e.get("msg", "")))
        for e in exc.errors()
    ]
    return validation_error(fields)


@router.post(
    "/api/sms/submit", response_model=schemas.ResultOut, summary="Decide, record and queue one message"
)
@carries("O31-10", "O31-18.1", "O31-11")
def submit_one(
    body: schemas.SubmitIn,
    request: Request,
    dry_run: bool = Query(False, description="Decide only (nothing recorded or queued)"),
    principal: Principal = Depends(require_action("sms.submit")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    [result] = service.submit(
        session, [_bind(_request(body), principal)], principal=principal, dry_run=dry_run
    )
    if result.error is not None:
        raise result.error
    return result.to_dict()


@router.post(
    "/api/sms/submit/batch",
    response_model=schemas.BatchOut,
    response_class=ORJSONResponse,
    summary="Decide, record and queue a batch",
)
@carries("O31-10", "O31-18.1", "O31-11")
def submit_batch(
    body: schemas.BatchIn,
    principal: Principal = Depends(require_action("sms.submit")),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    limit = get_messaging_settings().sms_batch_max
    if len(body.messages) > limit:
        raise validation_error([FieldError("messages", f"at most {limit} / 最多 {limit} 条")])
    reqs: list[GatewayRequest | None] = []
    errors: dict[int, PiguardError] = {}
    for i, item in enumerate(body.messages):
        try:
            reqs.append(_parse_item(item))
        except PiguardError as err:
            reqs.append(None)
            errors[i] = err
        except ValidationError as exc:
            reqs.append(None)
            errors[i] = _item_error(exc)
    good = [(i, r) for i, r in enumerate(reqs) if r is not None]
    with batch_gc:
        return _submit_and_render(session, body, reqs, good, errors, principal)


def _submit_and_render(
    session: Session,
    body: schemas.BatchIn,
    reqs: list[GatewayRequest | None],
    good: list[tuple[int, GatewayRequest]],
    errors: dict[int, PiguardError],
    principal: Principal,
) -> Response:
    decided = service.submit(
        session, [_bind(r, principal) for _, r in good], principal=principal, dry_run=body.dry_run
    )
    out: list[dict[str, Any]] = [{}] * len(reqs)
    reason_cache: dict[int, dict[str, Any]] = {}  # a reason shared by many results is rendered once
    for (i, _), res in zip(good, decided, strict=True):
        if res.error is not None:
            d = {
                "index": i,
                "client_ref": res.client_ref,
                **_ERROR_DEFAULTS,
                "error": res.error.to_dict()["error"],
            }
        else:
            rendered = []
            for r in res.reasons:
                got = reason_cache.get(id(r))
                if got is None:
                    got = reason_cache[id(r)] = _reason_out(r)
                rendered.append(got)
            d = {
                "index": i,
                "client_ref": res.client_ref,
                "ref": res.ref,
                "outcome": res.outcome,
                "status": res.status,
                "kind": res.kind,
                "content_provider": res.content_provider,
                "emergency": res.emergency,
                "duplicate": res.duplicate,
                "obligations": list(res.obligations),
                "reasons": rendered,
                "error": None,
            }
        out[i] = d
    for i, item_err in errors.items():
        ref = body.messages[i].get("client_ref") if isinstance(body.messages[i], dict) else None
        out[i] = {
            "index": i,
            "client_ref": ref if isinstance(ref, str) else None,
            **_ERROR_DEFAULTS,
            "error": item_err.to_dict()["error"],
        }
    summary = Counter(d["outcome"] or "error" for d in out)
    content = orjson.dumps({"results": out, "summary": dict(summary)}, default=_json_default)
    return Response(content=content, media_type="application/json")


@router.post("/api/sms/inbound", summary="A reply from the SMS centre (opt-out, consent answer, other)")
@carries("O31-20", "NPC-8")
def inbound(
    body: schemas.InboundIn,
    principal: Principal = Depends(require_action("sms.inbound")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return service.receive_reply(
        session,
        channel=body.channel,
        sender=body.sender,
        to=body.to,
        text=body.text,
        received_at=body.received_at,
        principal=principal,
    ).to_dict()


@router.post("/api/sms/messages/{ref}/delivery", summary="A delivery report for a queued message")
def delivery(
    ref: str,
    body: schemas.DeliveryIn,
    _: Principal = Depends(require_action("sms.inbound")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    service.deliver_report(session, ref, body.status, at=body.at, transport_ref=body.transport_ref)
    return {"ref": ref, "status": body.status}


def _recipient_subject(request: Request) -> tuple[str, str] | None:
    """The person a record search is about (their consent is asked), and the audit's ref for them."""
    recipient = request.query_params.get("recipient")
    if not recipient:
        return None
    from piguard.consent.subjects import parse

    kind = "email" if request.query_params.get("channel") == "email" else "phone"
    subject = parse(f"{kind}:{recipient}")
    return f"ref:{subject.hash}", subject.ref


@router.get(
    "/api/sms/records",
    summary="Message records (numbers masked; view=clear with a purpose that needs it) / 短信记录",
)
@carries("O31-11", "O24-10", "O24-13.3")
def records_view(
    request: Request,
    content_provider: str | None = None,
    recipient: str | None = Query(None, description="Looked up by keyed hash; never echoed"),
    channel: str = "sms",
    outcome: str | None = None,
    direction: str | None = None,
    reason_code: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    purpose: str | None = Query(None, description="Why you read (required; or header X-Piguard-Purpose)"),
    view: str = Query("masked", description="masked (default) or clear"),
    read: PiRead = Depends(
        require_pi_read("sms.read", ("phone_mobile",), system="sms", subject_of=_recipient_subject)
    ),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    _ = purpose, view  # read by the dependency; declared for the API documentation
    principal = read.principal
    cp_id = service.get_content_provider(session, content_provider).id if content_provider else None
    q = service.RecordQuery(
        cp_id, recipient, channel, outcome, direction, since, until, reason_code, limit, offset
    )
    rows = service.records_search(session, q)
    if recipient:
        from piguard.audit.service import record

        record(
            session,
            action="sms.records.searched",
            actor=principal.as_actor(),
            purpose=read.purpose,
            obligations=("O24-13.6", "O31-11"),
            client_ip=principal.client_ip,
            detail={"by_recipient": True, "results": len(rows)},
        )
    out = [service.record_to_dict(r) for r in rows]
    if read.clear:  # granted for this purpose, training current, agent in scope; audited as pi.read
        for item, row in zip(out, rows, strict=True):
            item["recipient"] = service.recipient_clear(row)
    return {"records": out, "purpose": read.purpose, "view": read.view, "notes": read.notes()}


@router.get(
    "/api/sms/links", summary="Each carrier link's state, window, max_rate and queue (as the console shows)"
)
@carries("O31-10", "O31-11")
def links_view(
    _: Principal = Depends(require_action("sms.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    from piguard.messaging.routing import service as routing

    return {"links": routing.links_overview(session, utcnow())}


@router.get(
    "/api/sms/counters", summary="Per content provider volume, refusals by reason, opt-outs (monitoring)"
)
@carries("O31-22")
def counters_view(
    hours: int = Query(24, ge=1, le=24 * 31),
    content_provider: str | None = None,
    _: Principal = Depends(require_action("sms.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    cp_id = service.get_content_provider(session, content_provider).id if content_provider else None
    now = utcnow()
    return {
        "since": (now - timedelta(hours=hours)).isoformat(),
        "counters": service.counters(
            session, since=now - timedelta(hours=hours), until=now, content_provider_id=cp_id
        ),
    }
