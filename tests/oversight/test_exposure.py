"""The exposure view (O24-22, O24-23, O31-34): open gaps mapped to the penalty article and its fine
range, the range read from the dated parameters on the day asked."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.cases import service as cases
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.oversight import exposure, inspection
from piguard.regulations import parameters as params
from piguard.regulations import service as regulations
from piguard.regulations.matrix import build_matrix
from piguard.regulations.schemas import MatrixOut

pytestmark = pytest.mark.obligation("O24-22", "O24-23", "O31-34", "O24-16")
ACTOR = Actor.system("test-exposure")


def test_every_gap_sits_under_its_penalty_article_with_the_parameters_range(session: Session) -> None:
    matrix = build_matrix()
    x = exposure.exposure(session, matrix=matrix)
    not_built = {r.id for r in matrix.rows if r.status != "built"}
    gaps = [g for a in x["articles"] for g in a["gaps"]]
    assert {g["obligation"] for g in gaps if g["source"] == "matrix"} == not_built
    assert x["gaps"] == len(gaps) == len(not_built)  # no findings yet: the matrix alone
    today = params.today()
    for a in x["articles"]:
        for g in a["gaps"]:
            pen = regulations.penalty_for(g["obligation"], today)
            assert (pen.id if pen else None) == a["penalty"] == g["penalty"], g["obligation"]
        if a["penalty"] is None:
            assert a["fine_max_yuan"] is None and a["fine_parameters"] == []
            continue
        pen = regulations.penalty(a["penalty"])
        if pen.fine_max:
            assert a["fine_max_yuan"] == params.value(pen.fine_max, today)
            named = {p["name"]: p for p in a["fine_parameters"]}
            assert named[pen.fine_max]["reference"]["id"] == a["penalty"]
            assert named[pen.fine_max]["effective"] is not None
        if pen.fine_min:
            assert a["fine_min_yuan"] == params.value(pen.fine_min, today)
    fined = [a for a in x["articles"] if a["fine_max_yuan"] is not None]
    once = x["fines_if_each_article_applied_once"]
    assert once["max_yuan"] == sum(a["fine_max_yuan"] for a in fined)
    assert once["min_yuan"] == sum(a["fine_min_yuan"] or 0 for a in fined)


def test_before_the_fines_took_effect_there_is_no_range(session: Session) -> None:
    x = exposure.exposure(session, on=date(2010, 1, 1))
    assert x["on"] == "2010-01-01"
    assert all(a["fine_max_yuan"] is None for a in x["articles"])
    assert x["fines_if_each_article_applied_once"] == {"min_yuan": 0, "max_yuan": 0, "articles": []}


def _with_a_partial_row(row_id: str) -> MatrixOut:
    """The rules matrix as built, with one row partial (every row is built today; the test needs a
    matrix gap to see that it is counted once, beside its finding)."""
    matrix = build_matrix()
    assert any(r.id == row_id for r in matrix.rows)
    rows = [r.model_copy(update={"status": "partial"}) if r.id == row_id else r for r in matrix.rows]
    return matrix.model_copy(update={"rows": rows})


def test_an_open_finding_is_a_gap_under_its_article_until_closed(session: Session) -> None:
    now = utcnow()
    received = now - timedelta(days=40)
    cases.open_case(session, kind="pi_complaint", received=received, text="投诉", actor=ACTOR, now=received)
    matrix = _with_a_partial_row("O24-10")
    run = inspection.inspect(
        session, year=calendar.to_local_date(received).year, actor=ACTOR, now=now, matrix=matrix
    )
    session.commit()
    overdue = next(
        f for f in inspection.list_findings(session, run=run) if f.key == "cases:pi_complaint:overdue"
    )
    x = exposure.exposure(session, matrix=matrix)
    o24_22 = next(a for a in x["articles"] if a["penalty"] == "O24-22")  # Art. 22 punishes Art. 12
    gap = next(g for g in o24_22["gaps"] if g["finding"] == overdue.id)
    assert gap["source"] == "finding" and gap["obligation"] == "O24-12"
    assert o24_22["fine_min_yuan"] is None
    assert o24_22["fine_max_yuan"] == params.value("fines.o24_22.max_yuan")
    # a matrix row's finding is the same gap as the row, counted once
    matrix_finding = next(
        f for f in inspection.list_findings(session, run=run) if f.key.startswith("matrix:")
    )
    same = [
        g
        for a in x["articles"]
        for g in a["gaps"]
        if g["obligation"] == matrix_finding.obligations[0] and g["source"] == "matrix"
    ]
    assert len(same) == 1 and same[0]["finding"] == matrix_finding.id
    inspection.close_finding(session, overdue.id, evidence="已答复，见案件时间线", actor=ACTOR)
    session.commit()
    after = exposure.exposure(session, matrix=matrix)
    assert all(g["finding"] != overdue.id for a in after["articles"] for g in a["gaps"])
    assert after["gaps"] == x["gaps"] - 1
