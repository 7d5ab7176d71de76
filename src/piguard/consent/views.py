"""Consent API: record grants, refusals and withdrawals with evidence, list one person's consents
from every ledger, and ask the use decision and the sharing decision (CSL-42.1). Roles from
identity's permission table (``consent.read``, ``consent.manage``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from piguard.consent import schemas, service
from piguard.core.deps import client_ip, db_session
from piguard.identity.deps import require_action, terminal_of
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead, require_pi_read
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/consent", tags=["consent"])


def _caller_ip(request: Request) -> str | None:
    ip = client_ip(request)
    try:
        return str(ipaddress.ip_address(ip)) if ip else None
    except ValueError:
        return None


def _evidence(body: schemas.EvidenceBody, request: Request) -> service.EvidenceIn:
    """The evidence as given; the client address and terminal default to the caller's."""
    return service.EvidenceIn(
        channel=body.channel,
        text_shown=body.text_shown,
        text_version=body.text_version,
        client_ip=body.client_ip or _caller_ip(request),
        terminal=body.terminal or terminal_of(request) or "api",
        at=body.at,
    )


def _event(e: Any) -> dict[str, Any]:
    return {"id": e.id, "event": e.event, "purpose": e.purpose_id, "rules_version": e.rules_version}


@router.get("/purposes", summary="Declared purposes (required or optional) and the current rules version")
def purposes(
    _: Principal = Depends(require_action("consent.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    from piguard.consent.purposes import get_source

    return {
        "rules_version": get_source().current_rules_version(session),
        "purposes": [
            {"id": p.id, "required": p.required, "categories": sorted(p.categories) if p.categories else None}
            for p in service.purposes(session).values()
        ],
    }


@router.post("/grant", status_code=201, summary="Record a user's consent to a purpose, with its evidence")
@carries("O24-9.1", "CSL-41.1")
def grant(
    body: schemas.GrantIn,
    request: Request,
    principal: Principal = Depends(require_action("consent.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    e = service.grant(
        session,
        body.subject,
        body.purpose,
        _evidence(body.evidence, request),
        actor=principal.as_actor(),
        rules_version=body.rules_version,
        valid_until=body.valid_until,
    )
    return _event(e)


@router.post("/refuse", status_code=201, summary="Record a user's refusal of a purpose")
def refuse(
    body: schemas.RefuseIn,
    request: Request,
    principal: Principal = Depends(require_action("consent.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    e = service.refuse(
        session,
        body.subject,
        body.purpose,
        _evidence(body.evidence, request),
        actor=principal.as_actor(),
        rules_version=body.rules_version,
    )
    return _event(e)


@router.post(
    "/accept-rules", status_code=201, summary="The user accepts the published rules (required purposes)"
)
def accept_rules(
    body: schemas.AcceptRulesIn,
    request: Request,
    principal: Principal = Depends(require_action("consent.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    events = service.accept_rules(
        session,
        body.subject,
        _evidence(body.evidence, request),
        actor=principal.as_actor(),
        rules_version=body.rules_version,
    )
    return [_event(e) for e in events]


@router.post("/withdraw", summary="Withdraw a consent from any ledger (purpose or SMS subscription)")
@carries("O24-9.1", "O31-20")
def withdraw(
    body: schemas.WithdrawIn,
    request: Request,
    principal: Principal = Depends(require_action("consent.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    entries = service.withdraw(
        session, body.subject, body.target, _evidence(body.evidence, request), actor=principal.as_actor()
    )
    return [e.to_dict() for e in entries]


@router.post(
    "/subject",
    summary="Every consent of one person (purposes and SMS subscriptions), masked; names a purpose",
)
def subject(
    body: schemas.SubjectIn,
    read: PiRead = Depends(require_pi_read("consent.read", ())),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    principal = read.principal
    ledger = service.list_for_subject(session, body.subject)
    service.record_listing(session, principal.as_actor(), ledger, client_ip=principal.client_ip)
    return ledger.to_dict()


@router.post("/may", summary="May this use go ahead? A decision with reasons and obligation ids")
@carries("O24-9.1", "O24-9.3", "CSL-41.2")
def may(
    body: schemas.MayIn,
    principal: Principal = Depends(require_action("consent.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    actor = principal.as_actor()
    if body.audit:
        d = service.use(
            session, actor, body.subject, body.categories, body.purpose, client_ip=principal.client_ip
        )
    else:
        d = service.may(session, actor, body.subject, body.categories, body.purpose)
    return d.to_dict()


@router.post(
    "/share-decisions",
    summary="May this information be provided to this third party? A decision with reasons (CSL-42.1)",
)
@carries("CSL-42.1", "O24-9.1")
def share_decision(
    body: schemas.ShareIn,
    request: Request,
    principal: Principal = Depends(require_action("consent.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    report = None
    if body.k_anonymity is not None:
        from piguard.discovery.kanon import check_k_anonymity

        kin = body.k_anonymity
        report = check_k_anonymity(kin.rows, kin.quasi_identifiers, kin.k)
    d = service.may_share(
        session,
        body.subject,
        body.third_party,
        body.purpose,
        body.categories,
        deidentified=body.deidentified,
        method=body.method,
        k_anonymity=report,
        actor=principal.as_actor(),
        client_ip=principal.client_ip,
        terminal=terminal_of(request),
    )
    return d.to_dict()
