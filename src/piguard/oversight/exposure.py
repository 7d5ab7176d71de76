"""The exposure view (O24-22, O24-23, O31-34): every open gap mapped to the penalty article that
punishes it and that article's fine range.

Open gaps are the rules-matrix rows not built (the capability REQUIREMENTS.md names is missing or
untested) and the open self-inspection findings (a late complaint, lapsed training …). Each gap's
obligation leads to its penalty article through the catalogue (``regulations/data/penalties.yaml``:
which articles a penalty covers), and the fine range comes from the dated parameters the article
names (``fines.o24_23.min_yuan`` …), in force on the day asked, each with its legal reference and
the date its value took effect. No amount is written here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from piguard.oversight import inspection
from piguard.regulations import parameters as params
from piguard.regulations import service as regulations
from piguard.regulations.markers import carries
from piguard.regulations.matrix import build_matrix
from piguard.regulations.schemas import MatrixOut

NO_PENALTY = "none"


def _fine_parameter(name: str, on: date) -> dict[str, Any]:
    p = params.parameter(name)
    current = params.in_force(p, on)
    return {
        "name": name,
        "value": current.value if current else None,
        "effective": current.effective.isoformat() if current else None,
        "unit": p.unit,
        "bound": p.bound,
        "reference": {"id": p.reference.id, "en": p.reference.article_en, "zh": p.reference.article_zh},
    }


@carries("O24-22", "O24-23", "O31-34")
def exposure(
    session: Session,
    *,
    on: date | datetime | None = None,
    matrix: MatrixOut | None = None,
) -> dict[str, Any]:
    """Open gaps grouped by penalty article, with the fine range in force on ``on`` (China date,
    today by default). ``fines_if_each_article_applied_once`` adds the lower and upper bounds of the
    articles with a fine range: a bound on one penalty per article, not a prediction."""
    day = params.as_date(on)
    matrix = matrix or build_matrix()
    findings = inspection.list_findings(session, status="open")
    by_key = {f.key: f for f in findings}
    gaps: list[dict[str, Any]] = []
    for row in matrix.rows:
        if row.status == "built":
            continue
        f = by_key.pop(f"matrix:{row.id}", None)
        gaps.append(
            {
                "source": "matrix",
                "obligation": row.id,
                "title": {"zh": row.title_zh, "en": row.title_en},
                "status": row.status,
                "missing": [{"key": m.key, "zh": m.zh, "en": m.en} for m in row.missing],
                "finding": f.id if f else None,
            }
        )
    for f in by_key.values():
        for oid in f.obligations or []:
            gaps.append(
                {
                    "source": "finding",
                    "obligation": oid,
                    "title": {"zh": f.title_zh, "en": f.title_en},
                    "status": "open",
                    "missing": [],
                    "finding": f.id,
                    "severity": f.severity,
                    "due_date": f.due_date.isoformat(),
                }
            )
    articles: dict[str, dict[str, Any]] = {}
    for gap in gaps:
        pen = regulations.penalty_for(gap["obligation"], day)
        pid = pen.id if pen else NO_PENALTY
        gap["penalty"] = None if pen is None else pid
        art = articles.get(pid)
        if art is None:
            art = articles[pid] = {
                "penalty": None if pen is None else pid,
                "article": pen.article if pen else None,
                "source": pen.source if pen else None,
                "measures": pen.measures.model_dump() if pen else None,
                "fine_min_yuan": pen.fine_min_yuan if pen else None,
                "fine_max_yuan": pen.fine_max_yuan if pen else None,
                "fine_parameters": [_fine_parameter(n, day) for n in pen.fine_parameters] if pen else [],
                "gaps": [],
                "obligations": [],
            }
        art["gaps"].append(gap)
        if gap["obligation"] not in art["obligations"]:
            art["obligations"].append(gap["obligation"])
    ordered = sorted(
        articles.values(),
        key=lambda a: (a["penalty"] is None, -(a["fine_max_yuan"] or 0), a["penalty"] or ""),
    )
    fined = [a for a in ordered if a["fine_max_yuan"] is not None]
    return {
        "on": day.isoformat(),
        "gaps": len(gaps),
        "open_findings": len(findings),
        "matrix_counts": matrix.counts.model_dump(),
        "articles": ordered,
        "fines_if_each_article_applied_once": {
            "min_yuan": sum(a["fine_min_yuan"] or 0 for a in fined),
            "max_yuan": sum(a["fine_max_yuan"] or 0 for a in fined),
            "articles": [a["penalty"] for a in fined],
        },
    }
