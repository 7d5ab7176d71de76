"""Instructions executed per cold review (valgrind), a speed figure that does not depend on the load.

    .venv/bin/python bench/review_instructions.py [zh-sms-10k|telecom-fraud-5] [--limit 10000] [--step 1]

Runs this script twice under ``valgrind --tool=cachegrind --cache-sim=no``: once loading the rules
and reviewing the messages once (the warm-up), once doing the same and then reviewing them twice
more; the difference over twice the number of messages is what one cold review costs (result cache
off). Reads ``../shared/corpora/sms/NAME.tsv`` in place. Needs valgrind on PATH; takes about a
minute for 10,000 short messages. ``--step N`` takes every Nth message (the file is sorted by
label: ``telecom-fraud-5 --step 12`` spreads a thousand over all five labels). To compare with another revision, put that revision's ``src`` first
on ``PYTHONPATH`` (``git archive REV src | tar -x -C /tmp/rev``, ``PYTHONPATH=/tmp/rev/src``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _texts(name: str, limit: int, step: int) -> list[str]:
    from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH

    path = REPO.parent / "shared" / "corpora" / "sms" / f"{name}.tsv"
    out: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            _label, sep, text = line.rstrip("\n").partition("\t")
            if sep and text.strip():
                out.append(text[:DEFAULT_MAX_LENGTH])
    return out[:: max(1, step)][:limit]


def _reviews(name: str, limit: int, step: int, passes: int) -> None:
    from piguard.messaging.review import Reviewer, load_rules

    review = Reviewer(load_rules(use_env=False), cache_size=0).review
    texts = _texts(name, limit, step)
    for t in texts:  # warm-up: compiled patterns, the interpreter's caches
        review(t)
    for _ in range(passes):
        for t in texts:
            review(t)
    print(len(texts), file=sys.stderr)


def _instructions(name: str, limit: int, step: int, passes: int) -> tuple[int, int]:
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    cmd += [
        sys.executable,
        __file__,
        name,
        "--limit",
        str(limit),
        "--step",
        str(step),
        "--passes",
        str(passes),
    ]
    err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    refs = re.search(r"I\s+refs:\s+([\d,]+)", err)
    count = re.search(r"^(\d+)$", err, re.M)
    if refs is None or count is None:
        raise SystemExit(f"could not read valgrind's output:\n{err[-2000:]}")
    return int(refs.group(1).replace(",", "")), int(count.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", default="zh-sms-10k")
    ap.add_argument("--limit", type=int, default=10_000, help="first N messages of the corpus")
    ap.add_argument("--step", type=int, default=1, help="every Nth message of the corpus")
    ap.add_argument("--passes", type=int, default=None, help=argparse.SUPPRESS)  # the child runs
    args = ap.parse_args()
    if args.passes is not None:
        _reviews(args.corpus, args.limit, args.step, args.passes)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind not found on PATH", file=sys.stderr)
        return 2
    warm, n = _instructions(args.corpus, args.limit, args.step, 0)
    more, _ = _instructions(args.corpus, args.limit, args.step, 2)
    every = f" (every {args.step}th)" if args.step > 1 else ""
    print(f"{args.corpus}: {n} messages{every}, {(more - warm) / (2 * n):,.0f} instructions per cold review")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
