"""Same decisions, and how much faster: this tree's content review against another revision's.

    .venv/bin/python bench/review_compare.py --base /work/wt-base [--rounds 3] [--quality-only]

``--base`` is a checkout of the revision to compare with (for main: ``git worktree add --detach
/tmp/base main``); its ``src`` is put first on ``PYTHONPATH`` in a child process. Every message of
``../shared/corpora/sms/*.tsv`` (read in place, cut to the SMS limit as ``bench/review.py`` does) is
reviewed by both, under several contexts (the default one, a registered sender with clearances and
every built-in personal-information category, an e-mail), and the whole result is compared:
verdict, kind, prohibited categories, every finding with its detail (the signals that fired, their
weights and matches), signature, opt-out, kind signals and scores, and the decision's reasons. Any
difference is printed and the exit status is 1. ``--any-order`` compares the outcomes with every
list sorted (reasons, signals, matches): the same verdicts, categories, scores and the same set of
fired signals and reasons with their ids, whatever order they are listed in (for a change of the
canonical order of the reasons); outcomes that differ only in order are counted apart.

Then (unless ``--quality-only``) the reviews per CPU-second, cold (result cache off), of the two
trees side by side: rounds alternate between the base and this tree, each a fresh child process
timing the same messages with ``time.process_time`` after a warm-up, so both see the same load.
``PIGUARD_PURE_PYTHON=1`` in the environment measures this tree without its compiled kernels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora" / "sms"


def texts_of(path: Path, max_length: int) -> list[str]:
    out: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            _label, sep, text = line.rstrip("\n").partition("\t")
            if sep and text.strip():
                out.append(text[:max_length])
    return out


def contexts() -> dict[str, Any]:
    from piguard.messaging.review import Channel, ReviewContext
    from piguard.messaging.review.pi import FALLBACK_CATEGORIES

    return {
        "default": None,
        "registered": ReviewContext(
            content_provider="cp1",
            signatures=frozenset({"优品商城", "中国移动"}),
            pi_categories=FALLBACK_CATEGORIES,
            clearances=frozenset({"public_welfare", "official_short_code", "licensed_lottery"}),
        ),
        "email": ReviewContext(channel=Channel.EMAIL, signatures=frozenset({"优品商城"})),
    }


def outcome(reviewer: Any, text: str, ctx: Any) -> str:
    """Everything a review says about ``text``, as one canonical JSON line."""
    try:
        r = reviewer.review(text, ctx)
    except Exception as exc:  # a validation error is an outcome too
        return json.dumps({"error": type(exc).__name__, "message": str(exc)}, ensure_ascii=False)
    out = r.to_dict(explain=True)
    out["decision"] = r.decision().to_dict()
    return json.dumps(out, ensure_ascii=False, sort_keys=True, default=str)


def dump(corpora: Path, out: Path) -> None:
    """Child: write one outcome line per (file, context, message) to ``out``."""
    from piguard.messaging.review import Reviewer, load_rules
    from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH

    reviewer = Reviewer(load_rules(use_env=False), cache_size=0)
    with out.open("w", encoding="utf-8") as fh:
        for path in sorted(corpora.glob("*.tsv")):
            texts = texts_of(path, DEFAULT_MAX_LENGTH)
            for cname, ctx in contexts().items():
                for i, text in enumerate(texts):
                    fh.write(f"{path.stem}\t{cname}\t{i}\t{outcome(reviewer, text, ctx)}\n")


def time_child(corpora: Path, name: str, passes: int) -> None:
    """Child: print the CPU seconds of ``passes`` cold reviews of every message of ``name``."""
    from piguard.messaging.review import Reviewer, load_rules
    from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH

    review = Reviewer(load_rules(use_env=False), cache_size=0).review
    texts = texts_of(corpora / f"{name}.tsv", DEFAULT_MAX_LENGTH)
    for t in texts:  # warm-up
        review(t)
    best = float("inf")
    for _ in range(passes):
        start = time.process_time()
        for t in texts:
            review(t)
        best = min(best, time.process_time() - start)
    print(json.dumps({"n": len(texts), "cpu": best}))


def _child(base: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if base is not None:
        env["PYTHONPATH"] = str(base / "src") + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
    return subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=True
    )


def _unordered(value: Any) -> Any:
    """``value`` with every list sorted (by each item's canonical JSON), recursively."""
    if isinstance(value, dict):
        return {k: _unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_unordered(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True))
    return value


def _same_but_order(x: str, y: str) -> bool:
    lx, ly = x.split("\t", 3), y.split("\t", 3)
    return lx[:3] == ly[:3] and _unordered(json.loads(lx[3])) == _unordered(json.loads(ly[3]))


def compare(base: Path, corpora: Path, tmp: Path, any_order: bool = False) -> int:
    a, b = tmp / "review-base.jsonl", tmp / "review-this.jsonl"
    _child(base, "--corpora", str(corpora), "--dump", str(a))
    _child(None, "--corpora", str(corpora), "--dump", str(b))
    lines_a = a.read_text(encoding="utf-8").splitlines()
    lines_b = b.read_text(encoding="utf-8").splitlines()
    if len(lines_a) != len(lines_b):
        print(f"different numbers of outcomes: base {len(lines_a)}, this tree {len(lines_b)}")
        return 1
    diffs = [(x, y) for x, y in zip(lines_a, lines_b, strict=True) if x != y]
    if any_order:
        reordered = [(x, y) for x, y in diffs if _same_but_order(x, y)]
        diffs = [(x, y) for x, y in diffs if not _same_but_order(x, y)]
        print(
            f"{len(reordered)} outcomes differ only in the order of their lists (reasons, signals, matches)"
        )
    digest = hashlib.sha256("\n".join(lines_b).encode("utf-8")).hexdigest()[:16]
    print(f"{len(lines_b)} reviews compared (files x contexts x messages), outcome digest {digest}")
    for x, y in diffs[:5]:
        print("- base:", x[:600])
        print("+ this:", y[:600])
    if diffs:
        print(f"DIFFERENT: {len(diffs)} outcomes")
        return 1
    what = "as sets" if any_order else "identical"
    print(f"{what}: every verdict, kind, prohibited category, finding, reason and score")
    return 0


def speed(base: Path, corpora: Path, rounds: int, passes: int) -> None:
    for path in sorted(corpora.glob("*.tsv")):
        figures: dict[str, list[float]] = {"base": [], "this": []}
        for _ in range(max(1, rounds)):
            for side, root in (("base", base), ("this", None)):
                got = json.loads(
                    _child(root, "--corpora", str(corpora), "--time", path.stem, str(passes)).stdout
                )
                figures[side].append(got["n"] / got["cpu"])
        b, t = (statistics.median(figures[s]) for s in ("base", "this"))
        rounds_txt = "  ".join(
            f"{x:,.0f}/{y:,.0f}" for x, y in zip(figures["base"], figures["this"], strict=True)
        )
        print(
            f"{path.stem:<18} reviews per CPU-second, cold: base {b:>8,.0f}  this {t:>8,.0f}  "
            f"x{t / b:.2f}   (rounds base/this: {rounds_txt})"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, help="checkout of the revision to compare with")
    ap.add_argument("--corpora", type=Path, default=CORPORA)
    ap.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per corpus")
    ap.add_argument("--passes", type=int, default=3, help="timed passes per round (the best counts)")
    ap.add_argument("--quality-only", action="store_true", help="compare outcomes, skip the timings")
    ap.add_argument("--tmp", type=Path, default=Path("/tmp"))
    ap.add_argument("--any-order", action="store_true", help="lists compared as sets (see the docstring)")
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # child
    ap.add_argument("--time", nargs=2, metavar=("NAME", "PASSES"), help=argparse.SUPPRESS)  # child
    args = ap.parse_args()
    if args.dump is not None:
        dump(args.corpora, args.dump)
        return 0
    if args.time is not None:
        time_child(args.corpora, args.time[0], int(args.time[1]))
        return 0
    if args.base is None or not (args.base / "src" / "piguard").is_dir():
        print("--base must be a checkout holding src/piguard", file=sys.stderr)
        return 2
    if not any(args.corpora.glob("*.tsv")):
        print(f"no corpora (*.tsv) found in {args.corpora}; pass --corpora", file=sys.stderr)
        return 2
    status = compare(args.base.resolve(), args.corpora, args.tmp, args.any_order)
    if not args.quality_only:
        speed(args.base.resolve(), args.corpora, args.rounds, args.passes)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
