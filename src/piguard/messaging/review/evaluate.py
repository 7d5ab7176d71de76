"""Measure the review on a labelled file: per-category precision, recall and F1, and the confusion
table (``piguard sms review evaluate LABELLED.tsv``, and ``bench/review.py``).

Each message gets one predicted category: its first prohibited category, else ``commercial`` when
the review took it for a commercial message, else ``normal``. A label's category is the label or its
prefix (``fraud_loan`` -> ``fraud``): the table keeps the labels as written, the scores are per
category.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from piguard.messaging.review.engine import MessageKind, Reviewer, ReviewResult
from piguard.messaging.review.model import COMMERCIAL, NORMAL, category_of
from piguard.messaging.review.rules import RuleSet


def categories_of(rules: RuleSet) -> list[str]:
    """Every prohibited category the rules can find (scored and listed ones, and models' labels)."""
    names = {g.name for g in rules.groups if g.role == "prohibited"} | set(rules.verdicts)
    for m in rules.models:
        names.update(c for c in m.categories.values() if c not in (NORMAL, COMMERCIAL))
    return sorted(names)


def predicted(result: ReviewResult) -> str:
    if result.prohibited:
        return result.prohibited[0]
    return COMMERCIAL if result.kind is MessageKind.COMMERCIAL else NORMAL


@dataclass
class CategoryScore:
    category: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

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


@dataclass
class Report:
    scores: dict[str, CategoryScore]
    confusion: dict[str, Counter[str]]  # true label -> predicted category -> count
    #: per true label: how many, how many any prohibited category flagged, how many commercial
    flagged: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    errors: int = 0

    def lines(self) -> list[str]:
        out = [
            f"{'category':<24} {'precision':>9} {'recall':>7} {'f1':>6} {'tp':>6} {'fp':>6} {'fn':>6}",
        ]
        for c, s in sorted(self.scores.items()):
            if s.tp + s.fp + s.fn == 0:
                continue
            out.append(
                f"{c:<24} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.tp:>6} {s.fp:>6} {s.fn:>6}"
            )
        cols = sorted({p for row in self.confusion.values() for p in row})
        out.append("")
        out.append("confusion (rows: labels in the file; columns: predicted category) / 混淆矩阵")
        width = max([len(c) for c in cols] + [8])
        out.append(f"{'label':<38} " + " ".join(f"{c:>{width}}" for c in cols))
        for label in sorted(self.confusion):
            row = self.confusion[label]
            out.append(f"{label:<38} " + " ".join(f"{row.get(c, 0):>{width}}" for c in cols))
        if self.errors:
            out.append(f"messages that could not be reviewed (empty or too long): {self.errors}")
        return out


def evaluate(rows: Iterable[tuple[str, str]], reviewer: Reviewer, categories: Sequence[str]) -> Report:
    cats = list(categories)
    scores: dict[str, CategoryScore] = {}
    confusion: dict[str, Counter[str]] = {}
    flagged: dict[str, list[int]] = {}
    errors = 0
    from piguard.core.errors import PiguardError

    for label, text in rows:
        truth = category_of(label, cats) or label
        try:
            result = reviewer.review(text)
        except PiguardError:
            errors += 1
            continue
        guess = predicted(result)
        confusion.setdefault(label, Counter())[guess] += 1
        f = flagged.setdefault(label, [0, 0, 0])
        f[0] += 1
        f[1] += bool(result.prohibited)
        f[2] += result.kind is MessageKind.COMMERCIAL
        # a message is right for its category when the review finds that category at all
        hit = truth == guess or (truth not in (NORMAL, COMMERCIAL) and truth in result.prohibited)
        s = scores.setdefault(truth, CategoryScore(truth))
        if hit:
            s.tp += 1
        else:
            s.fn += 1
            scores.setdefault(guess, CategoryScore(guess)).fp += 1
    return Report(scores, confusion, {k: (a, b, c) for k, (a, b, c) in flagged.items()}, errors)
