"""SMS content review: reviews/s on one core, p50/p99 latency, and quality on the labelled corpus.

    uv run python bench/review.py [--corpus PATH] [--rounds 3] [--rules-dir DIR]

Reads ``../shared/corpora/sms/zh-sms-10k.tsv`` (relative to the repository root) in place. One
process, one thread: the figures are per core, for cold reviews (the result cache off); a
repeated text (one template sent in bulk) is then a cache hit, timed separately. Latency is
measured per call with ``perf_counter_ns`` over every corpus message (after a warm-up round), over
the corpus messages of 60-80 characters, and on a dense 64-character commercial SMS. Quality: precision and recall of three readings of the
review against label 1 (spam/advertising): ``kind == commercial``, ``commercial or prohibited``,
``verdict == fail``.

Target: a typical 70-character SMS under 50 us (the gateway's whole decision aims at >= 20k
decisions/s/core). The machine this runs on is usually shared: compare CPU time with wall clock.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from piguard.messaging.review import Reviewer, load_rules, reviewer_for
from piguard.messaging.review.corpus import default_corpus_path, load_corpus, measure

TYPICAL = "【优品商城】会员专享：全场春装5折起，满299减50，限时3天，详询4008123456，戳 youpin.cn/a1 回T退订"


def _pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))] / 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus_path())
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds over the corpus")
    ap.add_argument("--rules-dir", type=Path, action="append", default=[])
    args = ap.parse_args()
    if not args.corpus.is_file():
        print(f"corpus not found at {args.corpus}; pass --corpus", file=sys.stderr)
        return 2
    rows = load_corpus(args.corpus)
    texts = [t for _, t in rows]
    t0 = time.perf_counter()
    rules = load_rules(args.rules_dir)
    reviewer = Reviewer(rules, cache_size=0)  # cold: every review does the whole work
    print(
        f"rules compiled in {(time.perf_counter() - t0) * 1000:.0f} ms "
        f"({reviewer.rules.term_count} terms, {len(reviewer.rules.groups)} groups)"
    )
    print(
        f"corpus: {len(rows)} messages, mean {statistics.fmean(len(t) for t in texts):.0f} chars, {args.corpus}"
    )

    review = reviewer.review
    for t in texts:  # warm-up
        review(t)
    latencies: list[int] = []
    best_rate = best_cpu_rate = 0.0
    for _ in range(max(1, args.rounds)):
        start, cpu = time.perf_counter(), time.thread_time()
        for t in texts:
            review(t)
        best_rate = max(best_rate, len(texts) / (time.perf_counter() - start))
        best_cpu_rate = max(best_cpu_rate, len(texts) / (time.thread_time() - cpu))
        for t in texts:
            a = time.perf_counter_ns()
            review(t)
            latencies.append(time.perf_counter_ns() - a)
    latencies.sort()
    print(
        f"throughput (1 core, best round): {best_rate:,.0f} reviews/s wall clock, "
        f"{best_cpu_rate:,.0f} reviews per CPU-second (one core to itself)"
    )
    print(
        f"latency per review (wall clock): p50 {_pct(latencies, 0.5):.1f} us, "
        f"p99 {_pct(latencies, 0.99):.1f} us, max {latencies[-1] / 1000:.0f} us"
    )

    band = [t for t in texts if 60 <= len(t) <= 80]
    if band:
        lat: list[int] = []
        for t in band * 3:
            a = time.perf_counter_ns()
            review(t)
            lat.append(time.perf_counter_ns() - a)
        lat.sort()
        print(
            f"corpus messages of 60-80 chars ({len(band)}): p50 {_pct(lat, 0.5):.1f} us, "
            f"p90 {_pct(lat, 0.9):.1f} us, p99 {_pct(lat, 0.99):.1f} us"
        )

    typical: list[int] = []
    cpu = time.thread_time()
    for _ in range(20000):
        a = time.perf_counter_ns()
        review(TYPICAL)
        typical.append(time.perf_counter_ns() - a)
    cpu_us = (time.thread_time() - cpu) / 20000 * 1e6
    typical.sort()
    print(
        f"dense {len(TYPICAL)}-char commercial SMS (12 keyword hits): p50 {_pct(typical, 0.5):.1f} us, "
        f"p99 {_pct(typical, 0.99):.1f} us wall clock; {cpu_us:.1f} us CPU on average"
    )

    cached = reviewer_for(rules)  # the default reviewer: LRU cache of (text, context)
    cached.review(TYPICAL)
    rep: list[int] = []
    for _ in range(20000):
        a = time.perf_counter_ns()
        cached.review(TYPICAL)
        rep.append(time.perf_counter_ns() - a)
    rep.sort()
    print(f"the same text again (bulk send of one template, cache hit): p50 {_pct(rep, 0.5):.2f} us")

    print("quality against label 1 (spam/advertising):")
    for score in measure(rows, reviewer).values():
        print("  " + score.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
