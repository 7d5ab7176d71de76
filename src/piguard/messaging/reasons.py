"""The gateway's reason codes in one place: code -> obligation ids and a label (en, zh).

Every refusal, hold and explanatory reason the gateway (``messaging.gateway.decision``, ``messaging.gateway.submit``,
the content review) puts on a decision is listed here with the obligations it usually rests on, so
the console, the reports, the alert breakdown and the SMPP status table agree on what a code means.
The obligations actually recorded for a message are the ones its reason carried
(``msg_records.reasons``: ``[{code, obligations}]``; a suspension, for instance, names the ids the
operator gave). This catalogue is the fallback for rows written before reasons were stored that way
and the text shown next to a code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from piguard.core.reasons import Reason


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    code: str
    obligations: tuple[str, ...]
    label_en: str
    label_zh: str
    #: explains an allowed message; never counted as a refusal or hold reason
    info: bool = False
    #: the reason brings its own obligations: a suspension the ids the operator gave, the message
    #: kind those of the kind (``messaging.review``); the catalogue's are the fallback
    own_ids: bool = False

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "obligations": list(self.obligations),
            "message": {"zh": self.label_zh, "en": self.label_en},
            "info": self.info,
        }


def _i(
    code: str, obligations: tuple[str, ...], en: str, zh: str, info: bool = False, own_ids: bool = False
) -> ReasonInfo:
    return ReasonInfo(code, obligations, en, zh, info, own_ids)


_ENTRIES = (
    # who may send
    _i("sender_unregistered", ("O31-10", "O31-13"), "Unregistered sender", "发送号码未登记"),
    _i(
        "sender_not_this_provider",
        ("O31-13", "O31-10"),
        "Port of another content provider",
        "端口属于其他内容提供者",
    ),
    _i("content_provider_unverified", ("O31-12",), "Content provider not verified", "内容提供者未核验"),
    _i("service_provider_inactive", ("O31-6",), "Service provider inactive", "服务提供者未在用"),
    _i(
        "content_provider_suspended",
        ("O31-23",),
        "Content provider suspended",
        "内容提供者已暂停",
        own_ids=True,
    ),
    _i("port_suspended", ("O31-23",), "Port suspended", "端口已暂停", own_ids=True),
    # what: port type and scope
    _i(
        "port_type_mismatch",
        ("O31-19", "O31-13"),
        "Commercial message from a service port",
        "业务端口发送商业短信",
    ),
    _i("port_scope_mismatch", ("O31-13", "O31-17"), "Port outside approved scope", "超出端口核准范围"),
    # content review (messaging.review)
    _i("prohibited_content", ("O31-16", "CSL-47"), "Prohibited content", "违禁内容"),
    _i("signature_missing", ("O31-21",), "Signature missing", "缺少签名"),
    _i("signature_unverified", ("O31-21", "NPC-7"), "Signature not registered", "签名未登记"),
    _i("signature_empty", ("O31-21",), "Empty signature", "签名为空"),
    _i("signature_generic", ("O31-21",), "Generic signature", "签名过于笼统"),
    _i("signature_mismatch", ("O31-21", "O31-12"), "Signature of another provider", "签名与内容提供者不符"),
    _i("signature_extra_brackets", ("O31-21",), "Extra 【】 in the body", "正文含其他【】"),
    _i("optout_missing", ("O31-20",), "No opt-out wording", "缺少退订方式"),
    _i("optout_obstacle", ("O31-20",), "Obstacle to opting out", "退订设置障碍"),
    _i(
        "commercial_content_not_declared",
        ("O31-19", "O31-18.1"),
        "Undeclared commercial content",
        "商业内容未申报",
    ),
    _i(
        "pi_in_content",
        ("O24-10", "CSL-40", "CSL-42.1"),
        "Personal information in the text",
        "内容含个人信息",
    ),
    # to whom: consent and suppression
    _i("consent_type_missing", ("O31-18.2",), "Consent type not stated", "未注明同意类型"),
    _i("consent_missing", ("O31-18.1", "CRL-29", "NPC-7"), "No consent", "未经用户同意"),
    _i("consent_expired", ("O31-18.2", "O31-18.1"), "Consent period ended", "同意期限已届满"),
    _i("consent_frequency_exceeded", ("O31-18.2",), "Consented frequency used up", "超出同意频次"),
    _i("consent_changed", ("O31-18.1", "O31-20"), "Opted out while deciding", "决定时用户已退订"),
    _i("similar_content_refused", ("O31-18.2",), "Similar content refused before", "相似内容已被拒绝"),
    # public welfare, holds
    _i("campaign_missing", ("O31-17",), "No public-welfare campaign", "无公益活动登记"),
    _i("campaign_not_started", ("O31-17",), "Campaign not started", "公益活动未开始"),
    _i("campaign_ended", ("O31-17",), "Campaign ended", "公益活动已结束"),
    _i("campaign_content_mismatch", ("O31-17",), "Text not what was notified", "内容与报备的公益信息不符"),
    _i("campaign_date_estimated", ("O31-17",), "Send date estimated", "发送日期为估算", info=True),
    _i(
        "campaign_provider_commercial",
        ("O31-17", "O31-13"),
        "Campaign of a provider without a public-welfare port",
        "无公益端口的内容提供者登记公益活动",
    ),
    _i("emergency_advert", ("O31-17", "O31-19"), "Advert in an emergency text", "紧急短信含广告内容"),
    # consent requests
    _i(
        "consent_terms_excessive",
        ("O31-18.2",),
        "Consent frequency or period beyond the bounds",
        "同意的频次或期限超出上限",
    ),
    _i("charged_terms_missing", ("O31-9",), "Charged-service terms missing", "收费服务条款缺失"),
    _i("quiet_hours", ("O31-22",), "Quiet hours", "免打扰时段"),
    # templates (messaging.registry.service): whether a reviewed template's kind is trusted
    _i("template_not_approved", ("O31-19",), "Not an approved template", "非已批准模板", info=True),
    _i("template_text_changed", ("O31-19",), "Text differs from its template", "内容与模板不符", info=True),
    _i("template_matched", ("O31-19",), "Matches an approved template", "与已批准模板一致", info=True),
    # inbound replies (messaging.subscriptions.inbound)
    _i("port_unknown", ("O31-11",), "Reply to an unregistered code", "回复的号码未登记", info=True),
    _i(
        "reply_to_several_providers",
        ("O31-20", "O31-13"),
        "Reply to a code of several content providers",
        "回复的号码属于多个内容提供者",
        info=True,
    ),
    # explanatory (allowed messages)
    _i("sender_registered", ("O31-10",), "Registered sender", "发送号码已登记", info=True),
    _i("message_kind", ("O31-19",), "Message kind", "消息类型", info=True, own_ids=True),
    _i(
        "consent_live",
        ("O31-18.1", "O31-18.2"),
        "Live consent within frequency and period",
        "用户已同意且在频次和期限内",
        info=True,
    ),
    _i("emergency_lane", ("O31-17",), "Emergency lane", "紧急通道", info=True),
    _i("campaign_notified", ("O31-17",), "Campaign notified in time", "公益活动已按期报备", info=True),
    _i("optout_confirmation", ("O31-20",), "Opt-out confirmation", "退订确认", info=True),
    _i("consent_request", ("O31-18.2",), "Consent request", "同意请求", info=True),
    _i("released_from_hold", ("O31-11",), "Released from hold", "暂缓后放行", info=True),
)

#: code -> :class:`ReasonInfo`
CATALOG: dict[str, ReasonInfo] = {e.code: e for e in _ENTRIES}

#: Reason codes that explain an allowed message; never counted as a refusal or hold reason.
INFO_CODES: frozenset[str] = frozenset(e.code for e in _ENTRIES if e.info)

#: Reason codes that hold a message (re-decided by ``messaging.gateway.release`` when the condition ends).
HOLD_CODES: frozenset[str] = frozenset({"quiet_hours", "campaign_not_started"})


def reason(
    code: str, en: str, zh: str, /, obligations: tuple[str, ...] | None = None, **detail: Any
) -> Reason:
    """The one way the gateway builds a :class:`Reason`: the code must be catalogued and its
    obligation ids are the catalogue's (``obligations`` only for codes whose ids the operator gives,
    such as a suspension; empty falls back to the catalogue's)."""
    info = CATALOG[code]
    if obligations and not info.own_ids:
        raise ValueError(f"reason {code!r} carries the catalogue's obligations")
    return Reason(code, obligations or info.obligations, en, zh, detail)


def label(code: str, lang: str) -> str:
    """The short label of a code (the code itself when it is not catalogued)."""
    e = CATALOG.get(code)
    return e.label(lang) if e is not None else code


def obligations_of(code: str) -> tuple[str, ...]:
    """The obligations a code usually rests on (empty when it is not catalogued)."""
    e = CATALOG.get(code)
    return e.obligations if e is not None else ()


PROHIBITED_CONTENT = "prohibited_content"


def stored(reasons: Iterable[Reason]) -> list[dict[str, Any]]:
    """Reasons as stored on a message record: ``[{code, obligations}]`` in decision order; a
    prohibited-content reason also keeps its ``category`` (CSL-47: the record says what was stopped
    as it was decided, so a report does not re-review the text under later rules)."""
    out: list[dict[str, Any]] = []
    for r in reasons:
        entry: dict[str, Any] = {"code": r.code, "obligations": list(r.obligations)}
        if r.code == PROHIBITED_CONTENT and r.detail and "category" in r.detail:
            entry["category"] = str(r.detail["category"])
        out.append(entry)
    return out


def record_reasons(
    reasons: Sequence[Mapping[str, Any]] | None, codes: Sequence[str] | None
) -> list[dict[str, Any]]:
    """The reasons of a record with their own obligation ids, for the API, console and reports.

    Rows written since reasons are stored per code carry ``reasons``; older rows have only
    ``reason_codes`` (and a combined obligations list): their obligations come from the catalogue
    and the entry says ``"derived": true``."""
    out: list[dict[str, Any]] = []
    if reasons:
        for r in reasons:
            code = str(r.get("code", ""))
            entry: dict[str, Any] = {
                "code": code,
                "obligations": [str(o) for o in r.get("obligations") or ()],
                "info": code in INFO_CODES,
            }
            if "category" in r:
                entry["category"] = str(r["category"])
            out.append(entry)
        return out
    for code in codes or ():
        out.append(
            {
                "code": code,
                "obligations": list(obligations_of(code)),
                "info": code in INFO_CODES,
                "derived": True,
            }
        )
    return out


def catalogue() -> list[dict[str, Any]]:
    """The whole catalogue (``GET /api/sms/reasons``, ``piguard sms reasons``)."""
    return [e.to_dict() for e in _ENTRIES]
