"""Oversight API: the agent register (``/api/agents``, O24-11) and training (``/api/training``,
O24-15), plus the purposes a staff reader may name (``/api/access/purposes``, O24-13.3).

Importing this module installs the purpose, consent, training and agent-scope guards of every
personal-information read (:mod:`piguard.oversight.access`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.oversight import access as _guards  # noqa: F401  (installs the PI-read guards)
from piguard.oversight import agents, service, training
from piguard.oversight.schemas import AssessmentIn, CompletionIn, CourseIn, FindingIn, FirmIn, FirmPatch
from piguard.regulations.markers import carries

router = APIRouter(tags=["oversight"])


# ------------------------------------------------------------------------------------- agents


@router.get("/api/agents", summary="Agent register (O24-11) / 代理商登记")
def list_agents(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"agents": [agents.firm_to_dict(f) for f in agents.list_firms(session)]}


@router.get("/api/agents/{code}", summary="One agent firm / 代理商详情")
def get_agent(
    code: str,
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return agents.firm_to_dict(agents.get_firm(session, code))


@router.post("/api/agents", status_code=201, summary="Register an agent firm / 登记代理商")
@carries("O24-11")
def post_agent(
    body: FirmIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    firm = agents.register_firm(session, **body.model_dump(), actor=principal.as_actor())
    return agents.firm_to_dict(firm)


@router.patch("/api/agents/{code}", summary="Change contract end, status or scope / 修改代理商")
def patch_agent(
    code: str,
    body: FirmPatch,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    firm = agents.update_firm(session, code, **body.model_dump(), actor=principal.as_actor())
    return agents.firm_to_dict(firm)


@router.post("/api/agents/{code}/assessments", status_code=201, summary="Record an assessment / 记录评估")
def post_assessment(
    code: str,
    body: AssessmentIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    data = body.model_dump()
    findings: list[FindingIn] = body.findings
    data["findings"] = [f.model_dump() for f in findings]
    agents.add_assessment(session, code, **data, actor=principal.as_actor())
    return agents.firm_to_dict(agents.get_firm(session, code))


# ----------------------------------------------------------------------------------- training


@router.get("/api/training/courses", summary="Training courses (O24-15) / 培训课程")
def list_courses(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"courses": [service.course_to_dict(c) for c in training.list_courses(session)]}


@router.post("/api/training/courses", status_code=201, summary="Add a course / 添加培训课程")
def post_course(
    body: CourseIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    course = training.add_course(session, **body.model_dump(), actor=principal.as_actor())
    return service.course_to_dict(course)


@router.post("/api/training/records", status_code=201, summary="Record a completion / 记录培训完成")
@carries("O24-15")
def post_completion(
    body: CompletionIn,
    principal: Principal = Depends(require_action("oversight.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    row = training.record_completion(session, **body.model_dump(), actor=principal.as_actor())
    return {
        "username": body.username,
        "course": body.course,
        "completed_at": row.completed_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
    }


@router.get("/api/training/coverage", summary="Everyone's training standing / 人员培训情况")
def get_coverage(
    _: Principal = Depends(require_action("oversight.read")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"staff": training.coverage(session)}


@router.get("/api/training/me", summary="My training standing / 我的培训情况")
def get_my_training(
    principal: Principal = Depends(require_action("token.self")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return training.status(session, principal.staff_id).to_dict()


# ------------------------------------------------------------------------------------ access


@router.get("/api/access/purposes", summary="Purposes a read may name, and what each shows in clear")
def get_purposes(
    _: Principal = Depends(require_action("token.self")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return {"purposes": service.read_purposes(session)}
