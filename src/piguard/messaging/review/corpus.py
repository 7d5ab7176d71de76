"""Measure the review on a labelled corpus (TSV ``label<TAB>text``; 1 = spam/advertising, 0 = other).

Used by ``bench/review.py`` and by the corpus test. The corpus is read where it lies (the shared
``corpora/sms/zh-sms-10k.tsv`` beside the repository), never copied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from piguard.messaging.review.engine import MessageKind, Reviewer, ReviewResult, Verdict

CORPUS_RELATIVE = Path("corpora/sms/zh-sms-10k.tsv")


def default_corpus_path() -> Path:
    """``../shared/corpora/sms/zh-sms-10k.tsv`` relative to the repository root."""
    repo = Path(__file__).resolve().parents[4]
    return repo.parent / "shared" / CORPUS_RELATIVE


def load_corpus(path: Path) -> list[tuple[bool, str]]:
    rows: list[tuple[bool, str]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            label, sep, text = line.rstrip("\n").partition("\t")
            if sep and label in ("0", "1") and text.strip():
                rows.append((label == "1", text))
    return rows


@dataclass(frozen=True)
class Score:
    name: str
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (
            f"{self.name:<28} precision {self.precision:.3f}  recall {self.recall:.3f}  f1 {self.f1:.3f}  "
            f"(tp {self.tp}, fp {self.fp}, fn {self.fn}, tn {self.tn})"
        )


PREDICTORS: dict[str, Callable[[ReviewResult], bool]] = {
    "kind == commercial": lambda r: r.kind is MessageKind.COMMERCIAL,
    "commercial or prohibited": lambda r: r.kind is MessageKind.COMMERCIAL or bool(r.prohibited),
    "verdict == fail": lambda r: r.verdict is Verdict.FAIL,
}


def measure(rows: Iterable[tuple[bool, str]], reviewer: Reviewer) -> dict[str, Score]:
    counts = {name: [0, 0, 0, 0] for name in PREDICTORS}
    for label, text in rows:
        result = reviewer.review(text)
        for name, predict in PREDICTORS.items():
            c = counts[name]
            p = predict(result)
            c[(0 if label else 1) if p else (2 if label else 3)] += 1
    return {name: Score(name, *c) for name, c in counts.items()}
