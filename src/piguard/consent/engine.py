"""The use decision and its cache: fast on the hot path, never stale across workers.

**How a worker knows its cache is current.** Every ledger change (grant, refuse, withdraw, expire,
accept_rules, cancel, suspension) bumps one row, ``consent_epoch``, *in the same transaction* and
stamps the changed subject's row with that epoch (``consent_subjects.changed_epoch``; a suspension
stamps ``global_value`` instead). The row lock on ``consent_epoch`` orders the writers, so epochs
commit in order. At the first decision of each database transaction a worker reads that one row by
primary key; when it moved, it drops the subjects whose ``changed_epoch`` is newer than the epoch it
last saw (one indexed query), or everything after a global change. Every later decision in the
same transaction is answered from memory: a dict look-up and a memoised :class:`Decision`.

So a withdrawal committed by any worker takes effect at the next transaction of every worker, with
one primary-key read per transaction, not per decision. A transaction's own uncommitted changes
bypass the cache for the subjects it touched (``session.info``), so it sees its own withdrawal at
once; a transaction that began before another worker's withdrawal committed decides as of its own
start, which is what its other reads see too (SQLite and PostgreSQL REPEATABLE READ exactly). The
purposes and the rules version come from the :class:`~piguard.consent.purposes.PurposeSource`,
read again when the source's ``current_rules_version`` changes (one call per transaction).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from piguard.consent.models import ConsentEpoch, ConsentState, ConsentSubject, ConsentSuspension
from piguard.consent.purposes import PurposeSource, PurposeView, get_source
from piguard.consent.subjects import Subject, parse
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, validation_error
from piguard.core.reasons import Decision, Reason
from piguard.discovery.categories import CODES as CATEGORY_CODES
from piguard.regulations.markers import carries

ALL = "*"
_MARK = "piguard.consent.validated"
_DIRTY = "piguard.consent.dirty"
_MAX_EVICT = 10_000  # more changed subjects than this since the last look: drop the whole cache
_MAX_SUBJECTS = 500_000
_KNOWN_CATEGORIES = frozenset(CATEGORY_CODES)

NO_CONSENT_IDS = ("O24-9.1", "CSL-41.1", "CRL-29", "NPC-2")


# ------------------------------------------------------------------------------------- reasons


def _r(code: str, ids: tuple[str, ...], en: str, zh: str, **detail: Any) -> Reason:
    return Reason(code, ids, en, zh, detail)


def reason_no_consent(purpose: str, status: str | None, required: bool) -> Reason:
    if required:
        en = f"The user has not accepted the rules that cover the required purpose {purpose!r} (or withdrew it)."
        zh = f"用户未接受涵盖必要目的“{purpose}”的个人信息收集使用规则（或已撤回）。"
    else:
        en = f"The user has not consented to the optional purpose {purpose!r}."
        zh = f"用户未同意可选目的“{purpose}”。"
    return _r(
        "no_consent", NO_CONSENT_IDS, en, zh, purpose=purpose, status=status or "none", required=required
    )


def reason_undeclared(purpose: str, known: Iterable[str]) -> Reason:
    return _r(
        "purpose_not_declared",
        ("O24-9.3", "CSL-41.1", "O24-9.1"),
        f"{purpose!r} is not a purpose declared in the published rules.",
        f"“{purpose}”不是已公布规则中声明的目的。",
        purpose=purpose,
        known=sorted(known),
    )


def reason_category(purpose: str, extra: Iterable[str]) -> Reason:
    extra = sorted(extra)
    return _r(
        "category_not_needed",
        ("O24-9.3", "CSL-41.2"),
        f"The purpose {purpose!r} does not need: {', '.join(extra)}.",
        f"目的“{purpose}”不需要以下类别：{'、'.join(extra)}。",
        purpose=purpose,
        categories=extra,
    )


REASON_CANCELLED = _r(
    "account_cancelled",
    ("O24-9.4",),
    "The user cancelled the account: collection and use have stopped.",
    "用户已注销账号：已停止收集和使用其个人信息。",
)


def reason_suspended(purpose: str, scope: str) -> Reason:
    return _r(
        "processing_suspended",
        ("O24-14.2",),
        "The authority ordered this processing suspended."
        if scope == ALL
        else f"Processing for {purpose!r} is suspended by order of the authority.",
        "主管部门已责令暂停相关处理活动。"
        if scope == ALL
        else f"目的“{purpose}”的处理已按主管部门要求暂停。",
        purpose=purpose,
        scope=scope,
    )


def reason_renewal(purpose: str, given: int, current: int) -> Reason:
    return _r(
        "renewal_needed",
        ("O24-9.1", "O24-9.2", "CSL-41.1"),
        f"Consent was given to rules version {given}; version {current} changed {purpose!r} materially: ask again.",
        f"用户同意的是第 {given} 版规则；第 {current} 版对目的“{purpose}”有重大变更，须重新征得同意。",
        purpose=purpose,
        given_version=given,
        current_version=current,
    )


def reason_expired(purpose: str) -> Reason:
    return _r(
        "consent_expired",
        NO_CONSENT_IDS,
        f"The consent to {purpose!r} has expired.",
        f"用户对目的“{purpose}”的同意已过期。",
        purpose=purpose,
    )


def reason_ok(purpose: str, required: bool, version: int | None) -> Reason:
    how_en = "accepted rules" if required else "consent"
    how_zh = "已接受规则" if required else "已同意"
    return _r(
        "consent_valid",
        ("O24-9.1", "CSL-41.1"),
        f"Live {how_en} for {purpose!r}" + (f" (rules version {version})." if version is not None else "."),
        f"目的“{purpose}”：用户{how_zh}" + (f"（第 {version} 版规则）。" if version is not None else "。"),
        purpose=purpose,
        required=required,
        rules_version=version,
    )


# ------------------------------------------------------------------------------------- sharing reasons
# The sharing decision (``service.may_share``, CSL-42.1): provision to others needs a registered
# recipient, a provision the register declares, and consent, unless the information is
# de-identified beyond restoration.


def reason_unregistered(party: str, known: Iterable[str]) -> Reason:
    return _r(
        "third_party_unregistered",
        ("CSL-42.1", "CSL-41.1", "O24-8"),
        f"{party!r} is not a third party in the sharing register: nothing may be provided to it.",
        f"“{party}”不在向第三方提供登记中：不得向其提供个人信息。",
        third_party=party,
        registered=sorted(known),
    )


def reason_sharing_not_declared(
    party: str, purpose: str, undeclared: Iterable[str], declared: Iterable[str]
) -> Reason:
    undeclared, declared = sorted(undeclared), sorted(declared)
    if declared:
        en = f"The register does not provide {', '.join(undeclared)} to {party!r} for {purpose!r} (it declares: {', '.join(declared)})."
        zh = f"登记中未声明为目的“{purpose}”向“{party}”提供{'、'.join(undeclared)}（已声明：{'、'.join(declared)}）。"
    else:
        en = f"The register provides nothing to {party!r} for {purpose!r}."
        zh = f"登记中未声明为目的“{purpose}”向“{party}”提供任何个人信息。"
    return _r(
        "sharing_not_declared",
        ("CSL-42.1", "O24-9.3", "CSL-41.1"),
        en,
        zh,
        third_party=party,
        purpose=purpose,
        categories=undeclared,
        declared=declared,
    )


def reason_sharing_not_published(party: str, purpose: str, undeclared: Iterable[str], version: int) -> Reason:
    undeclared = sorted(undeclared)
    return _r(
        "sharing_not_published",
        ("CSL-42.1", "O24-8", "CSL-41.1"),
        f"The rules in force (version {version}) do not tell users that {party!r} receives "
        f"{', '.join(undeclared)} for {purpose!r}: publish the rules (and ask again) before providing it.",
        f"现行规则（第 {version} 版）未告知用户为目的“{purpose}”向“{party}”提供{'、'.join(undeclared)}："
        "请先公布规则（并重新征得同意）再提供。",
        third_party=party,
        purpose=purpose,
        categories=undeclared,
        rules_version=version,
    )


def reason_sharing_declared(party: str, purpose: str, categories: Iterable[str]) -> Reason:
    cats = sorted(categories)
    return _r(
        "sharing_declared",
        ("CSL-42.1", "CSL-41.1"),
        f"The register provides {', '.join(cats)} to {party!r} for {purpose!r}.",
        f"登记中已声明为目的“{purpose}”向“{party}”提供{'、'.join(cats)}。",
        third_party=party,
        purpose=purpose,
        categories=cats,
    )


def reason_cross_border(party: str) -> Reason:
    return _r(
        "cross_border_recipient",
        ("CSL-42.1",),
        f"{party!r} is outside China: providing information abroad needs more than consent "
        "(a security assessment or standard contract, and the user told so); check it before sending.",
        f"“{party}”位于中国境外：向境外提供个人信息不止需要同意（还需安全评估或标准合同并告知用户），发送前请核实。",
        third_party=party,
    )


def reason_deid_unproven() -> Reason:
    return _r(
        "deidentification_unproven",
        ("CSL-42.1",),
        "The information is said to be de-identified but no de-identification method is named: "
        "the exception for information that cannot be restored does not apply.",
        "声称已去标识化但未说明去标识化方法：不适用“无法复原”的例外。",
    )


def reason_deid_reversible(method: str) -> Reason:
    return _r(
        "deidentification_reversible",
        ("CSL-42.1", "O24-10"),
        f"{method!r} can be reversed or re-linked by whoever holds the key or the rest of the value: "
        "the information is still personal information and needs consent to be provided.",
        f"“{method}”可由持有密钥或其余信息者复原或重新关联：仍属个人信息，向他人提供须经同意。",
        method=method,
    )


def reason_k_anonymity_missing(method: str) -> Reason:
    return _r(
        "k_anonymity_missing",
        ("CSL-42.1",),
        f"{method!r} coarsens values but a person can still be singled out by their combination: "
        "a passed k-anonymity check of the data set is required.",
        f"“{method}”仅将数值泛化，组合后仍可能识别到个人：须提供通过的 k-匿名检查。",
        method=method,
    )


def reason_deidentified(method: str, k: int | None) -> Reason:
    return _r(
        "deidentified_beyond_restoration",
        ("CSL-42.1",),
        f"De-identified by {method!r}"
        + (f", k-anonymity k={k} passed" if k else "")
        + ": no specific person can be identified and it cannot be restored, so consent is not needed.",
        f"已采用“{method}”去标识化"
        + (f"，并通过 k={k} 的 k-匿名检查" if k else "")
        + "：无法识别特定个人且不能复原，无需同意。",
        method=method,
        k=k,
    )


# ------------------------------------------------------------------------------------- views


@dataclass(slots=True)
class StateView:
    status: str
    rules_version: int | None
    valid_until: datetime | None


@dataclass(slots=True)
class SubjectView:
    hash: str
    id: int | None  # None: no ledger row (no consent at all)
    rules_version: int | None
    cancelled: bool
    states: dict[str, StateView]
    memo: dict[tuple[str, frozenset[str]], tuple[Decision, datetime | None]] = field(default_factory=dict)


@dataclass(slots=True)
class Catalogue:
    source: PurposeSource
    version: int | None
    purposes: dict[str, PurposeView]
    material: dict[int, frozenset[str]] = field(default_factory=dict)

    def material_since(self, session: Session, version: int) -> frozenset[str]:
        got = self.material.get(version)
        if got is None:
            got = frozenset(self.source.material_changes_since(session, version))
            self.material[version] = got
        return got


class ConsentCache:
    """One per worker (per engine in a process); shared by its threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epoch = -1
        self.subjects: dict[str, SubjectView] = {}
        self.catalogue: Catalogue | None = None
        self.suspended: dict[str, str] | None = None  # purpose or "*" -> order ref

    def clear(self) -> None:
        with self.lock:
            self.epoch = -1
            self.subjects.clear()
            self.catalogue = None
            self.suspended = None


_CACHES: weakref.WeakKeyDictionary[Engine, ConsentCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_for(session: Session) -> ConsentCache:
    bind = session.get_bind()
    eng = bind if isinstance(bind, Engine) else bind.engine
    cache = _CACHES.get(eng)
    if cache is None:
        with _CACHES_LOCK:
            cache = _CACHES.setdefault(eng, ConsentCache())
    return cache


# ------------------------------------------------------------------------------------- writers' side


def bump(session: Session, subject: ConsentSubject | None) -> int:
    """Advance the ledger epoch in this transaction; stamp ``subject`` (or mark a global change)."""
    new = session.execute(
        update(ConsentEpoch)
        .where(ConsentEpoch.id == 1)
        .values(value=ConsentEpoch.value + 1)
        .returning(ConsentEpoch.value)
    ).scalar()
    if new is None:
        try:
            with session.begin_nested():
                session.execute(insert(ConsentEpoch).values(id=1, value=0, global_value=0))
        except IntegrityError:
            pass  # another writer created it first
        new = session.execute(
            update(ConsentEpoch)
            .where(ConsentEpoch.id == 1)
            .values(value=ConsentEpoch.value + 1)
            .returning(ConsentEpoch.value)
        ).scalar_one()
    if subject is None:
        session.execute(update(ConsentEpoch).where(ConsentEpoch.id == 1).values(global_value=new))
    else:
        subject.changed_epoch = new
    tx = session.get_transaction()
    dirty: tuple[Any, set[str]] | None = session.info.get(_DIRTY)
    if dirty is None or dirty[0] is not tx:
        dirty = (tx, set())
        session.info[_DIRTY] = dirty
    dirty[1].add(ALL if subject is None else subject.subject_hash)
    return int(new)


# ------------------------------------------------------------------------------------- readers' side


@dataclass(slots=True)
class _Tx:
    epoch: int


def _validate(session: Session, cache: ConsentCache) -> _Tx:
    row = session.execute(
        select(ConsentEpoch.value, ConsentEpoch.global_value).where(ConsentEpoch.id == 1)
    ).first()
    value, global_value = (int(row[0]), int(row[1])) if row is not None else (0, 0)
    if value != cache.epoch:
        with cache.lock:
            if cache.epoch < 0 or global_value > cache.epoch or value < cache.epoch:
                cache.subjects.clear()
                cache.suspended = None
            else:
                changed = list(
                    session.scalars(
                        select(ConsentSubject.subject_hash)
                        .where(ConsentSubject.changed_epoch > cache.epoch)
                        .limit(_MAX_EVICT + 1)
                    )
                )
                if len(changed) > _MAX_EVICT:
                    cache.subjects.clear()
                else:
                    for h in changed:
                        cache.subjects.pop(h, None)
            cache.epoch = value
    source = get_source()
    version = source.current_rules_version(session)
    cat = cache.catalogue
    stale = cat is None or cat.source is not source or cat.version != version
    fresh: dict[str, PurposeView] | None = None
    if not stale and version is None:
        # nothing published yet: the declared purposes may change without a version, so they are
        # read again (only a changed list drops the memoised decisions)
        fresh = {p.id: p for p in source.purposes(session)}
        stale = cat is None or fresh != cat.purposes
    if stale:
        if fresh is None:
            fresh = {p.id: p for p in source.purposes(session)}
        cat = Catalogue(source, version, fresh)
        with cache.lock:
            cache.catalogue = cat
            for v in cache.subjects.values():
                v.memo.clear()
    if cache.suspended is None:
        cache.suspended = _load_suspensions(session)
    tx = _Tx(value)
    session.info[_MARK] = (session.get_transaction(), cache, tx)
    return tx


def _load_suspensions(session: Session) -> dict[str, str]:
    return {
        p: ref
        for p, ref in session.execute(
            select(ConsentSuspension.purpose_id, ConsentSuspension.order_ref).where(
                ConsentSuspension.ended_at.is_(None)
            )
        )
    }


def load_subject(session: Session, subject_hash: str) -> SubjectView:
    row = session.execute(
        select(ConsentSubject.id, ConsentSubject.rules_version, ConsentSubject.cancelled_at).where(
            ConsentSubject.subject_hash == subject_hash
        )
    ).first()
    if row is None:
        return SubjectView(subject_hash, None, None, False, {})
    states = {
        p: StateView(st, v, until)
        for p, st, v, until in session.execute(
            select(
                ConsentState.purpose_id,
                ConsentState.status,
                ConsentState.rules_version,
                ConsentState.valid_until,
            ).where(ConsentState.subject_id == row[0])
        )
    }
    return SubjectView(subject_hash, int(row[0]), row[1], row[2] is not None, states)


def check_categories(categories: Iterable[str]) -> frozenset[str]:
    cats = categories if isinstance(categories, frozenset) else frozenset(categories)
    if not cats <= _KNOWN_CATEGORIES:
        unknown = sorted(str(c) for c in cats - _KNOWN_CATEGORIES)
        raise validation_error(
            [
                FieldError("categories", f"unknown category {u[:40]!r}; known: {', '.join(CATEGORY_CODES)}")
                for u in unknown
            ],
            "Unknown PI category.",
            "未知的个人信息类别。",
        )
    return cats


@carries("O24-9.1", "O24-9.3", "O24-9.4", "O24-14.2", "CSL-41.1", "CSL-41.2", "CRL-29", "NPC-2")
def evaluate(
    session: Session,
    view: SubjectView,
    cat: Catalogue,
    suspended: dict[str, str],
    cats: frozenset[str],
    purpose: str,
    now: datetime,
) -> tuple[Decision, datetime | None]:
    """The decision for one use, and until when it holds (a consent's expiry), from the views."""
    p = cat.purposes.get(purpose)
    if p is None:
        return Decision.refuse(reason_undeclared(purpose, cat.purposes)), None
    refusals: list[Reason] = []
    if suspended:
        scope = ALL if ALL in suspended else (purpose if purpose in suspended else None)
        if scope is not None:
            refusals.append(reason_suspended(purpose, scope))
    if view.cancelled:
        refusals.append(REASON_CANCELLED)
    if p.categories is not None and not cats <= p.categories:
        refusals.append(reason_category(purpose, cats - p.categories))
    st = view.states.get(purpose)
    until: datetime | None = None
    if st is None or st.status != "granted":
        if (
            st is None
            and p.required
            and view.rules_version is not None
            and cat.version is not None
            and view.rules_version < cat.version
        ):
            refusals.append(reason_renewal(purpose, view.rules_version, cat.version))
        else:
            refusals.append(reason_no_consent(purpose, st.status if st else None, p.required))
    elif st.valid_until is not None and st.valid_until <= now:
        refusals.append(reason_expired(purpose))
    else:
        until = st.valid_until
        if (
            cat.version is not None
            and st.rules_version is not None
            and st.rules_version < cat.version
            and purpose in cat.material_since(session, st.rules_version)
        ):
            refusals.append(reason_renewal(purpose, st.rules_version, cat.version))
    if refusals:
        return Decision.refuse(*refusals), None
    return Decision.allow(reason_ok(purpose, p.required, st.rules_version if st else None)), until


def catalogue(session: Session) -> Catalogue:
    """The declared purposes as this transaction's decisions see them (read once per transaction,
    as :func:`decide` reads them): for callers that check a purpose before deciding."""
    cache = cache_for(session)
    mark = session.info.get(_MARK)
    tx = session.get_transaction()
    if mark is None or tx is None or mark[0] is not tx or mark[1] is not cache:
        _validate(session, cache)
    cat = cache.catalogue
    assert cat is not None
    return cat


def decide(
    session: Session,
    subject: str | Subject,
    categories: Iterable[str],
    purpose: str,
    *,
    now: datetime | None = None,
    cache: ConsentCache | None = None,
) -> Decision:
    """:func:`piguard.consent.service.may` without the actor: see the module doc for freshness."""
    s = subject if isinstance(subject, Subject) else parse(subject)
    if cache is None:
        cache = cache_for(session)
    info = session.info
    tx = session.get_transaction()
    mark = info.get(_MARK)
    if mark is None or tx is None or mark[0] is not tx or mark[1] is not cache:
        state = _validate(session, cache)
        tx = session.get_transaction()
    else:
        state = mark[2]
    cats = check_categories(categories)
    if type(purpose) is not str or not purpose:
        raise validation_error([FieldError("purpose", "a purpose id is required / 须提供目的编号")])
    dirty = info.get(_DIRTY)
    cat = cache.catalogue
    suspended = cache.suspended
    assert cat is not None and suspended is not None
    if dirty is not None and dirty[0] is tx and (s.hash in dirty[1] or ALL in dirty[1]):
        # this transaction changed the ledger and has not committed: read it, cache nothing
        if ALL in dirty[1]:
            suspended = _load_suspensions(session)
        view = load_subject(session, s.hash)
        return evaluate(session, view, cat, suspended, cats, purpose, now or utcnow())[0]
    got = cache.subjects.get(s.hash)
    if got is not None:
        view = got
    else:
        view = load_subject(session, s.hash)
        with cache.lock:
            if cache.epoch == state.epoch and len(cache.subjects) < _MAX_SUBJECTS:
                cache.subjects[s.hash] = view
    key = (purpose, cats)
    hit = view.memo.get(key)
    if hit is not None:
        until = hit[1]
        if until is None:
            return hit[0]
        if (now or utcnow()) < until:
            return hit[0]
    decision, until = evaluate(session, view, cat, suspended, cats, purpose, now or utcnow())
    view.memo[key] = (decision, until)
    return decision


def reset_caches() -> None:
    """Forget every worker cache in this process (tests; after restoring a database backup)."""
    with _CACHES_LOCK:
        for cache in list(_CACHES.values()):
            cache.clear()
