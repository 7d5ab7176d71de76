"""Shared pieces of the fault suite (``bench/faults/``): a test SMS centre that can throttle, stall
and go away, a fresh database (a temporary SQLite file, or a fresh schema of
``PIGUARD_BENCH_POSTGRES_URL``), a small registry, messages queued through the real gateway, and
the real ``piguard sms smpp-serve`` dispatcher as a process that the scripts kill with SIGKILL.

Everything listens on 127.0.0.1 only; every loop is bounded (``deadline``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PIGUARD = str(Path(sys.executable).with_name("piguard"))
HEAD = struct.Struct(">IIII")
THROTTLED = 0x58
CP_CODE = "faultcp"
PORT = "10690077"  # business/service port of the fault suite's content provider
SIGNATURE = "故障演练"


def text_for(n: int) -> str:
    return f"【{SIGNATURE}】您的订单{n:06d}已发货，请注意查收。"


def recipient_for(n: int) -> str:
    return f"+86139{n:08d}"


# ------------------------------------------------------------------------------ the SMS centre
def _dest_of(body: bytes) -> str:
    """destination_addr of a submit_sm body (service_type, ton, npi, source_addr, ton, npi, dest)."""
    i = body.index(b"\x00") + 3
    i = body.index(b"\x00", i) + 3
    j = body.index(b"\x00", i)
    return body[i:j].decode("ascii", "replace")


class FaultSmsc:
    """A test SMS centre in the style of ``bench/gateway.py``'s ``BenchSmsc`` (SMPP 3.4 framing
    written here, independent of piguard's codec, its own asyncio loop in a thread), which counts
    every accepted submit_sm per destination (the fault suite sends one single-part message per
    recipient, so a count above 1 is a message sent twice) and injects faults:

    * ``throttle_every = k``: every k-th submit_sm is answered ESME_RTHROTTLED (not accepted);
    * ``stall_after = n``: after n accepted submit_sm, stop answering (the dispatcher's window fills);
    * :meth:`outage`: close the listener and every link for some seconds, then listen again on the
      same port."""

    def __init__(self, port: int = 0) -> None:
        self.accepted: Counter[str] = Counter()
        self.throttled = 0
        self.submits = 0
        self.binds = 0
        self.throttle_every = 0
        self.stall_after: int | None = None
        self._writers: set[Any] = set()
        self._server: Any = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fault-smsc", daemon=True)
        self._thread.start()
        self.port = self._call(self._listen(port))

    def _call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _listen(self, port: int) -> int:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", port, reuse_address=True)
        return int(self._server.sockets[0].getsockname()[1])

    async def _session(self, reader: Any, writer: Any) -> None:
        self._writers.add(writer)
        try:
            while True:
                raw = await reader.readexactly(16)
                length, cid, _status, seq = HEAD.unpack(raw)
                if length < 16 or length > 65536:
                    break
                body = await reader.readexactly(length - 16) if length > 16 else b""
                if cid == 0x00000004:  # submit_sm
                    self.submits += 1
                    if self.throttle_every and self.submits % self.throttle_every == 0:
                        self.throttled += 1
                        writer.write(HEAD.pack(16, 0x80000004, THROTTLED, seq))
                        continue
                    if self.stall_after is not None and sum(self.accepted.values()) >= self.stall_after:
                        continue  # no answer: the submit stays outstanding
                    self.accepted[_dest_of(body)] += 1
                    mid = f"f{self.submits:09d}".encode() + b"\x00"
                    writer.write(HEAD.pack(16 + len(mid), 0x80000004, 0, seq) + mid)
                    if self.submits % 32 == 0:
                        await writer.drain()
                elif cid in (0x00000001, 0x00000002, 0x00000009):  # bind_*
                    self.binds += 1
                    sid = b"FAULTSMSC\x00"
                    writer.write(HEAD.pack(16 + len(sid), cid | 0x80000000, 0, seq) + sid)
                    await writer.drain()
                elif cid in (0x00000015, 0x00000006):  # enquire_link, unbind
                    writer.write(HEAD.pack(16, cid | 0x80000000, 0, seq))
                    await writer.drain()
                    if cid == 0x00000006:
                        break
                elif not cid & 0x80000000:
                    writer.write(HEAD.pack(16, 0x80000000, 3, seq))  # generic_nack
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _down(self) -> None:
        self._server.close()
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    def outage(self, seconds: float) -> None:
        """The centre goes away for ``seconds`` (links closed, nothing listening), then returns."""
        self._call(self._down())
        time.sleep(seconds)
        self._call(self._listen(self.port))

    def close(self) -> None:
        async def _stop() -> None:
            await self._down()
            for t in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                t.cancel()

        with contextlib.suppress(Exception):
            self._call(_stop(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    @property
    def delivered(self) -> int:
        return len(self.accepted)

    @property
    def sent_twice(self) -> int:
        return sum(1 for c in self.accepted.values() if c > 1)


# ------------------------------------------------------------------------------ the database
@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A database URL for one run, removed afterwards: a temporary SQLite file, or a fresh schema
    in ``PIGUARD_BENCH_POSTGRES_URL`` (its libpq options travel in the URL, so the subprocesses
    use the schema too)."""
    from sqlalchemy import create_engine, text

    from piguard.core.db import get_engine, set_engine

    if backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='piguard-faults-')}/faults.db"
        yield url
        return
    base = os.environ.get("PIGUARD_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"faults_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with contextlib.suppress(Exception):
            get_engine().dispose()
        set_engine(None)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def prepare(url: str) -> None:
    """Tables and a registry: one verified content provider with an approved signature and a
    business/service port (notices need no marketing consent)."""
    from piguard.core.db import make_engine, set_engine, unit_of_work
    from piguard.messaging.registry import service as registry
    from piguard.models import metadata

    os.environ["PIGUARD_DATABASE_URL"] = url
    engine = make_engine(url)
    metadata.create_all(engine)
    set_engine(engine)
    with unit_of_work() as s:
        sp = registry.create_service_provider(
            s, name="故障演练短信服务", licence_number="B2-20150077", access_codes=["106900"]
        )
        registry.create_content_provider(
            s,
            code=CP_CODE,
            name="故障演练",
            service_provider_id=sp.id,
            identity_type="uscc",
            identity_number="91110000600037341L",
        )
        registry.verify_content_provider(s, CP_CODE)
        registry.approve_signature(s, CP_CODE, SIGNATURE, evidence="fault suite set-up")
        registry.create_port(s, code=PORT, port_type="business_service", content_provider=CP_CODE)


def enqueue(first: int, n: int, batch: int = 1000) -> int:
    """Queue ``n`` notices through the real gateway (``messaging.gateway.submit``), committed per
    batch; returns how many were allowed (queued)."""
    from piguard.core.db import unit_of_work
    from piguard.identity.principal import Principal
    from piguard.messaging.gateway.decision import GatewayRequest
    from piguard.messaging.gateway.submit import submit

    who = Principal(actor_type="system", actor_id="faults", via="system")
    allowed = 0
    for start in range(first, first + n, batch):
        reqs = [
            GatewayRequest(
                channel="sms",
                sender=PORT,
                recipient=recipient_for(k),
                text=text_for(k),
                kind="notification",
                client_ref=f"fault-{k}",
            )
            for k in range(start, min(first + n, start + batch))
        ]
        with unit_of_work() as s:
            allowed += sum(r.outcome == "allow" for r in submit(s, reqs, principal=who))
    return allowed


def outbox_status() -> Counter[str]:
    from sqlalchemy import func, select

    from piguard.core.db import unit_of_work
    from piguard.messaging.models import OutboxMessage

    with unit_of_work() as s:
        return Counter(
            dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        )


# ------------------------------------------------------------------------------ the dispatcher
def dispatcher_env(url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PIGUARD_DATABASE_URL": url,
        "PIGUARD_LOG_LEVEL": "ERROR",
        "PIGUARD_SMPP_UPSTREAM_PASSWORD": "faults",
        "PIGUARD_SMPP_DISPATCH_INTERVAL": "0.1",
        # a killed dispatcher's claim is taken again after this many seconds
        "PIGUARD_SMS_OUTBOX_LEASE_SECONDS": "5",
        "PIGUARD_SMS_RETRY_BASE_SECONDS": "0.5",
        "PIGUARD_SMS_RETRY_MAX_SECONDS": "4",
        **extra,
    }


def start_dispatcher(env: dict[str, str], smsc_port: int) -> subprocess.Popen[bytes]:
    """``piguard sms smpp-serve`` (its SMPP server on a free port, its dispatcher and SMPP client
    bound to the fault SMS centre)."""
    cmd = [PIGUARD, "sms", "smpp-serve", "--port", "0", "--upstream-host", "127.0.0.1"]
    cmd += ["--upstream-port", str(smsc_port), "--upstream-system-id", "faults", "--max-seconds", "600"]
    err = None if os.environ.get("FAULTS_VERBOSE") else subprocess.DEVNULL
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)


def kill9(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            kill9(proc)


def wait_until(cond: Callable[[], Any], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def figures(
    name: str, backend: str, accepted: int, smsc: FaultSmsc, bound: int, extra: str = ""
) -> dict[str, int]:
    """Print the suite's line and return its numbers. lost: accepted but never reached the centre;
    duplicated: outbox rows beyond one per accepted message; sent-twice: recipients the centre got
    the message more than once."""
    from sqlalchemy import func, select

    from piguard.core.db import unit_of_work
    from piguard.messaging.models import OutboxMessage

    with unit_of_work() as s:
        rows = int(s.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
    lost = accepted - smsc.delivered
    out = {
        "accepted": accepted,
        "lost": lost,
        "duplicated": max(0, rows - accepted),
        "sent_twice": smsc.sent_twice,
        "bound": bound,
    }
    print(
        f"{name} [{backend}]: accepted {accepted}, lost {lost}, duplicated {out['duplicated']}, "
        f"sent-twice {out['sent_twice']} (bound {bound}){extra}",
        flush=True,
    )
    return out


__all__ = ["timedelta"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
