"""``/api/rights``: open end users' requests, run their steps, show them, download the export,
complete manual tasks (O24-9.2, O24-9.4, CSL-43, NPC-8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import PiguardError, not_found
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.identity.purpose import PiRead, require_pi_read
from piguard.regulations.markers import carries
from piguard.rights import service

router = APIRouter(prefix="/api/rights", tags=["rights"])


class OpenBody(BaseModel):
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=200)
    changes: dict[str, Any] | str | None = None
    text: str = Field("", max_length=20000)
    source: str = Field("api", max_length=20)


class CompleteBody(BaseModel):
    rows: int | None = Field(None, ge=0)
    note: str = Field("", max_length=500)


@router.post("", summary="Open a request (access, correction, deletion, cancellation)", status_code=201)
def open_request(
    body: OpenBody,
    principal: Principal = Depends(require_action("rights.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        req = service.open_request(
            session,
            kind=body.kind,
            subject=body.subject,
            actor=principal.as_actor(),
            source=body.source,
            changes=body.changes,
            text=body.text,
        )
    except PiguardError as err:
        if err.code == "rights_other_subject":
            session.commit()  # the refusal stays in the audit log
        raise
    out = service.open_dict(session, req)
    session.commit()
    return out


@router.post("/run", summary="Run due steps now")
def run(
    id: int | None = None,
    _: Principal = Depends(require_action("rights.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, int]:
    return service.run_pending(session, request_id=id)


@router.get("/{id}", summary="A request, its steps and export (a purpose-bound read: ?purpose=…)")
@carries("O24-9.3", "O24-13.3")
def show(
    id: str,
    read: PiRead = Depends(require_pi_read("rights.read", service.REQUEST_CATEGORIES)),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {**service.show(session, id), "purpose": read.purpose, "notes": read.notes()}


@router.get("/{id}/export", summary="Download the export (json, html or pdf; a purpose-bound read)")
@carries("O24-9.2", "O24-9.3", "O24-13.3")
def export(
    id: str,
    format: str = "json",
    _: PiRead = Depends(require_pi_read("rights.manage", ())),
    session: Session = Depends(db_session, scope="function"),
) -> FileResponse:
    path = service.export_path(session, id)
    if path is None:
        raise not_found("Export", "导出文件", id)
    variant, media = service.export_variant(path, format)
    return FileResponse(variant, media_type=media, filename=variant.name)


@router.post("/steps/{step_id}/complete", summary="Record a manual task as done")
def complete(
    step_id: int,
    body: CompleteBody,
    principal: Principal = Depends(require_action("rights.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    st = service.complete_task(session, step_id, actor=principal.as_actor(), rows=body.rows, note=body.note)
    out = service.step_dict(st)
    session.commit()
    return out
