"""API of the responsibility register (``/api/responsibilities``, O24-13.1), access reviews
(``/api/access-reviews``, O24-13.5) and the storage-media register (``/api/media``, O24-13.4).

Thin: the rules live in the service modules. Deciding an access review item needs only a signed-in
account at the route: the service lets only the system's owners decide, never the person reviewed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.identity.deps import current_principal, require_action
from piguard.identity.principal import Principal
from piguard.oversight import access_reviews, media, responsibilities
from piguard.regulations.markers import carries

router = APIRouter(tags=["oversight"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResponsibilityIn(_In):
    kind: str = Field(max_length=16, examples=["system"])
    scope: str = Field("", max_length=128, examples=["crm"])
    username: str = Field(max_length=64)
    title: str | None = Field(None, max_length=128)


class RegisterYamlIn(_In):
    yaml: str = Field(max_length=200_000)


class CampaignIn(_In):
    title: str = Field("", max_length=200)


class ItemDecisionIn(_In):
    decision: str = Field(max_length=8, examples=["confirm", "revoke"])
    note: str = Field("", max_length=2000)


class MediumIn(_In):
    label: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    holder: str = Field(max_length=64)
    location: str = Field(max_length=200)
    description: str = Field("", max_length=500)
    categories: list[str] = Field(default_factory=list, max_length=50)
    system: str | None = Field(None, max_length=64)
    encrypted: bool = False


class TransferIn(_In):
    to: str = Field(max_length=64)
    location: str = Field(max_length=200)
    note: str = Field("", max_length=1000)


class DestructionIn(_In):
    method: str = Field(max_length=16)
    note: str = Field("", max_length=1000)


class WitnessIn(_In):
    note: str = Field("", max_length=1000)


# ------------------------------------------------------------------------------ responsibilities


@router.get("/api/responsibilities", summary="Responsibility register and its gaps (O24-13.1) / 责任登记")
def get_responsibilities(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {
        "responsibilities": responsibilities.to_dicts(session, responsibilities.current(session)),
        "gaps": [g.to_dict() for g in responsibilities.gaps(session)],
        "standing": responsibilities.standing(session).to_dict(),
    }


@router.post("/api/responsibilities", status_code=201, summary="Assign a responsibility / 登记负责人")
@carries("O24-13.1")
def post_responsibility(
    body: ResponsibilityIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    row = responsibilities.assign(session, **body.model_dump(), actor=principal.as_actor())
    return responsibilities.to_dicts(session, [row])[0]


@router.delete("/api/responsibilities/{responsibility_id}", summary="End a responsibility / 结束责任登记")
def delete_responsibility(
    responsibility_id: str,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    row = responsibilities.end(session, responsibility_id, actor=principal.as_actor())
    return responsibilities.to_dicts(session, [row])[0]


@router.get("/api/responsibilities/yaml", summary="The register as YAML / 导出责任登记 YAML")
def get_responsibilities_yaml(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> PlainTextResponse:
    return PlainTextResponse(responsibilities.export_yaml(session), media_type="application/yaml")


@router.post("/api/responsibilities/import", summary="Replace the register from YAML / 导入责任登记")
def post_responsibilities_yaml(
    body: RegisterYamlIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return responsibilities.import_yaml(session, body.yaml, actor=principal.as_actor())


# -------------------------------------------------------------------------------- access reviews


@router.get("/api/access-reviews", summary="Access-review campaigns (O24-13.5) / 访问权限复核")
def list_reviews(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {
        "campaigns": [
            access_reviews.campaign_to_dict(session, c) for c in access_reviews.list_campaigns(session)
        ],
        "standing": access_reviews.standing(session).to_dict(),
    }


@router.post("/api/access-reviews", status_code=201, summary="Open a campaign / 发起复核")
@carries("O24-13.5")
def post_review(
    body: CampaignIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    c = access_reviews.open_campaign(session, principal, title=body.title)
    return access_reviews.campaign_to_dict(session, c, with_items=True)


@router.get("/api/access-reviews/overdue", summary="Access unreviewed after its due date / 逾期未复核")
def get_overdue(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"overdue": access_reviews.overdue(session)}


@router.get("/api/access-reviews/mine", summary="Items I may decide / 待我复核")
def get_my_items(
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"items": [access_reviews.item_to_dict(i) for i in access_reviews.my_queue(session, principal)]}


@router.get("/api/access-reviews/{ref}", summary="One campaign with its items / 复核详情")
def get_review(
    ref: str,
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return access_reviews.campaign_to_dict(
        session, access_reviews.get_campaign(session, ref), with_items=True
    )


@router.post(
    "/api/access-reviews/items/{item_id}/decision", summary="Confirm or revoke one access / 确认或撤销"
)
def post_item_decision(
    item_id: str,
    body: ItemDecisionIn,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    decision = access_reviews.decide(session, principal, item_id, decision=body.decision, note=body.note)
    item = access_reviews.get_item(session, item_id)
    return {"item": access_reviews.item_to_dict(item), "decision": decision.to_dict()}


# ----------------------------------------------------------------------------------------- media


@router.get("/api/media", summary="Storage-media register (O24-13.4) / 存储介质登记")
def list_media(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {
        "media": [media.medium_to_dict(session, m, with_history=False) for m in media.list_media(session)]
    }


@router.post("/api/media", status_code=201, summary="Register a medium / 登记介质")
@carries("O24-13.4")
def post_medium(
    body: MediumIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    m = media.register_medium(session, principal, **body.model_dump())
    return media.medium_to_dict(session, m)


@router.get("/api/media/{label}", summary="One medium with its custody and destruction / 介质详情")
def get_medium(
    label: str,
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return media.medium_to_dict(session, media.get_medium(session, label))


@router.post("/api/media/{label}/transfers", summary="Hand a medium over / 介质交接")
def post_transfer(
    label: str,
    body: TransferIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    media.transfer(session, principal, label, **body.model_dump())
    return media.medium_to_dict(session, media.get_medium(session, label))


@router.post("/api/media/{label}/destruction", summary="Propose a destruction / 提出销毁")
def post_destruction(
    label: str,
    body: DestructionIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    decision = media.propose_destruction(session, principal, label, **body.model_dump())
    return {**media.medium_to_dict(session, media.get_medium(session, label)), "decision": decision.to_dict()}


@router.post("/api/media/{label}/destruction/witness", summary="Witness a destruction / 见证销毁")
def post_witness(
    label: str,
    body: WitnessIn,
    principal: Principal = Depends(require_action("approval.decide")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    decision = media.witness_destruction(session, principal, label, note=body.note)
    return {**media.medium_to_dict(session, media.get_medium(session, label)), "decision": decision.to_dict()}
