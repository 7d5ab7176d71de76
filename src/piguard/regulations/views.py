"""Public API of the published rules: obligations, article texts, the matrix and the parameters.

Deliberately unauthenticated: it publishes law and piguard's own traceability, no personal data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query

from piguard.regulations import parameters as params
from piguard.regulations import service
from piguard.regulations.schemas import (
    ErrorOut,
    MatrixOut,
    ObligationDetail,
    ObligationSummary,
    ParameterOut,
    Section,
    SourceId,
    Status,
)

router = APIRouter(tags=["rules"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown id or name (the PiguardError shape)"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "Invalid query (the PiguardError shape)"}
}


@router.get(
    "/api/rules",
    response_model=list[ObligationSummary],
    summary="Obligations of REQUIREMENTS.md (public)",
    responses=_INVALID,
)
def list_rules(
    source: SourceId | None = Query(None, description="Only this source: O24, O31, CSL, CRL, NPC, GC"),
    section: Section | None = Query(None, description="Only this REQUIREMENTS.md section (A..G)"),
) -> list[ObligationSummary]:
    return [service.summary(ob) for ob in service.obligations(source=source, section=section)]


@router.get(
    "/api/rules/matrix",
    response_model=MatrixOut,
    summary="Obligation -> code and tests, from the markers (public)",
    responses=_INVALID,
)
def rules_matrix(
    status: Status | None = Query(
        None, description='Only rows with this status: "built", "partial", "not yet"'
    ),
) -> MatrixOut:
    return service.matrix(status=status)


@router.get(
    "/api/rules/{obligation_id}",
    response_model=ObligationDetail,
    summary="One obligation: article text, titles, what piguard does, parameters, penalty (public)",
    responses={**_NOT_FOUND, **_INVALID},
)
def get_rule(
    obligation_id: str,
    on: date | None = Query(
        None, description="Parameter values and fines in force on this date (default: today)"
    ),
) -> ObligationDetail:
    return service.obligation_detail(obligation_id, on)


@router.get(
    "/api/parameters",
    response_model=list[ParameterOut],
    summary="Dated regulatory parameters with the value in force (public)",
    responses=_INVALID,
)
def list_parameters(
    on: date | None = Query(None, description="Date (default: today in China)"),
) -> list[ParameterOut]:
    return [service.parameter_out(p, on) for p in params.all_parameters()]


@router.get(
    "/api/parameters/{name}",
    response_model=ParameterOut,
    summary="One dated parameter with its history and the value in force (public)",
    responses={**_NOT_FOUND, **_INVALID},
)
def get_parameter(
    name: str,
    on: date | None = Query(None, description="Date (default: today in China)"),
) -> ParameterOut:
    return service.parameter_out(params.parameter(name), on)
