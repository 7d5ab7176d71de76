"""The regulations service: obligations, their parameters and penalties, and the rules matrix.

Plain functions over the packaged data (no database). Other domains use ``obligation(id)`` to print
an article, ``require_known(*ids)`` to check ids they cite, and ``penalty_for(id)`` for exposure.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from piguard.core.errors import FieldError, PiguardError, not_found, validation_error
from piguard.regulations import parameters as params
from piguard.regulations.catalogue import catalogue
from piguard.regulations.markers import carries
from piguard.regulations.matrix import build_matrix
from piguard.regulations.schemas import (
    SECTIONS,
    SOURCE_IDS,
    STATUSES,
    UNIT_LABELS,
    Bilingual,
    MatrixOut,
    Obligation,
    ObligationDetail,
    ObligationSummary,
    Parameter,
    ParameterOut,
    Penalty,
    PenaltyOut,
    Source,
)

__all__ = [
    "ids",
    "matrix",
    "obligation",
    "obligation_detail",
    "obligations",
    "parameter_out",
    "parameters_for",
    "penalty",
    "penalty_for",
    "require_known",
    "source",
    "sources",
    "summary",
]


def _normalise(oid: str) -> str:
    return oid.strip().upper()


def ids() -> frozenset[str]:
    """Every obligation id of REQUIREMENTS.md."""
    return frozenset(catalogue().obligations)


def sources() -> list[Source]:
    return list(catalogue().sources.values())


def source(source_id: str) -> Source:
    try:
        return catalogue().sources[_normalise(source_id)]
    except KeyError:
        raise not_found("Source", "法规来源", source_id) from None


def obligations(source: str | None = None, section: str | None = None) -> list[Obligation]:
    """All obligations in source and article order, optionally only one source (``O31``) or one
    REQUIREMENTS.md section (``F``). An unknown source or section is a validation error."""
    bad: list[FieldError] = []
    src = _normalise(source) if source else None
    sec = _normalise(section) if section else None
    if src is not None and src not in SOURCE_IDS:
        bad.append(FieldError("source", f"unknown source {source!r}; one of {', '.join(SOURCE_IDS)}"))
    if sec is not None and sec not in SECTIONS:
        bad.append(FieldError("section", f"unknown section {section!r}; one of {', '.join(SECTIONS)}"))
    if bad:
        raise validation_error(bad, "Unknown source or section.", "未知的法规来源或章节。")
    return [
        ob
        for ob in catalogue().obligations.values()
        if (src is None or ob.source == src) and (sec is None or sec in ob.sections)
    ]


def obligation(oid: str) -> Obligation:
    """The obligation with this id (case and surrounding spaces ignored).

    Unknown id -> ``not_found`` whose message names the id and the closest known id.
    """
    cat = catalogue()
    ob = cat.obligations.get(_normalise(oid))
    if ob is not None:
        return ob
    err = not_found("Obligation", "义务", oid)
    close = cat.suggest(oid)
    if close:
        err.message_en += f" Did you mean {close}?"
        err.message_zh += f"您是否要找 {close}？"
    raise err


def require_known(*oids: str) -> tuple[str, ...]:
    """Check that each id is an obligation of REQUIREMENTS.md; returns them normalised."""
    known = catalogue().obligations
    bad = [o for o in oids if _normalise(o) not in known]
    if bad:
        cat = catalogue()
        raise validation_error(
            [
                FieldError(
                    "obligations",
                    f"unknown obligation id {o!r}"
                    + (f" (did you mean {s}?)" if (s := cat.suggest(o)) else ""),
                )
                for o in bad
            ],
            "Unknown obligation id.",
            "未知的义务编号。",
        )
    return tuple(_normalise(o) for o in oids)


def parameters_for(oid: str) -> list[Parameter]:
    """The dated parameters whose legal reference is this obligation (e.g. ``O24-12`` ->
    ``complaint.reply_days``)."""
    ob = obligation(oid)
    return [p for p in params.all_parameters() if p.reference.id == ob.id]


def penalty(penalty_id: str) -> Penalty:
    try:
        return catalogue().penalties[_normalise(penalty_id)]
    except KeyError:
        raise not_found("Penalty article", "罚则条款", penalty_id) from None


@carries("O24-22", "O24-23", "O31-34")
def penalty_for(oid: str, on: date | datetime | None = None) -> PenaltyOut | None:
    """The penalty article a violation of ``oid`` falls under, with its fine range in force on ``on``
    (None when the sources here name no penalty for it). The exposure view builds on this."""
    ob = obligation(oid)
    if ob.penalty is None:
        return None
    pen = penalty(ob.penalty.id)

    def fine(name: str | None) -> int | None:
        if name is None:
            return None
        try:
            return params.value(name, on)
        except PiguardError as exc:
            if exc.code == "parameter_not_in_force":
                return None
            raise

    return PenaltyOut(
        id=pen.id,
        source=pen.source,
        article=pen.article,
        covers=list(pen.covers),
        measures=pen.measures,
        text_en=pen.text_en,
        text_zh=pen.text_zh,
        applies_to_paragraphs=list(ob.penalty.paragraphs),
        fine_min_yuan=fine(pen.fine_min),
        fine_max_yuan=fine(pen.fine_max),
        fine_parameters=[n for n in (pen.fine_min, pen.fine_max) if n],
    )


def parameter_out(param: Parameter, on: date | datetime | None = None) -> ParameterOut:
    """A parameter with the value in force on ``on`` (None before it took effect)."""
    day = params.as_date(on)
    current = params.in_force(param, day)
    en, zh = UNIT_LABELS[param.unit]
    return ParameterOut(
        name=param.name,
        description=param.description,
        unit=param.unit,
        unit_label=Bilingual(en=en, zh=zh),
        bound=param.bound,
        reference=param.reference,
        values=list(param.values),
        on=day,
        in_force=current is not None,
        value=current.value if current else None,
        effective=current.effective if current else None,
    )


def summary(ob: Obligation) -> ObligationSummary:
    return ObligationSummary(
        id=ob.id,
        source=ob.source,
        article=ob.article,
        paragraph=ob.paragraph,
        sections=list(ob.sections),  # type: ignore[arg-type]
        title_zh=ob.title_zh,
        title_en=ob.title_en,
        penalty=ob.penalty.id if ob.penalty else None,
    )


def obligation_detail(oid: str, on: date | datetime | None = None) -> ObligationDetail:
    """Everything about one obligation: article text, titles, what piguard does, the parameters that
    cite it (with values on ``on``) and its penalty."""
    ob = obligation(oid)
    return ObligationDetail(
        id=ob.id,
        source=catalogue().sources[ob.source],
        article=ob.article,
        paragraph=ob.paragraph,
        sections=list(ob.sections),  # type: ignore[arg-type]
        title_zh=ob.title_zh,
        title_en=ob.title_en,
        text_en=ob.text_en,
        text_zh=ob.text_zh,
        requirements=list(ob.requirements),
        piguard_does=ob.piguard_does,
        parameters=[parameter_out(p, on) for p in parameters_for(ob.id)],
        penalty=penalty_for(ob.id, on),
    )


def matrix(
    status: str | None = None,
    src_root: Path | None = None,
    tests_root: Path | None = None,
) -> MatrixOut:
    """The rules matrix from the markers in the code and tests; ``status`` keeps only those rows
    (the counts stay those of the whole matrix)."""
    if status is not None and status not in STATUSES:
        raise validation_error(
            [
                FieldError(
                    "status", f"unknown status {status!r}; one of {', '.join(repr(s) for s in STATUSES)}"
                )
            ],
            "Unknown status.",
            "未知的状态。",
        )
    result = build_matrix(src_root, tests_root)
    if status is not None:
        result = result.model_copy(update={"rows": [r for r in result.rows if r.status == status]})
    return result
