"""Gateway benchmark: in-process decisions per core (CPU time) with p50/p99 latency, ``submit`` end
to end, and HTTP batch msgs/s through a real uvicorn process, printed beside the issue-3 targets.

    uv run python bench/gateway.py [--backend sqlite|postgresql] [--cps 10000] [--consents 1000000]
                                   [--batches 10] [--http-batches 12] [--workers 1,2] [--in-flight N]
                                   [--skip-in-process] [--skip-e2e] [--e2e-batches 5] [--smpp-window 10]

What is measured (honestly):

* Setup (not timed): a temporary database holding a registry of ``--cps`` content providers (each
  with a signature and a commercial port with extensions 01-99) and ``--consents`` consents, written
  with one raw ``executemany`` per 100k rows (SQLite) or ``COPY`` (PostgreSQL). ``--backend sqlite``
  (default): a temporary SQLite file (WAL). ``--backend postgresql``: a temporary schema in
  ``--pg-url`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), dropped at the end.
  The counts printed are read back from the database, and the registry snapshot load is timed (cold:
  the first batch after a registry change pays it).
* In-process ``decide`` (the target "≥ 20k decisions/s/core, p99 < 1 ms"): the corpus messages
  (``../shared/corpora/sms/zh-sms-10k.tsv``, read in place; the run stops when it is absent), each
  signed by a random content provider, with 回T退订, sent to a random recipient (half of them with
  consent to that content provider), in batches of 1000. Per batch the context is loaded as the
  gateway does (registry snapshot token + one consent query + one suppression query for the batch's
  recipients), timed apart as "context load per batch"; then :func:`evaluate` runs on every message:
  sender/port resolution, the full content review, suspension, port type, consent and frequency,
  similarity, quiet hours, and the decision with its reasons. The review is *cold*: every corpus
  text is new to the review cache (each appears once). decisions/s per core = messages / CPU time of
  this thread over the evaluate loops (``time.thread_time``; the shared machine's other load does
  not count), wall-clock figures beside it; latency = ``perf_counter_ns`` around each call (wall
  clock, so it includes what the machine's other users cost us). One process, one thread = one core.
  Before timing: the rules are compiled and the PI detector loaded (a server does this at start-up).
* Warm review cache: the same 1000 messages again (one template sent to many recipients).
* ``submit`` end to end in-process: validation + context + decide + guarded consent update +
  records (recipient AES-GCM encrypted) + outbox + one audit entry, one transaction committed per
  batch of 1000; msgs per CPU-second of this process, and per wall-clock second. One batch is
  submitted before the clock starts (first-use imports and statement compilation, which a server
  pays once).
* HTTP batch (the target "≥ 5k msg/s over HTTP batch"): the real app under ``uvicorn`` in a
  subprocess over loopback, ``POST /api/sms/submit/batch`` with 1000 messages per request and a
  bearer token (authentication, JSON parsing, per-item validation, decide, one transaction,
  response). With ``W`` workers the client keeps ``--in-flight`` requests in flight (default ``2 W``:
  one waiting in each worker while another is being processed; one thread and connection each; the
  request bodies are encoded before timing). msg/s = messages / wall-clock time; the client shares
  the machine's 2 cores with the server (and, with PostgreSQL, with the database server).
* End to end (the target "≥ 2,000 delivered msg/s"): ``piguard sms smpp-serve`` as a process, its
  SMPP client bound to this script's own test SMS centre (:class:`BenchSmsc`: loopback, SMPP 3.4
  framing written here, answers every submit_sm at once, counts whole messages and parts; bounded
  by ``--e2e-timeout``), and uvicorn with 2 workers. First the backlog the HTTP runs queued is
  drained (outbox -> SMPP alone, with the dispatcher's CPU per message); then ``--e2e-batches``
  requests of 1000 messages to consented recipients are posted, 4 in flight, and the clock runs
  from the first request until the SMS centre has counted every allowed message. Beside the
  wall-clock rate: the CPU per delivered message of uvicorn, smpp-serve and this process.
  ``PIGUARD_BENCH_PYSPY=FILE`` records smpp-serve with ``py-spy record --format raw`` (collapsed
  stacks, its worker threads too) from the backlog drain on; ``PIGUARD_BENCH_PYSPY_ARGS=--gil``
  samples only the thread holding the GIL (about its CPU). py-spy is not a dependency: install it
  beside the bench. Measured 2026-12-07 (``--skip-in-process --skip-cmpp --workers 2``, SQLite,
  load 3.5-5.8): smpp-serve 205-207 us of CPU per delivered message (266/260 before), the whole
  pipeline 2,119-2,212 delivered per CPU-second (docs/sms-gateway.md, *Measured*).
* End to end over CMPP (issue 13): ``--cmpp-messages`` messages from ``--cmpp-accounts`` content
  providers, each connected over CMPP 3.0 to the same ``smpp-serve`` process's CMPP server
  (``--cmpp-port``; the content providers' side is piguard's own CMPP client, ``cmpp.client``, run in
  this process), decided, queued, and sent by the dispatcher over a CMPP 3.0 link (a links file with
  one ``cmpp3`` link for every carrier) to this script's test ISMG (:class:`BenchIsmg`, on piguard's
  CMPP codec: answers every connect, active test and submit at once, counts whole messages, sends no
  reports, as the SMPP centre sends no receipts). The clock runs from the first CMPP_SUBMIT until
  the ISMG has counted every message piguard accepted; printed beside the SMPP figure.
* The last lines print the speed table of issue 10: figure, target, ratio (>= 1 meets it) and the
  figure measured before (issue 10's "now" column).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "sms" / "zh-sms-10k.tsv"


def _pct(xs: list[int], q: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * q))] / 1000


def build(url: str, n_cps: int, n_consents: int, seed: int = 7) -> tuple[list[str], list[str], list[int]]:
    """Registry and consents in bulk; returns (signatures by cp index, consented user numbers)."""
    from sqlalchemy import insert

    from piguard.core import addresses, crypto
    from piguard.core.db import make_engine, set_engine, unit_of_work, utcnow
    from piguard.messaging.models import (
        Consent,
        ContentProvider,
        Port,
        RegistryState,
        ServiceProvider,
        Signature,
    )
    from piguard.models import metadata

    engine = make_engine(url)
    metadata.create_all(engine)
    set_engine(engine)
    now = utcnow()
    sigs = [f"商户{i:05d}" for i in range(n_cps)]
    with unit_of_work() as s:
        s.execute(
            insert(ServiceProvider),
            [
                {
                    "id": 1,
                    "name": "bench",
                    "licence_number": "B2-BENCH",
                    "access_codes": [],
                    "access_location": "",
                }
            ],
        )
        s.execute(
            insert(ContentProvider),
            [
                {
                    "id": i + 1,
                    "code": f"cp{i:05d}",
                    "name": sigs[i],
                    "service_provider_id": 1,
                    "identity_type": "other",
                    "identity_masked": "BEN***",
                    "identity_hash": "x",
                    "identity_enc": "x",
                    "verification_status": "verified",
                    "suspended": False,
                    "suspended_obligations": [],
                }
                for i in range(n_cps)
            ],
        )
        s.execute(
            insert(Signature),
            [{"content_provider_id": i + 1, "text": sigs[i], "approved": True} for i in range(n_cps)],
        )
        s.execute(
            insert(Port),
            [
                {
                    "channel": "sms",
                    "code": f"1069{i:05d}",
                    "port_type": "commercial",
                    "approved_scope": "",
                    "service_provider_id": 1,
                    "content_provider_id": i + 1,
                    "extension_from": "01",
                    "extension_to": "99",
                    "suspended": False,
                    "suspended_obligations": [],
                }
                for i in range(n_cps)
            ],
        )
        s.add(RegistryState(id=1, version=1, token="bench"))
    rnd = random.Random(seed)
    users = [f"139{n:08d}" for n in range(n_consents)]
    owner = [rnd.randrange(n_cps) for _ in range(n_consents)]
    until = now + timedelta(days=365)
    # consents: one raw executemany per 100k rows (the ORM would take minutes for a million); the
    # two times go through the column type's own bind processing, so the rows read back as usual
    dt = Consent.__table__.c.granted_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    t_now, t_until = (dt(now), dt(until)) if dt else (now, until)
    # the window they were granted in with a count of 0, as every consent is written
    # (``subscriptions.consent``)
    from piguard.messaging.gateway.decision import window_start

    t_window = dt(window_start(now, "day")) if dt else window_start(now, "day")
    cols = (
        "recipient_hash, recipient_masked, channel, content_provider_id, message_type, max_messages, "
        "period_unit, granted_at, valid_until, status, window_start, window_count, evidence"
    )
    pg = engine.dialect.name == "postgresql"
    sql = f"INSERT INTO {Consent.__tablename__} ({cols}) VALUES ({', '.join('?' * 13)})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for start in range(0, n_consents, 100_000):
            rows = []
            for j in range(start, min(n_consents, start + 100_000)):
                addr = "+86" + users[j]
                rows.append(
                    (
                        crypto.address_hash(addr),
                        addresses.mask_address(addr),
                        "sms",
                        owner[j] + 1,
                        "promotions",
                        1000,
                        "day",
                        t_now,
                        t_until,
                        "active",
                        t_window,
                        0,
                        "{}",
                    )
                )
            if pg:
                with cur.copy(f"COPY {Consent.__tablename__} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cur.executemany(sql, rows)
        raw.commit()
        if pg:
            cur.execute(f"ANALYZE {Consent.__tablename__}")
            raw.commit()
    finally:
        raw.close()
    return sigs, users, owner


TARGET_DECISIONS, TARGET_P99_US, TARGET_HTTP = 20_000, 1000.0, 5_000


def _verdict(ok: bool) -> str:
    return "meets target" if ok else "BELOW TARGET"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--cps", type=int, default=10_000)
    ap.add_argument("--consents", type=int, default=1_000_000)
    ap.add_argument("--batches", type=int, default=10, help="in-process batches of 1000")
    ap.add_argument("--http-batches", type=int, default=12, help="requests of 1000 per HTTP run")
    ap.add_argument("--workers", default="1,2", help="uvicorn worker counts to run, e.g. 1,2")
    ap.add_argument(
        "--in-flight", type=int, default=0, help="HTTP requests in flight (default: 2 per worker)"
    )
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-url", default=PG_URL, help="PostgreSQL database for --backend postgresql")
    ap.add_argument("--skip-in-process", action="store_true", help="only the HTTP batch runs")
    ap.add_argument(
        "--callgrind",
        action="store_true",
        help="under valgrind --tool=callgrind --instr-atstart=no: instrument the submit batches only",
    )
    ap.add_argument("--skip-e2e", action="store_true", help="no end-to-end (HTTP -> SMPP) run")
    ap.add_argument("--e2e-batches", type=int, default=5, help="requests of 1000 in the end-to-end run")
    ap.add_argument("--e2e-timeout", type=float, default=60.0, help="bound of each end-to-end wait, seconds")
    ap.add_argument("--smpp-window", type=int, default=10, help="PIGUARD_SMPP_UPSTREAM_WINDOW of the run")
    ap.add_argument("--skip-cmpp", action="store_true", help="no end-to-end CMPP -> CMPP run")
    ap.add_argument("--cmpp-messages", type=int, default=4000, help="messages in the CMPP end-to-end run")
    ap.add_argument("--cmpp-accounts", type=int, default=4, help="content providers connected over CMPP")
    args = ap.parse_args()
    if not args.corpus.is_file():
        print(f"corpus not found at {args.corpus}: skipped", file=sys.stderr)
        return 0
    texts = [
        line.split("\t", 1)[1].strip()
        for line in args.corpus.read_text(encoding="utf-8").splitlines()
        if "\t" in line
    ]
    texts = [t for t in texts if t]
    if args.backend == "postgresql":
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        _pg_admin(args.pg_url, f'CREATE SCHEMA "{schema}"')
        # libpq's options travel in the URL, so the uvicorn workers use the schema too
        url = f"{args.pg_url}{'&' if '?' in args.pg_url else '?'}options=-csearch_path%3D{schema}"
    else:
        schema = ""
        url = f"sqlite:///{tempfile.mkdtemp(prefix='piguard-bench-')}/bench.db"
    try:
        return run(args, texts, url)
    finally:
        if schema:
            from piguard.core.db import get_engine, set_engine

            get_engine().dispose()
            set_engine(None)
            _pg_admin(args.pg_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of_tree(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its children (Linux ``/proc``; 0 elsewhere)."""
    total, todo = 0.0, [pid]
    try:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    raw = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                fields = raw.rsplit(")", 1)[1].split()
                stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    except OSError:
        return 0.0
    while todo:
        p = todo.pop()
        if p in stats:
            total += stats[p][1]
        todo.extend(c for c, (ppid, _) in stats.items() if ppid == p)
    return total


def _pg_admin(url: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def run(args: argparse.Namespace, texts: list[str], url: str) -> int:
    os.environ["PIGUARD_DATABASE_URL"] = url
    backend = args.backend
    t0 = time.perf_counter()
    sigs, users, owner = build(url, args.cps, args.consents)
    setup_s = time.perf_counter() - t0

    from sqlalchemy import func, select

    from piguard.core.db import session_factory, unit_of_work
    from piguard.messaging.gateway.decision import GatewayRequest
    from piguard.messaging.models import Consent, ContentProvider, Port
    from piguard.messaging.registry.service import snapshot
    from piguard.messaging.review import default_reviewer

    rnd = random.Random(11)

    def make_batch(offset: int, n: int = 1000, consented: bool = False) -> list[GatewayRequest]:
        out = []
        for k in range(n):
            text = texts[(offset + k) % len(texts)]
            if consented or k % 2 == 0:  # a recipient who consented to this content provider
                u = rnd.randrange(len(users))
                user, i = users[u], owner[u]
            else:  # someone who did not
                user, i = f"137{rnd.randrange(10**8):08d}", rnd.randrange(len(sigs))
            out.append(
                GatewayRequest(
                    "sms",
                    f"1069{i:05d}{rnd.randrange(1, 100):02d}",
                    user,
                    f"【{sigs[i]}】{text} 回T退订",
                    message_type="promotions",
                )
            )
        return out

    with session_factory()() as s:
        n_consents = s.scalar(select(func.count()).select_from(Consent))
        n_cps = s.scalar(select(func.count()).select_from(ContentProvider))
        n_ports = s.scalar(select(func.count()).select_from(Port))
        reviewer = default_reviewer()  # compiles the rules (a server does this at start-up)
        t = time.perf_counter()
        snap = snapshot(s)
        snap_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        snap.prepare(reviewer)
        prep_ms = (time.perf_counter() - t) * 1000
    print(
        f"setup ({backend}): registry of {n_cps:,} content providers ({n_ports:,} ports), {n_consents:,} "
        f"consents (read back from the database) in {setup_s:.1f} s\n"
        f"registry snapshot load (every provider's review context built): {snap_ms:.0f} ms, "
        f"+ {prep_ms:.0f} ms for the reviewer to normalise their signatures (once per snapshot)"
    )
    print(f"corpus: {len(texts):,} messages, {args.corpus}")
    figures: dict[str, float] = {}
    if not args.skip_in_process:
        figures.update(in_process(args, texts, make_batch, backend))

    # HTTP through uvicorn
    import httpx
    import orjson

    from piguard.identity import service as identity

    with unit_of_work() as s:
        staff = identity.create_staff(s, username="bench", password="bench-password-2026", roles=["operator"])
        token, _ = identity.issue_token(s, staff, ["sms:submit"], timedelta(hours=1))

    def body(reqs: list[GatewayRequest]) -> bytes:
        return orjson.dumps(
            {
                "messages": [
                    {
                        "sender": r.sender,
                        "recipient": r.recipient,
                        "text": r.text,
                        "message_type": r.message_type,
                    }
                    for r in reqs
                ]
            }
        )

    bodies = [body(make_batch(100_000 + b * 1000)) for b in range(args.http_batches + 2)]
    # end to end: consented recipients only (what a provider sends), new corpus texts
    e2e_bodies = [body(make_batch(200_000 + b * 1000, consented=True)) for b in range(args.e2e_batches + 4)]
    env = {**os.environ, "PIGUARD_DATABASE_URL": url, "PIGUARD_LOG_LEVEL": "WARNING"}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    print()
    verdicts: list[tuple[str, float]] = []
    for workers in [int(x) for x in args.workers.split(",") if x.strip()]:
        in_flight = args.in_flight or 2 * workers
        port = 8765 + workers
        cmd = [sys.executable, "-m", "uvicorn", "piguard.app:create_app", "--factory", "--port", str(port)]
        cmd += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=5) as probe:
                for _ in range(150):
                    try:
                        if probe.get("/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.2)
            clients = [httpx.Client(base_url=base, headers=headers, timeout=120) for _ in range(in_flight)]

            def post(k: int, body: bytes, clients: list[httpx.Client] = clients, n: int = in_flight) -> int:
                r = clients[k % n].post("/api/sms/submit/batch", content=body)
                assert r.status_code == 200, r.text[:300]
                return len(orjson.loads(r.content)["results"])

            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(in_flight) as pool:
                # warm-up, every client at once so that every worker compiles its rules and loads the
                # registry snapshot before timing (a server does this at its first batch)
                list(pool.map(post, range(2 * in_flight), [bodies[k % 2] for k in range(2 * in_flight)]))
                w, server_cpu, client_cpu = time.perf_counter(), _cpu_of_tree(proc.pid), time.process_time()
                sent = sum(pool.map(post, range(args.http_batches), bodies[2:]))
                el = time.perf_counter() - w
                server_cpu = _cpu_of_tree(proc.pid) - server_cpu
                client_cpu = time.process_time() - client_cpu
            for c in clients:
                c.close()
            rate = sent / el
            label = f"{backend}, uvicorn {workers} worker{'s' if workers > 1 else ''}, {in_flight} in flight"
            verdicts.append((label, rate))
            if workers == 2:
                figures["http2"] = rate
            print(
                f"HTTP batch ({label}; loopback, 1000 msgs/request): {rate:,.0f} msg/s   "
                f"[target >= {TARGET_HTTP:,}: {_verdict(rate >= TARGET_HTTP)}]"
                f"   ({el / args.http_batches * min(in_flight, workers) * 1000:.0f} ms per request per worker)\n"
                f"  CPU per message: uvicorn {server_cpu / sent * 1e6:.0f} us, this client {client_cpu / sent * 1e6:.0f} us"
                f" (the database server and the machine's other users not counted)"
            )
        finally:
            proc.terminate()
            proc.wait(20)
    if verdicts:
        print(f"\nHTTP batch target >= {TARGET_HTTP:,} msg/s on this 2-core machine:")
        for label, rate in verdicts:
            print(f"  {label:<45} {rate:>8,.0f} msg/s   {_verdict(rate >= TARGET_HTTP)}")
    if not args.skip_e2e:
        e2e = end_to_end(args, url, e2e_bodies, headers)
        if "e2e" in e2e:
            figures["e2e"] = e2e["e2e"]
    if not args.skip_cmpp:
        cm = cmpp_end_to_end(args, url, texts, sigs, users, owner)
        if "e2e_cmpp" in cm:
            figures["e2e_cmpp"] = cm["e2e_cmpp"]
    print_table(figures, backend)
    return 0


#: (key, figure, target, higher is better, unit, issue-10 baseline; None: a figure issue 10 had not)
TABLE = (
    ("decisions", "in-process decisions per CPU-second, cold review", TARGET_DECISIONS, True, "", 8_646),
    ("p99_us", "p99 decision latency", TARGET_P99_US, False, "us", 290),
    (
        "submit",
        "submit end to end in process (records, outbox, audit), msg per CPU-s",
        10_000,
        True,
        "",
        2_278,
    ),
    ("http2", "HTTP batch, 2 workers, msg/s", TARGET_HTTP, True, "", 2_374),
    ("e2e", "end to end HTTP -> outbox -> SMPP -> test SMSC, delivered msg/s", 2_000, True, "", 320),
    (
        "e2e_cmpp",
        "end to end CMPP 3.0 -> outbox -> CMPP 3.0 -> test ISMG, delivered msg/s",
        2_000,
        True,
        "",
        None,
    ),
)


def print_table(figures: dict[str, float], backend: str) -> None:
    """The speed table of issue 10: figure, target, ratio (>= 1 meets the target), baseline."""
    print(f"\nspeed table ({backend}, this machine; ratio >= 1.00 meets the target):")
    print(f"  {'figure':<72} {'measured':>10} {'target':>10} {'ratio':>6} {'baseline':>9}")
    for key, label, target, higher, unit, base in TABLE:
        if key not in figures:
            print(f"  {label:<72} {'not run':>10}")
            continue
        v = figures[key]
        ratio = (v / target) if higher else (target / v if v else float("inf"))
        t = f"{'>=' if higher else '<'} {target:,.0f}{unit}"
        b = f"{base:>7,}{unit:<2}" if base is not None else f"{'new':>9}"
        print(f"  {label:<72} {v:>8,.0f}{unit:<2} {t:>10} {ratio:>6.2f} {b}  {_verdict(ratio >= 1)}")


# ------------------------------------------------------------------------------ end to end
def _last_part(body: bytes) -> bool:
    """Whether a submit_sm body completes a message: no UDH (esm_class 0x40), or the UDH's
    concatenation element (00 or 08) says this is the last part."""
    i = body.index(b"\x00") + 3  # service_type, source ton/npi
    i = body.index(b"\x00", i) + 3  # source_addr, dest ton/npi
    i = body.index(b"\x00", i) + 1  # destination_addr
    esm = body[i]
    if not esm & 0x40:
        return True
    i += 3  # esm_class, protocol_id, priority_flag
    i = body.index(b"\x00", i) + 1  # schedule_delivery_time
    i = body.index(b"\x00", i) + 1  # validity_period
    i += 5  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id, sm_length
    udh = body[i : i + 1 + body[i]]
    j = 1
    while j + 1 < len(udh):
        iei, ln = udh[j], udh[j + 1]
        if iei in (0x00, 0x08):
            el = udh[j + 2 : j + 2 + ln]
            return el[-1] == el[-2]  # sequence number == total
        j += 2 + ln
    return True


class BenchSmsc:
    """A test SMS centre for the end-to-end figure: loopback only, SMPP 3.4 framing written here
    (independent of piguard's codec), answers every bind, enquire_link and submit_sm at once and
    counts the submit_sm that arrive (and the distinct recipients' parts). Runs its own asyncio loop
    in a thread; stops with :meth:`close` (the bench always calls it)."""

    def __init__(self) -> None:
        import asyncio
        import threading

        self.count = 0  # whole messages
        self.parts = 0  # submit_sm
        self.first_at = 0.0
        self.last_at = 0.0
        self.binds = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bench-smsc", daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> int:
        import asyncio

        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _session(self, reader: Any, writer: Any) -> None:
        import asyncio
        import struct

        head, n = struct.Struct(">IIII"), 0
        try:
            while True:
                raw = await reader.readexactly(16)
                length, cid, _status, seq = head.unpack(raw)
                if length < 16 or length > 65536:
                    break
                body = await reader.readexactly(length - 16) if length > 16 else b""
                if cid == 0x00000004:  # submit_sm: answer at once with a message id
                    n += 1
                    self.parts += 1
                    if _last_part(body):
                        self.count += 1  # a whole message: unsegmented, or the last part of one
                    self.last_at = time.perf_counter()
                    if self.count == 1:
                        self.first_at = self.last_at
                    mid = f"b{self.parts:09d}".encode() + b"\x00"
                    writer.write(head.pack(16 + len(mid), 0x80000004, 0, seq) + mid)
                    if n % 64 == 0:
                        await writer.drain()
                elif cid in (0x00000001, 0x00000002, 0x00000009):  # bind_*
                    self.binds += 1
                    sid = b"BENCHSMSC\x00"
                    writer.write(head.pack(16 + len(sid), cid | 0x80000000, 0, seq) + sid)
                    await writer.drain()
                elif cid in (0x00000015, 0x00000006):  # enquire_link, unbind
                    writer.write(head.pack(16, cid | 0x80000000, 0, seq))
                    await writer.drain()
                    if cid == 0x00000006:
                        break
                elif not cid & 0x80000000:
                    writer.write(head.pack(16, 0x80000000, 3, seq))  # generic_nack
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        import asyncio

        async def _stop() -> None:
            self._server.close()
            for t in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                t.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def end_to_end(
    args: argparse.Namespace, url: str, bodies: list[bytes], headers: dict[str, str]
) -> dict[str, float]:
    """HTTP submit (uvicorn, 2 workers) -> outbox -> ``piguard sms smpp-serve`` (its dispatcher and
    SMPP client) -> :class:`BenchSmsc`. Before timing, the backlog the earlier runs queued is drained
    (timed too: outbox -> SMS centre alone). Then the batches are posted, ``--in-flight`` at a time,
    and the clock stops when the SMS centre has counted every allowed message (bounded by
    ``--e2e-timeout``). delivered/s = allowed messages / wall-clock seconds from the first request."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    import orjson
    from sqlalchemy import func, select

    from piguard.core.db import session_factory
    from piguard.messaging.models import OutboxMessage

    def queued() -> int:
        with session_factory()() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status.in_(("queued", "sending")))
                )
                or 0
            )

    smsc = BenchSmsc()
    env = {
        **os.environ,
        "PIGUARD_DATABASE_URL": url,
        "PIGUARD_LOG_LEVEL": "WARNING",
        "PIGUARD_SMPP_UPSTREAM_PASSWORD": "bench",
        "PIGUARD_SMPP_UPSTREAM_WINDOW": str(args.smpp_window),
        "PIGUARD_SMPP_DISPATCH_INTERVAL": "0.05",
    }
    piguard = str(Path(sys.executable).with_name("piguard"))
    gw_cmd = [piguard, "sms", "smpp-serve", "--port", "0", "--upstream-host", "127.0.0.1"]
    gw_cmd += ["--upstream-port", str(smsc.port), "--upstream-system-id", "bench"]
    gw_cmd += ["--max-seconds", str(int(args.e2e_timeout) + 120)]
    workers, port = 2, 8790
    http_cmd = [sys.executable, "-m", "uvicorn", "piguard.app:create_app", "--factory", "--port", str(port)]
    http_cmd += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    procs = [
        subprocess.Popen(gw_cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL),
        subprocess.Popen(http_cmd, env=env, cwd=ROOT),
    ]
    out: dict[str, float] = {}
    spy = None
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=base, timeout=5) as probe:
            while time.monotonic() < deadline:
                try:
                    if probe.get("/healthz").status_code == 200 and smsc.binds:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        if os.environ.get("PIGUARD_BENCH_PYSPY"):  # profile smpp-serve (worker threads too) from here on
            spy = subprocess.Popen(
                [
                    *(str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(procs[0].pid)),
                    *("--format", "raw", "--rate", "250", "--output", os.environ["PIGUARD_BENCH_PYSPY"]),
                    *os.environ.get("PIGUARD_BENCH_PYSPY_ARGS", "").split(),
                ],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(1)
        # the backlog of the HTTP batch runs: outbox -> SMPP -> SMS centre alone
        t, before, gw_cpu0 = time.perf_counter(), smsc.count, _cpu_of_tree(procs[0].pid)
        backlog = queued()
        end = time.monotonic() + args.e2e_timeout
        while queued() and time.monotonic() < end:
            time.sleep(0.05)
        drained = smsc.count - before
        if drained:
            out["drain"] = drained / (smsc.last_at - t)
            gw_cpu = _cpu_of_tree(procs[0].pid) - gw_cpu0
            print(
                f"\noutbox -> SMPP -> test SMS centre, a backlog of {backlog:,} queued messages: "
                f"{out['drain']:,.0f} msg/s wall (window {args.smpp_window}); smpp-serve CPU "
                f"{gw_cpu / drained * 1e6:.0f} us per message = {drained / gw_cpu if gw_cpu else 0:,.0f} msg per CPU-second"
            )
        in_flight = args.in_flight or 2 * workers
        clients = [httpx.Client(base_url=base, headers=headers, timeout=120) for _ in range(in_flight)]

        def post(k: int, body: bytes) -> int:
            r = clients[k % in_flight].post("/api/sms/submit/batch", content=body)
            assert r.status_code == 200, r.text[:300]
            return sum(1 for x in orjson.loads(r.content)["results"] if x.get("outcome") == "allow")

        with ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(post, range(in_flight), bodies[:in_flight]))  # warm-up (rules, snapshot)
            end = time.monotonic() + args.e2e_timeout
            while queued() and time.monotonic() < end:
                time.sleep(0.05)
            time.sleep(0.3)
            start_count, start_parts, t0 = smsc.count, smsc.parts, time.perf_counter()
            cpu0 = [_cpu_of_tree(p.pid) for p in procs] + [time.process_time()]
            allowed = sum(pool.map(post, range(len(bodies) - in_flight), bodies[in_flight:]))
            posted = time.perf_counter() - t0
            end = time.monotonic() + args.e2e_timeout
            while smsc.count - start_count < allowed and time.monotonic() < end:
                time.sleep(0.01)
            cpu = [_cpu_of_tree(p.pid) for p in procs] + [time.process_time()]
            gw_s, http_s, bench_s = (b - a for a, b in zip(cpu0, cpu, strict=True))
        for c in clients:
            c.close()
        arrived = smsc.count - start_count
        el = (smsc.last_at - t0) if arrived else float("inf")
        out["e2e"] = arrived / el if arrived >= allowed else 0.0
        print(
            f"end to end (HTTP submit, uvicorn {workers} workers -> outbox -> smpp-serve, window "
            f"{args.smpp_window} -> test SMS centre): {arrived:,} of {allowed:,} allowed messages "
            f"({(len(bodies) - in_flight) * 1000:,} posted, {smsc.parts - start_parts:,} submit_sm) arrived in {el:.2f} s = {out['e2e']:,.0f} "
            f"delivered msg/s (requests answered in {posted:.2f} s)"
        )
        if arrived:
            total_cpu = gw_s + http_s + bench_s
            out["e2e_cpu"] = arrived / total_cpu if total_cpu else 0.0
            print(
                f"  CPU per delivered message: uvicorn {http_s / arrived * 1e6:.0f} us, smpp-serve "
                f"{gw_s / arrived * 1e6:.0f} us, this process (HTTP client + test SMS centre) "
                f"{bench_s / arrived * 1e6:.0f} us: {out['e2e_cpu']:,.0f} delivered per CPU-second of "
                f"the whole pipeline: at most about {2 * out['e2e_cpu']:,.0f}/s on 2 idle cores (a bound the "
                f"machine's other users do not move, beside the wall-clock figure that they do)"
            )
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        smsc.close()
    return out


class BenchIsmg(BenchSmsc):
    """A test ISMG for the CMPP end-to-end figure: loopback only, on piguard's CMPP codec; answers
    every CMPP_CONNECT (Status 0, with the AuthenticatorISMG of ``secret``), CMPP_ACTIVE_TEST and
    CMPP_SUBMIT at once and counts whole messages (Pk_number == Pk_total) and parts. The loop in its
    thread (:class:`BenchSmsc`'s) also runs the content providers' CMPP clients (:meth:`run`)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.logins = 0
        super().__init__()

    def run(self, coro: Any, timeout: float = 600) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _session(self, reader: Any, writer: Any) -> None:
        import asyncio

        from piguard.messaging.cmpp import pdu

        version, n = pdu.V30, 0
        try:
            while True:
                h = pdu.parse_header(await reader.readexactly(pdu.HEADER_LEN))
                if not pdu.HEADER_LEN <= h.length <= pdu.MAX_PACKET:
                    break
                body = await reader.readexactly(h.length - pdu.HEADER_LEN)
                if h.command_id == pdu.Cmd.SUBMIT:
                    n += 1
                    self.parts += 1
                    pk_total, pk_number = body[8], body[9]
                    if pk_number == pk_total:
                        self.count += 1
                    self.last_at = time.perf_counter()
                    resp = pdu.encode_msg_resp(pdu.MsgResp(0x1000000 + self.parts, 0), version)
                    writer.write(pdu.frame(pdu.Cmd.SUBMIT_RESP, h.sequence, resp))
                    if n % 64 == 0:
                        await writer.drain()
                elif h.command_id == pdu.Cmd.CONNECT:
                    req = pdu.decode_connect(body)
                    version = pdu.V30 if req.version >= pdu.V30 else pdu.V20
                    auth = pdu.authenticator_ismg(0, req.authenticator, self.secret, version)
                    resp = pdu.encode_connect_resp(pdu.ConnectResp(0, auth, version), version)
                    writer.write(pdu.frame(pdu.Cmd.CONNECT_RESP, h.sequence, resp))
                    self.logins += 1
                    await writer.drain()
                elif h.command_id in (pdu.Cmd.ACTIVE_TEST, pdu.Cmd.TERMINATE):
                    tail = b"\x00" if h.command_id == pdu.Cmd.ACTIVE_TEST else b""
                    writer.write(pdu.frame(h.command_id | pdu.RESP_BIT, h.sequence, tail))
                    await writer.drain()
                    if h.command_id == pdu.Cmd.TERMINATE:
                        break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def cmpp_end_to_end(
    args: argparse.Namespace, url: str, texts: list[str], sigs: list[str], users: list[str], owner: list[int]
) -> dict[str, float]:
    """Content providers over CMPP 3.0 -> ``smpp-serve --cmpp-port`` (decision, outbox, dispatcher)
    -> a ``cmpp3`` link -> :class:`BenchIsmg`. delivered/s = whole messages the ISMG counted / seconds
    from the first CMPP_SUBMIT to the last part of the last accepted message."""
    import asyncio

    from sqlalchemy import func, select

    from piguard.core.db import session_factory, unit_of_work
    from piguard.messaging.cmpp.accounts import create_account
    from piguard.messaging.cmpp.client import CmppClient
    from piguard.messaging.ismg.client import ClientConfig
    from piguard.messaging.models import OutboxMessage

    def queued() -> int:
        with session_factory()() as s:
            q = select(func.count()).select_from(OutboxMessage)
            return int(s.scalar(q.where(OutboxMessage.status.in_(("queued", "sending")))) or 0)

    # the content providers with the most consented recipients, one CMPP account each
    by_cp: dict[int, list[str]] = {}
    for u, i in zip(users, owner, strict=True):
        by_cp.setdefault(i, []).append(u)
    chosen = sorted(by_cp, key=lambda i: -len(by_cp[i]))[: max(1, args.cmpp_accounts)]
    secret = "bench-cp-secret"
    with unit_of_work() as s:
        for k, i in enumerate(chosen):
            create_account(
                s, source_addr=f"9{k:05d}", secret=secret, content_provider=f"cp{i:05d}",
                default_message_type="promotions", window=16,
            )  # fmt: skip
    ismg = BenchIsmg("bench-link-secret")
    tmp = Path(tempfile.mkdtemp(prefix="piguard-bench-links-"))
    links = tmp / "links.yaml"
    carriers = "[china_mobile, china_unicom, china_telecom, china_broadnet, other]"
    links.write_text(
        f"links:\n  - {{name: bench, carriers: {carriers}, protocol: cmpp3, host: 127.0.0.1, "
        f"port: {ismg.port}, system_id: '900000', password_env: PIGUARD_BENCH_LINK, window: {args.smpp_window}}}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PIGUARD_DATABASE_URL": url,
        "PIGUARD_LOG_LEVEL": "WARNING",
        "PIGUARD_BENCH_LINK": "bench-link-secret",
        "PIGUARD_SMPP_DISPATCH_INTERVAL": "0.05",
    }
    cmpp_port = 8792
    piguard = str(Path(sys.executable).with_name("piguard"))
    cmd = [piguard, "sms", "smpp-serve", "--port", "0", "--cmpp-port", str(cmpp_port), "--links", str(links)]
    cmd += ["--max-seconds", str(int(args.e2e_timeout) + 180)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    rnd = random.Random(13)
    clients: list[Any] = []
    out: dict[str, float] = {}

    async def send(n: int) -> int:
        """``n`` messages spread over the content providers; the number piguard accepted."""

        async def one(k: int) -> bool:
            c, i = clients[k % len(clients)], chosen[k % len(clients)]
            text = f"【{sigs[i]}】{texts[rnd.randrange(len(texts))]} 回T退订"
            port = f"1069{i:05d}{rnd.randrange(1, 100):02d}"
            res = await c.submit_encoded(port, "+86" + rnd.choice(by_cp[i]), c.encode(text))
            return bool(res) and all(r.status == 0 for r in res)

        return sum(await asyncio.gather(*(one(k) for k in range(n))))

    try:
        deadline = time.monotonic() + 60
        while not ismg.logins and time.monotonic() < deadline:
            time.sleep(0.1)
        end = time.monotonic() + args.e2e_timeout
        while queued() and time.monotonic() < end:  # an earlier run's backlog goes first
            time.sleep(0.05)

        async def connect() -> None:
            for k in range(len(chosen)):
                cfg = ClientConfig("127.0.0.1", cmpp_port, f"9{k:05d}", secret, window=16)
                c = CmppClient(cfg)
                await c.start()
                clients.append(c)
            for c in clients:
                await c.wait_bound(30)

        ismg.run(connect())
        warm = ismg.run(send(200))  # rules, snapshot, connections
        end = time.monotonic() + args.e2e_timeout
        while ismg.count < warm and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(0.3)
        start_count, start_parts = ismg.count, ismg.parts
        gw_cpu0, t0 = _cpu_of_tree(proc.pid), time.perf_counter()
        accepted = ismg.run(send(args.cmpp_messages))
        answered = time.perf_counter() - t0
        end = time.monotonic() + args.e2e_timeout
        while ismg.count - start_count < accepted and time.monotonic() < end:
            time.sleep(0.01)
        arrived, gw_s = ismg.count - start_count, _cpu_of_tree(proc.pid) - gw_cpu0
        el = (ismg.last_at - t0) if arrived else float("inf")
        out["e2e_cmpp"] = arrived / el if arrived >= accepted and accepted else 0.0
        print(
            f"end to end over CMPP ({len(clients)} content providers over CMPP 3.0 -> smpp-serve --cmpp-port -> outbox "
            f"-> cmpp3 link, window {args.smpp_window} -> test ISMG): {arrived:,} of {accepted:,} accepted messages "
            f"({args.cmpp_messages:,} submitted, {ismg.parts - start_parts:,} CMPP_SUBMIT parts) arrived in {el:.2f} s "
            f"= {out['e2e_cmpp']:,.0f} delivered msg/s (submits answered in {answered:.2f} s); smpp-serve CPU "
            f"{gw_s / arrived * 1e6 if arrived else 0:.0f} us per message"
        )
    finally:
        with contextlib.suppress(Exception):
            ismg.run(asyncio.gather(*(c.stop() for c in clients)), 20)
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        ismg.close()
    return out


def _callgrind(args: argparse.Namespace, state: str) -> None:
    """With ``--callgrind``: callgrind's instrumentation of this process on or off (the process
    runs under ``valgrind --tool=callgrind --instr-atstart=no``), so that the instruction counts
    are those of the ``submit`` batches, not of the setup."""
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def in_process(args: argparse.Namespace, texts: list[str], make_batch: Any, backend: str) -> dict[str, float]:
    from piguard.core.db import session_factory, unit_of_work
    from piguard.identity.principal import system_principal
    from piguard.messaging.gateway.decision import evaluate, prepare
    from piguard.messaging.gateway.submit import load_context, submit
    from piguard.messaging.review import default_reviewer

    reviewer = default_reviewer()
    reviewer.review("【预热】warm-up")  # compile the rules before timing
    reviewer.review("【预热】身份证110101199003077777")  # load the PI detector before timing
    reviewer._cached.cache_clear()

    lat: list[int] = []
    loads: list[float] = []
    outcomes: dict[str, int] = {}
    cpu = wall = 0.0
    n = min(args.batches, max(1, len(texts) // 1000))
    batches = [[prepare(r) for r in make_batch(b * 1000)] for b in range(n)]
    clock, ns = time.thread_time, time.perf_counter_ns
    with session_factory()() as s:
        for prepared in batches:
            t = time.perf_counter()
            ctx = load_context(s, prepared)
            loads.append((time.perf_counter() - t) * 1000)
            c, w = clock(), time.perf_counter()
            for p in prepared:
                a = ns()
                ev = evaluate(ctx, p)
                lat.append(ns() - a)
                o = ev.decision.outcome.value
                outcomes[o] = outcomes.get(o, 0) + 1
            cpu += clock() - c
            wall += time.perf_counter() - w
    lat.sort()
    rate, p99 = len(lat) / cpu, _pct(lat, 0.99)
    print(
        f"\nin-process decide, cold review ({len(lat):,} corpus messages over a loaded context, 1 thread):\n"
        f"  {rate:,.0f} decisions per CPU-second = per core   [target >= {TARGET_DECISIONS:,}: {_verdict(rate >= TARGET_DECISIONS)}]"
        f"   ({len(lat) / wall:,.0f}/s wall clock on this shared machine)\n"
        f"  latency p50 {_pct(lat, 0.5):.1f} us, p99 {p99:.1f} us, max {lat[-1] / 1000:.0f} us   "
        f"[target p99 < {TARGET_P99_US:,.0f} us: {_verdict(p99 < TARGET_P99_US)}]\n"
        f"  outcomes {outcomes}; context load per batch of 1000 (token + consents + suppressions): "
        f"median {statistics.median(loads):.1f} ms (not in the figures above)"
    )
    # the same texts again: the review cache hits as in a bulk send of one template
    with session_factory()() as s:
        prepared = batches[0]
        ctx = load_context(s, prepared)
        for p in prepared:  # fill the review cache
            evaluate(ctx, p)
        hot: list[int] = []
        c, w = clock(), time.perf_counter()
        for p in prepared:
            a = ns()
            evaluate(ctx, p)
            hot.append(ns() - a)
        hc, hw = clock() - c, time.perf_counter() - w
    hot.sort()
    print(
        f"in-process decide, review cache warm (one template to many): {len(hot) / hc:,.0f} decisions per CPU-second "
        f"({len(hot) / hw:,.0f}/s wall); p50 {_pct(hot, 0.5):.1f} us, p99 {_pct(hot, 0.99):.1f} us"
    )

    # end-to-end submit in-process
    total = 0
    # the requests are built before the clock starts (building them is the client's work)
    submits = [make_batch(50_000 + b * 1000) for b in range(max(3, min(args.batches, 10)))]
    # one batch before the clock: what a server pays once, at its first batch (the lazy imports
    # of the writers, SQLAlchemy compiling each statement, the insert plans)
    with unit_of_work() as s:
        submit(s, make_batch(40_000), principal=system_principal("bench"))
    _callgrind(args, "on")
    pc, w = time.process_time(), time.perf_counter()
    for reqs in submits:
        with unit_of_work() as s:
            submit(s, reqs, principal=system_principal("bench"))
        total += len(reqs)
    pc, w = time.process_time() - pc, time.perf_counter() - w
    _callgrind(args, "off")
    print(
        f"submit end to end in-process (validate + decide + guarded consent update + records + outbox + audit, "
        f"one transaction per 1000, {backend}): {total / pc:,.0f} msg per CPU-second ({total / w:,.0f}/s wall)"
    )
    return {"decisions": rate, "p99_us": p99, "submit": total / pc}


if __name__ == "__main__":
    raise SystemExit(main())
