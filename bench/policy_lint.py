"""Policy lint over the 130 real Chinese app policies (CAPP-130, read in place, never copied).

Prints, per item, how many policies the lint finds the disclosure present in, and the time per
policy (read, decode and lint), beside the target: all 130 in under a minute in total. The CPU
time is printed too: on a shared machine it says what the wall time would be on a quiet core.

    uv run python bench/policy_lint.py [--corpus PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from piguard.inventory.lint import ITEMS, lint_file

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "policies" / "capp-130"
TARGET_TOTAL_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT)
    args = parser.parse_args()
    files = sorted(args.corpus.glob("*.txt")) if args.corpus.is_dir() else []
    if not files:
        print(f"corpus not found at {args.corpus}: skipped (needs ../shared/corpora/policies/capp-130)")
        return 0
    present: Counter[str] = Counter()
    times: list[float] = []
    chars = 0
    complete = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    for path in files:
        t0 = time.perf_counter()
        report = lint_file(path)
        times.append(time.perf_counter() - t0)
        chars += len(path.read_text(encoding="utf-8"))
        complete += not report.missing
        for r in report.items:
            present[r.item.id] += r.present
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    lint_total = sum(times)
    n = len(files)
    print(f"policy lint on {n} policies ({chars / 1e6:.1f} M chars) from {args.corpus}")
    print(f"{'item':24} {'present':>8} {'absent':>7}  ids")
    for item in ITEMS:
        print(f"{item.id:24} {present[item.id]:8} {n - present[item.id]:7}  {', '.join(item.articles)}")
    print(f"every item present: {complete}/{n}")
    times_ms = sorted(t * 1000 for t in times)
    p95 = times_ms[min(n - 1, int(0.95 * n))]
    print(
        f"time per policy: mean {statistics.mean(times_ms):.1f} ms, median {statistics.median(times_ms):.1f} ms, "
        f"p95 {p95:.1f} ms, max {times_ms[-1]:.1f} ms"
    )
    verdict = "meets" if lint_total < TARGET_TOTAL_S else "MISSES"
    print(f"total lint time {lint_total:.2f} s for {n} policies (target < {TARGET_TOTAL_S:.0f} s: {verdict})")
    print(
        f"wall time incl. this script's own reading {total:.2f} s; CPU time {cpu:.2f} s ({cpu / n * 1000:.0f} ms per policy)"
    )
    return 0 if lint_total < TARGET_TOTAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
