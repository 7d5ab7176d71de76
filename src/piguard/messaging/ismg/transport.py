"""The connection loop shared by CMPP, SMGP and SGIP servers (piguard as the gateway content
providers connect to), on asyncio.

A protocol gives a :class:`Framing` (header length, how to read a header, the length limits, how to
frame a packet) and a session class with its ``dispatch``; the base reads a header, checks its
length (out of range: the framing is lost, the connection goes), reads the body with the idle
timeout (``session_init_timeout`` before login, ``inactivity_timeout`` after), and passes the
packet on. Responses to the server's own requests (deliveries, status reports) are matched by
sequence. :meth:`Session.admit` is the window and rate check of a submit; :class:`Reassembler`
keeps the parts of long messages (TP_udhi) per connection, bounded in number and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from piguard.core.calendar import SHANGHAI
from piguard.core.db import unit_of_work, utcnow
from piguard.core.logging import get_logger

__all__ = ["Account", "BaseServer", "Framing", "Reassembler", "Session", "TokenBucket", "shanghai_now"]

log = get_logger("piguard.ismg.transport")


class PacketHeader(Protocol):
    @property
    def length(self) -> int: ...
    @property
    def command_id(self) -> int: ...
    @property
    def sequence(self) -> Any: ...


H = TypeVar("H", bound=PacketHeader)
I = TypeVar("I", bound=Hashable)  # noqa: E741 - the id type of a message part


class Framing(Protocol[H]):
    """How a protocol delimits its packets."""

    @property
    def header_len(self) -> int: ...
    @property
    def name(self) -> str: ...

    def parse_header(self, head: bytes) -> H: ...

    def length_ok(self, header: H) -> bool:
        """False: the length is below the header or above the protocol's limit."""
        ...

    def frame(self, command_id: int, sequence: Any, body: bytes) -> bytes: ...


class SessionSettings(Protocol):
    session_init_timeout: float
    inactivity_timeout: float
    workers: int
    host: str
    port: int


# the account, message and outcome every protocol's server hands the shared decider (SMPP's too)


@dataclass(frozen=True, slots=True)
class Account:
    """A bound ESME's account: the content provider it sends for, and its limits."""

    system_id: str
    content_provider_id: int
    content_provider: str
    bind_types: frozenset[str] = frozenset({"tx", "rx", "trx"})
    default_message_type: str | None = None
    max_rate: int = 0
    window: int = 20


@dataclass(slots=True)
class Submission:
    """One complete message from an ESME, as the decider sees it."""

    account: Account
    peer: str
    source_addr: str
    source_addr_ton: int
    destination_addr: str
    dest_addr_ton: int
    text: str
    registered_delivery: int
    message_type: str | None
    kind: str | None
    campaign_id: int | None
    #: ids already answered to the earlier parts of a concatenated message
    part_ids: list[str] = field(default_factory=list)
    #: the ESME's reference of the message (vendor TLV 0x1404), the idempotency key
    client_ref: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    status: int
    message_id: str = ""
    record_ref: str | None = None
    outcome: str | None = None
    reason_codes: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()


class TokenBucket:
    """``rate`` tokens a second, at most ``rate`` kept (a second's burst); 0: no limit. ``clock``
    (seconds, monotonic) is injectable so a test counts what one simulated tick allows."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self.tokens = float(rate)
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(float(self.rate), self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now

    def take(self) -> bool:
        if self.rate <= 0:
            return True
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_time(self) -> float:
        """Seconds until the next token (0 when one is there or there is no limit)."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.rate)

    async def acquire(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Wait for a token (a link's ``max_rate``: the submit waits, it is not refused)."""
        while not self.take():
            await sleep(max(self.wait_time(), 0.001))


class LoginRefused(Exception):
    """A login the authenticator refuses: ``status`` is the protocol's answer, ``why`` for the log."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


@dataclass(frozen=True, slots=True)
class Login:
    """A content provider's account and the shared secret (for the server's authenticator)."""

    account: Account
    secret: str


#: Submission -> SubmitOutcome (the shared bridge); sync (worker thread)
Decider = Callable[[Submission], SubmitOutcome]
M = TypeVar("M")


class MsgIds(Generic[M]):
    """Message ids per the protocol's rule ``make(time, gateway code, sequence)``."""

    def __init__(
        self, make: Callable[[datetime, int, int], M], gateway: int, clock: Callable[[], datetime]
    ) -> None:
        self.make = make
        self.gateway = gateway
        self.clock = clock
        self.seq = itertools.count(1)

    def next(self) -> M:
        return self.make(self.clock(), self.gateway, next(self.seq))


@dataclass(frozen=True, slots=True)
class SimpleFraming(Generic[H]):
    """A :class:`Framing` from a protocol's functions."""

    name: str
    header_len: int
    parse: Callable[[bytes], H]
    ok: Callable[[H], bool]
    pack: Callable[[int, Any, bytes], bytes]

    def parse_header(self, head: bytes) -> H:
        return self.parse(head)

    def length_ok(self, header: H) -> bool:
        return self.ok(header)

    def frame(self, command_id: int, sequence: Any, body: bytes) -> bytes:
        return self.pack(command_id, sequence, body)


def shanghai_now() -> datetime:
    """The protocols' clock (timestamps, message ids): China's local time."""
    return utcnow().astimezone(SHANGHAI)


def recipient_e164(dest: str) -> str:
    """A terminal id is a national number, optionally with 86: the gateway's E.164 form."""
    d = dest.strip()
    if d.startswith("+"):
        return d
    if len(d) == 11 and d.startswith("1"):
        return "+86" + d
    if d.startswith("86"):
        return "+" + d
    return d


@dataclass(slots=True)
class _Partial(Generic[I]):
    parts: dict[int, bytes]
    ids: dict[int, I]
    started: float


class Reassembler(Generic[I]):
    """The parts of long messages on one connection, keyed by (source, destination, reference,
    total); a message whose parts do not all arrive within ``ttl`` seconds is dropped, at most
    ``cap`` messages are half-sent at once."""

    def __init__(self, ttl: float, cap: int, new_id: Callable[[], I]) -> None:
        self.ttl = ttl
        self.cap = cap
        self.new_id = new_id
        self.partials: dict[tuple[str, str, int, int], _Partial[I]] = {}

    def full_for(self, key: tuple[str, str, int, int]) -> bool:
        """True when a new long message (not yet begun) would exceed the cap."""
        return key not in self.partials and len(self.partials) >= self.cap

    def add(
        self, key: tuple[str, str, int, int], seq: int, raw: bytes, part_id: I | None = None
    ) -> tuple[bytes, list[I]] | I:
        """The whole message and the ids given to its other parts once complete; else the id this
        part is answered with (``part_id`` when the protocol names it, as SGIP's sequence; else a
        new one)."""
        now = time.monotonic()
        for k in [k for k, p in self.partials.items() if now - p.started > self.ttl]:
            log.info("ismg.reassembly_expired", parts=len(self.partials[k].parts))
            del self.partials[k]
        part = self.partials.setdefault(key, _Partial({}, {}, now))
        part.parts[seq] = raw
        if part_id is not None:
            part.ids[seq] = part_id
        elif seq not in part.ids:
            part.ids[seq] = self.new_id()
        total = key[3]
        if len(part.parts) < total:
            return part.ids[seq]
        del self.partials[key]
        ids = [part.ids[i] for i in range(1, total + 1) if i != seq]
        return b"".join(part.parts[i] for i in range(1, total + 1)), ids


S = TypeVar("S", bound="Session[Any]")


class Session(Generic[H]):
    """One content provider's connection. Subclasses implement :meth:`dispatch` and
    :attr:`logged_in`, and may override :meth:`next_sequence` (SGIP's is three numbers)."""

    _ids = itertools.count(1)

    def __init__(
        self, server: BaseServer[Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.framing: Framing[H] = server.framing
        self.reader = reader
        self.writer = writer
        self.id = next(self._ids)
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        self.account: Account | None = None
        self.inflight = 0
        self.bucket = TokenBucket(0)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.pending: dict[Any, asyncio.Future[bytes]] = {}
        self.seq = itertools.count(1)
        self.closed = False

    @property
    def logged_in(self) -> bool:
        return self.account is not None

    def login(self, account: Account) -> None:
        self.account = account
        self.bucket = TokenBucket(account.max_rate)

    # ------------------------------------------------------------------ io
    def next_sequence(self) -> Any:
        return next(self.seq) & 0x7FFFFFFF

    async def request(self, command_id: int, body: bytes, timeout: float = 10.0) -> bytes:
        """Send a request to the peer (a delivery, a status report) and wait for its response body."""
        seq = self.next_sequence()
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[seq] = fut
        try:
            await self.send(command_id, seq, body)
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.pending.pop(seq, None)

    def resolve(self, sequence: Any, body: bytes) -> None:
        """A response from the peer: it completes the request of that sequence, if any."""
        fut = self.pending.get(sequence)
        if fut is not None and not fut.done():
            fut.set_result(body)

    async def send(self, command_id: int, sequence: Any, body: bytes = b"") -> None:
        if self.closed:
            return
        try:
            self.writer.write(self.framing.frame(command_id, sequence, body))
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self.closed = True

    async def run(self) -> None:
        cfg = self.server.settings
        name = self.framing.name
        try:
            while not self.closed:
                timeout = cfg.inactivity_timeout if self.logged_in else cfg.session_init_timeout
                try:
                    head = await asyncio.wait_for(self.reader.readexactly(self.framing.header_len), timeout)
                except asyncio.IncompleteReadError:
                    break
                header = self.framing.parse_header(head)
                if not self.framing.length_ok(header):
                    log.info(f"{name}.bad_length", session=self.id, length=header.length)
                    break  # the framing is lost: nothing after this can be delimited
                try:
                    body = await asyncio.wait_for(
                        self.reader.readexactly(header.length - self.framing.header_len), timeout
                    )
                except (asyncio.IncompleteReadError, TimeoutError):
                    break
                await self.dispatch(header, body)
        except (TimeoutError, ConnectionError):
            pass
        except Exception:  # a bug must not take the server down; the connection goes
            log.exception(f"{name}.session_error", session=self.id)
        finally:
            await self.close()

    async def dispatch(self, header: H, body: bytes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def close(self) -> None:
        if self.closed and self.writer.is_closing():
            return
        self.closed = True
        for fut in self.pending.values():
            if not fut.done():
                fut.cancel()
        self.server.sessions.discard(self)
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (ConnectionError, TimeoutError, RuntimeError):
            pass

    def spawn(self, coro: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def submission(
        self, *, src: str, dest: str, text: str, registered_delivery: int, part_ids: list[str]
    ) -> Submission:
        """The message as the shared decider (``smpp.bridge.decide_submission``) sees it; these
        protocols carry no consent type, kind or campaign (the account's default type is used)."""
        assert self.account is not None
        return Submission(
            account=self.account,
            peer=self.peer,
            source_addr=src,
            source_addr_ton=0,
            destination_addr=recipient_e164(dest),
            dest_addr_ton=1,
            text=text,
            registered_delivery=registered_delivery,
            message_type=self.account.default_message_type,
            kind=None,
            campaign_id=None,
            part_ids=part_ids,
        )

    # ------------------------------------------------------------------ flow control
    def admit(self) -> bool:
        """A submit may be decided now: fewer than the account's window unanswered and a token in
        its rate bucket. True counts it in flight (:meth:`done` when answered)."""
        assert self.account is not None
        if self.inflight >= max(1, self.account.window) or not self.bucket.take():
            return False
        self.inflight += 1
        return True

    def done(self) -> None:
        self.inflight -= 1

    async def goodbye(self) -> None:
        """Sent to a logged-in peer when the server stops (the protocol's terminate / exit)."""


class BaseServer(Generic[S]):
    """The listening gateway; ``run_sync`` runs database work (login check, decision) in worker
    threads."""

    session_class: type[S]

    def __init__(self, framing: Framing[Any], settings: SessionSettings, thread_prefix: str) -> None:
        self.framing = framing
        self.settings = settings
        self.sessions: set[S] = set()
        self._server: asyncio.Server | None = None
        self._executor = ThreadPoolExecutor(settings.workers, thread_name_prefix=thread_prefix)
        self._waiting: list[tuple[Submission, asyncio.Future[SubmitOutcome]]] = []
        self._decider: asyncio.Task[None] | None = None
        self._keeping: list[tuple[Callable[..., object], tuple[Any, ...], asyncio.Future[None]]] = []
        self._keeper: asyncio.Task[None] | None = None

    async def run_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    #: messages one batched decision takes at most
    DECIDE_BATCH = 256

    async def decide_async(self, sub: Submission) -> SubmitOutcome:
        """The decision on one submit. With a decider that decides several at once (``many``, the
        gateway's), the submits waiting at the same moment — from every connection — are decided
        together in one worker call and one transaction (one context load, one commit), as an HTTP
        batch is; a batch that fails as a whole is decided again message by message."""
        decide: Any = getattr(self, "decide")  # noqa: B009 - each protocol's server sets it
        many = getattr(decide, "many", None)
        if many is None:
            out: SubmitOutcome = await self.run_sync(decide, sub)
            return out
        fut: asyncio.Future[SubmitOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((sub, fut))
        if self._decider is None or self._decider.done():
            self._decider = asyncio.ensure_future(self._decide_waiting(decide, many))
        return await fut

    async def keep_async(self, fn: Callable[..., object], *args: Any) -> None:
        """A message kept for its status report: ``fn(*args)`` builds its row (a callable that
        writes it itself and returns None works too). The rows of the messages accepted at the same
        moment are written in one worker call and one transaction; a batch that fails is written
        row by row, and a row that cannot be written raises to its own submit."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._keeping.append((fn, args, fut))
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.ensure_future(self._keep_waiting())
        await fut

    async def _keep_waiting(self) -> None:
        while self._keeping:
            batch, self._keeping = self._keeping[: self.DECIDE_BATCH], self._keeping[self.DECIDE_BATCH :]
            try:
                await self.run_sync(_add_rows, [(fn, args) for fn, args, _ in batch])
                errors: list[BaseException | None] = [None] * len(batch)
            except Exception:
                errors = []
                for fn, args, _ in batch:
                    try:
                        await self.run_sync(_add_rows, [(fn, args)])
                        errors.append(None)
                    except Exception as one:
                        errors.append(one)
            for (_fn, _args, fut), err in zip(batch, errors, strict=True):
                if fut.done():
                    continue
                if err is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(err)

    async def _decide_waiting(self, decide: Callable[[Submission], SubmitOutcome], many: Any) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.DECIDE_BATCH], self._waiting[self.DECIDE_BATCH :]
            subs = [sub for sub, _ in batch]
            try:
                outs: list[SubmitOutcome] = await self.run_sync(many, subs)
            except Exception as exc:
                log.warning(
                    f"{self.framing.name}.batch_decision_failed", error=type(exc).__name__, n=len(subs)
                )
                outs = []
                for sub, fut in batch:
                    try:
                        outs.append(await self.run_sync(decide, sub))
                    except Exception as one:  # this message's own failure, answered as such
                        if not fut.done():
                            fut.set_exception(one)
                        outs.append(SubmitOutcome(-1))
            for (_sub, fut), out in zip(batch, outs, strict=True):
                if not fut.done():
                    fut.set_result(out)

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._accept, host or self.settings.host, self.settings.port if port is None else port
        )
        sock = self._server.sockets[0].getsockname()
        log.info(f"{self.framing.name}.listening", port=sock[1])
        return sock[0], sock[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = self.session_class(self, reader, writer)
        self.sessions.add(s)
        await s.run()

    def connected(self, login: str) -> list[S]:
        """The logged-in, open sessions of one account."""
        return [
            s
            for s in self.sessions
            if s.logged_in and not s.closed and s.account is not None and s.account.system_id == login
        ]

    def connected_logins(self) -> list[str]:
        return sorted({s.account.system_id for s in self.sessions if s.account and s.logged_in})

    async def stop(self) -> None:
        """Stop listening, say goodbye to logged-in peers, let running decisions finish."""
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            if s.logged_in and not s.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await s.goodbye()
        tasks = [t for s in list(self.sessions) for t in s.tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for s in list(self.sessions):
            await s.close()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)


def _add_rows(calls: list[tuple[Callable[..., object], tuple[Any, ...]]]) -> None:
    """The rows the calls build, in one transaction (a call that returns None wrote its own)."""
    with unit_of_work() as session:
        for fn, args in calls:
            row = fn(*args)
            if row is not None:
                session.add(row)
