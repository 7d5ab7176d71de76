"""SMS content review: per file and label of the shared corpora, the share flagged prohibited and
commercial beside issue 11's targets; reviews per second per core, cold; latency.

    uv run python bench/review.py [--corpora DIR] [--rounds 2] [--rules-dir DIR] [--quality-only]

Reads ``../shared/corpora/sms/*.tsv`` (relative to the repository root) in place, never copies
them. One process, one thread: the figures are per core, for cold reviews (the result cache off);
a repeated text (one template sent in bulk) is then a cache hit, timed separately. Texts longer
than the SMS limit (1,000 characters) are cut to it, as the gateway would refuse them.

The machine this runs on is usually shared: compare CPU time with wall clock.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from piguard.messaging.review import Reviewer, load_rules, reviewer_for
from piguard.messaging.review.corpus import load_corpus, measure
from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH, MessageKind

TYPICAL = "【优品商城】会员专享：全场春装5折起，满299减50，限时3天，详询4008123456，戳 youpin.cn/a1 回T退订"
REPO = Path(__file__).resolve().parents[1]

#: issue 11's targets: (file, label) -> (figure, comparison, target)
TARGETS: dict[tuple[str, str], tuple[str, str, float]] = {
    ("telecom-fraud-5", "fraud_police_impersonation"): ("prohibited", ">=", 0.90),
    ("telecom-fraud-5", "fraud_loan"): ("prohibited", ">=", 0.90),
    ("telecom-fraud-5", "fraud_customer_service_impersonation"): ("prohibited", ">=", 0.90),
    ("telecom-fraud-5", "fraud_acquaintance_impersonation"): ("prohibited", ">=", 0.90),
    ("telecom-fraud-5", "normal"): ("prohibited", "<=", 0.005),
    ("zh-sms-10k", "0"): ("prohibited", "<=", 0.002),
    ("zh-sms-10k", "1"): ("commercial", ">=", 0.92),
}
RATE_TARGET = 50_000
#: labels whose signals were developed on one half of the rows (the even-numbered rows of the
#: label, counted from 0 in file order) and checked on the other: both halves are printed
SPLIT: frozenset[tuple[str, str]] = frozenset({("telecom-fraud-5", "fraud_acquaintance_impersonation")})


def _pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))] / 1000


def _rows(path: Path) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            label, sep, text = line.rstrip("\n").partition("\t")
            if sep and text.strip():
                out.append((label, text[:DEFAULT_MAX_LENGTH]))
    return out


def _mark(value: float, op: str, target: float) -> str:
    ok = value >= target if op == ">=" else value <= target
    return "ok" if ok else "MISSED"


def quality(files: list[Path], reviewer: Reviewer) -> dict[str, list[tuple[str, str]]]:
    print(f"{'file':<18} {'label':<38} {'n':>6} {'prohibited':>10} {'commercial':>10}   target")
    loaded: dict[str, list[tuple[str, str]]] = {}
    for path in files:
        rows = loaded[path.stem] = _rows(path)
        stats: dict[str, list[int]] = {}
        halves: dict[str, list[int]] = {}  # label -> [n even, flagged even, n odd, flagged odd]
        for label, text in rows:
            r = reviewer.review(text)
            s = stats.setdefault(label, [0, 0, 0])
            if (path.stem, label) in SPLIT:
                h = halves.setdefault(label, [0, 0, 0, 0])
                odd = 2 * (s[0] % 2)
                h[odd] += 1
                h[odd + 1] += bool(r.prohibited)
            s[0] += 1
            s[1] += bool(r.prohibited)
            s[2] += r.kind is MessageKind.COMMERCIAL
        for label, (n, p, c) in sorted(stats.items()):
            target = TARGETS.get((path.stem, label))
            note = ""
            if target is not None:
                fig, op, val = target
                share = (p if fig == "prohibited" else c) / n
                note = f"{fig} {op} {val:g}: {_mark(share, op, val)}"
            print(f"{path.stem:<18} {label:<38} {n:>6} {p / n:>10.3f} {c / n:>10.3f}   {note}")
            if label in halves:
                ne, pe, no, po = halves[label]
                for name, hn, hp in (("even rows (development)", ne, pe), ("odd rows (held out)", no, po)):
                    share = hp / max(hn, 1)
                    held = ""
                    if target is not None and name.startswith("odd"):  # the figure to expect on new fraud
                        fig, op, val = target
                        held = f"{'':>10}   {fig} {op} {val:g} (held out): {_mark(share, op, val)}"
                    print(f"{'':<18} {'  ' + name:<38} {hn:>6} {share:>10.3f}{held}")
    return loaded


def speed(name: str, texts: list[str], reviewer: Reviewer, rounds: int) -> None:
    review = reviewer.review
    for t in texts:  # warm-up: compiled patterns, caches of the interpreter
        review(t)
    best_rate = best_cpu = 0.0
    lat: list[int] = []
    for _ in range(max(1, rounds)):
        start, cpu = time.perf_counter(), time.thread_time()
        for t in texts:
            review(t)
        best_rate = max(best_rate, len(texts) / (time.perf_counter() - start))
        best_cpu = max(best_cpu, len(texts) / (time.thread_time() - cpu))
    for t in texts:
        a = time.perf_counter_ns()
        review(t)
        lat.append(time.perf_counter_ns() - a)
    lat.sort()
    print(
        f"{name:<18} {len(texts):>6} msgs, mean {statistics.fmean(len(t) for t in texts):>4.0f} chars: "
        f"{best_rate:>8,.0f} reviews/s wall, {best_cpu:>8,.0f} per CPU-second "
        f"(target >= {RATE_TARGET:,}: {_mark(best_cpu, '>=', RATE_TARGET)}); "
        f"p50 {_pct(lat, 0.5):.1f} us, p99 {_pct(lat, 0.99):.1f} us"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora" / "sms")
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds over each corpus")
    ap.add_argument("--rules-dir", type=Path, action="append", default=[])
    ap.add_argument("--quality-only", action="store_true", help="skip the timings")
    args = ap.parse_args()
    files = sorted(args.corpora.glob("*.tsv")) if args.corpora.is_dir() else []
    if not files:
        print(f"no corpora (*.tsv) found in {args.corpora}; pass --corpora", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rules = load_rules(args.rules_dir)
    reviewer = Reviewer(rules, cache_size=0)  # cold: every review does the whole work
    signals = sum(1 for g in rules.groups if g.role == "signal")
    print(
        f"rules compiled in {(time.perf_counter() - t0) * 1000:.0f} ms ({rules.term_count} terms, "
        f"{signals} signals, {len(getattr(rules, 'verdicts', {}))} scored categories, {len(getattr(rules, 'models', []))} models)"
    )
    loaded = quality(files, reviewer)
    if args.quality_only:
        return 0
    print("speed, one core, cold (result cache off):")
    for name, rows in loaded.items():
        speed(name, [t for _, t in rows], reviewer, args.rounds)
    typical: list[int] = []
    for _ in range(20000):
        a = time.perf_counter_ns()
        reviewer.review(TYPICAL)
        typical.append(time.perf_counter_ns() - a)
    typical.sort()
    print(
        f"dense {len(TYPICAL)}-char commercial SMS: p50 {_pct(typical, 0.5):.1f} us, p99 {_pct(typical, 0.99):.1f} us"
    )
    cached = reviewer_for(rules)
    cached.review(TYPICAL)
    rep: list[int] = []
    for _ in range(20000):
        a = time.perf_counter_ns()
        cached.review(TYPICAL)
        rep.append(time.perf_counter_ns() - a)
    rep.sort()
    print(f"the same text again (bulk send of one template, cache hit): p50 {_pct(rep, 0.5):.2f} us")
    zh = args.corpora / "zh-sms-10k.tsv"
    if zh.is_file():
        print("zh-sms-10k, readings of the review against label 1 (spam/advertising):")
        for score in measure(load_corpus(zh), reviewer).values():
            print("  " + score.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
