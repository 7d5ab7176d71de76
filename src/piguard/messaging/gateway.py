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

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from piguard.core.calendar import SHANGHAI
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.core.reasons import Decision, Outcome, Reason
from piguard.messaging import protect
from piguard.messaging.registry import MAX_LENGTH, CPView, PortView, RegistrySnapshot
from piguard.messaging.review import MessageKind, Reviewer, ReviewResult, Severity, default_reviewer
from piguard.messaging.similarity import simhash, similarity
from piguard.regulations.markers import carries

KINDS = tuple(k.value for k in MessageKind)
COMMERCIAL, EMERGENCY, PUBLIC_WELFARE = "commercial", "emergency", "public_welfare"
_TYPE_MAX = 64


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
    #: content provider is then refused (O31-13, O31-10; checked in ``messaging.batch``)
    content_provider_id: int | None = None
    #: an approved template of the content provider the text was written from: its reviewed kind is
    #: trusted while the text matches it (``RegistrySnapshot.template_kind``, O31-19)
    template_id: int | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated request: the normalised address, its keyed hash and masked form."""

    request: GatewayRequest
    address: str
    recipient_hash: str
    recipient_masked: str
    sender: str


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


@dataclass
class GatewayContext:
    """Everything :func:`decide` reads, prepared once per batch."""

    registry: RegistrySnapshot
    now: datetime
    consents: dict[tuple[str, int, str], ConsentView] = field(default_factory=dict)
    suppressions: dict[tuple[str, int], tuple[int, ...]] = field(default_factory=dict)
    campaigns: dict[int, CampaignView] = field(default_factory=dict)
    similarity_threshold: float = 0.8
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


def _r(code: str, obligations: tuple[str, ...], en: str, zh: str, **detail: Any) -> Reason:
    return Reason(code, obligations, en, zh, detail)


def _bad(field_name: str, en: str, zh: str) -> PiguardError:
    return validation_error(
        [FieldError(field_name, f"{en} / {zh}")], f"Invalid {field_name}: {en}", f"{field_name} 无效：{zh}"
    )


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
    address = protect.normalize_address(ch, request.recipient)
    return Prepared(request, address, protect.address_hash(address), protect.mask_address(address), sender)


def _in_quiet(now: datetime, window: tuple[time, time]) -> bool:
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


@carries(
    "O31-10",
    "O31-12",
    "O31-13",
    "O31-16",
    "O31-17",
    "O31-18.1",
    "O31-18.2",
    "O31-19",
    "O31-20",
    "O31-21",
    "O31-23",
    "O24-14.2",
    "CSL-47",
    "CRL-29",
    "NPC-7",
)
def evaluate(ctx: GatewayContext, p: Prepared) -> Evaluation:
    """Decide one prepared message over the context (pure; see the module docstring for the steps)."""
    req = p.request
    port, ext = ctx.registry.resolve(req.channel, p.sender)
    if port is None:
        return Evaluation(
            Decision.refuse(
                _r(
                    "sender_unregistered",
                    ("O31-10", "O31-13"),
                    "The sender number or code is not a registered port of this channel.",
                    "发送号码或代码不是已登记的端口。",
                    sender=p.sender,
                )
            )
        )
    registry = ctx.registry
    cp = registry.cps[port.cp_id]
    refusals: list[Reason] = []
    holds: list[Reason] = []
    reasons: list[Reason] = [
        Reason(*_SENDER_REGISTERED, {"port": port.code, "extension": ext, "content_provider": cp.code})
    ]
    if not cp.verified:
        refusals.append(
            _r(
                "content_provider_unverified",
                ("O31-12",),
                "The content provider's real identity is not verified.",
                "内容提供者的真实身份信息尚未核验。",
                content_provider=cp.code,
            )
        )
    if not cp.sp_active:
        refusals.append(_SP_INACTIVE)

    reviewer = ctx.reviewer
    if reviewer is None:
        reviewer = ctx.reviewer = default_reviewer()
    trusted: str | None = None
    if req.template_id is not None:
        trusted, why = registry.template_kind(cp.id, req.template_id, req.text)
        reasons.append(why)
    review = reviewer.review(req.text, registry.port_context(port, trusted or req.kind))
    for f in review.findings:
        if trusted is not None and trusted != COMMERCIAL and f.code in _COMMERCIAL_ONLY:
            continue  # the reviewed template's kind stands while the text matches it
        (refusals if f.severity is _ERROR else reasons).append(f.reason())
    kind = trusted if trusted is not None and req.kind != COMMERCIAL else _effective_kind(review, req.kind)
    emergency = kind == EMERGENCY
    reasons.append(review.kind_reason())

    if cp.suspended:
        refusals.append(
            _r(
                "content_provider_suspended",
                cp.suspended_obligations or ("O31-23",),
                "The content provider is suspended.",
                "内容提供者已被暂停发送。",
                reason=cp.suspended_reason,
            )
        )
    if port.suspended:
        refusals.append(
            _r(
                "port_suspended",
                port.suspended_obligations or ("O31-23",),
                "The port is suspended.",
                "该端口已被暂停使用。",
                reason=port.suspended_reason,
            )
        )

    if kind == COMMERCIAL and port.port_type != "commercial":
        refusals.append(
            _r(
                "port_type_mismatch",
                ("O31-19", "O31-13"),
                f"A {port.port_type.replace('_', ' ')} port may not send commercial messages.",
                "业务管理和服务类（或公益）端口不得发送商业性短信息。",
                port_type=port.port_type,
            )
        )
    elif kind in (EMERGENCY, PUBLIC_WELFARE) and port.port_type != "public_welfare":
        refusals.append(
            _r(
                "port_scope_mismatch",
                ("O31-13", "O31-17"),
                "Public-welfare and emergency messages go through a public-welfare port.",
                "公益性及紧急短信息须通过公益端口发送。",
                port_type=port.port_type,
            )
        )

    consent_id: int | None = None
    if kind == COMMERCIAL:
        consent_id = _consent_step(ctx, p, cp, refusals, reasons)
    elif kind == PUBLIC_WELFARE:
        _campaign_step(ctx, req.campaign_id, cp, refusals, holds, reasons)
    elif emergency:
        reasons.append(_EMERGENCY_LANE)

    if not emergency:
        fps = ctx.suppressions.get((p.recipient_hash, cp.id))
        if fps:
            h = simhash(req.text)
            best = max(similarity(h, fp) for fp in fps)
            if best >= ctx.similarity_threshold:
                refusals.append(
                    _r(
                        "similar_content_refused",
                        ("O31-18.2",),
                        "The recipient refused (or did not answer) the same or similar content from this content provider.",
                        "该用户已拒绝（或未回复）该内容提供者相同或相似的内容，不得再次发送。",
                        similarity=round(best, 3),
                    )
                )
        if (
            ctx.quiet_hours is not None
            and kind in (COMMERCIAL, PUBLIC_WELFARE)
            and _in_quiet(ctx.now, ctx.quiet_hours)
        ):
            holds.append(
                _r("quiet_hours", ("O31-22",), "Held: quiet hours (Asia/Shanghai).", "免打扰时段，暂缓发送。")
            )
    if refusals:
        decision = Decision(_REFUSE, (*refusals, *holds, *reasons))
    elif holds:
        decision = Decision(_HOLD, (*holds, *reasons))
    else:
        decision = Decision(_ALLOW, tuple(reasons))
    return Evaluation(decision, kind, port, cp, consent_id, review, emergency)


# constant reasons and texts built once (the hot path only adds the per-message detail)
#: findings that follow from the content review taking a text for commercial: not raised against
#: a text that matches an approved non-commercial template (``GatewayRequest.template_id``)
_COMMERCIAL_ONLY = frozenset({"commercial_content_not_declared", "optout_missing"})
_ERROR = Severity.ERROR
_ALLOW, _REFUSE, _HOLD = Outcome.ALLOW, Outcome.REFUSE, Outcome.HOLD
_SENDER_REGISTERED = ("sender_registered", ("O31-10",), "Registered sender.", "发送号码已登记。")
_SP_INACTIVE = Reason(
    "service_provider_inactive", ("O31-6",), "The service provider is not active.", "短信服务提供者未在用。"
)
_EMERGENCY_LANE = Reason(
    "emergency_lane",
    ("O31-17",),
    "Emergency message: sent at once, no throttle or quiet hours.",
    "紧急短信息：立即发送，不受限速和免打扰时段影响。",
)
_CONSENT_LIVE = (
    "consent_live",
    ("O31-18.1", "O31-18.2"),
    "Live consent for this content provider and type, within frequency and period.",
    "用户已同意接收此类商业性短信息，且在频次和期限之内。",
)
_CONSENT_MISSING = (
    "consent_missing",
    ("O31-18.1", "CRL-29", "NPC-7"),
    "No live consent from this recipient for commercial messages of this type from this content provider.",
    "该用户未同意接收该内容提供者此类商业性短信息。",
)


def _consent_step(
    ctx: GatewayContext, p: Prepared, cp: CPView, refusals: list[Reason], reasons: list[Reason]
) -> int | None:
    mt = p.request.message_type
    if not mt:
        refusals.append(
            _r(
                "consent_type_missing",
                ("O31-18.2",),
                "A commercial message must state its consent type (message_type).",
                "商业性短信息须注明其同意类型（message_type）。",
            )
        )
        return None
    c = ctx.consents.get((p.recipient_hash, cp.id, mt.strip()))
    if c is None:
        refusals.append(Reason(*_CONSENT_MISSING, {"message_type": mt}))
        return None
    if c.valid_until <= ctx.now:
        refusals.append(
            _r(
                "consent_expired",
                ("O31-18.2", "O31-18.1"),
                "The consented period has ended.",
                "用户同意的期限已届满。",
                valid_until=c.valid_until.isoformat(),
            )
        )
        return None
    ws = ctx.window_start(c.period_unit)
    sent = (c.window_count if c.window_start == ws else 0) + ctx.used.get(c.id, 0)
    if sent >= c.max_messages:
        refusals.append(
            _r(
                "consent_frequency_exceeded",
                ("O31-18.2",),
                f"The consented frequency ({c.max_messages} per {c.period_unit}) is used up.",
                f"已达到用户同意的发送频次（每{_UNIT_ZH[c.period_unit]}{c.max_messages}条）。",
                max_messages=c.max_messages,
                period_unit=c.period_unit,
            )
        )
        return None
    reasons.append(Reason(*_CONSENT_LIVE, {"consent": c.id}))
    return c.id


_UNIT_ZH = {"day": "日", "week": "周", "month": "月"}


def _campaign_step(
    ctx: GatewayContext,
    campaign_id: int | None,
    cp: CPView,
    refusals: list[Reason],
    holds: list[Reason],
    reasons: list[Reason],
) -> None:
    camp = ctx.campaigns.get(campaign_id) if campaign_id is not None else None
    if camp is None or camp.content_provider_id != cp.id:
        refusals.append(
            _r(
                "campaign_missing",
                ("O31-17",),
                "A public-welfare message needs a registered campaign of this content provider.",
                "公益性短信息须对应该内容提供者已登记的公益活动。",
            )
        )
        return
    today = ctx.now.astimezone(SHANGHAI).date().isoformat()
    if today < camp.send_on:
        holds.append(
            _r(
                "campaign_not_started",
                ("O31-17",),
                "Held until the campaign's send date.",
                "未到公益活动的发送日期，暂缓发送。",
                send_on=camp.send_on,
            )
        )
    else:
        reasons.append(
            _r(
                "campaign_notified",
                ("O31-17",),
                "Public-welfare campaign notified in time.",
                "公益活动已按期报备。",
                campaign=camp.id,
            )
        )


def decide(context: GatewayContext, request: GatewayRequest | Prepared) -> Decision:
    """The decision for one message over a prepared context (pure; raises a validation error for
    bad input)."""
    p = request if isinstance(request, Prepared) else prepare(request)
    return evaluate(context, p).decision
