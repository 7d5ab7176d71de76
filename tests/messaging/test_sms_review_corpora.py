"""Issue 11 measured on the shared corpora (read in place; skipped when ../shared is absent).

Floors sit below the figures measured when the signals were written (docs/sms-review.md): a change
to the signals that drops below them is a regression. They are shares over whole labels, not
answers for single messages. The model test trains on one part of telecom-fraud-5 and measures on
the rest, in a temporary directory: no model trained on these corpora is kept, let alone shipped.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from piguard.messaging.review import Reviewer, load_rules
from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH, MessageKind
from piguard.messaging.review.evaluate import categories_of, evaluate
from piguard.messaging.review.model import train, write_model

pytestmark = pytest.mark.obligation("O31-16", "CSL-47", "O31-10")

#: (file, label) -> (figure, floor or ceiling); measured: police 0.972, loan 0.965, customer
#: service 0.938, acquaintance 0.950 (0.996 on the even rows the signals were written against,
#: 0.904 on the odd rows), normal 0.004, zh label 0 0.001, zh label 1 commercial 0.926
FLOORS = {
    ("telecom-fraud-5", "fraud_police_impersonation"): ("prohibited", ">=", 0.93),
    ("telecom-fraud-5", "fraud_loan"): ("prohibited", ">=", 0.93),
    ("telecom-fraud-5", "fraud_customer_service_impersonation"): ("prohibited", ">=", 0.90),
    ("telecom-fraud-5", "fraud_acquaintance_impersonation"): ("prohibited", ">=", 0.93),
    ("telecom-fraud-5", "normal"): ("prohibited", "<=", 0.006),
    ("zh-sms-10k", "0"): ("prohibited", "<=", 0.002),
    ("zh-sms-10k", "1"): ("commercial", ">=", 0.91),
}


def _rows(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, sep, text = line.partition("\t")
        if sep and text.strip():
            out.append((label, text[:DEFAULT_MAX_LENGTH]))
    return out


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[tuple[str, str]]]:
    from tests.conftest import SHARED

    folder = SHARED / "corpora" / "sms"
    found = {p.stem: _rows(p) for p in sorted(folder.glob("*.tsv"))}
    if not {"telecom-fraud-5", "zh-sms-10k"} <= set(found):
        pytest.skip(f"SMS corpora not found in {folder}")
    return found


def test_shares_flagged_per_label_hold_their_floors(corpora: dict[str, list[tuple[str, str]]]) -> None:
    reviewer = Reviewer(load_rules(use_env=False), cache_size=0)
    failures = []
    for (name, label), (figure, op, bound) in FLOORS.items():
        rows = [t for lab, t in corpora[name] if lab == label]
        assert rows, (name, label)
        results = [reviewer.review(t) for t in rows]
        if figure == "prohibited":
            share = sum(bool(r.prohibited) for r in results) / len(rows)
        else:
            share = sum(r.kind is MessageKind.COMMERCIAL for r in results) / len(rows)
        if not (share >= bound if op == ">=" else share <= bound):
            failures.append(f"{name} {label}: {figure} {share:.3f}, wanted {op} {bound}")
    assert not failures, failures


def test_an_operator_model_adds_to_the_signals(
    corpora: dict[str, list[tuple[str, str]]], tmp_path: Path
) -> None:
    rows = list(corpora["telecom-fraud-5"])
    random.Random(11).shuffle(rows)
    cut = len(rows) * 7 // 10
    held_out = rows[cut:]
    rules = load_rules(use_env=False)
    base = evaluate(held_out, Reviewer(rules, cache_size=0), categories_of(rules)).scores["fraud"].recall
    model = train(rows[:cut], rules.normalizer, categories_of(rules))
    model_dir = tmp_path / "rules"
    model_dir.mkdir()
    write_model(model, model_dir / "fraud.model.json")
    with_model = load_rules([model_dir], use_env=False)
    report = evaluate(held_out, Reviewer(with_model, cache_size=0), categories_of(with_model))
    assert report.scores["fraud"].recall >= base
    assert report.scores["fraud"].recall >= 0.95
    normal = report.confusion["normal"]
    assert (sum(normal.values()) - normal.get("normal", 0) - normal.get("commercial", 0)) / sum(
        normal.values()
    ) <= 0.01
