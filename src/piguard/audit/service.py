"""The audit log's service: record, verify, search, checkpoint (O24-13.6).

Recording is cheap and transactional. :func:`record` checks the entry (and keeps clear PI out,
see :mod:`piguard.audit.guard`) and buffers it on the session; nothing is written yet. When the
session flushes or commits (SQLAlchemy ``before_flush``, ``after_flush_postexec`` and
``before_commit`` events), the buffered entries are chained and written together:

1. take the chain lock and read the signed head under it (see :func:`_lock_and_read`): on
   PostgreSQL the head row ``FOR UPDATE`` (``pg_advisory_xact_lock`` while there is no head row
   yet); on SQLite the database write lock;
2. give each entry the next ``seq`` and ``hash = SHA-256(prev_hash || canonical(entry))``;
3. insert the entries in one batched insert (executemany, pipelined by psycopg), any periodic
   checkpoints (every ``PIGUARD_AUDIT_CHECKPOINT_EVERY`` entries), and the newly signed head.

The caller owns the transaction: :func:`record` never commits. If the transaction (or the
savepoint the entry was recorded in) rolls back, its entries vanish with it: nothing happened.
The lock is held from that flush to the end of the caller's transaction, so record near the end of
long transactions. ``time`` is when :func:`record` was called; ``seq`` is the commit order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Connection, Table, event, func, insert, inspect, literal, select, table, text, update
from sqlalchemy.orm import Session, SessionTransaction

from piguard.audit import anchor, guard
from piguard.audit.chain import (
    GENESIS,
    HASHED_FIELDS,
    entry_hash,
    head_line,
    iso_utc,
    key_id,
    parse_head_line,
    sign_checkpoint,
    sign_entry,
    sign_head,
    signature_ok,
)
from piguard.audit.models import ACTOR_TYPES, OUTCOMES, AuditCheckpoint, AuditEntry, AuditHead
from piguard.core.config import get_settings
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError
from piguard.core.logging import get_logger
from piguard.core.reasons import Reason
from piguard.regulations.markers import carries

OBLIGATION = "O24-13.6"
_PENDING = "piguard.audit.pending"
_ENTRY = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_CHECKPOINT = cast(Table, AuditCheckpoint.__table__)
#: First half of the PostgreSQL advisory lock key ("pgau"); the second half is the table's oid,
#: so databases with several schemas (tests, tenants) lock each audit log separately.
_PG_LOCK_CLASS = 0x70676175
_INSERT_CHUNK = 500
#: How far around its place verify looks for the true place of a row that does not match its hash.
_REORDER_WINDOW = 1000
_MAX_RESETS_SHOWN = 100


@dataclass(frozen=True)
class Actor:
    """Who acted: ``type`` is staff, agent, end_user or system; ``id`` their id (never their name)."""

    type: str
    id: str | None

    @classmethod
    def system(cls, name: str) -> Actor:
        """A job, a command or the system itself: ``Actor.system("worker.retention")``."""
        return cls("system", name)


# -- recording ---------------------------------------------------------------------------------


@carries(OBLIGATION)
def record(
    session: Session,
    *,
    action: str,
    actor: Actor,
    subject_ref: str | None = None,
    data_categories: Sequence[str] = (),
    purpose: str | None = None,
    outcome: str = "ok",
    obligations: Sequence[str] = (),
    client_ip: str | None = None,
    terminal: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record one operation on personal information or one administrative change.

    The entry is checked now (bad input and clear PI raise :class:`PiguardError`) and written when
    the session flushes or commits, in the caller's transaction.
    """
    if not isinstance(actor, Actor):
        raise PiguardError(
            "audit_invalid_entry",
            "The audit entry is not valid.",
            "审计记录无效。",
            obligations=(OBLIGATION,),
            fields=[FieldError("actor", "must be an Actor")],
            http_status=422,
        )
    actor_type, actor_id = guard.check_actor(actor.type, actor.id)
    row: dict[str, Any] = {
        "time": utcnow(),
        "actor_type": actor_type,
        "actor_id": actor_id,
        "client_ip": guard.check_client_ip(client_ip),
        "terminal": guard.check_terminal(terminal),
        "action": guard.check_action(action),
        "subject_ref": guard.check_subject_ref(subject_ref),
        "data_categories": guard.check_categories(data_categories),
        "purpose": guard.check_purpose(purpose),
        "outcome": guard.check_outcome(outcome),
        "obligations": guard.check_obligations(obligations),
        "detail": guard.clean_detail(detail),
    }
    if session.get_transaction() is None:
        session.connection()  # begin the session transaction now, so the entry belongs to it
    tag = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((tag, row))


def pending_count(session: Session) -> int:
    """Entries recorded on this session and not yet written."""
    return len(session.info.get(_PENDING, ()))


def _within(tx: SessionTransaction | None, ancestor: SessionTransaction | None) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


def _drain(session: Session) -> None:
    """Write the entries recorded at the current transaction level (or in ones nested inside it)."""
    pending: list[tuple[SessionTransaction | None, dict[str, Any]]] | None = session.info.get(_PENDING)
    if not pending:
        return
    current = session.get_nested_transaction() or session.get_transaction()
    ready = [row for tag, row in pending if _within(tag, current)]
    if not ready:
        return
    pending[:] = [(tag, row) for tag, row in pending if not _within(tag, current)]
    _append(session.connection(), ready)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    _drain(session)


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, _flush_context: Any) -> None:
    _drain(session)  # entries recorded by other listeners while the session flushed


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    _drain(session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if pending:  # recorded after the last flush of a committed transaction (an after_commit hook…)
        get_logger("piguard.audit").warning("audit_entries_too_late", count=len(pending))


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if transaction.parent is None:  # the session's transaction is over: what is left never happened
        pending.clear()
    elif transaction.nested:  # a savepoint ended; after a commit nothing of it is left
        pending[:] = [(tag, row) for tag, row in pending if not _within(tag, transaction)]


#: Action of the entry a writer adds when the signed head does not check out (see :func:`_read_head`).
HEAD_RESET_ACTION = "audit.head_reset"
#: Action of the operator's signed acknowledgement of one head reset (:func:`acknowledge_reset`).
RESET_ACK_ACTION = "audit.head_reset_acknowledged"
#: The entries up to a signed checkpoint were retired (deleted after verification): see :func:`retire`.
RETIRE_ACTION = "audit.retire"

#: Tables whose rows are only ever created together with an audit entry (domains register them):
#: an empty audit log beside rows in one of them was emptied, not new.
_AUDITED_TABLES: set[str] = set()


def register_audited_table(name: str) -> None:
    """Declare that every row of ``name`` was created with an audit entry (see :func:`verify`)."""
    _AUDITED_TABLES.add(name)


@dataclass(frozen=True)
class _Head:
    seq: int
    hash: str
    exists: bool
    #: Why the head could not be trusted (None when it could): missing, bad_signature, other_key,
    #: behind (entries or checkpoints beyond the signed head).
    problem: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


# Statements built once (building and keying them per transaction would cost more than running them).
_PG_LOCK = text(f"SELECT pg_advisory_xact_lock({_PG_LOCK_CLASS}, '{_ENTRY.name}'::regclass::oid::int)")
_SQLITE_LOCK = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq)
_LAST_SEQ = select(func.max(_ENTRY.c.seq)).scalar_subquery().label("last_seq")
_LAST_CP = select(func.max(_CHECKPOINT.c.seq)).scalar_subquery().label("last_cp")
_HEAD_COLUMNS = (_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.time, _HEAD.c.count, _HEAD.c.key_id, _HEAD.c.signature)
#: head row (or NULLs) + last entry seq + last checkpoint seq, in one query
_READ_HEAD = select(*_HEAD_COLUMNS, _LAST_SEQ, _LAST_CP).select_from(
    select(literal(1).label("one")).subquery().outerjoin(_HEAD, _HEAD.c.id == 1)
)
#: the same, locking the head row (PostgreSQL): no row when there is no head yet
_LOCK_HEAD = select(*_HEAD_COLUMNS, _LAST_SEQ, _LAST_CP).where(_HEAD.c.id == 1).with_for_update(of=_HEAD)
_UPDATE_HEAD = update(_HEAD).where(_HEAD.c.id == 1)
_INSERT_HEAD = insert(_HEAD)
_INSERT_ENTRIES = insert(_ENTRY)
_INSERT_CHECKPOINTS = insert(_CHECKPOINT)


def keyring() -> dict[str, str]:
    """Every audit key that may have signed something: the current one and the retired ones, by id."""
    settings = get_settings()
    keys = [
        settings.audit_hmac_key,
        *(k.strip() for k in settings.audit_hmac_old_keys.split(",") if k.strip()),
    ]
    return {key_id(k): k for k in keys}


def _lock_and_read(conn: Connection) -> Mapping[Any, Any]:
    """Take the chain lock, then read the head row, the last entry seq and the last checkpoint seq.

    Every writer rewrites the head row, so writers are serialised on it until the end of their
    transactions, and what is read under the lock is current:

    * PostgreSQL: ``SELECT … FOR UPDATE`` of the head row, one round trip (under READ COMMITTED a
      writer that waited gets the row as its predecessor committed it). When there is no head row
      yet (a new log, or a removed head) ``pg_advisory_xact_lock`` serialises the writers instead,
      and the row is read again, locked if it now exists.
    * SQLite: a no-op ``UPDATE`` of the head row takes the database's single write lock (waiting on
      the busy timeout); pysqlite begins the transaction right before this first write, so the read
      that follows is current.
    """
    if conn.dialect.name == "postgresql":
        row = conn.execute(_LOCK_HEAD).mappings().first()
        if row is None:
            conn.execute(_PG_LOCK)
            row = conn.execute(_LOCK_HEAD).mappings().first()
        if row is not None:
            return row
    else:
        conn.execute(_SQLITE_LOCK)
    return conn.execute(_READ_HEAD).mappings().one()


def _read_head(conn: Connection) -> _Head:
    """Lock the chain and find the point to chain from.

    Normally the signed head. When it is missing, badly signed, or behind the entries or checkpoints
    in the table, the writer does not trust or launder it: it continues after the highest seq ever
    written or vouched for (so no seq is reused and gaps stay visible), chaining from the signed
    head's hash when that signature is good (so rows added behind its back stay a visible break),
    and :func:`_append` records an ``audit.head_reset`` entry saying what it found.
    """
    row = _lock_and_read(conn)
    last_seq, last_cp = int(row["last_seq"] or 0), int(row["last_cp"] or 0)
    exists = row["seq"] is not None
    problem: str | None = None
    head_seq, head_hash = 0, GENESIS
    if exists:
        head_seq, head_hash = int(row["seq"]), str(row["hash"])
        signer = keyring().get(row["key_id"])  # a head signed before a key rotation stays good
        if signer is None:
            problem = "other_key"
        elif not signature_ok(
            sign_head(signer, head_seq, head_hash, row["time"], int(row["count"])), row["signature"]
        ):
            problem = "bad_signature"
        elif last_seq > head_seq or last_cp > head_seq:
            problem = "behind"
    elif last_seq or last_cp:
        problem = "missing"
    if problem is None:
        return _Head(head_seq, head_hash, exists)
    seq = max(head_seq, last_seq, last_cp)
    if problem == "behind":
        prev = head_hash
    elif seq == last_seq:
        prev = str(conn.execute(select(_ENTRY.c.hash).where(_ENTRY.c.seq == seq)).scalar_one())
    elif seq == last_cp:
        prev = str(
            conn.execute(select(_CHECKPOINT.c.hash).where(_CHECKPOINT.c.seq == seq).limit(1)).scalar_one()
        )
    else:
        prev = head_hash
    detail = {
        "reason": problem,
        "signed_head_seq": head_seq if exists else None,
        "last_entry_seq": last_seq,
        "last_checkpoint_seq": last_cp,
    }
    return _Head(seq, prev, exists, problem, detail)


def _head_reset_row(head: _Head) -> dict[str, Any]:
    return {
        "time": utcnow(),
        "actor_type": "system",
        "actor_id": "audit",
        "client_ip": None,
        "terminal": None,
        "action": HEAD_RESET_ACTION,
        "subject_ref": None,
        "data_categories": [],
        "purpose": None,
        "outcome": "failed",
        "obligations": [OBLIGATION],
        "detail": head.detail,
    }


def _write_head(conn: Connection, head: _Head, seq: int, hash_: str, now: datetime, key: str) -> None:
    values = {
        "seq": seq,
        "hash": hash_,
        "time": now,
        "count": seq,
        "key_id": key_id(key),
        "signature": sign_head(key, seq, hash_, now, seq),
    }
    if head.exists:
        conn.execute(_UPDATE_HEAD, values)
    else:
        conn.execute(_INSERT_HEAD, {"id": 1, **values})


def _checkpoint_values(key: str, seq: int, hash_: str, now: datetime, kind: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "hash": hash_,
        "time": now,
        "count": seq,
        "kind": kind,
        "key_id": key_id(key),
        "signature": sign_checkpoint(key, seq, hash_, now, seq),
    }


@carries(OBLIGATION)
def _append(conn: Connection, rows: list[dict[str, Any]]) -> None:
    settings = get_settings()
    key = settings.audit_hmac_key
    every = settings.audit_checkpoint_every
    head = _read_head(conn)
    signer_id = key_id(key)
    if head.problem is not None:
        rows = [_head_reset_row(head), *rows]
    now = utcnow()
    seq, prev = head.seq, head.hash
    checkpoints: list[dict[str, Any]] = []
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        prev = row["hash"] = entry_hash(prev, row)
        row["mac"] = sign_entry(key, seq, prev)
        row["mac_key_id"] = signer_id
        if every > 0 and seq % every == 0:
            checkpoints.append(_checkpoint_values(key, seq, prev, now, "periodic"))
    for start in range(0, len(rows), _INSERT_CHUNK):
        conn.execute(_INSERT_ENTRIES, rows[start : start + _INSERT_CHUNK])
    if checkpoints:
        conn.execute(_INSERT_CHECKPOINTS, checkpoints)
    _write_head(conn, head, seq, prev, now, key)


# -- checkpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointInfo:
    seq: int
    hash: str
    time: datetime
    count: int
    kind: str
    key_id: str
    signature: str

    @property
    def head_line(self) -> str:
        """The line to keep outside the database (``audit verify --expect-head``)."""
        return head_line(self.seq, self.hash, self.time, self.signature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "time": self.time.isoformat(),
            "count": self.count,
            "kind": self.kind,
            "key_id": self.key_id,
            "signature": self.signature,
            "head_line": self.head_line,
        }


@carries(OBLIGATION)
def checkpoint(session: Session) -> CheckpointInfo:
    """Sign the current head of the chain now (entries this session recorded are written first).

    Refused when the log is empty or its signed head does not check out (run verify first).
    """
    _drain(session)
    conn = session.connection()
    key = get_settings().audit_hmac_key
    head = _read_head(conn)
    if head.seq == 0:
        raise PiguardError(
            "audit_empty",
            "The audit log is empty: there is nothing to checkpoint.",
            "审计日志为空，无需创建检查点。",
            obligations=(OBLIGATION,),
            http_status=409,
        )
    last = conn.execute(select(_ENTRY.c.hash).where(_ENTRY.c.seq == head.seq)).scalar_one_or_none()
    if head.problem is not None or last != head.hash:
        raise PiguardError(
            "audit_head_invalid",
            "The audit log's signed head does not check out, so no checkpoint was signed; run "
            "`piguard audit verify` and investigate.",
            "审计日志的签名头部校验失败，未创建检查点；请运行 `piguard audit verify` 并调查原因。",
            obligations=(OBLIGATION,),
            http_status=409,
            exit_code=1,
        )
    values = _checkpoint_values(key, head.seq, head.hash, utcnow(), "manual")
    conn.execute(_INSERT_CHECKPOINTS, values)
    return CheckpointInfo(**values)


# -- verification ------------------------------------------------------------------------------


class Problem(StrEnum):
    ALTERED = "altered"  # a row no longer matches its hash, or its hash no longer links to the next row
    DELETED = "deleted"  # a seq is missing inside the chain
    REORDERED = "reordered"  # a row's content belongs at another seq
    TRUNCATED = "truncated"  # entries a checkpoint or the signed head vouches for are gone from the end
    BAD_SIGNATURE = (
        "bad_signature"  # a checkpoint or the head is not signed with the HMAC key (or is missing)
    )
    REWRITTEN = "rewritten"  # the chain is self-consistent but differs from what a signature vouches for
    UNSIGNED = "unsigned"  # entries after the signed head (appended without the key)
    HEAD_RESET = "head_reset"  # a writer found the signed head untrustworthy and no operator acknowledged it
    EMPTIED = "emptied"  # the log is empty though the database shows audited activity


_PROBLEM_ZH = {
    Problem.ALTERED: "记录被篡改",
    Problem.DELETED: "记录被删除",
    Problem.REORDERED: "记录顺序被调换",
    Problem.TRUNCATED: "日志尾部被截断",
    Problem.BAD_SIGNATURE: "签名无效",
    Problem.REWRITTEN: "日志被整体改写",
    Problem.UNSIGNED: "存在未签名的追加记录",
    Problem.HEAD_RESET: "签名头部被重置且未经确认",
    Problem.EMPTIED: "审计日志被清空",
}


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found. ``head_seq``/``head_hash`` are the last entry checked."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: Problem | None = None
    message_en: str = "The audit log is intact."
    message_zh: str = "审计日志完整，未发现篡改。"
    head_seq: int | None = None
    head_hash: str | None = None
    checkpoints_checked: int = 0
    signed_head_seq: int | None = None
    #: Seqs of ``audit.head_reset`` entries: a writer found the signed head missing, forged, signed
    #: with another key or behind the table, and carried on. Investigate each (see docs/audit.md).
    head_resets: tuple[int, ...] = ()
    obligations: tuple[str, ...] = field(default=(OBLIGATION,))
    #: the signed checkpoint the walk started from (entries up to it not read: retired, or skipped
    #: on request); None when it started at seq 1
    from_checkpoint: int | None = None
    #: the anchor file (outside the database) whose last line the log was checked against, if any
    anchor: str | None = None

    def reason(self) -> Reason:
        return Reason(
            "audit_intact" if self.ok else f"audit_{self.problem}",
            self.obligations,
            self.message_en,
            self.message_zh,
            {"first_bad_seq": self.first_bad_seq, "checked": self.checked}
            if not self.ok
            else {"checked": self.checked},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem.value if self.problem else None,
            "message": {"en": self.message_en, "zh": self.message_zh},
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "checkpoints_checked": self.checkpoints_checked,
            "signed_head_seq": self.signed_head_seq,
            "head_resets": list(self.head_resets),
            "obligations": list(self.obligations),
            "from_checkpoint": self.from_checkpoint,
            "anchor": self.anchor,
        }


class _Failed(Exception):
    def __init__(self, problem: Problem, seq: int | None, en: str, zh: str) -> None:
        super().__init__(en)
        self.problem, self.seq, self.en, self.zh = problem, seq, en, zh


def _home_of(row: Mapping[Any, Any]) -> int | None:
    """The seq at which a row's content matches its own hash, if it is near (a moved row)."""
    here = int(row["seq"])
    moved = dict(row)
    for distance in range(1, _REORDER_WINDOW + 1):
        for q in (here - distance, here + distance):
            if q < 1:
                continue
            moved["seq"] = q
            if entry_hash(row["prev_hash"], moved) == row["hash"]:
                return q
    return None


def _check_signature(kind: str, row: Mapping[Any, Any], ring: Mapping[str, str]) -> None:
    sign = sign_head if kind == "head" else sign_checkpoint
    seq = int(row["seq"])
    # the key that signed it, by its public id; a line kept outside names none: try each key
    keys = [ring[row["key_id"]]] if row["key_id"] in ring else ([] if row["key_id"] else list(ring.values()))
    for key in keys:
        if signature_ok(sign(key, seq, row["hash"], row["time"], int(row["count"])), row["signature"]):
            return
    what_zh = "头部" if kind == "head" else "检查点"
    if row["key_id"] and row["key_id"] not in ring:
        en = (
            f"The {kind} at seq {seq} was signed with another key, one piguard does not hold (key id "
            f"{row['key_id']}; current {next(iter(ring))}): the key was changed without keeping the "
            f"old one in PIGUARD_AUDIT_HMAC_OLD_KEYS, or the {kind} was forged."
        )
        zh = f"序号 {seq} 处的{what_zh}由未持有的密钥签名（更换密钥时未保留旧密钥，或签名系伪造）。"
    else:
        en = f"The {kind} at seq {seq} has a bad signature: it was altered or forged."
        zh = f"序号 {seq} 处的{what_zh}签名无效：已被篡改或伪造。"
    raise _Failed(Problem.BAD_SIGNATURE, seq, en, zh)


@carries(OBLIGATION)
def verify(
    session: Session,
    *,
    batch_size: int = 5000,
    expect_head: str | None = None,
    from_checkpoint: int | None = None,
) -> VerifyResult:
    """Walk the whole chain in bounded batches and check every link, entry MAC, checkpoint and the
    signed head.

    The walk starts at seq 1, or after a signed checkpoint: ``from_checkpoint`` (its seq) on
    request, or by itself when the entries up to a checkpoint were retired (:func:`retire`): then
    the first entry left must chain from that checkpoint's signed hash and an ``audit.retire``
    entry later in the (MAC'd) chain must record the retirement; leading entries missing
    without one are a deletion.

    Memory stays bounded (one batch of rows and its checkpoints at a time) whatever the log's size.
    Writers may append while it runs: entries committed after it started are checked as far as the
    walk reaches them, and are never mistaken for tampering.

    Beyond the chain itself: a head reset that no operator acknowledged (:func:`acknowledge_reset`)
    is a failure; an empty log beside rows of a table whose rows are always audited is a failure;
    ``expect_head`` (a line from ``audit checkpoint``, kept outside the database) must be signed
    with the key and found in the chain.
    """
    if batch_size < 1:
        raise PiguardError(
            "validation_error",
            "batch_size must be positive.",
            "batch_size 必须为正数。",
            fields=[FieldError("batch_size", "must be >= 1")],
            http_status=422,
        )
    conn = session.connection()
    ring = keyring()
    # Read before walking: entries cannot legitimately disappear, so whatever the head and the last
    # checkpoint vouch for now must still be there at the end of the walk.
    head = conn.execute(select(_HEAD).where(_HEAD.c.id == 1)).mappings().first()
    last_cp = (
        conn.execute(select(_CHECKPOINT).order_by(_CHECKPOINT.c.seq.desc(), _CHECKPOINT.c.id.desc()).limit(1))
        .mappings()
        .first()
    )
    head_seq = int(head["seq"]) if head is not None else None
    checked = 0
    cps = 0
    last_seq, last_hash = 0, GENESIS
    good_cp_seq = 0
    resets: dict[int, str] = {}
    acknowledged: set[int] = set()
    seen_mac = False
    anchored: str | None = None
    if expect_head is None:
        found = anchor.latest()
        if found is not None:
            try:
                expect_head = found[1]
                _parse_expected(expect_head)
            except PiguardError:
                raise anchor.unusable(found[0], "its last line is not a line of `audit checkpoint`") from None
            anchored = str(found[0])
    expected_line = _parse_expected(expect_head) if expect_head is not None else None
    first_seq = conn.execute(select(func.min(_ENTRY.c.seq))).scalar()
    base: Mapping[Any, Any] | None = None
    retired_through: int | None = None  # must be recorded by an audit.retire entry
    retire_marks: set[int] = set()
    if from_checkpoint is not None:
        base = _checkpoint_at(conn, from_checkpoint)
        if first_seq is not None and from_checkpoint < int(first_seq) - 1:
            raise _checkpoint_retired(from_checkpoint, int(first_seq))
    elif first_seq is not None and int(first_seq) > 1:
        base = _checkpoint_at(conn, int(first_seq) - 1, required=False)
        retired_through = int(first_seq) - 1
    try:
        if head is not None:
            _check_signature("head", head, ring)
        if expected_line is not None:
            _check_signature("checkpoint", expected_line, ring)
        if retired_through is not None and base is None:
            raise _Failed(
                Problem.DELETED,
                1,
                f"Entries 1-{retired_through} are missing and no signed checkpoint marks where a "
                f"retirement ended: they were deleted.",
                f"序号 1-{retired_through} 的记录缺失，且没有签名检查点标明归档的终点：已被删除。",
            )
        if base is not None:
            _check_signature("checkpoint", base, ring)
            last_seq, last_hash = int(base["seq"]), str(base["hash"])
            good_cp_seq = last_seq
            if (
                expected_line is not None
                and int(expected_line["seq"]) == last_seq
                and expected_line["hash"] != last_hash
            ):
                raise _Failed(
                    Problem.REWRITTEN,
                    last_seq,
                    f"The signed checkpoint at seq {last_seq} differs from the head line kept outside "
                    f"the database: the log was rewritten.",
                    f"序号 {last_seq} 处的签名检查点与库外保存的头部记录不符：日志被改写。",
                )
        while True:
            batch = (
                conn.execute(
                    select(_ENTRY).where(_ENTRY.c.seq > last_seq).order_by(_ENTRY.c.seq).limit(batch_size)
                )
                .mappings()
                .all()
            )
            if not batch:
                break
            hi = int(batch[-1]["seq"])
            by_seq: dict[int, list[Mapping[Any, Any]]] = {}
            for cp in conn.execute(
                select(_CHECKPOINT)
                .where(_CHECKPOINT.c.seq > last_seq, _CHECKPOINT.c.seq <= hi)
                .order_by(_CHECKPOINT.c.seq, _CHECKPOINT.c.id)
            ).mappings():
                by_seq.setdefault(int(cp["seq"]), []).append(cp)
            for row in batch:
                seq = int(row["seq"])
                expected = last_seq + 1
                if seq != expected:
                    missing = f"{expected}" if seq == expected + 1 else f"{expected}-{seq - 1}"
                    raise _Failed(
                        Problem.DELETED,
                        expected,
                        f"Entry seq {missing} is missing: it was deleted.",
                        f"序号 {missing} 的记录缺失：已被删除。",
                    )
                if entry_hash(row["prev_hash"], row) != row["hash"]:
                    home = _home_of(row)
                    if home is not None:
                        raise _Failed(
                            Problem.REORDERED,
                            seq,
                            f"Entry seq {seq} holds the content of entry {home}: rows were reordered.",
                            f"序号 {seq} 处存放的是序号 {home} 的内容：记录顺序被调换。",
                        )
                    raise _Failed(
                        Problem.ALTERED,
                        seq,
                        f"Entry seq {seq} does not match its hash: it was altered.",
                        f"序号 {seq} 的记录与其哈希不符：已被篡改。",
                    )
                if row["mac"] is not None:
                    seen_mac = True
                    signer = ring.get(row["mac_key_id"] or "")
                    if signer is None or not signature_ok(sign_entry(signer, seq, row["hash"]), row["mac"]):
                        raise _Failed(
                            Problem.ALTERED,
                            seq,
                            f"Entry seq {seq} is not signed by the audit key: it was altered and its "
                            f"hash recomputed (or the key was changed).",
                            f"序号 {seq} 的记录未经审计密钥签名：已被篡改并重算哈希（或密钥已更换）。",
                        )
                elif seen_mac:
                    raise _Failed(
                        Problem.ALTERED,
                        seq,
                        f"Entry seq {seq} has lost its signature: it was altered.",
                        f"序号 {seq} 的记录签名被删除：已被篡改。",
                    )
                if row["prev_hash"] != last_hash:
                    bad = seq - 1 if seq > 1 else seq
                    raise _Failed(
                        Problem.ALTERED,
                        bad,
                        f"Entry seq {bad} was altered and its hash recomputed: entry {seq} "
                        f"no longer links to it.",
                        f"序号 {bad} 的记录被篡改并重算了哈希：序号 {seq} 的记录已无法与之衔接。",
                    )
                last_seq, last_hash = seq, row["hash"]
                checked += 1
                if row["action"] == RETIRE_ACTION and row["mac"] is not None:
                    through = (row["detail"] or {}).get("through_seq")
                    if isinstance(through, int):
                        retire_marks.add(through)
                if row["action"] == HEAD_RESET_ACTION:
                    resets[seq] = str(row["hash"])
                elif row["action"] == RESET_ACK_ACTION and row["mac"] is not None:
                    # the reset it names sits earlier in the same MAC'd chain: its seq binds it (a hash
                    # in the detail would not survive the PI guard, which masks long digit runs)
                    ack = row["detail"] or {}
                    if isinstance(ack.get("reset_seq"), int) and ack["reset_seq"] in resets:
                        acknowledged.add(ack["reset_seq"])
                if (
                    expected_line is not None
                    and seq == int(expected_line["seq"])
                    and expected_line["hash"] != last_hash
                ):
                    raise _Failed(
                        Problem.REWRITTEN,
                        seq,
                        f"The chain at seq {seq} differs from the head line kept outside the "
                        f"database: the log was rewritten.",
                        f"序号 {seq} 处的链与库外保存的头部记录不符：日志被改写。",
                    )
                for signed_cp in by_seq.get(seq, ()):
                    _check_signature("checkpoint", signed_cp, ring)
                    if signed_cp["hash"] != last_hash or int(signed_cp["count"]) != seq:
                        raise _Failed(
                            Problem.REWRITTEN,
                            good_cp_seq + 1,
                            f"The chain at seq {seq} differs from its signed checkpoint: entries "
                            f"{good_cp_seq + 1}-{seq} were rewritten.",
                            f"序号 {seq} 处的链与签名检查点不符：序号 {good_cp_seq + 1}-{seq} 的记录被改写。",
                        )
                    good_cp_seq = seq
                    cps += 1
                if head is not None and seq == head_seq and head["hash"] != last_hash:
                    raise _Failed(
                        Problem.REWRITTEN,
                        good_cp_seq + 1,
                        f"The chain at seq {seq} differs from the signed head: entries after "
                        f"seq {good_cp_seq} were rewritten.",
                        f"序号 {seq} 处的链与签名头部不符：序号 {good_cp_seq} 之后的记录被改写。",
                    )
        if last_cp is not None and int(last_cp["seq"]) > last_seq:
            _check_signature("checkpoint", last_cp, ring)
            _truncated(last_seq, int(last_cp["seq"]), "a signed checkpoint", "签名检查点")
        if head_seq is not None and head_seq > last_seq:
            _truncated(last_seq, head_seq, "the signed head", "签名头部")
        if expected_line is not None and int(expected_line["seq"]) > last_seq:
            _truncated(
                last_seq,
                int(expected_line["seq"]),
                "the head line kept outside the database",
                "库外保存的头部记录",
            )
        if last_seq == 0 and head is None and last_cp is None:
            _check_not_emptied(conn)
        if retired_through is not None and retired_through not in retire_marks:
            raise _Failed(
                Problem.DELETED,
                1,
                f"Entries 1-{retired_through} are gone up to a signed checkpoint, but no audit.retire "
                f"entry records their retirement: they were deleted.",
                f"序号 1-{retired_through} 的记录已至签名检查点为止消失，但没有 audit.retire 记录其归档：已被删除。",
            )
        unacknowledged = [r for r in sorted(resets) if r not in acknowledged]
        if unacknowledged:
            first = unacknowledged[0]
            raise _Failed(
                Problem.HEAD_RESET,
                first,
                f"The signed head was reset at seq {first} (it had been removed, forged, signed with "
                f"another key or left behind the table) and no operator acknowledged it: entries "
                f"since the checkpoint before it cannot be proven complete. Investigate, then run "
                f"`piguard audit acknowledge-reset {first} --reason …`.",
                f"签名头部在序号 {first} 处被重置（曾被删除、伪造、以其他密钥签名或落后于日志），且未经"
                f"操作员确认：其前一检查点之后的记录无法证明完整。请调查后运行 "
                f"`piguard audit acknowledge-reset {first} --reason …`。",
            )
        if last_seq > 0:
            now_head = conn.execute(select(_HEAD.c.seq).where(_HEAD.c.id == 1)).first()
            if now_head is None:
                raise _Failed(
                    Problem.BAD_SIGNATURE,
                    None,
                    "The signed head of the audit log is missing: a truncation of the tail "
                    "after the last checkpoint could not be detected.",
                    "审计日志的签名头部缺失：无法发现最后一个检查点之后的尾部截断。",
                )
            if int(now_head.seq) < last_seq:
                raise _Failed(
                    Problem.UNSIGNED,
                    int(now_head.seq) + 1,
                    f"Entries {int(now_head.seq) + 1}-{last_seq} come after the signed head: "
                    f"they were added without the signing key.",
                    f"序号 {int(now_head.seq) + 1}-{last_seq} 的记录位于签名头部之后：系未经签名追加。",
                )
    except _Failed as failed:
        return VerifyResult(
            False,
            checked,
            failed.seq,
            failed.problem,
            failed.en,
            failed.zh,
            last_seq or None,
            last_hash if last_seq else None,
            cps,
            head_seq,
            tuple(sorted(resets))[:_MAX_RESETS_SHOWN],
            from_checkpoint=int(base["seq"]) if base is not None else None,
            anchor=anchored,
        )
    result = VerifyResult(
        True,
        checked,
        head_seq=last_seq or None,
        head_hash=last_hash if last_seq else None,
        checkpoints_checked=cps,
        signed_head_seq=head_seq,
        head_resets=tuple(sorted(resets))[:_MAX_RESETS_SHOWN],
        from_checkpoint=int(base["seq"]) if base is not None else None,
        anchor=anchored,
    )
    if checked:
        since = f" from the signed checkpoint at seq {base['seq']}" if base is not None else ""
        since_zh = f"（自序号 {base['seq']} 的签名检查点起）" if base is not None else ""
        result = replace(
            result,
            message_en=f"The audit log is intact{since}: {checked} entries, head seq {last_seq}.",
            message_zh=f"审计日志完整{since_zh}：共 {checked} 条记录，链头序号 {last_seq}。",
        )
    if resets:
        where = ", ".join(str(r) for r in result.head_resets)
        result = replace(
            result,
            message_en=result.message_en + f" The signed head was reset at seq {where}, each reset "
            "acknowledged by an operator.",
            message_zh=result.message_zh + f"签名头部曾在序号 {where} 处被重置，均已由操作员确认。",
        )
    return result


def _checkpoint_at(conn: Connection, seq: int, *, required: bool = True) -> Mapping[Any, Any] | None:
    """The (first) signed checkpoint at ``seq``; when ``required``, a missing one is bad input."""
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise PiguardError(
            "validation_error",
            "A checkpoint is named by its seq, a whole number of at least 1.",
            "检查点以其序号指定，须为不小于 1 的整数。",
            fields=[FieldError("checkpoint", "must be >= 1")],
            http_status=422,
            exit_code=2,
        )
    row = (
        conn.execute(select(_CHECKPOINT).where(_CHECKPOINT.c.seq == seq).order_by(_CHECKPOINT.c.id).limit(1))
        .mappings()
        .first()
    )
    if row is None and required:
        raise PiguardError(
            "audit_checkpoint_unknown",
            f"There is no signed checkpoint at seq {seq} (`piguard audit checkpoint` signs one; "
            f"periodic ones fall every PIGUARD_AUDIT_CHECKPOINT_EVERY entries).",
            f"序号 {seq} 处没有签名检查点（`piguard audit checkpoint` 可创建；定期检查点每 "
            f"PIGUARD_AUDIT_CHECKPOINT_EVERY 条生成一个）。",
            obligations=(OBLIGATION,),
            fields=[FieldError("checkpoint", str(seq))],
            http_status=404,
            exit_code=2,
        )
    return row


def _checkpoint_retired(seq: int, first: int) -> PiguardError:
    return PiguardError(
        "audit_checkpoint_retired",
        f"The checkpoint at seq {seq} lies in the retired part of the log (entries now start at seq "
        f"{first}): start from seq {first - 1} or later.",
        f"序号 {seq} 的检查点位于已归档部分（记录现从序号 {first} 开始）：请从序号 {first - 1} 或之后开始。",
        obligations=(OBLIGATION,),
        fields=[FieldError("checkpoint", str(seq))],
        http_status=409,
        exit_code=2,
    )


def _parse_expected(line: str) -> dict[str, Any]:
    try:
        seq, hash_, time, signature = parse_head_line(line)
    except ValueError as exc:
        raise PiguardError(
            "validation_error",
            f"--expect-head is not a line printed by `piguard audit checkpoint` ({exc}).",
            f"--expect-head 不是 `piguard audit checkpoint` 输出的记录（{exc}）。",
            obligations=(OBLIGATION,),
            fields=[FieldError("expect_head", str(exc))],
            http_status=422,
            exit_code=2,
        ) from None
    return {"seq": seq, "hash": hash_, "time": time, "count": seq, "signature": signature, "key_id": None}


def _check_not_emptied(conn: Connection) -> None:
    """An empty log is new only when no table of audited rows holds any."""
    names = set(inspect(conn).get_table_names())
    for name in sorted(_AUDITED_TABLES & names):
        rows = int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
        if rows:
            raise _Failed(
                Problem.EMPTIED,
                None,
                f"The audit log is empty, but table {name} holds {rows} rows that were each created "
                f"with an audit entry: the log was emptied.",
                f"审计日志为空，但表 {name} 中有 {rows} 行记录（每行创建时都写入了审计）：审计日志被清空。",
            )


@carries(OBLIGATION)
def acknowledge_reset(session: Session, *, reset_seq: int, reason: str, actor: Actor) -> dict[str, Any]:
    """Record the operator's acknowledgement of the head reset at ``reset_seq`` (a signed entry:
    every entry carries the key's MAC). Refused when that entry is not a head reset."""
    row = session.execute(select(_ENTRY.c.action).where(_ENTRY.c.seq == reset_seq)).first()
    if row is None or row.action != HEAD_RESET_ACTION:
        raise PiguardError(
            "audit_not_a_reset",
            f"Entry seq {reset_seq} is not a head reset: there is nothing to acknowledge.",
            f"序号 {reset_seq} 的记录不是头部重置，无需确认。",
            obligations=(OBLIGATION,),
            fields=[FieldError("reset_seq", "not an audit.head_reset entry")],
            http_status=404,
            exit_code=2,
        )
    reason = (reason or "").strip()
    if not reason:
        raise PiguardError(
            "validation_error",
            "Say why the reset is expected (--reason).",
            "请说明该重置为何属预期（--reason）。",
            fields=[FieldError("reason", "required")],
            http_status=422,
            exit_code=2,
        )
    detail = {"reset_seq": reset_seq, "reason": reason}
    record(session, action=RESET_ACK_ACTION, actor=actor, obligations=(OBLIGATION,), detail=detail)
    return detail


@dataclass(frozen=True)
class RetireResult:
    through_seq: int
    entries: int
    checkpoints: int
    #: the checkpoint the chain now starts from, as the line to keep outside the database
    head_line: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "through_seq": self.through_seq,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "head_line": self.head_line,
        }


@carries(OBLIGATION)
def retire(
    session: Session, *, before_checkpoint: int, actor: Actor, batch_size: int = 5000, dry_run: bool = False
) -> RetireResult:
    """Delete the entries up to the signed checkpoint at seq ``before_checkpoint`` (and the older
    checkpoints), after verifying the whole chain, and record an ``audit.retire`` entry; in the
    caller's transaction. :func:`verify` then starts from that checkpoint by itself.

    Refused, with nothing deleted, when there is no checkpoint there, when those entries are already
    retired, or when the chain does not verify (tampering is never retired away). ``dry_run``: the
    same checks, and the counts of what would go; nothing deleted or recorded."""
    _drain(session)
    conn = session.connection()
    cp = _checkpoint_at(conn, before_checkpoint)
    assert cp is not None
    first = conn.execute(select(func.min(_ENTRY.c.seq))).scalar()
    if first is None or before_checkpoint < int(first):
        raise PiguardError(
            "audit_nothing_to_retire",
            f"The entries up to seq {before_checkpoint} are already retired.",
            f"序号 {before_checkpoint} 及之前的记录已归档。",
            obligations=(OBLIGATION,),
            fields=[FieldError("before_checkpoint", str(before_checkpoint))],
            http_status=409,
            exit_code=2,
        )
    result = verify(session, batch_size=batch_size)
    if not result.ok:
        raise PiguardError(
            "audit_not_intact",
            f"The audit log does not verify ({result.problem} at seq {result.first_bad_seq}): nothing "
            f"was retired. {result.message_en}",
            f"审计日志校验未通过（序号 {result.first_bad_seq}：{result.problem}）：未归档任何记录。{result.message_zh}",
            obligations=(OBLIGATION,),
            http_status=409,
            exit_code=1,
        )
    line = head_line(int(cp["seq"]), cp["hash"], cp["time"], cp["signature"])
    if dry_run:
        n = conn.execute(select(func.count()).where(_ENTRY.c.seq <= before_checkpoint)).scalar_one()
        c = conn.execute(select(func.count()).where(_CHECKPOINT.c.seq < before_checkpoint)).scalar_one()
        return RetireResult(before_checkpoint, int(n), int(c), line)
    entries = conn.execute(_ENTRY.delete().where(_ENTRY.c.seq <= before_checkpoint)).rowcount or 0
    checkpoints = (
        conn.execute(_CHECKPOINT.delete().where(_CHECKPOINT.c.seq < before_checkpoint)).rowcount or 0
    )
    record(
        session,
        action=RETIRE_ACTION,
        actor=actor,
        obligations=(OBLIGATION,),
        detail={"through_seq": before_checkpoint, "entries": entries, "checkpoints": checkpoints},
    )
    _drain(session)
    return RetireResult(before_checkpoint, entries, checkpoints, line)


def _truncated(last_seq: int, vouched: int, by_en: str, by_zh: str) -> None:
    raise _Failed(
        Problem.TRUNCATED,
        last_seq + 1,
        f"Entries {last_seq + 1}-{vouched} are gone from the end of the log, though {by_en} "
        f"vouches for them: the log was truncated.",
        f"{by_zh}证明存在的序号 {last_seq + 1}-{vouched} 的记录已从日志末尾消失：日志被截断。",
    )


# -- the last verification -----------------------------------------------------------------------

VERIFY_ACTION = "audit.verify"


@dataclass(frozen=True)
class VerificationStatus:
    """What the console shows instead of walking the chain on every page load: the last recorded
    verification (``audit verify``, the API, or the worker's scheduled one) and the signed head."""

    at: datetime | None
    ok: bool | None
    checked: int | None
    problem: str | None
    first_bad_seq: int | None
    by: str | None
    head_seq: int | None
    head_time: datetime | None
    head_signature_ok: bool | None


@carries(OBLIGATION)
def record_verification(
    session: Session,
    result: VerifyResult,
    actor: Actor,
    *,
    client_ip: str | None = None,
    terminal: str | None = None,
) -> None:
    """Record a verification's outcome in the log itself (the console reads the newest one)."""
    record(
        session,
        action=VERIFY_ACTION,
        actor=actor,
        client_ip=client_ip,
        terminal=terminal,
        outcome="ok" if result.ok else "failed",
        obligations=(OBLIGATION,),
        detail={
            "checked": result.checked,
            "problem": result.problem.value if result.problem else None,
            "first_bad_seq": result.first_bad_seq,
        },
    )


@carries(OBLIGATION)
def verification_status(session: Session) -> VerificationStatus:
    """The newest ``audit.verify`` entry and the signed head: two indexed reads, whatever the size."""
    conn = session.connection()
    last = (
        conn.execute(
            select(_ENTRY.c.time, _ENTRY.c.outcome, _ENTRY.c.detail, _ENTRY.c.actor_type, _ENTRY.c.actor_id)
            .where(_ENTRY.c.action == VERIFY_ACTION)
            .order_by(_ENTRY.c.seq.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    head = conn.execute(select(_HEAD).where(_HEAD.c.id == 1)).mappings().first()
    head_ok: bool | None = None
    if head is not None:
        signer = keyring().get(head["key_id"])
        head_ok = signer is not None and signature_ok(
            sign_head(signer, int(head["seq"]), head["hash"], head["time"], int(head["count"])),
            head["signature"],
        )
    detail = dict(last["detail"] or {}) if last is not None else {}
    return VerificationStatus(
        at=last["time"] if last is not None else None,
        ok=(last["outcome"] == "ok") if last is not None else None,
        checked=detail.get("checked"),
        problem=detail.get("problem"),
        first_bad_seq=detail.get("first_bad_seq"),
        by=f"{last['actor_type']}:{last['actor_id']}" if last is not None else None,
        head_seq=int(head["seq"]) if head is not None else None,
        head_time=head["time"] if head is not None else None,
        head_signature_ok=head_ok,
    )


# -- search ------------------------------------------------------------------------------------


def _bad(field_name: str, en: str, zh: str) -> PiguardError:
    return PiguardError(
        "validation_error",
        f"Bad search filter: {en}",
        f"查询条件无效：{zh}",
        fields=[FieldError(field_name, f"{en} / {zh}")],
        http_status=422,
        exit_code=2,
    )


MAX_LIMIT = 1000


@carries(OBLIGATION)
def search(
    session: Session,
    *,
    actor_id: str | None = None,
    actor_type: str | None = None,
    subject_ref: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcome: str | None = None,
    limit: int = 100,
    offset: int = 0,
    cursor: int | None = None,
) -> list[AuditEntry]:
    """Entries matching every given filter, newest first.

    ``action`` matches by prefix (``"auth"`` finds ``auth.login_failed``); ``since`` is inclusive,
    ``until`` exclusive. Page with ``cursor`` (the ``seq`` of the last entry of the previous page:
    only older entries come back) or with ``offset``.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad("limit", f"limit must be between 1 and {MAX_LIMIT}", f"limit 须在 1 至 {MAX_LIMIT} 之间")
    if offset < 0:
        raise _bad("offset", "offset must not be negative", "offset 不能为负数")
    if actor_type is not None and actor_type not in ACTOR_TYPES:
        raise _bad(
            "actor_type",
            f"actor type must be one of {', '.join(ACTOR_TYPES)}",
            f"操作者类型须为 {', '.join(ACTOR_TYPES)}",
        )
    if outcome is not None and outcome not in OUTCOMES:
        raise _bad(
            "outcome", f"outcome must be one of {', '.join(OUTCOMES)}", f"结果须为 {', '.join(OUTCOMES)}"
        )
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise _bad(name, f"{name} must carry a time zone", f"{name} 须带时区")
    if since is not None and until is not None and since >= until:
        raise _bad("until", "until must be after since", "结束时间须晚于开始时间")
    stmt = select(AuditEntry)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if actor_type is not None:
        stmt = stmt.where(AuditEntry.actor_type == actor_type)
    if subject_ref is not None:
        stmt = stmt.where(AuditEntry.subject_ref == subject_ref)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    if since is not None:
        stmt = stmt.where(AuditEntry.time >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.time < until)
    if outcome is not None:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    if cursor is not None:
        stmt = stmt.where(AuditEntry.seq < cursor)
    stmt = stmt.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


# -- reads for the self-inspection and the evidence bundle -------------------------------------


def refusals_by_obligation(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    """How many refused operations in ``[since, until)`` cite each obligation id (O24-16)."""
    counts: dict[str, int] = {}
    rows = session.execute(
        select(_ENTRY.c.obligations).where(
            _ENTRY.c.outcome == "refused", _ENTRY.c.time >= since, _ENTRY.c.time < until
        )
    ).scalars()
    for ids in rows:
        for oid in dict.fromkeys(ids or ()):
            counts[str(oid)] = counts.get(str(oid), 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@carries(OBLIGATION)
def extract(session: Session, *, since: datetime | None = None, max_entries: int = 100_000) -> dict[str, Any]:
    """A contiguous run of the chain, from the first entry at or after ``since`` (or the oldest
    entry kept) to the signed head, with the checkpoints inside it: everything needed to re-check
    every link offline (``hash = SHA-256(prev_hash || canonical(entry))``) and to tie the last one
    to the signed head. At most ``max_entries`` (the newest); ``truncated`` says when older ones of
    the period were left out. Entries this session recorded are written first."""
    if max_entries < 1:
        raise _bad("max_entries", "must be at least 1", "须至少为 1")
    _drain(session)
    session.flush()
    conn = session.connection()
    head = conn.execute(select(_HEAD).where(_HEAD.c.id == 1)).mappings().first()
    if head is None or int(head["seq"]) == 0:
        return {
            "entries": [],
            "head": None,
            "checkpoints": [],
            "first_seq": None,
            "last_seq": None,
            "truncated": False,
        }
    last = int(head["seq"])
    lowest = select(func.min(_ENTRY.c.seq))
    if since is not None:
        lowest = lowest.where(_ENTRY.c.time >= since)
    first = conn.execute(lowest.where(_ENTRY.c.seq <= last)).scalar()
    if first is None:  # nothing in the period: the head entry alone still ties the proof
        first = last
    truncated = last - int(first) + 1 > max_entries
    first = max(int(first), last - max_entries + 1)
    entries: list[dict[str, Any]] = []
    for row in conn.execute(
        select(_ENTRY).where(_ENTRY.c.seq >= first, _ENTRY.c.seq <= last).order_by(_ENTRY.c.seq)
    ).mappings():
        doc = {name: row[name] for name in HASHED_FIELDS}
        doc["time"] = iso_utc(row["time"])
        doc["data_categories"] = list(row["data_categories"] or ())
        doc["obligations"] = list(row["obligations"] or ())
        doc["detail"] = dict(row["detail"] or {})
        doc["prev_hash"], doc["hash"] = row["prev_hash"], row["hash"]
        entries.append(doc)
    checkpoints = [
        {
            "seq": int(c["seq"]),
            "hash": c["hash"],
            "time": iso_utc(c["time"]),
            "count": int(c["count"]),
            "kind": c["kind"],
            "key_id": c["key_id"],
            "signature": c["signature"],
        }
        for c in conn.execute(
            select(_CHECKPOINT)
            .where(_CHECKPOINT.c.seq >= first, _CHECKPOINT.c.seq <= last)
            .order_by(_CHECKPOINT.c.seq, _CHECKPOINT.c.id)
        ).mappings()
    ]
    signed = {
        "seq": last,
        "hash": head["hash"],
        "time": iso_utc(head["time"]),
        "count": int(head["count"]),
        "key_id": head["key_id"],
        "signature": head["signature"],
        "head_line": head_line(last, head["hash"], head["time"], head["signature"]),
    }
    return {
        "entries": entries,
        "head": signed,
        "checkpoints": checkpoints,
        "first_seq": entries[0]["seq"] if entries else None,
        "last_seq": entries[-1]["seq"] if entries else None,
        "truncated": truncated,
    }
