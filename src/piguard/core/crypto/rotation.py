"""Key rotation: every encrypted column re-encrypted under the current key, as a resumable job.

:func:`start` checks the keyring against the database before anything changes (a key id configured
with another secret than the one it was first seen with, a blind-index key that changed, a value
under a key id that is not configured, or one a configured key does not open: each a clear error
naming the key id, nothing changed), then opens a rotation (or resumes the unfinished one towards the
same key). :func:`step` re-encrypts one batch of one column and moves that column's progress in the
same transaction: a job killed at any point has committed whole batches only, every row is readable
under one of the configured keys, and since a row is chosen only while its value is *not* under the
target key and rewritten only if it still holds the value read (compare-and-set), nothing is ever
encrypted twice. When every column is through, a sweep looks for values written under an old key
meanwhile (a process still running with the former ``PIGUARD_FIELD_KEY_ID``) and goes over them again.

The caller owns the transaction: one :func:`step` per unit of work (``piguard keys rotate``).
Keyed hashes (blind indexes) are not touched: their key is not an encryption key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, false, func, not_, or_, select, type_coerce, update
from sqlalchemy.orm import Session

from piguard.core.crypto.fields import EncryptedColumn, decrypt, encrypt, encrypted_columns, key_id_of
from piguard.core.crypto.keys import OBLIGATIONS, Keyring, keyring, unknown_key, wrong_key
from piguard.core.crypto.models import CryptoKey, CryptoRotation, CryptoRotationColumn
from piguard.core.db import Base, utcnow
from piguard.core.errors import FieldError, PiguardError
from piguard.core.refs import new_ref
from piguard.regulations.markers import carries

BLIND_INDEX_ID = "blind-index"
MAX_SWEEPS = 3
DEFAULT_BATCH = 500


def _raw(c: EncryptedColumn) -> tuple[Any, ColumnElement[Any], ColumnElement[str]]:
    t = Base.metadata.tables[c.table]
    return t, t.c[c.key], type_coerce(t.c[c.column], Text())


def _count(session: Session, c: EncryptedColumn, *where: ColumnElement[bool]) -> int:
    t, _, _ = _raw(c)
    return session.scalar(select(func.count()).select_from(t).where(*where)) or 0


def _name(c: EncryptedColumn) -> str:
    return f"{c.table}.{c.column}"


# -- status ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    id: str
    source: str
    fingerprint: str
    #: the fingerprint recorded when the key was first seen (None: never recorded)
    recorded: str | None
    current: bool = False

    @property
    def matches(self) -> bool:
        return self.recorded is None or self.recorded == self.fingerprint

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "recorded": self.recorded,
            "current": self.current,
            "matches": self.matches,
        }


@dataclass(frozen=True)
class ColumnStatus:
    table: str
    column: str
    category: str
    #: rows per key id; ``?`` counts values under a key id that is not configured
    by_key: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "column": self.column, "category": self.category, "by_key": self.by_key}


@dataclass(frozen=True)
class RotationInfo:
    ref: str
    target: str
    status: str
    rows_done: int
    sweeps: int
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "target": self.target,
            "status": self.status,
            "rows_done": self.rows_done,
            "sweeps": self.sweeps,
            "columns": self.columns,
        }


@dataclass(frozen=True)
class Status:
    keys: list[KeyInfo]
    blind_index: KeyInfo
    columns: list[ColumnStatus]
    rotation: RotationInfo | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": [k.to_dict() for k in self.keys],
            "blind_index": self.blind_index.to_dict(),
            "columns": [c.to_dict() for c in self.columns],
            "rotation": self.rotation.to_dict() if self.rotation else None,
        }


def _recorded(session: Session) -> dict[str, str]:
    return {k: f for k, f in session.execute(select(CryptoKey.key_id, CryptoKey.fingerprint))}


def _key_infos(session: Session, ring: Keyring) -> tuple[list[KeyInfo], KeyInfo]:
    rec = _recorded(session)
    keys = [
        KeyInfo(k.id, k.source, k.fingerprint, rec.get(k.id), k.id == ring.current)
        for k in ring.keys.values()
    ]
    blind = KeyInfo(BLIND_INDEX_ID, ring.blind_index_source, ring.blind_fingerprint, rec.get(BLIND_INDEX_ID))
    return keys, blind


def _counts(session: Session, c: EncryptedColumn, ring: Keyring) -> dict[str, int]:
    _, _, raw = _raw(c)
    total = _count(session, c, raw.is_not(None))
    out: dict[str, int] = {}
    for key_id in ring.keys:
        n = _count(session, c, raw.like(f"{key_id}:%"))
        if n:
            out[key_id] = n
    if total - sum(out.values()):
        out["?"] = total - sum(out.values())
    return out


def _info(session: Session, job: CryptoRotation) -> RotationInfo:
    cols = session.scalars(
        select(CryptoRotationColumn)
        .where(CryptoRotationColumn.rotation_id == job.id)
        .order_by(CryptoRotationColumn.id)
    ).all()
    return RotationInfo(
        job.ref,
        job.target_key_id,
        job.status,
        job.rows_done,
        job.sweeps,
        {
            f"{c.table_name}.{c.column_name}": {"rows": c.rows, "after_id": c.after_id, "done": c.done}
            for c in cols
        },
    )


def _running(session: Session) -> list[CryptoRotation]:
    return list(
        session.scalars(
            select(CryptoRotation).where(CryptoRotation.status == "running").order_by(CryptoRotation.id)
        )
    )


def _last(session: Session) -> CryptoRotation | None:
    return session.scalars(select(CryptoRotation).order_by(CryptoRotation.id.desc()).limit(1)).first()


@carries("O24-10")
def status(session: Session) -> Status:
    """The keyring (ids, fingerprints, which is current), the rows under each key per encrypted
    column, and the last rotation with its progress."""
    ring = keyring()
    keys, blind = _key_infos(session, ring)
    cols = [
        ColumnStatus(c.table, c.column, c.category, _counts(session, c, ring)) for c in encrypted_columns()
    ]
    last = _last(session)
    return Status(keys, blind, cols, _info(session, last) if last else None)


# -- checks before anything changes ----------------------------------------------------------------


def blind_index_changed() -> PiguardError:
    return PiguardError(
        "blind_index_key_changed",
        "The blind-index key is not the one the stored keyed hashes were made with: every look-up by "
        "phone number, e-mail or ID would miss. Nothing was changed; configure the former key "
        "(PIGUARD_BLIND_INDEX_KEY, or PIGUARD_FIELD_KEY where it was never set).",
        "盲索引密钥与生成已存哈希时所用的不同：按手机号、邮箱或证件号的查找都会失效。未作任何更改；"
        "请配置原密钥（PIGUARD_BLIND_INDEX_KEY；未设置时为 PIGUARD_FIELD_KEY）。",
        obligations=OBLIGATIONS,
        fields=[FieldError("key_id", BLIND_INDEX_ID)],
        http_status=500,
        exit_code=2,
    )


@carries("O24-10")
def check(session: Session, ring: Keyring | None = None) -> None:
    """Refuse a keyring that does not fit the database: a key id whose fingerprint differs from the
    one recorded, a changed blind-index key, a value under an unconfigured key id, a value that its
    configured key does not open (one sample per key id and column)."""
    r = ring or keyring()
    keys, blind = _key_infos(session, r)
    for k in keys:
        if not k.matches:
            raise wrong_key(k.id, "fingerprint differs from the one recorded / 指纹与记录不符")
    if not blind.matches:
        raise blind_index_changed()
    for c in encrypted_columns():
        _, _, raw = _raw(c)
        for key_id in r.keys:
            sample = session.scalar(select(raw).where(raw.like(f"{key_id}:%")).limit(1))
            if sample is not None:
                decrypt(sample, ring=r, where=_name(c))
        known = or_(false(), *(raw.like(f"{i}:%") for i in r.keys))
        other = session.scalar(select(raw).where(raw.is_not(None), not_(known)).limit(1))
        if other is not None:
            key_id = key_id_of(other)
            if key_id:
                raise unknown_key(key_id, r)
            decrypt(other, ring=r, where=_name(c))  # not a ciphertext: that error


def _remember(session: Session, ring: Keyring) -> None:
    rec = _recorded(session)
    now = utcnow()
    for k in ring.keys.values():
        if k.id not in rec:
            session.add(CryptoKey(key_id=k.id, kind="field", fingerprint=k.fingerprint, first_seen_at=now))
    if BLIND_INDEX_ID not in rec:
        session.add(
            CryptoKey(
                key_id=BLIND_INDEX_ID,
                kind="blind_index",
                fingerprint=ring.blind_fingerprint,
                first_seen_at=now,
            )
        )
    session.flush()


# -- the job -------------------------------------------------------------------------------------------


def _ensure_columns(session: Session, job: CryptoRotation) -> None:
    have = {
        (t, c)
        for t, c in session.execute(
            select(CryptoRotationColumn.table_name, CryptoRotationColumn.column_name).where(
                CryptoRotationColumn.rotation_id == job.id
            )
        )
    }
    for c in encrypted_columns():
        if (c.table, c.column) not in have:
            session.add(CryptoRotationColumn(rotation_id=job.id, table_name=c.table, column_name=c.column))
    session.flush()


@carries("O24-10")
def start(
    session: Session, *, target: str | None = None, started_by: str | None = None
) -> tuple[RotationInfo, bool]:
    """Check the keys, then open a rotation towards ``target`` (default: the current key) or resume
    the unfinished one towards it; ``(rotation, resumed)``. Another unfinished rotation (towards a
    key no longer current) is superseded: its rows are picked up by this one."""
    ring = keyring()
    goal = target or ring.current
    ring.key(goal)
    check(session, ring)
    _remember(session, ring)
    job: CryptoRotation | None = None
    now = utcnow()
    for r in _running(session):
        if r.target_key_id == goal and job is None:
            job = r
        else:
            r.status, r.finished_at, r.updated_at = "superseded", now, now
    resumed = job is not None
    if job is None:
        job = CryptoRotation(
            ref=new_ref(),
            target_key_id=goal,
            status="running",
            started_at=now,
            updated_at=now,
            started_by=started_by,
        )
        session.add(job)
        session.flush()
    _ensure_columns(session, job)
    return _info(session, job), resumed


@dataclass(frozen=True)
class StepResult:
    ref: str
    #: the column this batch went over ("" when the step only finished the job)
    column: str
    rows: int
    finished: bool
    rows_done: int


def no_rotation() -> PiguardError:
    return PiguardError(
        "rotation_not_running",
        "No key rotation is running: start one with `piguard keys rotate`.",
        "没有正在进行的密钥轮换：请用 `piguard keys rotate` 开始。",
        obligations=("O24-10",),
        http_status=404,
        exit_code=2,
    )


@carries("O24-10")
def step(session: Session, ref: str, *, batch_size: int = DEFAULT_BATCH) -> StepResult:
    """Re-encrypt up to ``batch_size`` values of the first unfinished column of rotation ``ref``
    under its target key and record the progress, in the caller's transaction."""
    if batch_size < 1:
        raise PiguardError(
            "validation_error", "batch_size must be at least 1.", "batch_size 至少为 1。",
            fields=[FieldError("batch_size", ">= 1")], http_status=422,
        )  # fmt: skip
    job = session.scalars(select(CryptoRotation).where(CryptoRotation.ref == ref).with_for_update()).first()
    if job is None or job.status != "running":
        raise no_rotation()
    ring = keyring()
    target = ring.key(job.target_key_id)
    columns = {(c.table, c.column): c for c in encrypted_columns()}
    progress = session.scalars(
        select(CryptoRotationColumn)
        .where(CryptoRotationColumn.rotation_id == job.id, CryptoRotationColumn.done.is_(False))
        .order_by(CryptoRotationColumn.id)
    ).all()
    now = utcnow()
    skipped = ""
    for p in progress:
        c = columns.get((p.table_name, p.column_name))
        if c is None:  # a column no longer encrypted (or its model not loaded): nothing to do
            p.done = True
            continue
        t, pk, raw = _raw(c)
        q = select(pk, raw).where(raw.is_not(None), raw.not_like(f"{target.id}:%"))
        if p.after_id is not None:
            q = q.where(pk > p.after_id)
        rows = session.execute(q.order_by(pk).limit(batch_size).with_for_update()).all()
        if rows:
            params = []
            for row_id, old in rows:
                clear = decrypt(old, ring=ring, where=f"{_name(c)} id {row_id}")
                params.append(
                    {"_pk": row_id, "_old": old, "_new": encrypt(clear, key_id=target.id, ring=ring)}
                )
            stmt = (
                update(t)
                .where(pk == bindparam("_pk"), raw == bindparam("_old", type_=Text()))
                .values({c.column: bindparam("_new", type_=Text())})
            )
            session.execute(stmt, params)
            p.after_id = int(rows[-1][0])
            p.rows += len(rows)
            job.rows_done += len(rows)
        if len(rows) < batch_size:
            p.done = True
        if not rows:
            skipped = _name(c)
            continue  # an empty (or finished) column costs no step: go on to one with values
        job.updated_at = now
        session.flush()
        return StepResult(job.ref, _name(c), len(rows), False, job.rows_done)
    if skipped:  # the last columns were empty: the final check is the next step's, as always
        job.updated_at = now
        session.flush()
        return StepResult(job.ref, skipped, 0, False, job.rows_done)
    # every column went through: anything left under an old key (written meanwhile)?
    left = {n: k for n, k in ((_name(c), _left(session, c, target.id)) for c in columns.values()) if k}
    if not left:
        job.status, job.finished_at, job.updated_at = "done", now, now
        session.flush()
        return StepResult(job.ref, "", 0, True, job.rows_done)
    if job.sweeps >= MAX_SWEEPS:
        raise PiguardError(
            "rotation_incomplete",
            f"Values are still being written under old keys ({', '.join(left)}): stop or restart every "
            "process still configured with the former PIGUARD_FIELD_KEY_ID, then run `piguard keys rotate` again.",
            f"仍有数据以旧密钥写入（{'、'.join(left)}）：请停止或重启仍使用旧 PIGUARD_FIELD_KEY_ID 的进程，"
            "然后再次运行 `piguard keys rotate`。",
            obligations=("O24-10",),
            http_status=409,
            exit_code=1,
        )
    job.sweeps += 1
    for p in session.scalars(select(CryptoRotationColumn).where(CryptoRotationColumn.rotation_id == job.id)):
        if f"{p.table_name}.{p.column_name}" in left:
            p.done, p.after_id = False, None
    job.updated_at = now
    session.flush()
    return StepResult(job.ref, "", 0, False, job.rows_done)


def _left(session: Session, c: EncryptedColumn, target: str) -> int:
    _, _, raw = _raw(c)
    return _count(session, c, raw.is_not(None), raw.not_like(f"{target}:%"))


def info(session: Session, ref: str) -> RotationInfo:
    job = session.scalars(select(CryptoRotation).where(CryptoRotation.ref == ref)).first()
    if job is None:
        raise no_rotation()
    return _info(session, job)
