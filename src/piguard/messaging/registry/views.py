"""Registry API: service providers, content providers, signatures and templates (with their
review), lottery licences, ports, charged services, campaigns, suspension switches. Reads need ``sms.read``, changes ``sms.manage``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.messaging import schemas
from piguard.messaging.models import ContentProvider, Port, ServiceProvider, Signature, Template
from piguard.messaging.registry import service as registry
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/sms", tags=["sms gateway"])
_READ = require_action("sms.read")
_MANAGE = require_action("sms.manage")


def sp_dict(sp: ServiceProvider) -> dict[str, Any]:
    return {
        "id": sp.id,
        "name": sp.name,
        "licence_number": sp.licence_number,
        "access_codes": sp.access_codes,
        "access_location": sp.access_location,
        "active": sp.active,
    }


def cp_dict(cp: ContentProvider) -> dict[str, Any]:
    return {
        "id": cp.id,
        "code": cp.code,
        "name": cp.name,
        "service_provider_id": cp.service_provider_id,
        "identity_type": cp.identity_type,
        "identity": cp.identity_masked,
        "verification_status": cp.verification_status,
        "verified_at": cp.verified_at.isoformat() if cp.verified_at else None,
        "suspended": cp.suspended,
        "suspended_reason": cp.suspended_reason,
        "suspended_obligations": cp.suspended_obligations,
        "lottery_licensed": cp.lottery_licence is not None,
    }


def port_dict(p: Port) -> dict[str, Any]:
    return {
        "id": p.id,
        "channel": p.channel,
        "code": p.code,
        "port_type": p.port_type,
        "approved_scope": p.approved_scope,
        "content_provider_id": p.content_provider_id,
        "extension_from": p.extension_from,
        "extension_to": p.extension_to,
        "suspended": p.suspended,
        "suspended_reason": p.suspended_reason,
        "suspended_obligations": p.suspended_obligations,
    }


def signature_dict(s: Signature) -> dict[str, Any]:
    return {
        "id": s.id,
        "content_provider_id": s.content_provider_id,
        "text": s.text,
        "status": s.status,
        "approved": s.approved,
        "evidence": s.evidence,
        "reviewed_by": s.reviewed_by,
        "reviewed_at": s.reviewed_at.isoformat() if s.reviewed_at else None,
    }


def template_dict(t: Template) -> dict[str, Any]:
    return {
        "id": t.id,
        "content_provider_id": t.content_provider_id,
        "name": t.name,
        "text": t.text,
        "kind": t.kind,
        "status": t.status,
        "approved": t.approved,
        "evidence": t.evidence,
        "reviewed_by": t.reviewed_by,
        "reviewed_at": t.reviewed_at.isoformat() if t.reviewed_at else None,
    }


@router.get("/providers", summary="SMS service providers")
def providers(
    _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    return [sp_dict(s) for s in registry.list_service_providers(session)]


@router.post("/providers", status_code=201, summary="Register a licensed service provider (O31-6, O31-7)")
@carries("O31-6", "O31-7")
def create_provider(
    body: schemas.ServiceProviderIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return sp_dict(registry.create_service_provider(session, **body.model_dump(), principal=principal))


@router.get("/content-providers", summary="Content providers (identity masked)")
def content_providers(
    _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    return [cp_dict(c) for c in registry.list_content_providers(session)]


@router.post(
    "/content-providers",
    status_code=201,
    summary="Register a content provider with its real identity (O31-12)",
)
@carries("O31-12")
def create_cp(
    body: schemas.ContentProviderIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return cp_dict(registry.create_content_provider(session, **body.model_dump(), principal=principal))


@router.post("/content-providers/{code}/verification", summary="Record the identity verification (O31-12)")
def verify_cp(
    code: str,
    body: schemas.VerifyIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return cp_dict(registry.verify_content_provider(session, code, status=body.status, principal=principal))


@router.put(
    "/content-providers/{code}/lottery-licence",
    summary="Record a lottery licence: the provider's lottery results are not gambling (O31-16, CSL-47)",
)
@carries("O31-16", "CSL-47")
def record_lottery_licence(
    code: str,
    body: schemas.LotteryLicenceIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return cp_dict(registry.record_lottery_licence(session, code, body.lottery_licence, principal=principal))


@router.delete(
    "/content-providers/{code}/lottery-licence",
    summary="Withdraw a lottery licence: the provider's lottery results are reviewed as anyone's",
)
@carries("O31-16", "CSL-47")
def withdraw_lottery_licence(
    code: str,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return cp_dict(registry.record_lottery_licence(session, code, None, principal=principal))


@router.get("/content-providers/{code}/signatures", summary="Signatures of a content provider")
def signatures(
    code: str, _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    return [signature_dict(s) for s in registry.list_signatures(session, code)]


@router.post(
    "/content-providers/{code}/signatures",
    status_code=201,
    summary="Submit a signature for review (O31-21); one signature, one content provider",
)
@carries("O31-21", "O31-12")
def add_signature(
    code: str,
    body: schemas.SignatureIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return signature_dict(registry.add_signature(session, code, body.text, principal=principal))


@router.post("/signatures/{signature_id}/review", summary="Approve or reject a signature (O31-21, O31-12)")
@carries("O31-21", "O31-12")
def review_signature(
    signature_id: str,
    body: schemas.ReviewIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    s = registry.review_signature(
        session, signature_id, decision=body.decision, evidence=body.evidence, principal=principal
    )
    return signature_dict(s)


@router.get("/templates", summary="Message templates")
def templates(
    content_provider: str | None = None,
    _: Principal = Depends(_READ),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    return [template_dict(t) for t in registry.list_templates(session, content_provider)]


@router.get("/templates/{template_id}", summary="One message template")
def template(
    template_id: str, _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> dict[str, Any]:
    return template_dict(registry.get_template(session, template_id))


@router.post("/templates", status_code=201, summary="Submit a message template for review (O31-19)")
@carries("O31-19")
def create_template(
    body: schemas.TemplateIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return template_dict(registry.create_template(session, **body.model_dump(), principal=principal))


@router.patch("/templates/{template_id}", summary="Change a template (a new text goes back to review)")
def update_template(
    template_id: str,
    body: schemas.TemplatePatch,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return template_dict(
        registry.update_template(session, template_id, **body.model_dump(), principal=principal)
    )


@router.delete("/templates/{template_id}", status_code=204, summary="Delete a template")
def delete_template(
    template_id: str,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> None:
    registry.delete_template(session, template_id, principal=principal)


@router.post("/templates/{template_id}/review", summary="Approve or reject a template (O31-19, O31-21)")
@carries("O31-19", "O31-21")
def review_template(
    template_id: str,
    body: schemas.ReviewIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    t = registry.review_template(
        session, template_id, decision=body.decision, evidence=body.evidence, principal=principal
    )
    return template_dict(t)


@router.get("/ports", summary="Ports and sender codes")
def ports(
    content_provider: str | None = None,
    _: Principal = Depends(_READ),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    return [port_dict(p) for p in registry.list_ports(session, content_provider)]


@router.post(
    "/ports", status_code=201, summary="Register a port with its approved type and scope (O31-13, O31-19)"
)
@carries("O31-13", "O31-19")
def create_port(
    body: schemas.PortIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return port_dict(registry.create_port(session, **body.model_dump(), principal=principal))


@router.post("/charged-services", status_code=201, summary="Register a charged subscription service (O31-9)")
@carries("O31-9")
def create_charged(
    body: schemas.ChargedServiceIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    svc = registry.create_charged_service(session, **body.model_dump(), principal=principal)
    return {"id": svc.id, "code": svc.code, "missing_terms": registry.missing_charged_terms(svc)}


@router.post("/campaigns", status_code=201, summary="Register a public-welfare campaign (O31-17)")
@carries("O31-17")
def create_campaign(
    body: schemas.CampaignIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    c = registry.create_campaign(session, **body.model_dump(), principal=principal)
    return {
        "id": c.id,
        "send_on": c.send_on,
        "ends_on": c.ends_on,
        "notice_due": c.notice_due,
        "notice_due_estimated": c.notice_estimated,
        "emergency": c.emergency,
    }


@router.get("/suspensions", summary="Suspension history")
def suspensions(
    _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "target_type": s.target_type,
            "target_id": s.target_id,
            "action": s.action,
            "reason": s.reason,
            "obligations": s.obligations,
            "at": s.at.isoformat(),
            "by": s.by,
        }
        for s in registry.list_suspensions(session)
    ]


@router.post(
    "/suspensions", summary="Suspend or resume a content provider or port (O31-23, O24-14.2, O31-28)"
)
@carries("O31-23", "O24-14.2", "O31-28")
def suspend(
    body: schemas.SuspensionIn,
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    target = registry.set_suspension(
        session,
        target_type=body.target_type,
        key=body.key,
        suspended=body.suspended,
        reason=body.reason,
        obligations=body.obligations,
        principal=principal,
    )
    return cp_dict(target) if isinstance(target, ContentProvider) else port_dict(target)
