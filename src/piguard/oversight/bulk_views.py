"""Bulk-operation API (O24-13.3): ``/api/bulk/...``.

``POST /api/bulk`` asks (export with its CSV data, copy, destruction), ``POST /api/bulk/{ref}/approve``
and ``/reject`` decide (a second person), ``GET /api/bulk/{ref}/download?recipient=`` hands out the
watermarked package, ``POST /api/bulk/{ref}/destroy`` records an approved destruction carried out,
``GET /api/bulk/{ref}/certificate?format=json|html&lang=zh|en`` its certificate. Thin: the rules
live in :mod:`piguard.oversight.bulk`, which checks the caller's role for every step.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.identity.deps import current_principal, require_action
from piguard.identity.principal import Principal
from piguard.oversight import bulk, bulk_certificate, bulk_package
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/bulk", tags=["bulk"])


class BulkRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["export", "copy", "destroy"]
    purpose: str = Field(max_length=64, description="A purpose id of the inventory taxonomy (O24-9.3).")
    justification: str = Field(max_length=2000)
    system: str = Field(max_length=200)
    dataset: str = Field(max_length=200)
    recipients: list[str] = Field(default_factory=list, max_length=bulk.MAX_RECIPIENTS)
    data: str | None = Field(None, description="The export's data as CSV (header line first).")
    rows: int | None = Field(None, ge=1)
    categories: list[str] = Field(default_factory=list, max_length=64)
    method: str | None = Field(
        None, max_length=16, description="For a destruction: " + ", ".join(bulk.DESTROY_METHODS)
    )


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=2000)


@router.post("", status_code=201, summary="Request a bulk export, copy or destruction / 申请批量操作")
@carries("O24-13.3", "O24-9.3")
def create_request(
    body: BulkRequestIn,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    done = bulk.request(session, principal, **body.model_dump())
    return {"request": bulk.to_dict(done.request), "decision": done.decision.to_dict()}


@router.get("", summary="Bulk-operation requests, newest first / 批量操作申请列表")
def list_requests(
    status: str | None = Query(None, max_length=16),
    principal: Principal = Depends(require_action(bulk.READ_ACTION)),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    bulk.may_read(session, principal)
    return {"requests": [bulk.to_dict(r) for r in bulk.list_requests(session, status=status)]}


@router.get("/thresholds", summary="The thresholds and periods in force / 现行阈值与期限")
def get_thresholds(principal: Principal = Depends(current_principal)) -> dict[str, Any]:
    return {"thresholds": bulk.thresholds().to_dict(), "obligations": [bulk.OBLIGATION]}


@router.get("/{ref}", summary="One request with its PI summary and downloads / 申请详情")
def get_request(
    ref: str,
    principal: Principal = Depends(require_action(bulk.READ_ACTION)),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    bulk.may_read(session, principal)
    req = bulk.get(session, ref)
    return {
        "request": bulk.to_dict(req),
        "downloads": [
            {
                "recipient_index": d.recipient,
                "by": d.by,
                "at": d.at.isoformat(),
                "rows": d.rows,
                "sha256": d.sha256,
            }
            for d in bulk.downloads(session, req)
        ],
    }


@router.post("/{ref}/approve", summary="Approve (a second person) / 审批通过")
@carries("O24-13.3")
def approve(
    ref: str,
    body: NoteIn | None = None,
    principal: Principal = Depends(require_action(bulk.APPROVE_ACTION)),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    decision = bulk.approve(session, principal, ref, note=body.note if body else "")
    return {"request": bulk.to_dict(bulk.get(session, ref)), "decision": decision.to_dict()}


@router.post("/{ref}/reject", summary="Reject (a second person) / 驳回")
@carries("O24-13.3")
def reject(
    ref: str,
    body: NoteIn,
    principal: Principal = Depends(require_action(bulk.APPROVE_ACTION)),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    decision = bulk.reject(session, principal, ref, note=body.note)
    return {"request": bulk.to_dict(bulk.get(session, ref)), "decision": decision.to_dict()}


@router.get("/{ref}/download", summary="Download the watermarked package for one recipient / 下载")
@carries("O24-13.3", "O24-13.6")
def download(
    ref: str,
    recipient: str = Query(..., max_length=200),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    package = bulk.download(session, principal, ref, recipient=recipient)
    return Response(
        package.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{package.filename}"',
            "Cache-Control": "no-store",
            "X-Piguard-SHA256": package.sha256,
        },
    )


@router.post("/{ref}/destroy", summary="Record an approved destruction carried out / 执行销毁")
@carries("O24-13.3")
def destroy(
    ref: str,
    body: NoteIn | None = None,
    principal: Principal = Depends(require_action("pi.delete")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"certificate": bulk.destroy(session, principal, ref, note=body.note if body else "")}


@router.get("/{ref}/certificate", summary="Destruction certificate, JSON or HTML, zh or en / 销毁证明")
@carries("O24-13.3")
def certificate(
    ref: str,
    format: Literal["json", "html"] = Query("json"),
    lang: Literal["zh", "en"] = Query("zh"),
    principal: Principal = Depends(require_action(bulk.READ_ACTION)),
    session: Session = Depends(db_session, scope="function"),
) -> Any:
    bulk.may_read(session, principal)
    cert = bulk.certificate(session, ref)
    if format == "html":
        return HTMLResponse(bulk_certificate.certificate_html(cert, lang))
    return {"certificate": cert}


class TraceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: str = Field(max_length=bulk_package.MAX_CSV_BYTES)


@router.post("/{ref}/trace", summary="Whose copy is this leaked file? / 泄露文件溯源")
@carries("O24-13.3")
def trace(
    ref: str,
    body: TraceIn,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"trace": bulk.trace(session, principal, ref, body.data)}
