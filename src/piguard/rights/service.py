"""End users' requests: open one (a case with its clock), plan its steps over the inventory, run
them resumably, answer it.

* :func:`open_request` checks the input, opens the case (``cases.service.open_case``: the clock is the
  dated parameter ``rights.request_reply_days``), and plans one step per system/table/action;
* :func:`run_pending` claims due steps and runs them (a step spans piguard's database and the
  operator's, so this one function commits, step by step; see docs/rights.md "Exactly once");
* :func:`show`, :func:`export_path`, :func:`requests_for_subject`, :func:`complete_task`, :func:`retry`.

Other service functions take a session and do not commit.
"""

from __future__ import annotations

import html
import json
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.cases import service as cases
from piguard.cases.models import Case
from piguard.consent import service as consent
from piguard.consent import subjects
from piguard.core.calendar import to_local_date
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, not_found, validation_error
from piguard.core.reasons import Reason
from piguard.core.refs import as_row_id
from piguard.inventory.models import InvField, InvSystem, InvTable
from piguard.messaging.records import protect
from piguard.regulations.markers import carries
from piguard.regulations.parameters import value
from piguard.rights.connectors.base import TargetDown
from piguard.rights.connectors.sql import KEY_NAMES, SqlConnector
from piguard.rights.models import KINDS, RightsRequest, RightsStep

OBLIGATIONS: dict[str, tuple[str, ...]] = {
    "access": ("O24-9.2", "CSL-43"),
    "correction": ("O24-9.2", "CSL-43"),
    "deletion": ("O24-9.2", "CSL-43", "NPC-8"),
    "cancellation": ("O24-9.4", "O31-11"),
}
WORKER = Actor.system("worker.rights")
PIGUARD = "piguard"


def _int_env(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def lease() -> timedelta:
    """A claimed step whose worker has not finished it within this is taken over (not regulatory)."""
    return timedelta(seconds=_int_env("PIGUARD_RIGHTS_LEASE_SECONDS", 300))


def backoff(attempts: int) -> timedelta:
    base = _int_env("PIGUARD_RIGHTS_RETRY_SECONDS", 30)
    return timedelta(
        seconds=min(base * 2 ** max(0, attempts - 1), _int_env("PIGUARD_RIGHTS_RETRY_MAX_SECONDS", 3600))
    )


def _bad(field: str, en: str, zh: str) -> PiguardError:
    return validation_error([FieldError(field, f"{en} / {zh}")], f"Invalid request: {en}", f"请求无效：{zh}")


def exports_dir() -> Path:
    from piguard.core.config import get_settings

    return Path(get_settings().data_dir) / "rights" / "exports"


# -- opening ------------------------------------------------------------------------------------


def _changes(session: Session, kind: str, changes: object) -> dict[str, Any] | None:
    if kind != "correction":
        if changes not in (None, "", {}):
            raise _bad("changes", "only a correction takes changes", "仅更正请求可提供更改内容")
        return None
    if isinstance(changes, str):
        try:
            changes = json.loads(changes)
        except ValueError:
            raise _bad(
                "changes",
                'not valid JSON; write {"field": "value"}',
                '不是有效的 JSON，格式为 {"字段": "值"}',
            ) from None
    if not isinstance(changes, dict) or not changes:
        raise _bad("changes", 'a non-empty object {"field": "value"}', '须为非空对象 {"字段": "值"}')
    known = set(session.scalars(select(InvField.column)))
    for k, v in changes.items():
        if not isinstance(k, str) or k not in known:
            name = k if isinstance(k, str) and len(k) <= 64 else "?"
            raise validation_error(
                [FieldError(f"changes.{name}", "not a field in the inventory / 清单中没有此字段")],
                f"Invalid request: field {name!r} is not in the inventory of personal information.",
                f"请求无效：个人信息清单中没有字段 {name!r}。",
            )
        if v is not None and not isinstance(v, str | int | float | bool):
            raise _bad(f"changes.{k}", "a value must be text, a number or null", "值须为文本、数字或空")
    return dict(changes)


def _values(kind: str, raw: str) -> list[str]:
    if kind != "phone":
        return [raw]
    digits = raw[3:] if raw.startswith("+86") else raw
    return [digits, f"+86{digits}"]


def _keys(table: InvTable, subject_kind: str, raw: str) -> dict[str, list[str]]:
    names = KEY_NAMES.get(subject_kind, (subject_kind,))
    cols = sorted({str(col) for name, col in (table.subject_keys or {}).items() if name in names})
    return {c: _values(subject_kind, raw) for c in cols}


def _plan(session: Session, req: RightsRequest, case: Case, raw: str, changes: dict[str, Any] | None) -> None:
    steps: list[RightsStep] = []

    def add(system: str, table: str | None, action: str, **kw: Any) -> None:
        steps.append(
            RightsStep(
                request_id=req.id, position=len(steps), system=system, table=table, action=action, **kw
            )
        )

    for system in session.scalars(select(InvSystem).order_by(InvSystem.position, InvSystem.id)):
        conn = dict(system.connector or {})
        tables = [t for t in system.tables if _keys(t, req.subject_kind, raw)]
        if changes is not None:
            tables = [t for t in tables if any(f.column in changes for f in t.fields)]
        if not tables:
            continue
        deid = set(conn.get("deidentify") or [])
        if conn.get("kind") == "sql":
            for t in tables:
                action = {"access": "export", "correction": "update"}.get(req.kind)
                if action is None:
                    action = "deidentify" if t.name in deid else "delete"
                add(system.id, t.name, action)
        else:
            add(
                system.id,
                None,
                "manual",
                status="manual",
                owner=str(conn.get("owner") or system.owner or system.id)[:200],
                deadline=case.due_date.isoformat() if case.due_date else None,
                detail={"do": req.kind, "tables": [t.name for t in tables], "columns": sorted(changes or {})},
            )
    if req.kind in ("access", "deletion", "cancellation"):
        add(PIGUARD, "consents", "consents")
    if req.kind in ("access", "cancellation"):
        add(PIGUARD, "msg_records", "messages")
    add(PIGUARD, None, "finish")
    session.add_all(steps)


@carries("O24-9.2", "O24-9.4", "CSL-43", "NPC-8", "O24-13.2")
def open_request(
    session: Session,
    *,
    kind: str,
    subject: str,
    actor: Actor,
    source: str = "staff",
    changes: object = None,
    received: object = None,
    text: str = "",
    now: datetime | None = None,
) -> RightsRequest:
    """Open a request: bad input raises before anything is written; an end user may ask only about
    themselves (refused and audited otherwise)."""
    now = now or utcnow()
    if not isinstance(kind, str) or kind not in KINDS:
        raise _bad("kind", f"one of {', '.join(KINDS)}", f"须为 {'、'.join(KINDS)} 之一")
    s = subjects.parse(subject)
    if s.kind == "ref":
        raise _bad(
            "subject", "give the identifier itself (phone:, id_card:, account:, email:)", "须提供标识本身"
        )
    if actor.type == "end_user" and actor.id != s.hash:
        record(
            session,
            action="rights.refused",
            actor=actor,
            subject_ref=s.ref,
            outcome="refused",
            obligations=("O24-10", "O24-9.2"),
            detail={"kind": kind, "why": "other_subject"},
        )
        session.flush()
        raise PiguardError(
            "rights_other_subject",
            "You may make a request only about your own personal information.",
            "您只能就本人的个人信息提出请求。",
            obligations=("O24-10", "O24-9.2"),
            http_status=403,
        )
    ch = _changes(session, kind, changes)
    case = cases.open_case(
        session,
        kind=kind,
        received=received if received is not None else now,
        actor=actor,
        subject=s,
        source=source,
        text=text or f"{kind} request / 个人信息{_ZH[kind]}请求",
        detail={"rights": True},
        now=now,
    )
    raw = str(subject).strip().partition(":")[2].strip()
    req = RightsRequest(
        id=case.id,
        case_id=case.id,
        kind=kind,
        status="pending",
        subject_hash=s.hash,
        subject_kind=s.kind,
        subject_enc=protect.encrypt(raw),
        changes_enc=protect.encrypt(json.dumps(ch, ensure_ascii=False)) if ch else None,
        changed_columns=sorted(ch or {}),
        created_at=now,
    )
    session.add(req)
    session.flush()
    _plan(session, req, case, raw, ch)
    record(
        session,
        action="rights.open",
        actor=actor,
        subject_ref=f"case:{case.ref}",
        obligations=OBLIGATIONS[kind],
        detail={"kind": kind, "columns": sorted(ch or {})},
    )
    session.flush()
    return req


_ZH = {"access": "查询", "correction": "更正", "deletion": "删除", "cancellation": "注销账号"}


# -- reading ------------------------------------------------------------------------------------


def get(session: Session, key: int | str) -> RightsRequest:
    row = None
    row_id = as_row_id(key)
    if row_id is not None:
        row = session.get(RightsRequest, row_id)
    elif isinstance(key, str):
        case = session.scalars(select(Case).where(Case.ref == key.strip())).first()
        row = session.get(RightsRequest, case.id) if case else None
    if row is None:
        raise not_found("Request", "请求", str(key))
    return row


def steps(session: Session, req: RightsRequest) -> list[RightsStep]:
    return list(
        session.scalars(
            select(RightsStep).where(RightsStep.request_id == req.id).order_by(RightsStep.position)
        )
    )


def step_dict(st: RightsStep) -> dict[str, Any]:
    return {
        "id": st.id,
        "system": st.system,
        "table": st.table,
        "action": st.action,
        "status": st.status,
        "rows": st.rows,
        "attempts": st.attempts,
        "next_attempt_at": st.next_attempt_at.isoformat() if st.next_attempt_at else None,
        "last_error": st.last_error,
        "owner": st.owner,
        "deadline": st.deadline,
    }


#: What a request shows when read for a purpose: the person's (masked) number and the answer.
REQUEST_CATEGORIES = ("phone_mobile",)


def show(session: Session, key: int | str) -> dict[str, Any]:
    req = get(session, key)
    case = cases.get(session, req.case_id)
    out = {
        "id": req.id,
        "kind": req.kind,
        "status": case.status,
        "due": case.due_date.isoformat() if case.due_date else None,
        "steps": [step_dict(s) for s in steps(session, req)],
        "export": req.export_path,
    }
    out.update(
        ref=case.ref,
        request_status=req.status,
        estimated=case.due_estimated,
        obligations=list(case.obligations or []),
        subject=case.subject_masked,
        received=case.received_at.isoformat(),
        result=dict(req.result or {}),
        reply=case.reply_text,
    )
    return out


def open_dict(session: Session, req: RightsRequest) -> dict[str, Any]:
    case = cases.get(session, req.case_id)
    return {
        "id": req.id,
        "kind": req.kind,
        "status": case.status,
        "received": case.received_at.isoformat(),
        "due": case.due_date.isoformat() if case.due_date else None,
        "estimated": case.due_estimated,
        "obligations": list(case.obligations or []),
        "ref": case.ref,
    }


def export_path(session: Session, key: int | str) -> Path | None:
    req = get(session, key)
    if not req.export_path:
        return None
    p = Path(req.export_path)
    return p if p.is_file() else None


#: the forms an access export is kept in, and their media types
EXPORT_FORMATS = {
    "json": ("export.json", "application/json"),
    "html": ("export.html", "text/html; charset=utf-8"),
    "pdf": ("export.pdf", "application/pdf"),
}


def export_variant(path: Path, fmt: object) -> tuple[Path, str]:
    """The export in ``fmt`` (json, html or pdf) beside ``path``, and its media type (O24-9.2)."""
    if not isinstance(fmt, str) or fmt not in EXPORT_FORMATS:
        raise _bad("format", "one of json, html, pdf", "须为 json、html 或 pdf")
    name, media = EXPORT_FORMATS[fmt]
    variant = path.with_name(name)
    if not variant.is_file():  # an export written before this form existed
        raise not_found("Export", "导出文件", fmt)
    return variant, media


def requests_for_subject(session: Session, subject_hash: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(RightsRequest)
        .where(RightsRequest.subject_hash == subject_hash)
        .order_by(RightsRequest.id.desc())
    )
    return [show(session, r.id) for r in rows]


# -- manual tasks ---------------------------------------------------------------------------------


@carries("O24-9.4", "CSL-43")
def complete_task(
    session: Session, step_id: int, *, actor: Actor, rows: int | None = None, note: str = ""
) -> RightsStep:
    """Staff record that the owner did a manual task (export, correction, deletion in a system piguard
    cannot reach). Completing it twice is refused."""
    st = session.get(RightsStep, step_id)
    if st is None or st.action != "manual":
        raise not_found("Manual task", "人工任务", str(step_id))
    if st.status != "manual":
        raise PiguardError(
            "rights_task_done",
            f"Task {step_id} is already {st.status}.",
            f"任务 {step_id} 已为 {st.status}。",
            http_status=409,
        )
    if rows is not None and (not isinstance(rows, int) or rows < 0):
        raise _bad("rows", "a whole number >= 0", "须为非负整数")
    req = session.get(RightsRequest, st.request_id)
    assert req is not None
    case = cases.get(session, req.case_id)
    now = utcnow()
    st.status, st.rows, st.done_at = "done", rows, now
    st.completed_by = cases.actor_str(actor)[:160]
    if note:
        st.detail = {**(st.detail or {}), "note": str(note)[:500]}
    _step_audit(session, case, req, st, actor)
    cases.add_event(
        session,
        case,
        "step",
        actor,
        summary=f"{st.system}: manual {req.kind} done",
        detail={"step": st.id, "rows": rows},
        audit=False,
    )
    session.flush()
    return st


def retry(session: Session, step_id: int, *, actor: Actor) -> RightsStep:
    """A failed step (the inventory was fixed) or a waiting one: run it at the next round."""
    st = session.get(RightsStep, step_id)
    if st is None:
        raise not_found("Step", "步骤", str(step_id))
    if st.status not in ("failed", "waiting"):
        raise PiguardError(
            "rights_step_not_retryable",
            f"Step {step_id} is {st.status}.",
            f"步骤 {step_id} 状态为 {st.status}。",
            http_status=409,
        )
    st.status, st.next_attempt_at, st.claimed_by = "pending", None, None
    record(session, action="rights.retry", actor=actor, subject_ref=f"step:{st.id}", detail={"step": st.id})
    session.flush()
    return st


# -- running ----------------------------------------------------------------------------------------


def _step_audit(session: Session, case: Case, req: RightsRequest, st: RightsStep, actor: Actor) -> None:
    record(
        session,
        action="rights.step",
        actor=actor,
        subject_ref=f"case:{case.ref}",
        obligations=OBLIGATIONS[req.kind],
        detail={"step": st.id, "system": st.system, "table": st.table, "action": st.action, "rows": st.rows},
    )


def _eligible(now: datetime) -> Any:
    stale = now - lease()
    return or_(
        RightsStep.status == "pending",
        and_(
            RightsStep.status == "waiting",
            or_(RightsStep.next_attempt_at.is_(None), RightsStep.next_attempt_at <= now),
        ),
        and_(RightsStep.status == "running", RightsStep.claimed_at < stale),
    )


def _claim(session: Session, token: str, now: datetime, request_id: int | None) -> RightsStep | None:
    q = select(RightsStep.id, RightsStep.request_id, RightsStep.action).where(_eligible(now))
    if request_id is not None:
        q = q.where(RightsStep.request_id == request_id)
    for sid, rid, action in session.execute(
        q.order_by(RightsStep.request_id, RightsStep.position).limit(50)
    ).all():
        if action == "finish":
            left = session.scalar(
                select(func.count())
                .select_from(RightsStep)
                .where(
                    RightsStep.request_id == rid, RightsStep.action != "finish", RightsStep.status != "done"
                )
            )
            if left:
                continue
        res = session.execute(
            update(RightsStep)
            .where(RightsStep.id == sid, _eligible(now))
            .values(status="running", claimed_by=token, claimed_at=now, attempts=RightsStep.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if res.rowcount == 1:  # type: ignore[attr-defined]
            st = session.get(RightsStep, sid, populate_existing=True)
            return st
    return None


@carries("O24-9.4", "CSL-43", "NPC-8")
def run_pending(
    session: Session,
    *,
    request_id: int | None = None,
    now: datetime | None = None,
    worker: str | None = None,
    limit: int = 1000,
) -> dict[str, int]:
    """Run every due step (of one request with ``request_id``), committing each claim and each step's
    completion. Returns counts: done, waiting, failed."""
    token = worker or uuid.uuid4().hex
    out = {"done": 0, "waiting": 0, "failed": 0}
    for _ in range(limit):
        at = now or utcnow()
        st = _claim(session, token, at, request_id)
        if st is None:
            break
        out[_execute(session, st, token, at)] += 1
    return out


def _execute(session: Session, st: RightsStep, token: str, now: datetime) -> str:
    req = session.get(RightsRequest, st.request_id)
    assert req is not None
    case = cases.get(session, req.case_id)
    raw = protect.decrypt(req.subject_enc)
    try:
        if st.action in ("export", "update", "delete", "deidentify"):
            rows = _sql_step(session, req, case, st, raw)
        elif st.action == "consents":
            rows = _consents_step(session, req, case, st, raw, now)
        elif st.action == "messages":
            rows = _messages_step(session, req, st, now)
        elif st.action == "finish":
            rows = _finish(session, req, case, now)
        else:
            raise ValueError(st.action)
    except TargetDown as exc:
        session.rollback()
        return _wait(session, st.id, token, str(exc), now)
    except PiguardError as exc:
        session.rollback()
        return _fail(session, st.id, token, f"{exc.code}: {exc.message_en}", now)
    except Exception as exc:  # a step's failure never stops the others
        session.rollback()
        return _fail(session, st.id, token, type(exc).__name__, now)
    return "done" if _complete(session, st, req, case, token, rows, now) else "waiting"


def _sql_step(session: Session, req: RightsRequest, case: Case, st: RightsStep, raw: str) -> int:
    system = session.get(InvSystem, st.system)
    table = next((t for t in system.tables if t.name == st.table), None) if system else None
    if system is None or table is None:
        raise not_found("Inventory table", "清单表", f"{st.system}.{st.table}")
    conn = SqlConnector(system.id, dict(system.connector or {}))
    changes = json.loads(protect.decrypt(req.changes_enc)) if req.changes_enc else None
    if changes is not None:
        changes = {k: v for k, v in changes.items() if any(f.column == k for f in table.fields)}
    rows, data = conn.run(
        step_key=f"{case.ref}:{st.id}",
        table=table.name,
        action=st.action,
        keys=_keys(table, req.subject_kind, raw),
        fields=[f.column for f in table.fields],
        changes=changes,
    )
    if st.action == "export":
        cats = {f.column: list(f.categories or []) for f in table.fields}
        _write_part(
            case,
            st,
            {
                "system": system.id,
                "system_name": system.name,
                "table": table.name,
                "categories": cats,
                "rows": data,
            },
        )
    return rows


def _write_part(case: Case, st: RightsStep, payload: dict[str, Any]) -> None:
    d = exports_dir() / case.ref
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".step-{st.id}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(payload, ensure_ascii=False, default=str), "utf-8")
    os.replace(tmp, d / f"step-{st.id}.json")


def _consents_step(
    session: Session, req: RightsRequest, case: Case, st: RightsStep, raw: str, now: datetime
) -> int:
    subject = f"{req.subject_kind}:{raw}"
    ev = consent.EvidenceIn(
        channel="api", text_shown=f"rights request {case.ref}", terminal=f"rights:{case.ref}"
    )
    if req.kind == "access":
        ledger = consent.list_for_subject(session, subject)
        _write_part(
            case,
            st,
            {
                "system": PIGUARD,
                "system_name": "consents / 同意记录",
                "table": "consents",
                "rows": [e.to_dict() for e in ledger.entries],
            },
        )
        return len(ledger.entries)
    if req.kind == "cancellation":
        return consent.cancel_account(session, subject, ev, actor=WORKER, now=now)
    # deletion (CSL-43, NPC-8): opt out everywhere — every active consent and subscription ends
    ended = 0
    for e in consent.list_for_subject(session, subject).entries:
        if e.active:
            consent.withdraw(session, subject, e.ref, ev, actor=WORKER, now=now)
            ended += 1
    return ended


def _messages_step(session: Session, req: RightsRequest, st: RightsStep, now: datetime) -> int:
    from piguard.messaging.models import MessageRecord
    from piguard.messaging.records.service import months_before

    n, last = session.execute(
        select(func.count(), func.max(MessageRecord.at)).where(
            MessageRecord.recipient_hash == req.subject_hash
        )
    ).one()
    kept: dict[str, Any] = {}
    if n:
        months = value("sms_records.retention_months", on=now)
        kept = {
            "what": "message records / 短信息记录",
            "count": int(n),
            # the day in China (Asia/Shanghai) the last record may be deleted, not its UTC date
            "until": to_local_date(months_before(last, -int(months))).isoformat(),
            "obligations": ["O31-11"],
            "basis": "sms_records.retention_months",
        }
    req.result = {**(req.result or {}), "messages": kept}
    return int(n or 0)


def _finish(session: Session, req: RightsRequest, case: Case, now: datetime) -> int:
    all_steps = steps(session, req)
    found = sum(s.rows or 0 for s in all_steps if s.action not in ("finish", "messages"))
    manual = [s for s in all_steps if s.action == "manual"]
    kept = (req.result or {}).get("messages") or {}
    if req.kind == "access":
        req.export_path = str(_assemble(case, all_steps))
    if found == 0 and not manual:
        en = "We found no personal information matching your request."
        zh = "未找到与您的请求相符的个人信息。"
    else:
        en = {
            "access": "The copy of your personal information is ready to download.",
            "correction": "Your personal information was corrected as you asked.",
            "deletion": "Your personal information was deleted or de-identified, and you were opted out of every message.",
            "cancellation": "Your account was cancelled: every consent and subscription ended; your personal information was deleted or de-identified.",
        }[req.kind]
        zh = {
            "access": "您的个人信息副本已可下载。",
            "correction": "已按您的要求更正个人信息。",
            "deletion": "已删除或去标识化您的个人信息，并停止向您发送任何信息。",
            "cancellation": "您的账号已注销：全部同意和订阅已终止，个人信息已删除或去标识化。",
        }[req.kind]
    if kept:
        en += f" Kept as the law requires (O31-11): {kept['count']} message records until {kept['until']}."
        zh += f"依法保留（工信部令第31号第十一条）：{kept['count']} 条短信息记录，保存至 {kept['until']}。"
    req.result = {**(req.result or {}), "found": found, "kept": [kept] if kept else []}
    req.status, req.finished_at = "done", now
    cases.reply(session, case, f"{zh}\n{en}", WORKER, now=now)
    return found


def _assemble(case: Case, all_steps: list[RightsStep]) -> Path:
    d = exports_dir() / case.ref
    d.mkdir(parents=True, exist_ok=True)
    parts = []
    for s in all_steps:
        p = d / f"step-{s.id}.json"
        if p.is_file():
            parts.append(json.loads(p.read_text("utf-8")))
    doc = {
        "request": case.ref,
        "subject": case.subject_masked,
        "generated_at": utcnow().isoformat(),
        "systems": parts,
    }
    out = d / "export.json"
    tmp = d / f".export.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str), "utf-8")
    os.replace(tmp, out)
    (d / "export.html").write_text(_html(doc), "utf-8")
    from piguard.rights.export_pdf import export_pdf

    pdf_tmp = d / f".export-pdf.{uuid.uuid4().hex}.tmp"
    pdf_tmp.write_bytes(export_pdf(doc))
    os.replace(pdf_tmp, d / "export.pdf")
    return out


def _html(doc: dict[str, Any]) -> str:
    e = html.escape
    out = [
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>个人信息副本 / Your personal information</title>",
        f"<h1>个人信息副本 / Your personal information</h1><p>{e(str(doc['request']))} · {e(str(doc['subject']))} · {e(doc['generated_at'])}</p>",
    ]
    for part in doc["systems"]:
        out.append(f"<h2>{e(str(part.get('system_name')))} — {e(str(part.get('table')))}</h2>")
        rows = part.get("rows") or []
        if not rows:
            out.append("<p>无 / none</p>")
            continue
        cols = sorted({k for r in rows for k in r})
        out.append("<table border='1'><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
        for r in rows:
            out.append("<tr>" + "".join(f"<td>{e(str(r.get(c, '')))}</td>" for c in cols) + "</tr>")
        out.append("</table>")
    return "\n".join(out) + "</html>"


def _complete(
    session: Session, st: RightsStep, req: RightsRequest, case: Case, token: str, rows: int, now: datetime
) -> bool:
    """The done mark, its audit entry and the case event in one piguard transaction, only if this worker
    still holds the step (a worker that lost its lease rolls back: nothing recorded twice)."""
    res = session.execute(
        update(RightsStep)
        .where(RightsStep.id == st.id, RightsStep.status == "running", RightsStep.claimed_by == token)
        .values(status="done", rows=rows, done_at=now, last_error=None, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    st.rows = rows
    _step_audit(session, case, req, st, WORKER)
    if st.action != "finish":
        cases.add_event(
            session,
            case,
            "step",
            WORKER,
            summary=f"{st.system}.{st.table or ''} {st.action}: {rows} rows",
            detail={"step": st.id, "system": st.system, "table": st.table, "action": st.action, "rows": rows},
            audit=False,
        )
        still_waiting = session.scalar(
            select(func.count())
            .select_from(RightsStep)
            .where(RightsStep.request_id == req.id, RightsStep.status == "waiting")
        )
        if case.status == "open" or (case.status == "waiting" and not still_waiting):
            cases.set_status(session, case, "in_progress", WORKER)
        if req.status == "pending":
            req.status = "running"
    session.commit()
    return True


def _wait(session: Session, sid: int, token: str, why: str, now: datetime) -> str:
    st = session.get(RightsStep, sid, populate_existing=True)
    if st is None or st.claimed_by != token or st.status != "running":
        session.rollback()
        return "waiting"
    st.status, st.last_error = "waiting", f"target unavailable: {why}"[:500]
    st.next_attempt_at = now + backoff(st.attempts)
    req = session.get(RightsRequest, st.request_id)
    assert req is not None
    case = cases.get(session, req.case_id)
    req.status = "waiting"
    reason = Reason(
        "target_unavailable",
        OBLIGATIONS[req.kind],
        f"System {st.system} did not answer; retried at {st.next_attempt_at.isoformat()}. The period keeps running.",
        f"系统 {st.system} 无响应；将于 {st.next_attempt_at.isoformat()} 重试。期限照常计算。",
    )
    cases.add_event(
        session,
        case,
        "step",
        WORKER,
        summary=f"{st.system} unavailable, waiting (attempt {st.attempts})",
        reasons=[reason],
        detail={"step": st.id, "retry_at": st.next_attempt_at.isoformat()},
    )
    if case.status != "waiting" and "waiting" in cases.TRANSITIONS[case.status]:
        cases.set_status(session, case, "waiting", WORKER)
    session.commit()
    return "waiting"


def _fail(session: Session, sid: int, token: str, why: str, now: datetime) -> str:
    st = session.get(RightsStep, sid, populate_existing=True)
    if st is None or st.claimed_by != token or st.status != "running":
        session.rollback()
        return "failed"
    st.status, st.last_error = "failed", why[:500]
    req = session.get(RightsRequest, st.request_id)
    assert req is not None
    case = cases.get(session, req.case_id)
    req.status = "failed"
    cases.add_event(
        session,
        case,
        "step",
        WORKER,
        summary=f"{st.system}.{st.table or ''} {st.action} failed: {why}"[:500],
        detail={"step": st.id, "error": why[:300]},
    )
    session.commit()
    return "failed"
