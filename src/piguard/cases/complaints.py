"""Complaint intake: from the portal, from staff (phone, counter) and from the reporting centre.

:func:`file_complaint` is the one door a complaint comes in by (the portal, the API, the CLI and the
console call it). It

* classifies the complaint (personal information, O24-12; SMS, O31-27) and opens the case on its
  clock (a reporting-centre transfer counts from its transfer date and is flagged against the centre
  when late, O31-25, O31-27: :mod:`piguard.cases.clocks`);
* checks a named message against the gateway's records (it must exist, be an outbound message, and
  be that content provider's): otherwise a clear error naming the ids, nothing written;
* hands an SMS complaint down to the early-warning monitor (one ``msg_complaints`` row, O31-22; the
  case keeps its id in ``detail.monitor_complaint_id``): complaints are recorded once, as cases;
* runs the gateway's own content review on the stored content of the named message: when it clearly
  holds prohibited content the content provider is stopped at once through the gateway's suspension
  switch, the evidence is kept on the timeline and the report is drafted (zh), O31-28.

:func:`answer` records the reply on the case and sends it to the complainant through the gateway as
a service notice from the operator's service port (``PIGUARD_CASES_NOTICE_SENDER``).

Service functions take a session and do not commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor
from piguard.cases import service
from piguard.cases.models import COMPLAINT_KINDS, Case
from piguard.cases.settings import get_cases_settings
from piguard.consent import subjects
from piguard.core import calendar
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError
from piguard.core.reasons import Reason
from piguard.messaging.gateway import submit as gateway
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.models import ContentProvider, MessageRecord
from piguard.messaging.monitor import service as monitor
from piguard.messaging.records import protect
from piguard.messaging.registry import service as registry
from piguard.messaging.review import Finding, ReviewResult, Severity, review
from piguard.regulations.markers import carries

#: How a case's source reads in the monitor's table (its own, older vocabulary).
_MONITOR_SOURCE = {
    "portal": "user",
    "staff": "user",
    "phone": "user",
    "counter": "user",
    "email": "user",
    "letter": "user",
    "api": "user",
    "reporting_centre": "12321",
    "regulator": "regulator",
    "system": "operator",
}
_EXTERNAL_MAX = 64


def _complaint_error(code: str, en: str, zh: str, field: str, *, status: int = 422) -> PiguardError:
    return PiguardError(
        code,
        en,
        zh,
        obligations=("O31-27", "O31-28"),
        fields=[FieldError(field, f"{en} / {zh}")],
        http_status=status,
    )


@dataclass(frozen=True, slots=True)
class Checked:
    """What the intake found before writing anything."""

    record: MessageRecord | None
    provider: ContentProvider | None


@carries("O31-27", "O31-28")
def check_message(session: Session, message_ref: str | None, content_provider_id: int | None) -> Checked:
    """The named message exists in the gateway's records, was sent (outbound), and is the named
    content provider's; the content provider exists. A clear error with the ids otherwise."""
    provider: ContentProvider | None = None
    if content_provider_id is not None:
        if isinstance(content_provider_id, bool) or not isinstance(content_provider_id, int):
            raise _complaint_error(
                "invalid_content_provider",
                "content_provider_id must be a number.",
                "content_provider_id 须为数字。",
                "content_provider_id",
            )
        provider = session.get(ContentProvider, content_provider_id)
        if provider is None:
            raise _complaint_error(
                "content_provider_unknown",
                f"Content provider {content_provider_id} is not registered.",
                f"内容提供者 {content_provider_id} 未登记。",
                "content_provider_id",
                status=404,
            )
    if message_ref is None:
        return Checked(None, provider)
    if not isinstance(message_ref, str) or not message_ref.strip() or len(message_ref.strip()) > 32:
        raise _complaint_error(
            "invalid_message_ref",
            "message_ref must be a message reference of at most 32 characters.",
            "message_ref 须为不超过 32 个字符的短信编号。",
            "message_ref",
        )
    ref = message_ref.strip()
    rec = session.scalar(select(MessageRecord).where(MessageRecord.ref == ref))
    if rec is None or rec.direction != "out":
        raise _complaint_error(
            "complaint_message_unknown",
            f"Message {ref} is not in the gateway's records of sent messages; nothing was recorded.",
            f"短信 {ref} 不在网关的发送记录中；未作任何记录。",
            "message_ref",
            status=404,
        )
    if provider is not None and rec.content_provider_id != provider.id:
        raise _complaint_error(
            "complaint_message_not_this_provider",
            f"Message {ref} was not sent by content provider {provider.id} ({provider.code}) "
            f"but by {rec.content_provider_id}; nothing was recorded.",
            f"短信 {ref} 不是内容提供者 {provider.id}（{provider.code}）发送的，而是 "
            f"{rec.content_provider_id}；未作任何记录。",
            "message_ref",
        )
    if provider is None and rec.content_provider_id is not None:
        provider = session.get(ContentProvider, rec.content_provider_id)
    return Checked(rec, provider)


def _phone_of(subject: object) -> str | None:
    """The complainant's number (normalised) when the subject is a phone; never logged."""
    if isinstance(subject, str) and subject.strip().lower().startswith("phone:"):
        return protect.normalize_address("sms", subject.split(":", 1)[1].strip(), "subject")
    return None


def stored_content(rec: MessageRecord) -> str:
    """The content of a message as sent: the clear text is kept encrypted when it held PI."""
    return protect.decrypt(rec.content_enc) if rec.content_enc else rec.content


@carries("O24-12", "O31-25", "O31-27", "O31-22", "O31-28")
def file_complaint(
    session: Session,
    *,
    kind: str,
    received: object,
    text: str,
    actor: Actor,
    source: str,
    subject: str | subjects.Subject | None = None,
    message_ref: str | None = None,
    transferred_at: object = None,
    external_ref: str | None = None,
    content_provider_id: int | None = None,
    now: datetime | None = None,
) -> Case:
    """File a complaint as a case (see the module). Bad input raises before anything is written."""
    if not isinstance(kind, str) or kind not in COMPLAINT_KINDS:
        raise service._bad(
            "kind", f"one of {', '.join(COMPLAINT_KINDS)}", f"须为 {'、'.join(COMPLAINT_KINDS)} 之一"
        )
    if kind == "sms_report_transfer" and transferred_at is None:
        raise service._bad(
            "transferred_at",
            "a reporting-centre transfer needs its transfer date",
            "举报中心转办须有转交时间",
        )
    if external_ref is not None and (
        not isinstance(external_ref, str) or not external_ref.strip() or len(external_ref) > _EXTERNAL_MAX
    ):
        raise service._bad(
            "external_ref", f"at most {_EXTERNAL_MAX} characters", f"不超过 {_EXTERNAL_MAX} 个字符"
        )
    if message_ref is not None and kind == "pi_complaint":
        raise service._bad("message_ref", "only an SMS complaint names a message", "仅短信投诉可指明短信")
    checked = check_message(session, message_ref, content_provider_id)
    phone = _phone_of(subject)
    detail: dict[str, Any] = {}
    if phone is not None:
        detail["contact_enc"] = protect.encrypt(phone)  # to send the reply; never shown
    now = now or utcnow()
    case = service.open_case(
        session,
        kind=kind,
        received=received,
        actor=actor,
        text=text,
        source=source,
        subject=subject,
        transferred_at=transferred_at,
        message_ref=checked.record.ref if checked.record is not None else None,
        content_provider_id=checked.provider.id if checked.provider is not None else None,
        external_ref=external_ref.strip() if external_ref else None,
        detail=detail,
        now=now,
    )
    if case.classification == "sms" and checked.provider is not None:
        _hand_to_monitor(session, case, phone, actor)
    if checked.record is not None:
        auto_stop(session, case, checked.record, actor)
    return case


@carries("O31-22")
def _hand_to_monitor(session: Session, case: Case, phone: str | None, actor: Actor) -> None:
    """One row in the monitor's table, counted by the complaint-rate alert; the case keeps the link."""
    assert case.content_provider_id is not None
    row = monitor.record_complaint(
        session,
        case.content_provider_id,
        at=case.transferred_at or case.received_at,
        source=_MONITOR_SOURCE.get(case.source, "other"),
        recipient=phone,
        message_ref=case.message_ref,
        summary=case.title[:200],
        external_ref=case.ref,
    )
    case.detail = {**(case.detail or {}), "monitor_complaint_id": row.id}
    service.add_event(
        session,
        case,
        "note",
        actor,
        summary=f"counted by the early warning (msg_complaints {row.id})",
        reasons=[
            Reason(
                "complaint_counted",
                ("O31-22",),
                f"Counted for content provider {case.content_provider_id}'s complaint rate (complaint {row.id}).",
                f"已计入内容提供者 {case.content_provider_id} 的投诉率（投诉 {row.id}）。",
                {"monitor_complaint_id": row.id, "content_provider_id": case.content_provider_id},
            )
        ],
        detail={"monitor_complaint_id": row.id},
        audit=False,
    )


# -- O31-28: the automatic stop -------------------------------------------------------------------


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def prohibited_findings(result: ReviewResult) -> list[Finding]:
    """The review's findings that make a message prohibited (a prohibited category, an error)."""
    return [f for f in result.findings if f.code == "prohibited_content" and f.severity is Severity.ERROR]


def category_label(finding: Finding, lang: str = "zh") -> str:
    """The prohibited category's name as the review words it (``诈骗或钓鱼``, ``fraud or phishing``)."""
    if lang == "zh":
        return finding.message_zh.split("（", 1)[-1].rstrip("）。")
    return finding.message_en.split("(", 1)[-1].rstrip(").")


@carries("O31-28")
def auto_stop(session: Session, case: Case, rec: MessageRecord, actor: Actor) -> bool:
    """When the complained message clearly holds prohibited content (the gateway's own review finds
    a prohibited category, an error), stop its content provider at once through the suspension
    switch, keep the evidence and draft the report. Returns whether it stopped."""
    content = stored_content(rec)
    result = review(content)
    prohibited = prohibited_findings(result)
    if not prohibited or rec.content_provider_id is None:
        return False
    cp = session.get(ContentProvider, rec.content_provider_id)
    if cp is None:
        return False
    digest = content_hash(content)
    categories = [str(f.detail.get("category")) for f in prohibited]
    finding_reasons = [f.reason() for f in prohibited]
    why = Reason(
        "complained_prohibited_content",
        ("O31-28",),
        f"Message {rec.ref} named by complaint {case.ref} clearly holds prohibited content "
        f"({', '.join(categories)}); content provider {cp.id} stopped at once.",
        f"投诉 {case.ref} 所涉短信 {rec.ref} 明显含有禁止传播的内容（{'、'.join(categories)}），"
        f"已立即停止内容提供者 {cp.id} 发送。",
        {"message_ref": rec.ref, "content_provider_id": cp.id, "categories": categories},
    )
    keep_evidence(
        session,
        case,
        rec,
        actor,
        digest=digest,
        why=why,
        findings=finding_reasons,
        review_dict=result.to_dict(),
    )
    already = cp.suspended
    registry.suspend_content_provider(
        session,
        cp.code,
        reason=f"O31-28 case {case.ref}: message {rec.ref} prohibited content ({', '.join(categories)})",
        obligations=("O31-28",),
    )
    service.add_event(
        session,
        case,
        "stop",
        actor,
        summary=f"content provider {cp.id} ({cp.code}) suspended",
        reasons=[why],
        detail={
            "target_type": "content_provider",
            "content_provider_id": cp.id,
            "code": cp.code,
            "already_suspended": already,
        },
    )
    labels = [category_label(f) for f in prohibited]
    report = draft_report(case, rec, cp, labels, digest)
    case.detail = {**(case.detail or {}), "report": report, "stopped_content_provider_id": cp.id}
    service.add_event(
        session,
        case,
        "report",
        actor,
        summary="report drafted (zh)",
        reasons=[why],
        detail={"report": report},
    )
    return True


@carries("O31-28")
def keep_evidence(
    session: Session,
    case: Case,
    rec: MessageRecord,
    actor: Actor,
    *,
    digest: str,
    why: Reason,
    findings: list[Reason],
    review_dict: dict[str, Any],
) -> None:
    """The evidence of the complained message on the case's timeline (and the audit log): its
    reference, time, port and content provider, the SHA-256 of its content and the review's reasons.
    The message record itself stays in the gateway's records for its retention period (O31-11)."""
    service.add_event(
        session,
        case,
        "evidence",
        actor,
        summary=f"message {rec.ref}: prohibited content",
        reasons=[why, *findings],
        detail={
            "message_ref": rec.ref,
            "content_sha256": digest,
            "message_at": rec.at.isoformat(),
            "content_provider_id": rec.content_provider_id,
            "port_id": rec.port_id,
            "review": review_dict,
        },
    )


@carries("O31-28")
def draft_report(
    case: Case, rec: MessageRecord, cp: ContentProvider, categories: list[str], digest: str
) -> str:
    """The report of the stop (zh), for the telecom authority and the reporting centre."""
    received = calendar.to_local_date(case.transferred_at or case.received_at).isoformat()
    sent = rec.at.astimezone(calendar.SHANGHAI).strftime("%Y-%m-%d %H:%M")
    origin = "12321 网络不良与垃圾信息举报受理中心转办" if case.kind == "sms_report_transfer" else "用户投诉"
    return (
        "关于停止违法短信息发送的报告\n\n"
        f"一、来源：{origin}，案件编号 {case.ref}"
        + (f"（外部编号 {case.external_ref}）" if case.external_ref else "")
        + f"，受理日期 {received}。\n"
        f"二、所涉短信：编号 {rec.ref}，发送时间 {sent}（北京时间），端口 ID {rec.port_id}，"
        f"内容摘要值（SHA-256）{digest}。\n"
        f"三、内容提供者：{cp.name}（代码 {cp.code}，ID {cp.id}）。\n"
        f"四、认定：经网关内容审核，该短信明显含有禁止传播的内容（{'、'.join(categories)}），"
        "依据《通信短信息和语音呼叫服务管理规定》（工业和信息化部令第31号）相关规定。\n"
        "五、处置：已通过网关暂停开关立即停止该内容提供者发送短信息，相同内容此后均被网关拒绝；"
        "证据（短信记录、内容摘要值、审核理由）已留存于案件时间线。\n"
        "六、后续：待核查处理完毕后报告处理结果。\n"
    )


# -- the reply ----------------------------------------------------------------------------------


@carries("O24-12", "O31-27")
def answer(session: Session, case: Case, text: str, actor: Actor, *, now: datetime | None = None) -> Case:
    """Record the reply on the case (on time or late by its clock) and send it to the complainant
    through the gateway as a service notice when their number is known and a notice sender is set."""
    service.reply(session, case, text, actor, now=now)
    if case.kind not in COMPLAINT_KINDS:
        return case
    send_reply(session, case, actor, now=now)
    return case


def send_reply(session: Session, case: Case, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    token = (case.detail or {}).get("contact_enc")
    settings = get_cases_settings()
    if not token:
        out: dict[str, Any] = {"sent": False, "why": "no_contact_number"}
    elif not settings.notice_sender:
        out = {"sent": False, "why": "no_notice_sender"}
    else:
        number = protect.decrypt(str(token))
        sig = f"【{settings.notice_signature}】" if settings.notice_signature else ""
        body = f"{sig}您的投诉（编号 {case.ref}）答复如下：{case.reply_text}"
        req = GatewayRequest("sms", settings.notice_sender, number, body, kind="notification")
        res = gateway.submit(session, [req], now=now)[0]
        if res.error is not None:
            out = {"sent": False, "why": res.error.code}
        else:
            out = {
                "sent": res.outcome == "allow",
                "outcome": res.outcome,
                "message_ref": res.ref,
                "reason_codes": [r.code for r in res.reasons],
            }
    summary = (
        f"reply sent by SMS ({out.get('message_ref')})"
        if out.get("sent")
        else f"reply not sent by SMS: {out.get('why') or out.get('outcome')}"
    )
    service.add_event(session, case, "notice", actor, summary=summary, detail=out)
    return out


__all__ = [
    "Checked",
    "answer",
    "auto_stop",
    "category_label",
    "check_message",
    "content_hash",
    "draft_report",
    "file_complaint",
    "prohibited_findings",
    "send_reply",
    "stored_content",
]
