"""What the review's Hyperscan database costs, by kind of expression (issue 11, lever "triggers for
the untriggered patterns").

    .venv/bin/python bench/review_hyperscan.py [telecom-fraud-5] [--step 12] [--rounds 5]

Builds the review's database as ``RuleSet.compile`` does (every literal key, every pattern in
pre-filter mode, the digit-run check) and three variants of it: without the pre-filters of the
patterns that have no ``triggers``, without those of the triggered patterns, and literal keys only;
then scans the normalised messages of ``../shared/corpora/sms/NAME.tsv`` (read in place) with each,
in alternating rounds, and prints the best CPU time per message (µs; the callback is a Python
no-op, so the figures include one Python call per match, as the binding makes). Needs Hyperscan.

It also prints which patterns have no triggers and the literals every match of each contains
(what would gate them instead of their pre-filter), so the trade-off can be read off: a pattern out
of the database runs Python's ``re`` whenever its literal occurs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from re import _constants as sre_c
from re import _parser as sre_parse
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def required_literals(regex: str) -> set[str] | None:
    """Literals of which every match of ``regex`` contains one (None when none can be told): a
    sequence's longest run of plain characters, an alternation's when each branch has some, a
    repeat's when it repeats at least once."""
    return _in_sequence(list(sre_parse.parse(regex)))


def _in_sequence(items: list[tuple[Any, Any]]) -> set[str] | None:
    candidates: list[set[str]] = []
    chars: list[str] = []
    for op, av in items:
        if op is sre_c.LITERAL:
            chars.append(chr(av))
            continue
        if chars:
            candidates.append({"".join(chars)})
            chars = []
        found = _in_item(op, av)
        if found is not None:
            candidates.append(found)
    if chars:
        candidates.append({"".join(chars)})
    return max(candidates, key=lambda c: (min(map(len, c)), -len(c))) if candidates else None


def _in_item(op: Any, av: Any) -> set[str] | None:
    if op is sre_c.SUBPATTERN:
        return _in_sequence(list(av[3]))
    if op is sre_c.BRANCH:
        out: set[str] = set()
        for branch in av[1]:
            found = _in_sequence(list(branch))
            if found is None:
                return None
            out |= found
        return out
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
        return _in_sequence(list(av[2])) if av[0] >= 1 else None
    return None


def main() -> int:
    import hyperscan as hs

    from piguard.messaging.review import load_rules
    from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH
    from piguard.messaging.review.rules import DIGIT_RUN, _hs_regex, prefilter_flags

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", default="telecom-fraud-5")
    ap.add_argument("--step", type=int, default=12, help="every Nth message of the corpus")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    rules = load_rules(use_env=False)
    path = REPO.parent / "shared" / "corpora" / "sms" / f"{args.corpus}.tsv"
    texts = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            _label, sep, text = line.rstrip("\n").partition("\t")
            if sep and text.strip():
                texts.append(text[:DEFAULT_MAX_LENGTH])
    data = [rules.normalizer.normalize(t).encode("utf-8") for t in texts[:: max(1, args.step)]]

    flags = prefilter_flags(hs)
    literal = [b"".join(b"\\x%02x" % c for c in k.encode("utf-8")) for k in rules._matcher.keys]
    patterns = [rx.pattern for _, _, rx, _ in rules._patterns]
    lazy = [rx.pattern for rx in rules._lazy_patterns.values()]
    untriggered = set(rules._always)
    triggered = set(range(len(patterns))) - untriggered

    def database(leave_out: set[int], with_patterns: bool = True) -> tuple[Any, Any]:
        exprs = list(literal)
        if with_patterns:
            exprs += [_hs_regex(p) for j, p in enumerate(patterns) if j not in leave_out]
            exprs += [_hs_regex(p) for p in [*lazy, DIGIT_RUN]]
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(
            expressions=exprs,
            ids=list(range(len(exprs))),
            elements=len(exprs),
            flags=[0] * len(literal) + [flags] * (len(exprs) - len(literal)),
        )
        return db, hs.Scratch(db)

    variants = {
        "the review's database": database(set()),
        f"without the {len(untriggered)} untriggered patterns' pre-filters": database(untriggered),
        f"without the {len(triggered)} triggered patterns' pre-filters": database(triggered),
        f"literal keys only ({len(literal)})": database(set(), with_patterns=False),
    }

    def on_match(*_: object) -> None:
        return None

    best = dict.fromkeys(variants, float("inf"))
    for _ in range(args.rounds):
        for name, (db, scratch) in variants.items():
            t0 = time.process_time()
            for d in data:
                db.scan(d, on_match, 0, None, scratch)
            best[name] = min(best[name], (time.process_time() - t0) / len(data) * 1e6)
    print(
        f"{args.corpus}: {len(data)} messages (every {args.step}th), best CPU µs a scan of {args.rounds} rounds"
    )
    for name, us in best.items():
        print(f"  {us:6.2f}  {name}")
    print("untriggered patterns and the literals every match contains (what would gate them):")
    for pi in sorted(untriggered):
        _, _, rx, pid = rules._patterns[pi]
        found = required_literals(rx.pattern)
        shown = "none" if found is None else ", ".join(sorted(found, key=lambda s: (len(s), s))[:8])
        more = "" if found is None or len(found) <= 8 else f" (+{len(found) - 8})"
        print(f"  {pid}: {shown}{more}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
