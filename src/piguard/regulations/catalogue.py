"""Load the obligations, sources and penalty articles from the packaged YAML (once per process).

The data lives in ``piguard/regulations/data/``: ``sources.yaml``, ``penalties.yaml`` and one file per
source under ``obligations/``. Each obligation's penalty is derived from the ``covers`` lists of
``penalties.yaml`` so the mapping is written once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from typing import Any

import yaml
from pydantic import ValidationError

from piguard.core import yamlfiles
from piguard.core.errors import PiguardError
from piguard.regulations.schemas import SOURCE_IDS, Obligation, Penalty, PenaltyLink, Source

_Loader: Any = yamlfiles.StrictSafeLoader


def data_dir() -> Traversable:
    return resources.files("piguard.regulations") / "data"


def invalid_data(where: str, problem: str) -> PiguardError:
    """The packaged rules data is broken: a programming error, reported with the file it is in."""
    return PiguardError(
        "rules_data_invalid",
        f"Rules data {where} is invalid: {problem}",
        f"法规数据 {where} 无效：{problem}",
        http_status=500,
        exit_code=1,
    )


def read_yaml(node: Traversable, where: str) -> Any:
    try:
        return yaml.load(node.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise invalid_data(where, type(exc).__name__ + ": " + str(exc).splitlines()[0]) from None


def _validation_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg', '')}" if loc else str(first.get("msg", ""))


@dataclass(frozen=True)
class Catalogue:
    sources: dict[str, Source]
    obligations: dict[str, Obligation]  # in source order, then article/paragraph order
    penalties: dict[str, Penalty]

    def suggest(self, key: str) -> str | None:
        close = difflib.get_close_matches(key.strip().upper(), list(self.obligations), n=1, cutoff=0.6)
        return close[0] if close else None


def _penalty_for(
    source: str, article: int, paragraph: int | None, penalties: dict[str, Penalty]
) -> PenaltyLink | None:
    for pen in penalties.values():
        if pen.source != source:
            continue
        covered_paragraphs: list[int] = []
        for item in pen.covers:
            art, _, para = item.partition(".")
            if int(art) != article:
                continue
            if not para:
                return PenaltyLink(id=pen.id)
            if paragraph is None:
                covered_paragraphs.append(int(para))
            elif int(para) == paragraph:
                return PenaltyLink(id=pen.id)
        if covered_paragraphs:  # the obligation names a whole article; the penalty only some paragraphs
            return PenaltyLink(id=pen.id, paragraphs=tuple(sorted(covered_paragraphs)))
    return None


def load_catalogue(root: Traversable) -> Catalogue:
    """Validate and load the data under ``root`` (the packaged data, or a test's copy)."""
    raw_sources = read_yaml(root / "sources.yaml", "sources.yaml")
    if not isinstance(raw_sources, dict):
        raise invalid_data("sources.yaml", "expected a mapping of source id to source")
    sources: dict[str, Source] = {}
    for sid, body in raw_sources.items():
        try:
            sources[sid] = Source.model_validate({"id": sid, **(body or {})})
        except ValidationError as exc:
            raise invalid_data(f"sources.yaml:{sid}", _validation_problem(exc)) from None

    raw_pen = read_yaml(root / "penalties.yaml", "penalties.yaml") or {}
    penalties: dict[str, Penalty] = {}
    for pid, body in raw_pen.items():
        try:
            penalties[pid] = Penalty.model_validate(
                {"id": pid, "source": str(pid).split("-")[0], **(body or {})}
            )
        except ValidationError as exc:
            raise invalid_data(f"penalties.yaml:{pid}", _validation_problem(exc)) from None

    obligations: dict[str, Obligation] = {}
    for sid in SOURCE_IDS:
        node = root / "obligations" / f"{sid}.yaml"
        if not node.is_file():
            continue
        if sid not in sources:
            raise invalid_data(f"obligations/{sid}.yaml", f"source {sid} is missing from sources.yaml")
        entries = read_yaml(node, f"obligations/{sid}.yaml") or []
        if not isinstance(entries, list):
            raise invalid_data(f"obligations/{sid}.yaml", "expected a list of obligations")
        for n, entry in enumerate(entries):
            where = f"obligations/{sid}.yaml[{n}]" + (
                f" ({entry.get('id')})" if isinstance(entry, dict) else ""
            )
            if not isinstance(entry, dict):
                raise invalid_data(where, "expected a mapping")
            if "penalty" in entry:
                raise invalid_data(where, "penalty is derived from penalties.yaml; do not set it here")
            try:
                ob = Obligation.model_validate({"source": sid, **entry})
            except ValidationError as exc:
                raise invalid_data(where, _validation_problem(exc)) from None
            if ob.id in obligations:
                raise invalid_data(where, f"duplicate obligation id {ob.id}")
            language = sources[sid].language
            if getattr(ob, f"text_{language}") is None:
                raise invalid_data(where, f"the source is in {language!r}: text_{language} is required")
            link = _penalty_for(ob.source, ob.article, ob.paragraph, penalties)
            obligations[ob.id] = ob.model_copy(update={"penalty": link}) if link else ob
    return Catalogue(sources=sources, obligations=obligations, penalties=penalties)


@cache
def catalogue() -> Catalogue:
    """The packaged catalogue, loaded once per process."""
    return load_catalogue(data_dir())
