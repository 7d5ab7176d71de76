"""Self-inspection API (O24-16), the exposure view (O24-22, O24-23, O31-34) and the evidence bundle
(O24-17, O24-19, O31-30, O31-31): ``/api/oversight/...``.

Reading needs ``oversight.read`` (compliance staff and auditors); running an inspection, changing
or closing a finding and building a bundle need ``oversight.manage``. Thin: the rules live in
:mod:`piguard.oversight.inspection`, :mod:`~piguard.oversight.exposure` and
:mod:`~piguard.oversight.evidence`.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.oversight import evidence, exposure, inspection, inspection_report
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/oversight", tags=["self-inspection"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InspectIn(_In):
    year: int | None = Field(None, description="The year inspected; default this year, to date.")


class CloseIn(_In):
    evidence: str = Field("", max_length=2000, description="What shows the risk was removed (required).")
    note: str = Field("", max_length=2000)


class FindingPatch(_In):
    owner: str | None = Field(None, max_length=128)
    due_date: str | None = Field(None, max_length=32, examples=["2027-03-31"])
    severity: str | None = Field(None, max_length=8)


class EvidenceIn(_In):
    year: int | None = None
    run: int | None = Field(None, description="Self-inspection run; default the latest of the year.")


def _run_summary(run: inspection.InspectionRun) -> dict[str, Any]:
    rep = run.report or {}
    return {
        "run": run.id,
        "year": run.year,
        "period": rep.get("period"),
        "generated_at": run.generated_at.isoformat(),
        "generated_by": run.generated_by,
        "matrix_counts": rep.get("matrix_counts"),
        "findings": len(rep.get("findings_seen", [])),
    }


@router.get("/inspections", summary="Self-inspection runs, newest first / 自查记录")
def list_inspections(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"inspections": [_run_summary(r) for r in inspection.list_runs(session)]}


@router.post("/inspections", status_code=201, summary="Run the self-inspection / 执行自查")
@carries("O24-16")
def post_inspection(
    body: InspectIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    run = inspection.inspect(session, year=body.year, actor=principal.as_actor())
    return inspection.report(session, run)


@router.get("/inspections/{run_id}", summary="One self-inspection report (JSON) / 自查报告")
def get_inspection(
    run_id: str,
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return inspection.report(session, inspection.get_run(session, run_id))


@router.get("/inspections/{run_id}/report", summary="The report as PDF or HTML, zh or en / 自查报告文档")
def get_inspection_document(
    run_id: str,
    format: Literal["pdf", "html"] = Query("pdf"),
    lang: Literal["zh", "en"] = Query("zh"),
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    rep = inspection.report(session, inspection.get_run(session, run_id))
    if format == "html":
        return HTMLResponse(inspection_report.inspection_html(rep, lang))
    name = inspection_report.filename(rep, lang, "pdf")
    return Response(
        inspection_report.inspection_pdf(rep, lang),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/findings", summary="Self-inspection findings / 自查发现的问题")
def list_findings(
    status: str | None = Query(None, max_length=8),
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {
        "findings": [inspection.finding_dict(f) for f in inspection.list_findings(session, status=status)]
    }


@router.get("/findings/{finding_id}", summary="One finding / 问题详情")
def get_finding(
    finding_id: str,
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return inspection.finding_dict(inspection.get_finding(session, finding_id))


@router.patch("/findings/{finding_id}", summary="Owner, due date or severity of a finding / 修改问题")
def patch_finding(
    finding_id: str,
    body: FindingPatch,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    f = inspection.update_finding(session, finding_id, **body.model_dump(), actor=principal.as_actor())
    return inspection.finding_dict(f)


@router.post("/findings/{finding_id}/close", summary="Close a finding with evidence / 关闭问题")
@carries("O24-16")
def close_finding(
    finding_id: str,
    body: CloseIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    f = inspection.close_finding(
        session, finding_id, evidence=body.evidence, note=body.note, actor=principal.as_actor()
    )
    return inspection.finding_dict(f)


@router.get("/exposure", summary="Open gaps by penalty article and fine range / 风险视图")
@carries("O24-22", "O24-23", "O31-34")
def get_exposure(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return exposure.exposure(session)


@router.post("/evidence", summary="Build the evidence bundle (zip) / 生成证据包")
@carries("O24-17", "O24-19", "O31-30", "O31-31")
def post_evidence(
    body: EvidenceIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    bundle = evidence.build_evidence_bundle(
        session, year=body.year, run_id=body.run, actor=principal.as_actor()
    )
    return Response(
        bundle.data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{bundle.filename}"',
            "X-Content-SHA256": bundle.sha256,
        },
    )
