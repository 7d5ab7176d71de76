"""The gateway decision (MIIT Order 31): every outbound message is allowed, refused or held, with
reasons that name the obligations.

:func:`decide` is pure: it reads a prepared :class:`GatewayContext` (the registry snapshot, the
batch's consents and suppression fingerprints, referenced campaigns, the clock and settings) and
never touches the database. The steps, in order:

1. registered sender (port or sender code, with extension) ``O31-10``, ``O31-13``; verified content
   provider ``O31-12``; licensed service provider ``O31-6``;
2. content review (signature, opt-out text, prohibited content, PI in the text) ``O31-16``,
   ``O31-20``, ``O31-21``, ``CSL-47``, ``O24-10`` (:mod:`piguard.messaging.review`);
3. suspension switches of the content provider and the port ``O31-23``, ``O24-14.2``, ``O31-28``;
4. port type against the message kind ``O31-19`` (business/service ports never send commercial
   messages), public-welfare and emergency messages only from a public-welfare port ``O31-13``;
5. commercial: live consent for this content provider and type, within its period and frequency
   ``O31-18.1``, ``O31-18.2``, ``CRL-29``, ``NPC-7``; public welfare: a campaign whose send date
   has come ``O31-17``; emergency: the emergency lane, which no throttle or quiet hours delay;
6. similarity suppression after a refusal or no reply ``O31-18.2``;
7. quiet hours (configured, Asia/Shanghai) hold commercial and public-welfare messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from piguard.core import addresses, crypto
from piguard.core.calendar import SHANGHAI
from piguard.core.errors import invalid_field as _bad
from piguard.core.frozen import fast_init
from piguard.core.reasons import Decision, Outcome, Reason
from piguard.messaging.gateway.similarity import overlap, simhash, similarity
from piguard.messaging.reasons import obligations_of, reason
from piguard.messaging.registry.service import MAX_LENGTH, CPView, PortView, RegistrySnapshot
from piguard.messaging.review import MessageKind, Reviewer, ReviewResult, Severity, default_reviewer
from piguard.regulations.markers import carries

KINDS = tuple(k.value for k in MessageKind)
COMMERCIAL, EMERGENCY, PUBLIC_WELFARE = "commercial", "emergency", "public_welfare"
_TYPE_MAX = 64
#: what a message the gateway itself sends is for (``GatewayRequest.purpose``)
CONSENT_REQUEST, CONFIRMATION = "consent_request", "optout_confirmation"
PURPOSES = (CONSENT_REQUEST, CONFIRMATION)
#: C0/C1 control characters and DEL (BEL, ESC, NUL …) never reach the SMS centre; \t \n \r may
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(slots=True)
class GatewayRequest:
    """One message to decide. ``kind`` is what the sender declares (optional; the review decides,
    a declared emergency or public-welfare message keeps its kind unless its content is commercial);
    ``message_type`` is the consent type of a commercial message (e.g. ``promotions``)."""

    channel: str
    sender: str
    recipient: str
    text: str
    kind: str | None = None
    message_type: str | None = None
    campaign_id: int | None = None
    client_ref: str | None = None
    #: the content provider the caller is bound as (SMPP bind, API token); a port of another
    #: content provider is then refused (O31-13, O31-10; checked in ``messaging.gateway.submit``)
    content_provider_id: int | None = None
    #: an approved template of the content provider the text was written from: its reviewed kind is
    #: trusted while the text matches it (``RegistrySnapshot.template_kind``, O31-19)
    template_id: int | None = None
    #: a message piguard sends itself: ``consent_request`` or ``optout_confirmation`` (decided by
    #: the same steps; see :func:`step_consent`)
    purpose: str | None = None
    #: ``client_ref`` is the client's own reference: a resubmission within the window is answered
    #: with the first result (``gateway.submit``). False where the transport sets a tag of its own
    #: there (SMPP has no client reference: ``smpp:<system_id>`` marks the account)
    idempotent: bool = True
    #: what the message record keeps instead of ``text`` (O31-11): a one-time login code sent by the
    #: portal is kept masked there, the outbox alone carries the text to the transport
    record_text: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated request: the normalised address, its keyed hash and masked form."""

    request: GatewayRequest
    address: str
    recipient_hash: str
    recipient_masked: str
    sender: str


@fast_init
@dataclass(frozen=True, slots=True)
class ConsentView:
    id: int
    message_type: str
    max_messages: int
    period_unit: str
    valid_until: datetime
    window_start: datetime | None
    window_count: int


@dataclass(frozen=True, slots=True)
class CampaignView:
    id: int
    content_provider_id: int
    send_on: str
    emergency: bool
    ends_on: str | None = None
    #: bigrams of the notified content (the text sent must match it, O31-17)
    content_grams: frozenset[str] | None = None
    #: the earliest send date was counted without that year's official holidays
    notice_estimated: bool = False
    notice_due: str | None = None


@dataclass
class GatewayContext:
    """Everything :func:`decide` reads, prepared once per batch."""

    registry: RegistrySnapshot
    now: datetime
    consents: dict[tuple[str, int, str], ConsentView] = field(default_factory=dict)
    suppressions: dict[tuple[str, int], tuple[int, ...]] = field(default_factory=dict)
    campaigns: dict[int, CampaignView] = field(default_factory=dict)
    similarity_threshold: float = 0.8
    #: how similar a public-welfare text must be to its campaign's notified content (O31-17)
    campaign_similarity_threshold: float = 0.5
    quiet_hours: tuple[time, time] | None = None
    #: messages already allowed in this batch per consent id (frequency within the batch)
    used: dict[int, int] = field(default_factory=dict)
    #: the content reviewer (the default one, looked up once per context)
    reviewer: Reviewer | None = None
    _windows: dict[str, datetime] = field(default_factory=dict)

    def window_start(self, unit: str) -> datetime:
        ws = self._windows.get(unit)
        if ws is None:
            ws = self._windows[unit] = window_start(self.now, unit)
        return ws


@fast_init
@dataclass(frozen=True, slots=True)
class Evaluation:
    """The decision with what the recorder needs (resolved port, content provider, kind, consent)."""

    decision: Decision
    kind: str | None = None
    port: PortView | None = None
    cp: CPView | None = None
    consent_id: int | None = None
    review: ReviewResult | None = None
    emergency: bool = False


def window_start(now: datetime, unit: str) -> datetime:
    """Start (UTC) of the consent frequency window holding ``now``: China day, ISO week or month."""
    local = now.astimezone(SHANGHAI)
    day = datetime(local.year, local.month, local.day, tzinfo=SHANGHAI)
    if unit == "week":
        day -= timedelta(days=local.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    return day.astimezone(now.tzinfo)


def prepare(request: GatewayRequest) -> Prepared:
    """Validate one request (channel, addresses, text, kind); a :class:`PiguardError` names the field."""
    ch = request.channel
    if ch not in ("sms", "email"):
        raise _bad("channel", "sms or email", "须为 sms 或 email")
    text = request.text
    if not isinstance(text, str) or not text.strip():
        raise _bad("text", "empty", "内容为空")
    if len(text) > MAX_LENGTH[ch]:
        raise _bad("text", f"longer than {MAX_LENGTH[ch]} characters", f"超过 {MAX_LENGTH[ch]} 个字符")
    bad = _CONTROL.findall(text)
    if bad:
        shown = ", ".join(sorted({f"U+{ord(c):04X}" for c in bad}))
        raise _bad(
            "text",
            f"control characters are not allowed ({shown}); only line breaks and tabs",
            f"不得含控制字符（{shown}），仅允许换行和制表符",
        )
    if request.purpose is not None and request.purpose not in PURPOSES:
        raise _bad("purpose", f"one of {', '.join(PURPOSES)}", "用途无效")
    if request.kind is not None and request.kind not in KINDS:
        raise _bad("kind", f"one of {', '.join(KINDS)}", "消息类型无效")
    mt = request.message_type
    if mt is not None and (not isinstance(mt, str) or not mt.strip() or len(mt) > _TYPE_MAX):
        raise _bad("message_type", f"1-{_TYPE_MAX} characters", f"须为 1-{_TYPE_MAX} 个字符")
    if not isinstance(request.sender, str) or not request.sender.strip():
        raise _bad("sender", "empty", "发送号码为空")
    sender = request.sender.strip()
    if ch == "email":
        sender = sender.lower()
    address = addresses.normalize_address(ch, request.recipient)
    return Prepared(request, address, crypto.address_hash(address), addresses.mask_address(address), sender)


def in_quiet(now: datetime, window: tuple[time, time] | None) -> bool:
    """Whether ``now`` (Asia/Shanghai) falls in the quiet-hours window (``None``: never)."""
    if window is None:
        return False
    t = now.astimezone(SHANGHAI).time()
    a, b = window
    return (a <= t < b) if a <= b else (t >= a or t < b)


def _effective_kind(review: ReviewResult, declared: str | None) -> str:
    reviewed = review.kind.value
    if reviewed == COMMERCIAL or declared == COMMERCIAL:
        return COMMERCIAL
    if declared in (EMERGENCY, PUBLIC_WELFARE):
        return declared
    return reviewed


@dataclass(slots=True)
class Work:
    """One message being decided: what the steps read and the reasons they add."""

    p: Prepared
    port: PortView
    ext: str
    cp: CPView
    refusals: list[Reason] = field(default_factory=list)
    holds: list[Reason] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    review: ReviewResult | None = None
    kind: str = COMMERCIAL
    consent_id: int | None = None

    @property
    def emergency(self) -> bool:
        return self.kind == EMERGENCY


Step = Callable[[GatewayContext, Work], None]


@carries("O31-12", "O31-6")
def step_provider(ctx: GatewayContext, w: Work) -> None:
    """A verified content provider (O31-12) of an active service provider (O31-6)."""
    if not w.cp.verified:
        w.refusals.append(
            reason(
                "content_provider_unverified",
                "The content provider's real identity is not verified.",
                "内容提供者的真实身份信息尚未核验。",
                content_provider=w.cp.code,
            )
        )
    if not w.cp.sp_active:
        w.refusals.append(_SP_INACTIVE)


@carries("O31-16", "O31-20", "O31-21", "CSL-47", "O24-10", "O31-17", "O31-19")
def step_review(ctx: GatewayContext, w: Work) -> None:
    """The content review; the kind follows from it and the declared kind. An emergency text that
    carries an advert does not take the emergency lane (O31-17, O31-19)."""
    reviewer = ctx.reviewer
    if reviewer is None:
        reviewer = ctx.reviewer = default_reviewer()
    req = w.p.request
    trusted: str | None = None
    if req.template_id is not None:  # a reviewed template's kind stands while the text matches it
        trusted, why = ctx.registry.template_kind(w.cp.id, req.template_id, req.text)
        w.reasons.append(why)
    review = w.review = reviewer.review(req.text, ctx.registry.port_context(w.port, trusted or req.kind))
    asking = req.purpose == CONSENT_REQUEST
    for f in review.findings:
        if asking and f.code == "optout_missing":
            continue  # a consent request says how to answer, and that no reply means no
        if trusted is not None and trusted != COMMERCIAL and f.code in _COMMERCIAL_ONLY:
            continue  # the reviewed template's kind stands while the text matches it
        (w.refusals if f.severity is _ERROR else w.reasons).append(f.reason())
    if trusted is not None and req.kind != COMMERCIAL:
        w.kind = trusted
    else:
        w.kind = _effective_kind(review, req.kind)
    if req.kind == EMERGENCY and w.kind == COMMERCIAL:
        w.refusals.append(
            reason(
                "emergency_advert",
                "An emergency message may not carry commercial content: it does not take the emergency lane.",
                "紧急短信息不得含有商业内容，不走紧急通道。",
            )
        )
    w.reasons.append(review.kind_reason())


@carries("O31-23", "O24-14.2", "O31-28")
def step_suspension(ctx: GatewayContext, w: Work) -> None:
    """The suspension switches of the content provider and the port (ids as the operator gave)."""
    if w.cp.suspended:
        w.refusals.append(
            reason(
                "content_provider_suspended",
                "The content provider is suspended.",
                "内容提供者已被暂停发送。",
                obligations=w.cp.suspended_obligations,
                reason=w.cp.suspended_reason,
            )
        )
    if w.port.suspended:
        w.refusals.append(
            reason(
                "port_suspended",
                "The port is suspended.",
                "该端口已被暂停使用。",
                obligations=w.port.suspended_obligations,
                reason=w.port.suspended_reason,
            )
        )


@carries("O31-19", "O31-13", "O31-17")
def step_port_type(ctx: GatewayContext, w: Work) -> None:
    """Commercial messages (and consent requests) only from a commercial port; public-welfare and
    emergency messages only from a public-welfare port."""
    port_type = w.port.port_type
    commercial = w.kind == COMMERCIAL or w.p.request.purpose == CONSENT_REQUEST
    if commercial and port_type != "commercial":
        w.refusals.append(
            reason(
                "port_type_mismatch",
                f"A {port_type.replace('_', ' ')} port may not send commercial messages.",
                "业务管理和服务类（或公益）端口不得发送商业性短信息。",
                port_type=port_type,
            )
        )
    elif w.kind in (EMERGENCY, PUBLIC_WELFARE) and port_type != "public_welfare":
        w.refusals.append(
            reason(
                "port_scope_mismatch",
                "Public-welfare and emergency messages go through a public-welfare port.",
                "公益性及紧急短信息须通过公益端口发送。",
                port_type=port_type,
            )
        )


#: findings that follow from the content review taking a text for commercial: not raised against
#: a text that matches an approved non-commercial template (``GatewayRequest.template_id``)
_COMMERCIAL_ONLY = frozenset({"commercial_content_not_declared", "optout_missing"})


@carries("O31-18.1", "O31-18.2", "CRL-29", "NPC-7")
def step_consent(ctx: GatewayContext, w: Work) -> None:
    """A commercial message needs live consent for this content provider and type, within its period
    and frequency. A consent request asks for it; an opt-out confirmation answers the user."""
    purpose = w.p.request.purpose
    if purpose == CONSENT_REQUEST:
        w.reasons.append(_CONSENT_REQUEST)
        return
    if purpose == CONFIRMATION:
        w.reasons.append(_OPTOUT_CONFIRMATION)
        return
    if w.kind != COMMERCIAL:
        return
    p, refusals = w.p, w.refusals
    mt = p.request.message_type
    if not mt:
        refusals.append(_TYPE_MISSING)
        return
    c = ctx.consents.get((p.recipient_hash, w.cp.id, mt.strip()))
    if c is None:
        refusals.append(_CONSENT_MISSING_R(message_type=mt))
        return
    if c.valid_until <= ctx.now:
        refusals.append(
            reason(
                "consent_expired",
                "The consented period has ended.",
                "用户同意的期限已届满。",
                valid_until=c.valid_until.isoformat(),
            )
        )
        return
    ws = ctx.window_start(c.period_unit)
    sent = (c.window_count if c.window_start == ws else 0) + ctx.used.get(c.id, 0)
    if sent >= c.max_messages:
        refusals.append(
            reason(
                "consent_frequency_exceeded",
                f"The consented frequency ({c.max_messages} per {c.period_unit}) is used up.",
                f"已达到用户同意的发送频次（每{_UNIT_ZH[c.period_unit]}{c.max_messages}条）。",
                max_messages=c.max_messages,
                period_unit=c.period_unit,
            )
        )
        return
    w.reasons.append(_CONSENT_LIVE_R(consent=c.id))
    w.consent_id = c.id


_UNIT_ZH = {"day": "日", "week": "周", "month": "月"}


@carries("O31-17")
def step_campaign(ctx: GatewayContext, w: Work) -> None:
    """A public-welfare message belongs to a campaign of this content provider, within its dates,
    with the text that was notified; emergency messages take the emergency lane."""
    if w.kind == EMERGENCY:
        w.reasons.append(_EMERGENCY_LANE)
        return
    if w.kind != PUBLIC_WELFARE:
        return
    campaign_id = w.p.request.campaign_id
    camp = ctx.campaigns.get(campaign_id) if campaign_id is not None else None
    if camp is None or camp.content_provider_id != w.cp.id:
        w.refusals.append(
            reason(
                "campaign_missing",
                "A public-welfare message needs a registered campaign of this content provider.",
                "公益性短信息须对应该内容提供者已登记的公益活动。",
            )
        )
        return
    if camp.content_grams is not None:
        score = overlap(w.p.request.text, camp.content_grams)
        if score < ctx.campaign_similarity_threshold:
            w.refusals.append(
                reason(
                    "campaign_content_mismatch",
                    "The text is not what was notified for this campaign.",
                    "短信内容与该公益活动报备的内容不符。",
                    similarity=round(score, 3),
                    threshold=ctx.campaign_similarity_threshold,
                )
            )
    today = ctx.now.astimezone(SHANGHAI).date().isoformat()
    if camp.ends_on is not None and today > camp.ends_on:
        w.refusals.append(
            reason(
                "campaign_ended",
                "The campaign's end date has passed.",
                "公益活动已过结束日期。",
                ends_on=camp.ends_on,
            )
        )
    elif today < camp.send_on:
        w.holds.append(
            reason(
                "campaign_not_started",
                "Held until the campaign's send date.",
                "未到公益活动的发送日期，暂缓发送。",
                send_on=camp.send_on,
            )
        )
    else:
        w.reasons.append(
            reason(
                "campaign_notified",
                "Public-welfare campaign notified in time.",
                "公益活动已按期报备。",
                campaign=camp.id,
            )
        )
    if camp.notice_estimated:
        w.reasons.append(
            reason(
                "campaign_date_estimated",
                "The earliest send date was estimated: the official holidays of that year are not "
                "in the calendar, so only weekends were counted as rest days.",
                "最早发送日期为估算：该年度的法定节假日安排尚未载入日历，仅按周末计算休息日。",
                notice_due=camp.notice_due,
            )
        )


@carries("O31-18.2")
def step_similarity(ctx: GatewayContext, w: Work) -> None:
    """After a refusal or no reply, the same or similar content from this content provider is not
    sent to this recipient again (emergency messages excepted)."""
    if w.emergency:
        return
    fps = ctx.suppressions.get((w.p.recipient_hash, w.cp.id))
    if not fps:
        return
    h = simhash(w.p.request.text)
    best = max(similarity(h, fp) for fp in fps)
    if best >= ctx.similarity_threshold:
        w.refusals.append(
            reason(
                "similar_content_refused",
                "The recipient refused (or did not answer) the same or similar content from this content provider.",
                "该用户已拒绝（或未回复）该内容提供者相同或相似的内容，不得再次发送。",
                similarity=round(best, 3),
            )
        )


@carries("O31-22")
def step_quiet_hours(ctx: GatewayContext, w: Work) -> None:
    """Quiet hours (configured, Asia/Shanghai) hold commercial and public-welfare messages; consent
    requests and confirmations answer the user and are not held."""
    if (
        ctx.quiet_hours is not None
        and w.p.request.purpose is None
        and w.kind in (COMMERCIAL, PUBLIC_WELFARE)
        and in_quiet(ctx.now, ctx.quiet_hours)
    ):
        w.holds.append(_QUIET)


#: The decision, in order; each step reads the prepared context and adds reasons to the work.
STEPS: tuple[Step, ...] = (
    step_provider,
    step_review,
    step_suspension,
    step_port_type,
    step_consent,
    step_campaign,
    step_similarity,
    step_quiet_hours,
)


@carries("O31-10", "O31-13")
def resolve_sender(ctx: GatewayContext, p: Prepared) -> Work | Reason:
    """The registered port (or sender code, with extension) the message is sent from."""
    port, ext = ctx.registry.resolve(p.request.channel, p.sender)
    if port is None:
        return reason(
            "sender_unregistered",
            "The sender number or code is not a registered port of this channel.",
            "发送号码或代码不是已登记的端口。",
            sender=p.sender,
        )
    cp = ctx.registry.cps[port.cp_id]
    w = Work(p, port, ext, cp)
    w.reasons.append(_SENDER_REGISTERED(port=port.code, extension=ext, content_provider=cp.code))
    return w


def evaluate(ctx: GatewayContext, p: Prepared, steps: tuple[Step, ...] = STEPS) -> Evaluation:
    """Decide one prepared message over the context: the sender, then each of ``steps`` in order
    (pure; see the module docstring)."""
    w = resolve_sender(ctx, p)
    if isinstance(w, Reason):
        return Evaluation(Decision.refuse(w))
    for step in steps:
        step(ctx, w)
    if w.refusals:
        decision = Decision(_REFUSE, (*w.refusals, *w.holds, *w.reasons))
    elif w.holds:
        decision = Decision(_HOLD, (*w.holds, *w.reasons))
    else:
        decision = Decision(_ALLOW, tuple(w.reasons))
    return Evaluation(decision, w.kind, w.port, w.cp, w.consent_id, w.review, w.emergency)


# constant reasons and texts built once (the hot path only adds the per-message detail)
_ERROR = Severity.ERROR
_ALLOW, _REFUSE, _HOLD = Outcome.ALLOW, Outcome.REFUSE, Outcome.HOLD
_SP_INACTIVE = reason(
    "service_provider_inactive", "The service provider is not active.", "短信服务提供者未在用。"
)
_EMERGENCY_LANE = reason(
    "emergency_lane",
    "Emergency message: sent at once, no throttle or quiet hours.",
    "紧急短信息：立即发送，不受限速和免打扰时段影响。",
)
_TYPE_MISSING = reason(
    "consent_type_missing",
    "A commercial message must state its consent type (message_type).",
    "商业性短信息须注明其同意类型（message_type）。",
)
_CONSENT_REQUEST = reason(
    "consent_request",
    "A request for consent to commercial messages: no consent needed yet.",
    "请求用户同意接收商业性短信息：尚无需同意。",
)
_OPTOUT_CONFIRMATION = reason(
    "optout_confirmation",
    "Confirmation of an opt-out the recipient sent.",
    "对用户退订的确认。",
)
_QUIET = reason("quiet_hours", "Held: quiet hours (Asia/Shanghai).", "免打扰时段，暂缓发送。")


def _fixed(code: str, en: str, zh: str) -> Callable[..., Reason]:
    """A reason whose texts are fixed and whose detail varies per message."""
    obligations = obligations_of(code)
    reason(code, en, zh)  # checked against the catalogue once

    def build(**detail: Any) -> Reason:
        return Reason(code, obligations, en, zh, detail)

    return build


_SENDER_REGISTERED = _fixed("sender_registered", "Registered sender.", "发送号码已登记。")
_CONSENT_LIVE_R = _fixed(
    "consent_live",
    "Live consent for this content provider and type, within frequency and period.",
    "用户已同意接收此类商业性短信息，且在频次和期限之内。",
)
_CONSENT_MISSING_R = _fixed(
    "consent_missing",
    "No live consent from this recipient for commercial messages of this type from this content provider.",
    "该用户未同意接收该内容提供者此类商业性短信息。",
)


def decide(context: GatewayContext, request: GatewayRequest | Prepared) -> Decision:
    """The decision for one message over a prepared context (pure; raises a validation error for
    bad input)."""
    p = request if isinstance(request, Prepared) else prepare(request)
    return evaluate(context, p).decision
