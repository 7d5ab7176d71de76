"""The end-user portal's service: what the portal pages call (they stay thin, no query in them).

It sits at the top of the house, so it may join what the domains below keep about one person:

* login: the number parsed into the consent ledger's subject (keyed hash, masked form), the code
  made and checked by :mod:`piguard.identity.portal`, and sent here as a verification-code message
  through the messaging façade from the operator's own port (``PIGUARD_PORTAL_SMS_SENDER``, signed
  ``PIGUARD_PORTAL_SMS_SIGNATURE``); the message record keeps the code masked, only the outbox
  carries it to the SMS centre (O31-11, O24-10);
* what is held: the inventory's systems, categories, purposes and retention (O24-9.2, CSL-41.1);
* the person's consents from every ledger, withdrawn through :func:`piguard.consent.service.withdraw`
  (O24-9.1, O31-20);
* their cases (requests and complaints) with due date and estimate flag (O24-12, O31-27, O24-9.2).

Every read and every action is audited with ``Actor("end_user", <subject hash>)``; anything that
names another person's case or consent is refused and audited (``portal.access.refused``).
Functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.config import get_settings
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.core.logging import get_logger
from piguard.core.modules import import_if_present
from piguard.core.reasons import Reason
from piguard.identity import portal as login
from piguard.identity.portal import PortalUser
from piguard.regulations.markers import carries

log = get_logger("piguard.portal")

#: what an end user may file from the portal (the case kinds of :mod:`piguard.cases.models`)
REQUEST_KINDS = ("access", "correction", "deletion", "cancellation")
COMPLAINT_KINDS = ("pi_complaint", "sms_complaint")
_TEXT_MAX = 2000


def _subjects() -> Any:
    from piguard.consent import subjects

    return subjects


def normalized_phone(phone: object) -> str:
    """A mainland mobile number in E.164 (``+86…``); a clear error that never echoes it."""
    from piguard.messaging.records import protect

    if not isinstance(phone, str) or not phone.strip() or len(phone) > 32:
        raise _bad_phone()
    try:
        number = protect.normalize_address("sms", phone, "phone")
    except PiguardError:
        raise _bad_phone() from None
    if not number.startswith("+86"):
        raise _bad_phone()
    return number


def subject_of_phone(phone: object) -> Any:
    """The consent ledger's subject for a typed number (keyed hash, masked form)."""
    return _subjects().parse(f"phone:{normalized_phone(phone)}")


def _bad_phone() -> PiguardError:
    return validation_error(
        [FieldError("phone", "a mainland mobile number, 11 digits / 11 位中国大陆手机号码")],
        "Enter a mainland China mobile number (11 digits, e.g. 138…).",
        "请输入 11 位中国大陆手机号码（如 138…）。",
    )


def _contact_subject(user: PortalUser, *, identifier: bool = False) -> Any:
    """``phone:+86…`` from the session's encrypted number (same hash), else the hashed subject
    (``identifier``: else an error asking the user to sign in again, since a request needs it)."""
    from piguard.messaging.records import protect

    number = ""
    if user.contact_enc:
        try:
            number = protect.decrypt(user.contact_enc)
        except Exception:  # a rotated key: the answer is then seen in the portal only
            number = ""
    if number and _subjects().parse(f"phone:{number}").hash == user.subject_hash:
        return f"phone:{number}"
    if identifier:
        raise PiguardError(
            "portal_sign_in_again",
            "Please sign in again to file this request.",
            "请重新登录后再提交该申请。",
            obligations=("O24-10",),
            http_status=409,
        )
    return user_subject(user)


def user_subject(user: PortalUser) -> Any:
    """The signed-in user as the ledger's subject (hash and masked form; the number is not kept)."""
    return _subjects().Subject(user.subject_hash, user.masked, "phone", "sms")


# ------------------------------------------------------------------------------------------ login


def _deliver(session: Session, number: str) -> Callable[[str], str | None]:
    """Send a code as a verification-code message through the gateway; the record keeps it masked."""

    def send(code: str) -> str | None:
        from piguard.messaging import service as messaging

        settings = get_settings()
        if not settings.portal_sms_sender:
            log.warning("portal_code_not_sent", why="PIGUARD_PORTAL_SMS_SENDER is not set")
            return None
        sig = f"【{settings.portal_sms_signature}】" if settings.portal_sms_signature else ""
        minutes = max(1, settings.portal_code_ttl_seconds // 60)
        template = sig + "您的个人信息查询验证码是{code}，{minutes}分钟内有效，请勿泄露。"
        request = messaging.GatewayRequest(
            channel="sms",
            sender=settings.portal_sms_sender,
            recipient=number,
            text=template.format(code=code, minutes=minutes),
            kind="verification_code",
            record_text=template.format(code="*" * len(code), minutes=minutes),
            idempotent=False,
        )
        [result] = messaging.submit(session, [request])
        if result.error is not None or result.outcome != "allow":
            log.warning(
                "portal_code_not_sent",
                why=result.error.code if result.error else ",".join(r.code for r in result.reasons)[:200],
            )
            return None
        return str(result.ref)

    return send


@carries("O24-10", "CSL-40")
def send_code(session: Session, phone: object, *, client_ip: str | None) -> login.CodeSent:
    """Parse the number and send it a code. The answer is the same for every valid number."""
    number = normalized_phone(phone)
    subject = subject_of_phone(number)
    return login.request_code(session, subject.hash, _deliver(session, number), client_ip=client_ip)


@carries("O24-10", "CSL-40")
def check_code(session: Session, phone: object, code: object, *, client_ip: str | None) -> str:
    """The cookie of a new portal session, or ``portal_code_invalid`` / ``portal_locked``."""
    from piguard.messaging.records import protect

    number = normalized_phone(phone)
    subject = subject_of_phone(number)
    return login.verify_code(
        session,
        subject.hash,
        str(code or ""),
        subject.masked,
        client_ip=client_ip,
        contact_enc=protect.encrypt(number),
    )


# ------------------------------------------------------------------------------------- refusals


def _audit(session: Session, user: PortalUser, action: str, *, outcome: str = "ok", **kw: Any) -> None:
    record(
        session,
        action=action,
        actor=user.actor,
        subject_ref=kw.pop("subject_ref", f"subject:{user.subject_hash}"),
        outcome=outcome,
        client_ip=_ip(user.client_ip),
        terminal="portal",
        obligations=kw.pop("obligations", ("O24-10", "O24-13.6")),
        data_categories=kw.pop("data_categories", ()),
        purpose=kw.pop("purpose", None),
        detail=kw,
    )


def refuse(session: Session, user: PortalUser, what: str, ref: str) -> PiguardError:
    """Someone asked for what is not theirs: audited (committed by the caller before answering,
    since the error rolls the request back) and answered as not found, revealing nothing."""
    _audit(session, user, "portal.access.refused", outcome="refused", requested=what, ref=ref[:40])
    reason = Reason(
        "not_your_data",
        ("O24-10", "CSL-40"),
        "This is not among your own records.",
        "该记录不属于您本人。",
        {"requested": what},
    )
    return PiguardError(
        "not_found",
        "Not found among your records.",
        "在您的记录中未找到。",
        obligations=("O24-10", "CSL-40"),
        reasons=(reason,),
        http_status=404,
    )


# ------------------------------------------------------------------------------- what is held


@dataclass(frozen=True, slots=True)
class HeldRow:
    system: str
    location: str
    categories: list[str]
    purposes: list[str]
    retention: list[str | None]


@carries("O24-9.2", "CSL-41.1")
def held(session: Session, user: PortalUser) -> list[HeldRow]:
    """What the operator's systems hold about a user, system by system (from the inventory):
    categories, purposes and how long each is kept. No value is shown: the access export has them."""
    from piguard.inventory import service as inventory

    doc = inventory.export(session) if inventory.has_inventory(session) else {}
    rows: list[HeldRow] = []
    for s in doc.get("systems", []):
        cats: dict[str, None] = {}
        purposes: dict[str, None] = {}
        retention: dict[str | None, None] = {}
        for t in s.get("tables", []):
            for f in t.get("fields", []):
                cats.update(dict.fromkeys(f.get("categories", [])))
                purposes.update(dict.fromkeys(f.get("purposes", [])))
                retention[f.get("retention")] = None
        rows.append(
            HeldRow(s["name"], s.get("location", "in_china"), list(cats), list(purposes), list(retention))
        )
    _audit(session, user, "portal.held.viewed", obligations=("O24-9.2", "O24-13.6"), systems=len(rows))
    return rows


def correctable_fields(session: Session) -> list[tuple[str, list[str]]]:
    """The inventory's columns a correction may name, each with its categories (for the form)."""
    from piguard.inventory import service as inventory

    doc = inventory.export(session) if inventory.has_inventory(session) else {}
    seen: dict[str, list[str]] = {}
    for s in doc.get("systems", []):
        for t in s.get("tables", []):
            for f in t.get("fields", []):
                seen.setdefault(f["column"], list(f.get("categories", [])))
    return sorted(seen.items())


def purpose_names(session: Session) -> dict[str, tuple[str, str]]:
    from piguard.inventory import service as inventory

    return {p.id: (p.name_zh, p.name_en) for p in inventory.purposes(session)}


# ----------------------------------------------------------------------------------- consents


@carries("O24-9.1", "O31-18.1")
def consents(session: Session, user: PortalUser) -> Any:
    """The user's consents from every ledger (purpose consents and SMS subscriptions)."""
    from piguard.consent import service as consent

    ledger = consent.list_for_subject(session, user_subject(user))
    consent.record_listing(session, user.actor, ledger, client_ip=_ip(user.client_ip), via="portal")
    return ledger


def _ip(value: str | None) -> str | None:
    import ipaddress

    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return None
    return value


WITHDRAW_TEXT = ("用户在个人信息门户一键撤回同意", "Withdrawn by the user in the portal (one click)")


@carries("O24-9.1", "O31-20")
def withdraw(session: Session, user: PortalUser, target: object) -> Any:
    """Withdraw one of the user's own consents; a target that is not theirs is refused and audited."""
    from piguard.consent import service as consent

    target = target.strip()[:80] if isinstance(target, str) else ""
    subject = user_subject(user)
    mine = {e.ref for e in consent.list_for_subject(session, subject).entries}
    if target not in mine:
        raise refuse(session, user, "consent", target or "-")
    consent.withdraw(
        session,
        subject,
        target,
        consent.EvidenceIn(
            channel="web",
            text_shown=f"{WITHDRAW_TEXT[0]} / {WITHDRAW_TEXT[1]}",
            client_ip=_ip(user.client_ip),
            terminal="portal",
        ),
        actor=user.actor,
    )
    return consents(session, user)


# -------------------------------------------------------------------------------------- cases


def _cases() -> Any:
    from piguard.cases import service

    return service


def my_cases(session: Session, user: PortalUser) -> list[Any]:
    from piguard.cases.models import STATUSES

    rows = _cases().queue(session, subject_hash=user.subject_hash, statuses=STATUSES, limit=200)
    _audit(session, user, "portal.cases.listed", cases=len(rows))
    return list(rows)


def my_case(session: Session, user: PortalUser, key: object) -> tuple[Any, list[Any]]:
    """One of the user's cases with its timeline; another person's (or none) is refused, audited."""
    svc = _cases()
    shown = str(key)[:40] if key is not None else "-"
    try:
        case = svc.get(session, shown)
    except PiguardError:
        raise refuse(session, user, "case", shown) from None
    if case.subject_hash != user.subject_hash:
        raise refuse(session, user, "case", shown)
    _audit(
        session,
        user,
        "portal.case.viewed",
        subject_ref=f"case:{case.ref}",
        obligations=("O24-9.2", "O24-13.6"),
    )
    return case, svc.events(session, case)


def case_view(case: Any, now: datetime | None = None) -> dict[str, Any]:
    """The case as the API shows it, plus its receipt in China time (what the user reads)."""
    from piguard.core.calendar import SHANGHAI

    out: dict[str, Any] = _cases().to_dict(case, now or utcnow(), with_text=True)
    out["received_local"] = case.received_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return out


def _text(value: object, field: str, *, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise validation_error(
            [FieldError(field, "required / 必填")], f"Please write the {field}.", "请填写内容。"
        )
    if len(text) > _TEXT_MAX:
        raise validation_error(
            [FieldError(field, f"at most {_TEXT_MAX} characters / 不超过 {_TEXT_MAX} 个字符")],
            f"The {field} is longer than {_TEXT_MAX} characters.",
            f"内容超过 {_TEXT_MAX} 个字符。",
        )
    return text


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    ref: str
    at: datetime
    sender: str
    content: str


def _sent_to(session: Session, user: PortalUser, ref: str) -> bool:
    from sqlalchemy import select

    from piguard.messaging.models import MessageRecord

    return (
        session.scalar(
            select(MessageRecord.id).where(
                MessageRecord.ref == ref,
                MessageRecord.direction == "out",
                MessageRecord.recipient_hash == user.subject_hash,
            )
        )
        is not None
    )


@carries("O31-27", "O24-9.2")
def my_messages(session: Session, user: PortalUser, *, limit: int = 20) -> list[ReceivedMessage]:
    """The messages the gateway sent this user lately (the ones they may complain about), as the
    record keeps them (content with PI masked); login codes left out."""
    from sqlalchemy import select

    from piguard.messaging.models import MessageRecord

    rows = session.scalars(
        select(MessageRecord)
        .where(
            MessageRecord.recipient_hash == user.subject_hash,
            MessageRecord.direction == "out",
            MessageRecord.outcome == "allow",
        )
        .order_by(MessageRecord.at.desc(), MessageRecord.id.desc())
        .limit(limit + 10)
    ).all()
    out = [ReceivedMessage(r.ref, r.at, r.sender, r.content) for r in rows if r.kind != "verification_code"]
    _audit(session, user, "portal.messages.listed", messages=len(out[:limit]))
    return out[:limit]


@carries("O24-12", "O31-27")
def file_complaint(
    session: Session, user: PortalUser, kind: object, text: object, message_ref: object = None
) -> Any:
    """File a complaint from the portal (the complaints intake when installed, else a case)."""
    if kind not in COMPLAINT_KINDS:
        raise validation_error(
            [FieldError("kind", f"one of {', '.join(COMPLAINT_KINDS)}")],
            "Choose what the complaint is about.",
            "请选择投诉类型。",
        )
    body = _text(text, "text", required=True)
    ref = message_ref.strip()[:40] if isinstance(message_ref, str) and message_ref.strip() else None
    if ref is not None and kind == "sms_complaint" and not _sent_to(session, user, ref):
        raise refuse(session, user, "message", ref)
    complaints = import_if_present("piguard.cases.complaints")
    now = utcnow()
    if complaints is not None and hasattr(complaints, "file_complaint"):
        case = complaints.file_complaint(
            session,
            kind=kind,
            received=now,
            text=body,
            actor=user.actor,
            source="portal",
            # the number (kept encrypted with the session) lets the answer go back by SMS
            subject=_contact_subject(user),
            message_ref=ref if kind == "sms_complaint" else None,
            now=now,
        )
    else:
        case = _cases().open_case(
            session,
            kind=kind,
            received=now,
            actor=user.actor,
            text=body,
            source="portal",
            subject=user_subject(user),
            message_ref=ref if kind == "sms_complaint" else None,
            now=now,
        )
    _audit(
        session,
        user,
        "portal.complaint.filed",
        subject_ref=f"case:{case.ref}",
        obligations=("O24-12", "O24-13.6"),
        kind=kind,
    )
    return case


@carries("O24-9.2", "CSL-43", "O24-9.4")
def file_request(
    session: Session, user: PortalUser, kind: object, text: object = "", changes: dict[str, str] | None = None
) -> Any:
    """File an access, correction, deletion or cancellation request (the rights domain when
    installed, else a case on its clock for staff to carry out)."""
    if kind not in REQUEST_KINDS:
        raise validation_error(
            [FieldError("kind", f"one of {', '.join(REQUEST_KINDS)}")],
            "Choose a request type.",
            "请选择申请类型。",
        )
    body = _text(text, "text", required=kind == "correction" and not changes)
    rights = import_if_present("piguard.rights.service")
    if rights is not None and hasattr(rights, "open_request"):
        # the rights domain finds the person in each system by the identifier itself: the number,
        # kept encrypted with the portal session
        req = rights.open_request(
            session,
            kind=kind,
            subject=_contact_subject(user, identifier=True),
            actor=user.actor,
            source="portal",
            changes=changes or None,
            text=body,
        )
        case = _cases().get(session, req.case_id)
    else:
        case = _cases().open_case(
            session,
            kind=kind,
            received=utcnow(),
            actor=user.actor,
            text=body or kind,
            source="portal",
            subject=user_subject(user),
            detail={"changes": changes} if changes else None,
        )
    _audit(
        session,
        user,
        "portal.request.filed",
        subject_ref=f"case:{case.ref}",
        obligations=("O24-9.2", "O24-13.6"),
        kind=kind,
    )
    return case


def export_file(session: Session, user: PortalUser, key: object) -> Any:
    """The access export of one of the user's own access requests: a path, or None while it is not
    ready (the rights domain writes it). Another person's is refused and audited."""
    case, _events = my_case(session, user, key)
    if case.kind != "access":
        raise refuse(session, user, "export", str(key)[:40])
    rights = import_if_present("piguard.rights.service")
    if rights is None or not hasattr(rights, "export_path"):
        return None
    try:
        path = rights.export_path(session, case.id)
    except PiguardError:  # an access case staff opened without a rights request: no export
        return None
    if path is not None:
        _audit(
            session,
            user,
            "portal.export.downloaded",
            subject_ref=f"case:{case.ref}",
            obligations=("O24-9.2", "O24-13.6"),
        )
    return path


def export_ready(session: Session, case: Any) -> bool:
    """Whether the access export of this (already checked) case exists to download."""
    rights = import_if_present("piguard.rights.service")
    if rights is None or not hasattr(rights, "export_path"):
        return False
    try:
        return rights.export_path(session, case.id) is not None
    except PiguardError:
        return False


def media_type(path: Any) -> str:
    suffix = str(getattr(path, "suffix", "")).lower()
    return {
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
        ".pdf": "application/pdf",
        ".zip": "application/zip",
    }.get(suffix, "application/octet-stream")
