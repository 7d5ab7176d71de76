"""The registry (O31-6, O31-7, O31-12, O31-13, O31-19): service providers, content providers with
verified real identity, signatures, ports with approved type and scope, charged services (O31-9),
public-welfare campaigns (O31-17) and the suspension switches (O31-23, O24-14.2, O31-28).

Every change is audited (administrative events) and bumps a version token; the gateway keeps an
in-memory :class:`RegistrySnapshot` and reloads it when the token changes (one cheap query a batch).
"""

from __future__ import annotations

import bisect
import gc
import re
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from stdnum.cn import ric, uscc

from piguard.audit.service import Actor, record
from piguard.core import addresses, crypto
from piguard.core.calendar import deadline_in_working_days, to_local_date
from piguard.core.db import utcnow
from piguard.core.errors import FieldError, PiguardError, not_found, refused, validation_error
from piguard.core.reasons import Decision, Reason
from piguard.core.text import clean_text
from piguard.identity.principal import Principal
from piguard.messaging import reasons as reason_catalogue
from piguard.messaging.models import (
    PORT_TYPES,
    Campaign,
    ChargedService,
    ContentProvider,
    Port,
    RegistryState,
    ServiceProvider,
    Signature,
    Suspension,
    Template,
)
from piguard.messaging.registry.short_codes import is_official_short_code
from piguard.messaging.review import Channel, MessageKind, ReviewContext, Reviewer, default_reviewer
from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH
from piguard.regulations.markers import carries
from piguard.regulations.parameters import value

#: Longest text per channel (a long SMS is split by the SMS centre; e-mail bodies are longer).
MAX_LENGTH = {"sms": DEFAULT_MAX_LENGTH, "email": 20_000}
IDENTITY_TYPES = ("uscc", "resident_id", "passport", "other")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_\-]{1,63}$")
_PORT_DIGITS = re.compile(r"^\d{3,21}$")
_EXT = re.compile(r"^\d{1,12}$")


def actor_of(principal: Principal | None) -> Actor:
    return principal.as_actor() if principal is not None else Actor.system("messaging")


def _invalid(field: str, en: str, zh: str) -> PiguardError:
    return validation_error(
        [FieldError(field, f"{en} / {zh}")], f"Invalid {field}: {en}", f"{field} 无效：{zh}"
    )


def _text(field: str, v: object, max_len: int = 200, required: bool = True) -> str:
    return clean_text(v, field, max_len, required=required, bad=_invalid)


def _conflict(what: str) -> PiguardError:
    return PiguardError("conflict", f"{what} already exists.", f"{what} 已存在。", http_status=409)


def bump(session: Session) -> None:
    """Mark the registry changed (every process reloads its snapshot on its next batch)."""
    token = uuid.uuid4().hex
    res = session.execute(
        update(RegistryState)
        .where(RegistryState.id == 1)
        .values(version=RegistryState.version + 1, token=token, changed_at=utcnow())
    )
    if getattr(res, "rowcount", 0) == 0:
        session.add(RegistryState(id=1, version=1, token=token, changed_at=utcnow()))
    session.flush()


def _audit(
    session: Session, principal: Principal | None, action: str, obligations: Sequence[str], **detail: Any
) -> None:
    record(
        session,
        action=action,
        actor=actor_of(principal),
        obligations=tuple(obligations),
        client_ip=principal.client_ip if principal else None,
        detail=detail,
    )


# ------------------------------------------------------------------------------------ writers


#: Province-level communications administrations that issue value-added telecom licences (their
#: one-character abbreviation opens a provincial licence number: 京B2-20180001); a licence issued
#: by the MIIT itself (cross-regional, 跨地区) has none, a foreign-invested one starts with 合字.
_PROVINCES = "京津沪渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵黔云滇藏陕秦甘陇青宁新"
#: 增值电信业务经营许可证 number: [province | 合字] category codes (A1, A2, B1, B2; several joined by
#: "." as in B1.B2) "-" year (4 digits) serial (4 digits). Examples: B2-20190001, 京B2-20180001,
#: 合字B2-20150004, B1.B2-20090003.
LICENCE_NUMBER = re.compile(rf"^(?:[{_PROVINCES}]|合字)?[AB][12](?:\.[AB][12])*-(\d{{4}})(\d{{4}})$")


@carries("O31-6")
def licence_number_of(v: object) -> str:
    """The value-added telecom business licence number (O31-6), normalised (full-width forms,
    spaces, 、 between categories) or a validation error that shows the expected form."""
    raw = _text("licence_number", v, 64)
    n = unicodedata.normalize("NFKC", raw).upper().replace(" ", "").replace("、", ".")
    n = re.sub(r"[‐‑‒–—－]", "-", n)
    m = LICENCE_NUMBER.match(n)
    if m is None or not (1994 <= int(m.group(1)) <= utcnow().year + 1) or m.group(2) == "0000":
        raise _invalid(
            "licence_number",
            "a value-added telecom business licence number such as B2-20190001 or 京B2-20180001",
            "须为增值电信业务经营许可证编号，如 B2-20190001 或 京B2-20180001",
        )
    return n


def _access_code(v: object) -> str:
    c = _text("access_codes", v, 21)
    if not _PORT_DIGITS.match(c):
        raise _invalid("access_codes", "each access code is 3-21 digits", "接入代码须为 3-21 位数字")
    return c


@carries("O31-6", "O31-7")
def create_service_provider(
    session: Session,
    *,
    name: str,
    licence_number: str,
    access_codes: Sequence[str] = (),
    access_location: str = "",
    principal: Principal | None = None,
) -> ServiceProvider:
    """Register a licensed SMS service provider (O31-6) with its access codes and location (O31-7)."""
    name = _text("name", name)
    licence = licence_number_of(licence_number)
    codes = list(dict.fromkeys(_access_code(c) for c in access_codes))
    if session.scalar(select(ServiceProvider.id).where(ServiceProvider.licence_number == licence)):
        raise _conflict(f"Service provider {licence}")
    sp = ServiceProvider(
        name=name,
        licence_number=licence,
        access_codes=codes,
        access_location=_text("access_location", access_location, required=False),
    )
    session.add(sp)
    session.flush()
    bump(session)
    _audit(session, principal, "sms.registry.service_provider_created", ("O31-6", "O31-7"), id=sp.id)
    return sp


def _check_identity(kind: str, number: str) -> str:
    if kind not in IDENTITY_TYPES:
        raise _invalid("identity_type", f"one of {', '.join(IDENTITY_TYPES)}", "证件类型无效")
    n = (number or "").strip().upper() if isinstance(number, str) else ""
    if kind == "uscc" and not uscc.is_valid(n):
        raise _invalid(
            "identity_number", "not a valid unified social credit code", "不是有效的统一社会信用代码"
        )
    if kind == "resident_id" and not ric.is_valid(n):
        raise _invalid("identity_number", "not a valid resident identity number", "不是有效的居民身份证号码")
    if kind in ("passport", "other") and not re.fullmatch(r"[A-Z0-9\-]{5,32}", n):
        raise _invalid("identity_number", "5-32 letters or digits", "须为 5-32 位字母或数字")
    return uscc.compact(n) if kind == "uscc" else n


@carries("O31-12")
def create_content_provider(
    session: Session,
    *,
    code: str,
    name: str,
    service_provider_id: int,
    identity_type: str,
    identity_number: str,
    principal: Principal | None = None,
) -> ContentProvider:
    """Register a content provider with its real identity (O31-12); verification comes next
    (:func:`verify_content_provider`). The number is stored hashed, masked and encrypted only."""
    code = _text("code", code, 64).lower()
    if not _CODE.match(code):
        raise _invalid("code", "lower-case letters, digits, _ or -", "只能包含小写字母、数字、_ 或 -")
    if session.get(ServiceProvider, service_provider_id) is None:
        raise not_found("Service provider", "短信服务提供者", str(service_provider_id))
    number = _check_identity(identity_type, identity_number)
    if session.scalar(select(ContentProvider.id).where(ContentProvider.code == code)):
        raise _conflict(f"Content provider {code}")
    ihash = crypto.identity_hash(identity_type, number)
    holder = session.scalar(select(ContentProvider).where(ContentProvider.identity_hash == ihash).limit(1))
    if holder is not None:
        raise PiguardError(
            "identity_taken",
            f"This {identity_type} number is already the identity of content provider {holder.code}: "
            "one real identity is one content provider (add its signatures and ports there).",
            f"该证件号码已是内容提供者 {holder.code} 的身份信息：同一真实身份只能登记为一个内容提供者"
            "（请在其名下添加签名和端口）。",
            obligations=("O31-12",),
            fields=[FieldError("identity_number", f"already registered to {holder.code}")],
            http_status=409,
        )
    cp = ContentProvider(
        code=code,
        name=_text("name", name),
        service_provider_id=service_provider_id,
        identity_type=identity_type,
        identity_masked=addresses.mask_identity(number),
        identity_hash=ihash,
        identity_enc=crypto.encrypt(number),
        verification_status="pending",
    )
    session.add(cp)
    session.flush()
    bump(session)
    _audit(
        session,
        principal,
        "sms.registry.content_provider_created",
        ("O31-12",),
        code=code,
        identity=cp.identity_masked,
    )
    return cp


@carries("O31-12")
def verify_content_provider(
    session: Session, code: str, *, status: str = "verified", principal: Principal | None = None
) -> ContentProvider:
    """Record the outcome of the real-identity check (O31-12): verified or rejected."""
    if status not in ("verified", "rejected"):
        raise _invalid("status", "verified or rejected", "须为 verified 或 rejected")
    cp = get_content_provider(session, code)
    cp.verification_status = status
    cp.verified_at = utcnow()
    cp.verified_by = principal.actor_id if principal else "system"
    session.flush()
    bump(session)
    _audit(
        session, principal, "sms.registry.content_provider_verified", ("O31-12",), code=cp.code, status=status
    )
    return cp


@carries("O31-16", "CSL-47")
def record_lottery_licence(
    session: Session, code: str, licence: str | None, *, principal: Principal | None = None
) -> ContentProvider:
    """Record (or, with ``None``, withdraw) a content provider's authorisation from a lottery
    issuing body to publish lottery results (O31-16, CSL-47). A verified provider with one is a
    licensed lottery content provider: the content review clears the gambling finding of its
    lottery results (clearance ``licensed_lottery``), never of anything else."""
    cp = get_content_provider(session, code)
    cp.lottery_licence = None if licence is None else _text("lottery_licence", licence, 64)
    session.flush()
    bump(session)
    _audit(
        session,
        principal,
        "sms.registry.lottery_licence_recorded",
        ("O31-16", "CSL-47"),
        code=cp.code,
        licensed=cp.lottery_licence is not None,
    )
    return cp


REVIEW_DECISIONS = ("approved", "rejected")


def _signature_claim(text: str) -> str:
    """A signature as the content review compares it (full-width, case, variants, separators
    folded): 优品商城, 优品 商城 and 優品商城 are one signature."""
    return default_reviewer().rules.normalizer.normalize(text)[:64] or text


def _evidence(v: object) -> str:
    return _text("evidence", v, 2000)


@carries("O31-21", "O31-12")
def add_signature(session: Session, code: str, text: str, *, principal: Principal | None = None) -> Signature:
    """Submit a 【signature】 for a content provider (O31-21); brackets are optional in ``text``.

    It waits for review (:func:`review_signature`) and passes the gateway only once approved. A
    signature belongs to one content provider: one already submitted or approved for another
    provider (compared in the review's normalised form) is refused, naming that provider. A rejected
    signature of the same provider may be submitted again."""
    cp = get_content_provider(session, code)
    if cp.verification_status == "rejected":
        raise PiguardError(
            "content_provider_rejected",
            f"Content provider {cp.code} failed the real-identity check: it cannot register signatures.",
            f"内容提供者 {cp.code} 未通过真实身份核验，不能登记签名。",
            obligations=("O31-12",),
            http_status=409,
        )
    t = _text("text", text, 64).strip("【】[] ")
    if not t or "【" in t or "】" in t:
        raise _invalid("text", "a signature without nested 【】", "签名不能为空或包含【】")
    claim = _signature_claim(t)
    # rows written without a claim (bulk loads, rows older than the claim) count by their text
    unclaimed = (Signature.claim.is_(None)) & Signature.approved.is_(True) & (Signature.text == t)
    holder = session.scalar(
        select(Signature).where((Signature.claim == claim) | unclaimed).order_by(Signature.id).limit(1)
    )
    if holder is not None:
        if holder.content_provider_id == cp.id:
            raise _conflict(f"Signature {t}")
        owner = session.get(ContentProvider, holder.content_provider_id)
        owner_code = owner.code if owner is not None else str(holder.content_provider_id)
        raise PiguardError(
            "signature_taken",
            f"The signature 【{t}】 is registered to content provider {owner_code}: a signature "
            "belongs to one content provider.",
            f"签名【{t}】已登记在内容提供者 {owner_code} 名下：一个签名只属于一个内容提供者。",
            obligations=("O31-21", "O31-12"),
            fields=[FieldError("text", f"registered to {owner_code}")],
            http_status=409,
        )
    sig = session.scalar(select(Signature).where(Signature.content_provider_id == cp.id, Signature.text == t))
    if sig is None:
        sig = Signature(content_provider_id=cp.id, text=t)
        session.add(sig)
    sig.claim, sig.status, sig.approved = claim, "submitted", False
    sig.evidence, sig.reviewed_by, sig.reviewed_at = "", None, None
    session.flush()
    bump(session)
    _audit(session, principal, "sms.registry.signature_submitted", ("O31-21",), code=cp.code, signature=t)
    return sig


def _reviewer_id(principal: Principal | None) -> str:
    return (principal.actor_id if principal is not None else None) or "system"


def _decision(decision: str) -> str:
    if decision not in REVIEW_DECISIONS:
        raise _invalid("decision", "approved or rejected", "须为 approved 或 rejected")
    return decision


def _needs_verified(cp: ContentProvider, what: str) -> None:
    if cp.verification_status != "verified":
        raise PiguardError(
            "content_provider_unverified",
            f"Content provider {cp.code} is not verified: its {what} cannot be approved (O31-12).",
            f"内容提供者 {cp.code} 的真实身份尚未核验，不能批准其{'签名' if what == 'signature' else '模板'}。",
            obligations=("O31-12",),
            http_status=409,
        )


def get_signature(session: Session, signature_id: int | str) -> Signature:
    sid = _port_id(signature_id)
    sig = session.get(Signature, sid) if sid is not None else None
    if sig is None:
        raise not_found("Signature", "签名", str(signature_id))
    return sig


@carries("O31-21", "O31-12")
def review_signature(
    session: Session,
    signature_id: int | str,
    *,
    decision: str,
    evidence: str,
    principal: Principal | None = None,
) -> Signature:
    """Approve or reject a submitted signature (O31-21, O31-12), with the evidence the reviewer
    looked at (trademark, company name, app or website registration …) and the reviewer recorded.
    Only a verified content provider's signature can be approved; a rejected one frees the name."""
    decision = _decision(decision)
    ev = _evidence(evidence)
    sig = get_signature(session, signature_id)
    cp = session.get(ContentProvider, sig.content_provider_id)
    assert cp is not None
    if decision == "approved":
        _needs_verified(cp, "signature")
        if sig.claim is None:  # rejected before: take the name back only if nobody has it now
            claim = _signature_claim(sig.text)
            if session.scalar(select(Signature.id).where(Signature.claim == claim)) is not None:
                raise _conflict(f"Signature {sig.text}")
            sig.claim = claim
    else:
        sig.claim = None
    sig.status, sig.approved = decision, decision == "approved"
    sig.evidence, sig.reviewed_by, sig.reviewed_at = ev, _reviewer_id(principal), utcnow()
    session.flush()
    bump(session)
    _audit(
        session,
        principal,
        f"sms.registry.signature_{decision}",
        ("O31-21", "O31-12"),
        code=cp.code,
        signature=sig.text,
        evidence=ev,
    )
    return sig


def approve_signature(
    session: Session, code: str, text: str, *, evidence: str, principal: Principal | None = None
) -> Signature:
    """Submit and approve in one step (set-up scripts, demo data, an operator's own signatures)."""
    sig = add_signature(session, code, text, principal=principal)
    return review_signature(session, sig.id, decision="approved", evidence=evidence, principal=principal)


# ------------------------------------------------------------------------------------ templates

#: ``{name}`` in a template's text: a placeholder for a short value (an order number, a code …)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,31})\}")
#: what a placeholder value may be: 1-20 characters, no white space, no 【】 (a second signature)
PLACEHOLDER_VALUE = r"[^\s【】\[\]]{1,20}"
_URLISH = re.compile(r"://|www\.|https?|\.(?:com|cn|net|top|xyz)\b", re.IGNORECASE)
_MAX_PLACEHOLDERS = 10
KINDS = tuple(k.value for k in MessageKind)


def template_pattern(text: str) -> re.Pattern[str]:
    """The regular expression a message must match in full to be sent as the template ``text``:
    the template's literal text exactly (surrounding white space of the message ignored) and, for
    each ``{name}``, 1-20 characters without white space or 【】 (:data:`PLACEHOLDER_VALUE`).
    :func:`template_matches` also refuses a placeholder value that looks like a link."""
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(text):
        out.append(re.escape(text[pos : m.start()]))
        out.append(f"({PLACEHOLDER_VALUE})")
        pos = m.end()
    out.append(re.escape(text[pos:]))
    return re.compile("".join(out), re.DOTALL)


def template_matches(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``text`` is the template with its placeholders filled (see :func:`template_pattern`)."""
    m = pattern.fullmatch(text.strip())
    return m is not None and not any(_URLISH.search(v) for v in m.groups())


def _template_fields(name: object, text: object, kind: object) -> tuple[str, str, str]:
    n = _text("name", name)
    t = _text("text", text, MAX_LENGTH["sms"])
    if kind not in KINDS:
        raise _invalid("kind", f"one of {', '.join(KINDS)}", "消息类型无效")
    holes = _PLACEHOLDER.findall(t)
    if len(holes) > _MAX_PLACEHOLDERS:
        raise _invalid(
            "text", f"at most {_MAX_PLACEHOLDERS} placeholders", f"最多 {_MAX_PLACEHOLDERS} 个占位符"
        )
    if len(_PLACEHOLDER.sub("", t).strip()) < 4:
        raise _invalid("text", "at least 4 characters of fixed text", "固定文字至少 4 个字符")
    return n, t, str(kind)


def get_template(session: Session, template_id: int | str) -> Template:
    tid = _port_id(template_id)
    tpl = session.get(Template, tid) if tid is not None else None
    if tpl is None:
        raise not_found("Template", "模板", str(template_id))
    return tpl


def list_templates(session: Session, content_provider: str | None = None) -> list[Template]:
    stmt = select(Template).order_by(Template.id)
    if content_provider:
        stmt = stmt.where(Template.content_provider_id == get_content_provider(session, content_provider).id)
    return list(session.scalars(stmt))


@carries("O31-19", "O31-21")
def create_template(
    session: Session,
    *,
    content_provider: str,
    name: str,
    text: str,
    kind: str,
    principal: Principal | None = None,
) -> Template:
    """Submit a message template with its declared kind (reviewed by :func:`review_template`)."""
    cp = get_content_provider(session, content_provider)
    n, t, k = _template_fields(name, text, kind)
    tpl = Template(content_provider_id=cp.id, name=n, text=t, kind=k, status="submitted", approved=False)
    session.add(tpl)
    session.flush()
    bump(session)
    _audit(session, principal, "sms.registry.template_submitted", ("O31-19",), code=cp.code, template=tpl.id)
    return tpl


def update_template(
    session: Session,
    template_id: int | str,
    *,
    name: str | None = None,
    text: str | None = None,
    kind: str | None = None,
    principal: Principal | None = None,
) -> Template:
    """Change a template; a changed text or kind goes back to review (submitted, not approved)."""
    tpl = get_template(session, template_id)
    n, t, k = _template_fields(
        tpl.name if name is None else name,
        tpl.text if text is None else text,
        tpl.kind if kind is None else kind,
    )
    if (t, k) != (tpl.text, tpl.kind):
        tpl.status, tpl.approved, tpl.evidence, tpl.reviewed_by, tpl.reviewed_at = (
            "submitted",
            False,
            "",
            None,
            None,
        )
    tpl.name, tpl.text, tpl.kind = n, t, k
    session.flush()
    bump(session)
    _audit(
        session, principal, "sms.registry.template_changed", ("O31-19",), template=tpl.id, status=tpl.status
    )
    return tpl


def delete_template(session: Session, template_id: int | str, *, principal: Principal | None = None) -> None:
    tpl = get_template(session, template_id)
    session.delete(tpl)
    session.flush()
    bump(session)
    _audit(session, principal, "sms.registry.template_deleted", ("O31-19",), template=tpl.id)


@carries("O31-19", "O31-21", "O31-12")
def review_template(
    session: Session,
    template_id: int | str,
    *,
    decision: str,
    evidence: str,
    principal: Principal | None = None,
) -> Template:
    """Approve or reject a template (reviewer and evidence recorded). An approved template names its
    content provider with one of the provider's approved signatures (O31-21), and the provider is
    verified (O31-12)."""
    decision = _decision(decision)
    ev = _evidence(evidence)
    tpl = get_template(session, template_id)
    cp = session.get(ContentProvider, tpl.content_provider_id)
    assert cp is not None
    if decision == "approved":
        _needs_verified(cp, "template")
        approved = set(
            session.scalars(
                select(Signature.text).where(
                    Signature.content_provider_id == cp.id, Signature.approved.is_(True)
                )
            )
        )
        found = re.findall(r"【([^【】]+)】", _PLACEHOLDER.sub("", tpl.text))
        if not any(f in approved for f in found):
            raise PiguardError(
                "template_signature_unapproved",
                f"The template does not carry an approved signature of {cp.code} in 【】.",
                f"模板未以【】标明 {cp.code} 已批准的签名。",
                obligations=("O31-21",),
                fields=[FieldError("text", "needs an approved 【signature】 of the content provider")],
                http_status=409,
            )
    tpl.status, tpl.approved = decision, decision == "approved"
    tpl.evidence, tpl.reviewed_by, tpl.reviewed_at = ev, _reviewer_id(principal), utcnow()
    session.flush()
    bump(session)
    _audit(
        session,
        principal,
        f"sms.registry.template_{decision}",
        ("O31-19", "O31-21"),
        code=cp.code,
        template=tpl.id,
        evidence=ev,
    )
    return tpl


def _port_code(channel: str, code: str) -> str:
    if channel == "sms":
        c = (code or "").strip() if isinstance(code, str) else ""
        if not _PORT_DIGITS.match(c):
            raise _invalid("code", "3-21 digits", "须为 3-21 位数字")
        return c
    return addresses.normalize_address("email", code, "code").lower()


def _range_text(code: str, ext_from: str | None, ext_to: str | None) -> str:
    return f"{code} (extensions {ext_from}-{ext_to})" if ext_from is not None else code


def _interval(code: str, ext_from: str | None, ext_to: str | None) -> tuple[str, str]:
    """The sender codes a registration covers, as an interval of digit strings of one length."""
    return code + (ext_from or ""), code + (ext_to or "")


def ranges_clash(a: tuple[str, str | None, str | None], b: tuple[str, str | None, str | None]) -> bool:
    """Whether two SMS port registrations ``(code, extension_from, extension_to)`` cannot both be
    owned by different content providers (O31-13): the same code, or a sender code one of them
    covers equals or begins another's (a longer code inside the other's code + extension range, or
    a shorter code that covers it). Then a message or a reply would name either provider."""
    if a[0] == b[0]:
        return True
    (alo, ahi), (blo, bhi) = _interval(*a), _interval(*b)
    if len(alo) > len(blo):
        (alo, ahi), (blo, bhi) = (blo, bhi), (alo, ahi)
    n = len(alo)  # compare the longer one's codes cut to the shorter one's length
    return max(alo, blo[:n]) <= min(ahi, bhi[:n])


@carries("O31-7", "O31-13")
def _check_access_codes(session: Session, cp: ContentProvider, code: str) -> None:
    """An SMS port lies within one of its service provider's access codes (O31-7, O31-13)."""
    sp = session.get(ServiceProvider, cp.service_provider_id)
    codes = list(sp.access_codes or ()) if sp is not None else []
    if any(code.startswith(ac) for ac in codes):
        return
    shown = ", ".join(codes) or "none registered"
    raise PiguardError(
        "port_outside_access_codes",
        f"Port {code} is not within the access codes of service provider "
        f"{sp.name if sp else cp.service_provider_id} ({shown}).",
        f"端口 {code} 不在短信服务提供者的接入代码（{'、'.join(codes) or '未登记'}）范围内。",
        obligations=("O31-7", "O31-13"),
        fields=[FieldError("code", f"must begin with an access code of the service provider: {shown}")],
        http_status=422,
    )


@carries("O31-13")
def _check_overlap(
    session: Session,
    cp: ContentProvider,
    channel: str,
    code: str,
    ext_from: str | None,
    ext_to: str | None,
) -> None:
    """Refuse a port registration that overlaps one already registered (O31-13), naming its owner:
    for another content provider any clash of :func:`ranges_clash`, for the same one a range that
    covers a sender code twice."""
    if channel == "email":
        stmt = select(Port).where(Port.channel == channel, Port.code == code)
    else:
        prefixes = [code[:i] for i in range(1, len(code) + 1)]
        stmt = select(Port).where(
            Port.channel == channel, (Port.code.in_(prefixes)) | (Port.code.like(code + "%"))
        )
    mine = (code, ext_from, ext_to)
    for other in session.scalars(stmt.order_by(Port.id)):
        theirs = (other.code, other.extension_from, other.extension_to)
        if other.content_provider_id == cp.id:
            lo, hi = _interval(*mine)
            olo, ohi = _interval(*theirs)
            if len(lo) != len(olo) or max(lo, olo) > min(hi, ohi):
                continue
        elif channel == "sms" and not ranges_clash(mine, theirs):
            continue
        owner = session.get(ContentProvider, other.content_provider_id)
        who = f"{owner.code} ({owner.name})" if owner is not None else str(other.content_provider_id)
        taken = _range_text(*theirs)
        raise PiguardError(
            "port_overlap",
            f"Port {_range_text(*mine)} overlaps port {taken} (id {other.id}) of content provider "
            f"{who}: a port range is owned by exactly one content provider.",
            f"端口 {_range_text(*mine)} 与内容提供者 {who} 的端口 {taken}（编号 {other.id}）重叠："
            "一个端口号段只能属于一个内容提供者。",
            obligations=("O31-13",),
            fields=[
                FieldError(
                    "code", f"overlaps {taken} of {owner.code if owner else other.content_provider_id}"
                )
            ],
            http_status=409,
        )


@carries("O31-13", "O31-19", "O31-10")
def create_port(
    session: Session,
    *,
    code: str,
    port_type: str,
    content_provider: str,
    channel: str = "sms",
    approved_scope: str = "",
    extension_from: str | None = None,
    extension_to: str | None = None,
    principal: Principal | None = None,
) -> Port:
    """Register a port / sender code (or sender e-mail address) with its approved type and scope
    (O31-13, O31-19) and the extension range its content provider may use."""
    if channel not in ("sms", "email"):
        raise _invalid("channel", "sms or email", "须为 sms 或 email")
    if port_type not in PORT_TYPES:
        raise _invalid("port_type", f"one of {', '.join(PORT_TYPES)}", "端口类型无效")
    c = _port_code(channel, code)
    cp = get_content_provider(session, content_provider)
    if (extension_from is None) != (extension_to is None):
        raise _invalid("extension_to", "give both ends of the range or neither", "须同时给出扩展号范围的两端")
    if extension_from is not None and extension_to is not None:
        if channel != "sms" or not (_EXT.match(extension_from) and _EXT.match(extension_to)):
            raise _invalid("extension_from", "digits (SMS only)", "须为数字（仅短信）")
        if len(extension_from) != len(extension_to) or extension_from > extension_to:
            raise _invalid(
                "extension_to", "same length, not below extension_from", "长度相同且不小于起始扩展号"
            )
        if len(c) + len(extension_to) > 21:
            raise _invalid("extension_to", "code and extension at most 21 digits", "端口号加扩展号最多 21 位")
    if channel == "sms":
        _check_access_codes(session, cp, c)
    _check_overlap(session, cp, channel, c, extension_from, extension_to)
    port = Port(
        channel=channel,
        code=c,
        port_type=port_type,
        approved_scope=_text("approved_scope", approved_scope, 500, required=False),
        service_provider_id=cp.service_provider_id,
        content_provider_id=cp.id,
        extension_from=extension_from,
        extension_to=extension_to,
    )
    session.add(port)
    session.flush()
    bump(session)
    _audit(
        session,
        principal,
        "sms.registry.port_created",
        ("O31-13", "O31-19"),
        port=c,
        type=port_type,
        content_provider=cp.code,
    )
    return port


@carries("O31-9")
def create_charged_service(
    session: Session,
    *,
    content_provider: str,
    code: str,
    name: str,
    service_content: str = "",
    tariff: str = "",
    charging_method: str = "",
    unsubscribe_method: str = "",
    principal: Principal | None = None,
) -> ChargedService:
    """Register a charged subscription service. Its terms may be incomplete here, but a service
    without all four (content, tariff, charging method, how to unsubscribe) cannot ask for consent."""
    cp = get_content_provider(session, content_provider)
    svc = ChargedService(
        content_provider_id=cp.id,
        code=_text("code", code, 64),
        name=_text("name", name),
        service_content=_text("service_content", service_content, 500, required=False),
        tariff=_text("tariff", tariff, required=False),
        charging_method=_text("charging_method", charging_method, required=False),
        unsubscribe_method=_text("unsubscribe_method", unsubscribe_method, required=False),
    )
    session.add(svc)
    session.flush()
    _audit(
        session,
        principal,
        "sms.registry.charged_service_created",
        ("O31-9",),
        content_provider=cp.code,
        service=svc.code,
    )
    return svc


def missing_charged_terms(svc: ChargedService) -> list[str]:
    return [
        f
        for f in ("service_content", "tariff", "charging_method", "unsubscribe_method")
        if not (getattr(svc, f) or "").strip()
    ]


@carries("O31-17")
def create_campaign(
    session: Session,
    *,
    name: str,
    department: str,
    content: str,
    scope: str,
    content_provider: str,
    notified_on: date,
    send_on: date,
    emergency: bool = False,
    ends_on: date | None = None,
    principal: Principal | None = None,
) -> Campaign:
    """Register a public-welfare campaign (O31-17). A non-emergency campaign needs its details given
    to the telecommunications management agency ``public_welfare.notice_working_days`` working days
    (official calendar) before the send date; otherwise it is refused."""
    cp = get_content_provider(session, content_provider)
    if not session.scalar(
        select(Port.id).where(Port.content_provider_id == cp.id, Port.port_type == "public_welfare").limit(1)
    ):
        raise refused(
            Decision.refuse(
                reason_catalogue.reason(
                    "campaign_provider_commercial",
                    "Only a content provider with a public-welfare port may register a public-welfare campaign.",
                    "只有拥有公益端口的内容提供者方可登记公益活动。",
                    content_provider=cp.code,
                )
            ),
            f"Content provider {cp.code} has no public-welfare port: it cannot register a public-welfare campaign.",
            f"内容提供者 {cp.code} 没有公益端口，不能登记公益活动。",
        )
    if ends_on is not None and to_local_date(ends_on) < to_local_date(send_on):
        raise validation_error(
            [FieldError("ends_on", "on or after send_on / 不得早于 send_on")],
            "The campaign's end date is before its send date.",
            "公益活动的结束日期早于发送日期。",
        )
    n = value("public_welfare.notice_working_days", on=notified_on)
    deadline = deadline_in_working_days(notified_on, n)
    due = deadline.due
    if not emergency and to_local_date(send_on) < due:
        raise PiguardError(
            "public_welfare_notice_too_short",
            f"Public-welfare details must be given {n} working days before sending: the earliest send date "
            f"for details given on {notified_on.isoformat()} is {due.isoformat()}."
            + (f" {deadline.warning_en}" if deadline.estimated and deadline.warning_en else ""),
            f"公益性短信息须提前 {n} 个工作日提供发送信息：{notified_on.isoformat()} 提供的，最早于 {due.isoformat()} 发送。"
            + (deadline.warning_zh or "" if deadline.estimated else ""),
            obligations=("O31-17",),
            fields=[FieldError("send_on", f"on or after {due.isoformat()}")],
            http_status=422,
        )
    camp = Campaign(
        name=_text("name", name),
        department=_text("department", department),
        content=_text("content", content, 2000),
        scope=_text("scope", scope, 500),
        content_provider_id=cp.id,
        notified_on=notified_on.isoformat(),
        send_on=send_on.isoformat(),
        emergency=emergency,
        notice_due=due.isoformat(),
        notice_estimated=deadline.estimated,
        ends_on=to_local_date(ends_on).isoformat() if ends_on is not None else None,
    )
    session.add(camp)
    session.flush()
    _audit(
        session,
        principal,
        "sms.registry.campaign_created",
        ("O31-17",),
        campaign=camp.id,
        emergency=emergency,
    )
    return camp


@carries("O31-23", "O24-14.2", "O31-28")
def _port_id(key: str | int) -> int | None:
    """A port is named by its numeric id; anything else names no port (a 404, not a crash)."""
    if isinstance(key, int):
        return key
    text = str(key).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def set_suspension(
    session: Session,
    *,
    target_type: str,
    key: str | int,
    suspended: bool,
    reason: str,
    obligations: Sequence[str] = ("O31-23",),
    principal: Principal | None = None,
) -> ContentProvider | Port:
    """Turn a suspension switch on or off for a content provider (by code) or a port (by id), with
    the reason and the obligations it rests on (O31-23, O24-14.2, O31-28); audited."""
    reason = _text("reason", reason, 500)
    obls = [o for o in obligations if isinstance(o, str) and o.strip()] or ["O31-23"]
    target: ContentProvider | Port
    if target_type == "content_provider":
        target = get_content_provider(session, str(key))
    elif target_type == "port":
        port_id = _port_id(key)
        port = session.get(Port, port_id) if port_id is not None else None
        if port is None:
            raise not_found("Port", "端口", str(key))
        target = port
    else:
        raise _invalid("target_type", "content_provider or port", "须为 content_provider 或 port")
    now = utcnow()
    target.suspended = suspended
    target.suspended_reason = reason if suspended else None
    target.suspended_obligations = obls if suspended else []
    target.suspended_at = now if suspended else None
    session.add(
        Suspension(
            target_type=target_type,
            target_id=target.id,
            action="suspend" if suspended else "resume",
            reason=reason,
            obligations=obls,
            at=now,
            by=principal.actor_id if principal else "system",
        )
    )
    session.flush()
    bump(session)
    _audit(
        session,
        principal,
        f"sms.registry.{'suspended' if suspended else 'resumed'}",
        obls,
        target_type=target_type,
        target_id=target.id,
        reason=reason,
    )
    return target


def suspend_content_provider(
    session: Session,
    code: str,
    *,
    reason: str,
    obligations: Sequence[str] = ("O31-23",),
    principal: Principal | None = None,
) -> ContentProvider:
    cp = set_suspension(
        session,
        target_type="content_provider",
        key=code,
        suspended=True,
        reason=reason,
        obligations=obligations,
        principal=principal,
    )
    assert isinstance(cp, ContentProvider)
    return cp


def resume_content_provider(
    session: Session, code: str, *, reason: str, principal: Principal | None = None
) -> ContentProvider:
    cp = set_suspension(
        session, target_type="content_provider", key=code, suspended=False, reason=reason, principal=principal
    )
    assert isinstance(cp, ContentProvider)
    return cp


# ------------------------------------------------------------------------------------ getters


def get_content_provider(session: Session, code: str) -> ContentProvider:
    cp = session.scalar(select(ContentProvider).where(ContentProvider.code == str(code).strip().lower()))
    if cp is None:
        raise not_found("Content provider", "内容提供者", str(code))
    return cp


def list_service_providers(session: Session) -> list[ServiceProvider]:
    return list(session.scalars(select(ServiceProvider).order_by(ServiceProvider.id)))


def list_content_providers(session: Session) -> list[ContentProvider]:
    return list(session.scalars(select(ContentProvider).order_by(ContentProvider.id)))


def list_ports(session: Session, content_provider: str | None = None) -> list[Port]:
    stmt = select(Port).order_by(Port.id)
    if content_provider:
        stmt = stmt.where(Port.content_provider_id == get_content_provider(session, content_provider).id)
    return list(session.scalars(stmt))


def list_signatures(session: Session, content_provider: str) -> list[Signature]:
    cp = get_content_provider(session, content_provider)
    return list(
        session.scalars(
            select(Signature).where(Signature.content_provider_id == cp.id).order_by(Signature.id)
        )
    )


def list_suspensions(session: Session, limit: int = 200) -> list[Suspension]:
    return list(session.scalars(select(Suspension).order_by(Suspension.id.desc()).limit(limit)))


# ------------------------------------------------------------------------------------ snapshot


@dataclass(frozen=True, slots=True)
class CPView:
    id: int
    code: str
    name: str
    verified: bool
    suspended: bool
    suspended_reason: str | None
    suspended_obligations: tuple[str, ...]
    signatures: frozenset[str]
    sp_active: bool
    #: a lottery licence is on record (record_lottery_licence)
    lottery_licensed: bool = False


@dataclass(frozen=True, slots=True)
class PortView:
    id: int
    channel: str
    code: str
    port_type: str
    cp_id: int
    ext_from: str | None
    ext_to: str | None
    suspended: bool
    suspended_reason: str | None
    suspended_obligations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TemplateView:
    id: int
    cp_id: int
    kind: str
    pattern: re.Pattern[str]


_TEMPLATE_NOT_APPROVED = (
    "Not an approved template of this content provider: the content review decides the kind.",
    "不是该内容提供者已批准的模板：消息类型由内容审核确定。",
)
_TEMPLATE_CHANGED = (
    "The text does not match the approved template: the content review decides the kind.",
    "内容与已批准的模板不符：消息类型由内容审核确定。",
)
_TEMPLATE_MATCHED = (
    "The text matches an approved template: its reviewed kind is used.",
    "内容与已批准的模板一致：采用模板审核确定的消息类型。",
)


@dataclass
class RegistrySnapshot:
    """The registry in memory, as the gateway decides over it (read once, reused across batches).

    Everything per content provider that the decision needs is built here, at load, not on a
    provider's first message: each provider's review context per channel it has ports on
    (:meth:`port_context`), and (once per reviewer, :meth:`prepare`) its registered signatures in
    the reviewer's normalised form."""

    token: str
    cps: dict[int, CPView] = field(default_factory=dict)
    cps_by_code: dict[str, CPView] = field(default_factory=dict)
    ports: dict[int, PortView] = field(default_factory=dict)
    by_code: dict[tuple[str, str], tuple[PortView, ...]] = field(default_factory=dict)
    max_len: int = 0
    _contexts: dict[tuple[int, str, str | None, frozenset[str]], ReviewContext] = field(default_factory=dict)
    #: port id -> the review context of its content provider on its channel, nothing declared
    _port_contexts: dict[int, ReviewContext] = field(default_factory=dict)
    _prepared_for: Reviewer | None = None
    #: channel -> every port code, sorted (built on the first :meth:`owners` call)
    _sorted_codes: dict[str, list[str]] = field(default_factory=dict)
    #: approved templates by id
    templates: dict[int, TemplateView] = field(default_factory=dict)

    @carries("O31-19")
    def template_kind(self, cp_id: int, template_id: object, text: str) -> tuple[str | None, Reason]:
        """The kind a message sent as template ``template_id`` is trusted to have: the approved
        template's reviewed kind while ``text`` matches it (:func:`template_matches`), else ``None``
        (the content review decides), with the reason saying which."""
        tpl = self.templates.get(template_id) if type(template_id) is int else None
        if tpl is None or tpl.cp_id != cp_id:
            return None, reason_catalogue.reason(
                "template_not_approved", *_TEMPLATE_NOT_APPROVED, template=template_id
            )
        if not template_matches(tpl.pattern, text):
            return None, reason_catalogue.reason("template_text_changed", *_TEMPLATE_CHANGED, template=tpl.id)
        return tpl.kind, reason_catalogue.reason(
            "template_matched", *_TEMPLATE_MATCHED, template=tpl.id, kind=tpl.kind
        )

    def add_port(self, p: PortView) -> None:
        self.ports[p.id] = p
        key = (p.channel, p.code)
        self.by_code[key] = (*self.by_code.get(key, ()), p)
        self.max_len = max(self.max_len, len(p.code))
        cp = self.cps.get(p.cp_id)
        if cp is not None:
            self._port_contexts[p.id] = self.review_context(cp, p.channel, None, port_clearances(cp, p))

    def resolve(self, channel: str, sender: str) -> tuple[PortView | None, str]:
        """The port a sender code belongs to (longest code first), and the extension used."""
        if channel == "email":
            ports = self.by_code.get((channel, sender.lower()))
            return (ports[0], "") if ports else (None, "")
        by_code = self.by_code
        for n in range(min(len(sender), self.max_len), 0, -1):
            ports = by_code.get((channel, sender[:n]))
            if not ports:
                continue
            ext = sender[n:]
            for p in ports:
                if p.ext_from is None:
                    if not ext:
                        return p, ""
                elif len(ext) == len(p.ext_from) and ext.isdigit() and p.ext_from <= ext <= (p.ext_to or ""):
                    return p, ext
        return None, ""

    @carries("O31-20", "O31-13")
    def owners(self, channel: str, destination: str) -> tuple[PortView, ...]:
        """Every content provider a reply to ``destination`` may be meant for, one port each, in
        content-provider order (O31-20). A code that :meth:`resolve` resolves names its port's
        provider alone. Otherwise each provider with a registered sender code that begins with
        ``destination`` (a reply to the base code 10690001 of the range 10690001 01-49) or that
        ``destination`` begins with (digits appended after a registered code) is an owner: one or,
        where the code is shared by several providers' ranges, several."""
        port, _ext = self.resolve(channel, destination)
        if port is not None:
            return (port,)
        if channel == "email" or not destination.isdigit():
            return ()
        found: dict[int, PortView] = {}
        for n in range(min(len(destination), self.max_len), 0, -1):
            for p in self.by_code.get((channel, destination[:n]), ()):
                rest = destination[n:]
                width = len(p.ext_from or "")
                lo, hi = p.ext_from or "", p.ext_to or ""
                if len(rest) < width:  # a shortened sender code: some extension begins with rest
                    ok = lo[: len(rest)] <= rest <= hi[: len(rest)]
                else:  # digits after a registered sender code
                    ok = lo <= rest[:width] <= hi
                if ok:
                    found.setdefault(p.cp_id, p)
        codes = self._sorted_codes.get(channel)
        if codes is None:
            codes = self._sorted_codes[channel] = sorted(c for ch, c in self.by_code if ch == channel)
        i = bisect.bisect_right(codes, destination)
        while i < len(codes) and codes[i].startswith(destination):
            for p in self.by_code[(channel, codes[i])]:
                found.setdefault(p.cp_id, p)
            i += 1
        return tuple(found[k] for k in sorted(found))

    def review_context(
        self, cp: CPView, channel: str, declared: str | None, clearances: frozenset[str] = frozenset()
    ) -> ReviewContext:
        key = (cp.id, channel, declared, clearances)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = ReviewContext(
                content_provider=cp.code,
                signatures=cp.signatures,
                channel=Channel(channel),
                declared_kind=MessageKind(declared) if declared else None,
                max_length=MAX_LENGTH[channel],
                clearances=clearances,
            )
            self._contexts[key] = ctx
        return ctx

    def port_context(self, port: PortView, declared: str | None) -> ReviewContext:
        """The review context for a message from ``port`` (built at load for the usual case, nothing
        declared; the same object :meth:`review_context` gives)."""
        if declared is None:
            ctx = self._port_contexts.get(port.id)
            if ctx is not None:
                return ctx
        cp = self.cps[port.cp_id]
        return self.review_context(cp, port.channel, declared, port_clearances(cp, port))

    def prepare(self, reviewer: Reviewer) -> None:
        """Hand ``reviewer`` every provider's review context once (it normalises the registered
        signatures ahead of the first message); repeated calls with the same reviewer cost nothing."""
        if self._prepared_for is not reviewer:
            reviewer.prepare(self._contexts.values())
            self._prepared_for = reviewer


@carries("O31-16", "O31-17")
def port_clearances(cp: CPView, port: PortView) -> frozenset[str]:
    """What the registry vouches for about a sender, for the content review
    (``ReviewContext.clearances``; O31-16, O31-17): a verified content provider's public-welfare
    port sends as a verified public-welfare sender, and its SMS port registered under an official
    short code (``short_codes.official_short_codes``: 12321, 96110, 12110, 95xxx …) as an official
    short code; the anti-fraud warnings of either quote fraud without being fraud. A verified
    provider with a lottery licence on record (:func:`record_lottery_licence`) sends as a licensed
    lottery content provider, whose lottery results are not gambling. An unverified provider is
    vouched for in nothing, whatever its port."""
    if not cp.verified:
        return _NO_CLEARANCE
    welfare = port.port_type == "public_welfare"
    official = port.channel == "sms" and is_official_short_code(port.code)
    found = _CLEARANCES[welfare, official]
    return found | _LOTTERY_CLEARANCE if cp.lottery_licensed else found


_NO_CLEARANCE: frozenset[str] = frozenset()
_LOTTERY_CLEARANCE = frozenset({"licensed_lottery"})
_CLEARANCES: dict[tuple[bool, bool], frozenset[str]] = {
    (False, False): _NO_CLEARANCE,
    (True, False): frozenset({"public_welfare"}),
    (False, True): frozenset({"official_short_code"}),
    (True, True): frozenset({"public_welfare", "official_short_code"}),
}


_cache: dict[int, RegistrySnapshot] = {}
_lock = threading.Lock()


def current_token(session: Session) -> str:
    return session.scalar(select(RegistryState.token).where(RegistryState.id == 1)) or "empty"


def load_snapshot(session: Session, token: str | None = None) -> RegistrySnapshot:
    """Read the registry (plain column queries, no ORM objects: 10k content providers load in a
    fraction of a second) and build every provider's review context."""
    snap = RegistrySnapshot(token=token or current_token(session))
    sp_active = dict(session.execute(select(ServiceProvider.id, ServiceProvider.active)).all())
    sigs: dict[int, set[str]] = {}
    for cp_id, text in session.execute(
        select(Signature.content_provider_id, Signature.text).where(Signature.approved.is_(True))
    ):
        sigs.setdefault(cp_id, set()).add(text)
    no_sigs: frozenset[str] = frozenset()
    for cid, code, name, status, suspended, reason, obligations, sp_id, lottery in session.execute(
        select(
            ContentProvider.id,
            ContentProvider.code,
            ContentProvider.name,
            ContentProvider.verification_status,
            ContentProvider.suspended,
            ContentProvider.suspended_reason,
            ContentProvider.suspended_obligations,
            ContentProvider.service_provider_id,
            ContentProvider.lottery_licence,
        ).order_by(ContentProvider.id)
    ):
        found = sigs.get(cid)
        view = CPView(
            id=cid,
            code=code,
            name=name,
            verified=status == "verified",
            suspended=bool(suspended),
            suspended_reason=reason,
            suspended_obligations=tuple(obligations or ()),
            signatures=frozenset(found) if found else no_sigs,
            sp_active=bool(sp_active.get(sp_id, False)),
            lottery_licensed=lottery is not None,
        )
        snap.cps[cid] = view
        snap.cps_by_code[code] = view
    for (
        pid,
        channel,
        code,
        port_type,
        cp_id,
        ext_from,
        ext_to,
        suspended,
        reason,
        obligations,
    ) in session.execute(
        select(
            Port.id,
            Port.channel,
            Port.code,
            Port.port_type,
            Port.content_provider_id,
            Port.extension_from,
            Port.extension_to,
            Port.suspended,
            Port.suspended_reason,
            Port.suspended_obligations,
        ).order_by(Port.id)
    ):
        snap.add_port(
            PortView(
                id=pid,
                channel=channel,
                code=code,
                port_type=port_type,
                cp_id=cp_id,
                ext_from=ext_from,
                ext_to=ext_to,
                suspended=bool(suspended),
                suspended_reason=reason,
                suspended_obligations=tuple(obligations or ()),
            )
        )
    for tid, cp_id, kind, text in session.execute(
        select(Template.id, Template.content_provider_id, Template.kind, Template.text).where(
            Template.approved.is_(True)
        )
    ):
        snap.templates[tid] = TemplateView(tid, cp_id, kind, template_pattern(text))
    return snap


def snapshot(session: Session) -> RegistrySnapshot:
    """The current registry snapshot for this database: one token query, a reload when it changed."""
    bind = session.get_bind()
    key = id(getattr(bind, "engine", bind))
    token = current_token(session)
    snap = _cache.get(key)
    if snap is not None and snap.token == token:
        return snap
    with _lock:
        snap = load_snapshot(session, token)
        _cache[key] = snap
    # The snapshot lives until the registry changes: keep its ~100k objects out of the cyclic
    # collector's full passes (each cost ~80 ms on the decision path). gc.freeze() itself is cheap.
    gc.freeze()
    return snap


def forget_snapshots() -> None:
    _cache.clear()
