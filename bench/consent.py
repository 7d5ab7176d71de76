"""Consent decision benchmark: ``may()`` with a warm cache, per core, beside a plain dict look-up of
the same keys (the ratio is printed), and the cost of a new transaction and of a cold subject.

    uv run python bench/consent.py [--backend sqlite|postgresql] [--subjects 2000] [--decisions 200000]

What is measured (honestly):

* Setup (not timed): a temporary database (SQLite file, or a temporary schema in ``--pg-url``,
  dropped at the end) with ``--subjects`` end users who accepted the rules; half of them also
  consented to ``marketing``. Subjects are written through the real service (so every row, event
  and audit entry is what production writes).
* Warm: one transaction; every subject is decided once (cache filled), then ``--decisions``
  decisions over random (subject, purpose, categories) keys drawn beforehand, through the public
  :func:`piguard.consent.service.may` with pre-parsed subjects (what a hot path holding the keyed
  hash passes). decisions/s per core = decisions / CPU time of this thread (``time.thread_time``);
  one process, one thread = one core. The target is >= 100k/s.
* Baseline: a plain ``dict`` holding one pre-computed answer per (subject hash, purpose, category
  set) key, looked up for the same key sequence in the same loop shape. The ratio baseline/may is
  the price of the decision (validation of the transaction, category checks, the memo).
* Also: ``may`` with the subject as a ``kind:value`` string (parsed and keyed-hashed through an LRU),
  the first decision of a new transaction (one primary-key read of ``consent_epoch``), and a cold
  decision (subject not cached: two indexed reads). These are wall clock per call, averaged.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from piguard.audit.service import Actor
from piguard.consent import engine as consent_engine
from piguard.consent import service
from piguard.consent.purposes import PurposeView, StaticPurposes, set_source
from piguard.consent.subjects import parse
from piguard.core import db
from piguard.models import metadata

TARGET = 100_000
PURPOSES = [
    PurposeView("service_provision", True, frozenset({"name", "phone_mobile", "account"})),
    PurposeView("billing", True, frozenset({"name", "phone_mobile", "bank_card"})),
    PurposeView("marketing", False, frozenset({"name", "phone_mobile", "email"})),
]
KEYS = [
    ("service_provision", ("phone_mobile",)),
    ("service_provision", ("name", "account")),
    ("billing", ("bank_card",)),
    ("marketing", ("phone_mobile",)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--subjects", type=int, default=2_000)
    ap.add_argument("--decisions", type=int, default=200_000)
    args = ap.parse_args()

    schema = None
    if args.backend == "sqlite":
        tmp = tempfile.mkdtemp()
        eng = db.make_engine(f"sqlite:///{tmp}/bench.db")
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = db.make_engine(args.pg_url)
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        eng = db.make_engine(args.pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        run(eng, args)
    finally:
        eng.dispose()
        if schema:
            admin = db.make_engine(args.pg_url)
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def run(eng, args) -> None:  # type: ignore[no-untyped-def]
    metadata.create_all(eng)
    set_source(StaticPurposes(PURPOSES, version=1))
    Session = sessionmaker(bind=eng, expire_on_commit=False)
    actor = Actor.system("bench")
    ev = service.EvidenceIn("app", "《规则》第1版 / marketing", client_ip="192.0.2.1")
    phones = [f"phone:1380{i:07d}" for i in range(args.subjects)]
    t0 = time.perf_counter()
    with Session() as s:
        for i, p in enumerate(phones):
            service.accept_rules(s, p, ev, actor=actor)
            if i % 2 == 0:
                service.grant(s, p, "marketing", ev, actor=actor)
            if i % 1000 == 999:
                s.commit()
        s.commit()
    print(
        f"setup: {args.subjects} subjects on {args.backend} in {time.perf_counter() - t0:.1f} s (not timed below)"
    )

    subjects = [parse(p) for p in phones]
    rng = random.Random(7)
    seq = [(rng.randrange(len(subjects)), rng.randrange(len(KEYS))) for _ in range(args.decisions)]
    keys = [(subjects[i], KEYS[k][0], KEYS[k][1]) for i, k in seq]
    strkeys = [(phones[i], KEYS[k][0], KEYS[k][1]) for i, k in seq[: min(len(seq), 50_000)]]

    consent_engine.reset_caches()
    with Session() as s:
        answers = {}
        for subj in subjects:
            for purpose, cats in KEYS:
                d = service.may(s, actor, subj, cats, purpose)
                answers[(subj.hash, purpose, frozenset(cats))] = d
        allowed = sum(1 for d in answers.values() if d.allowed)
        # warm may()
        c0, w0 = time.thread_time(), time.perf_counter()
        n_allow = 0
        for subj, purpose, cats in keys:
            if service.may(s, actor, subj, cats, purpose).allowed:
                n_allow += 1
        cpu_may, wall_may = time.thread_time() - c0, time.perf_counter() - w0
        # baseline: a plain dict of the same keys
        c0 = time.thread_time()
        n_base = 0
        for subj, purpose, cats in keys:
            if answers[(subj.hash, purpose, frozenset(cats))].allowed:
                n_base += 1
        cpu_dict = time.thread_time() - c0
        assert n_base == n_allow, (n_base, n_allow)
        # strings (parse + keyed hash through the LRU)
        c0 = time.thread_time()
        for subj_s, purpose, cats in strkeys:
            service.may(s, actor, subj_s, cats, purpose)
        cpu_str = time.thread_time() - c0
        s.rollback()

    # new transaction: one epoch read
    with Session() as s:
        n_tx = 500
        w0 = time.perf_counter()
        for i in range(n_tx):
            service.may(s, actor, subjects[i % len(subjects)], ("phone_mobile",), "marketing")
            s.rollback()
        wall_tx = (time.perf_counter() - w0) / n_tx
    # cold subject: cache emptied each time
    with Session() as s:
        n_cold = 500
        cache = consent_engine.cache_for(s)
        w0 = time.perf_counter()
        for i in range(n_cold):
            cache.subjects.clear()
            service.may(s, actor, subjects[i % len(subjects)], ("phone_mobile",), "marketing")
        wall_cold = (time.perf_counter() - w0) / n_cold

    rate = len(keys) / cpu_may
    base = len(keys) / cpu_dict
    print(
        f"decisions: {len(keys)} over {args.subjects} subjects x {len(KEYS)} (purpose, categories) keys; {allowed} of {len(answers)} keys allowed"
    )
    print(
        f"warm may():        {rate:>12,.0f} decisions/s per core (CPU)   target >= {TARGET:,}   {'OK' if rate >= TARGET else 'BELOW TARGET'}"
    )
    print(f"                   {len(keys) / wall_may:>12,.0f} decisions/s wall clock")
    print(
        f"plain dict lookup: {base:>12,.0f} lookups/s per core (CPU)    ratio dict/may = {base / rate:.1f}x"
    )
    print(f"may() with 'phone:…' strings: {len(strkeys) / cpu_str:>12,.0f} decisions/s per core (CPU)")
    print(f"first decision of a new transaction: {wall_tx * 1e6:,.0f} us (one consent_epoch read + rollback)")
    print(f"cold subject (not cached):           {wall_cold * 1e6:,.0f} us (two indexed reads)")
    set_source(None)


if __name__ == "__main__":
    main()
