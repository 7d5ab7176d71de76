"""Content review of one outbound message (SMS or commercial e-mail), stateless and fast.

``review(text, context)`` answers: what kind of message is this (verification code, notification,
commercial, public welfare, emergency), does it name its content provider with a signature that
matches the registered one (O31-21), does a commercial message offer a way to refuse (O31-20),
does it carry prohibited content (O31-16, CSL-47) or leak personal information (O24-10, CSL-40,
CSL-42.1)? Every finding names the obligations it rests on; :meth:`ReviewResult.decision` gives the
same answer as a :class:`~piguard.core.reasons.Decision`.

No database here: the caller passes what the registry knows in a :class:`ReviewContext`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any

from piguard import _native
from piguard.core.errors import FieldError, validation_error
from piguard.core.reasons import Decision, Reason
from piguard.messaging.review.pi import DEFAULT_PI_CATEGORIES, FALLBACK_CATEGORIES, find_pi, may_hold_pi
from piguard.messaging.review.rules import (
    RULES_DIR_ENV,
    Hit,
    RuleSet,
    ScanResult,
    VerdictRule,
    load_rules,
    rules_generation,
)
from piguard.regulations.markers import carries

DEFAULT_MAX_LENGTH = 1000
#: sender clearances a registry may vouch for (ReviewContext.clearances)
CLEARANCES = frozenset({"public_welfare", "official_short_code", "licensed_lottery"})
#: weight of the evidence of obfuscation that normalisation itself sees (a pinyin spelling of a
#: listed term, characters split by symbols, look-alike letters from other scripts)
OBFUSCATION_WEIGHT = 0.5


class MessageKind(StrEnum):
    VERIFICATION_CODE = "verification_code"
    NOTIFICATION = "notification"
    COMMERCIAL = "commercial"
    PUBLIC_WELFARE = "public_welfare"
    EMERGENCY = "emergency"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class Severity(StrEnum):
    ERROR = "error"  # the message fails review
    WARNING = "warning"  # reported, does not fail the message


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class SignaturePosition(StrEnum):
    START = "start"
    START_OR_END = "start_or_end"


class SignatureRequirement(StrEnum):
    COMMERCIAL = "commercial"  # O31-21 text: commercial messages must name the content provider
    ALL = "all"  # carrier practice: every port message is signed


_NO_DETAIL: Any = object()  # Finding's detail when none is given: a new empty dict


# ``__init__`` written out, as ReviewResult's: the generated one of a frozen class sets every field
# through ``object.__setattr__``, and a fraud message makes several findings
@dataclass(frozen=True, slots=True, init=False)
class Finding:
    code: str
    articles: tuple[str, ...]
    message_en: str
    message_zh: str
    severity: Severity = Severity.ERROR
    detail: dict[str, Any] = field(default_factory=dict)
    _reason: Reason | None = field(default=None, init=False, repr=False, compare=False)

    def __init__(
        self,
        code: str,
        articles: tuple[str, ...],
        message_en: str,
        message_zh: str,
        severity: Severity = Severity.ERROR,
        detail: dict[str, Any] = _NO_DETAIL,
    ) -> None:
        _fset_code(self, code)
        _fset_articles(self, articles)
        _fset_message_en(self, message_en)
        _fset_message_zh(self, message_zh)
        _fset_severity(self, severity)
        _fset_detail(self, {} if detail is _NO_DETAIL else detail)
        _fset_reason(self, None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "articles": list(self.articles),
            "message": {"zh": self.message_zh, "en": self.message_en},
            "severity": self.severity.value,
        }
        if self.detail:
            out["detail"] = self.detail
        return out

    def reason(self) -> Reason:
        """The finding as a :class:`Reason` (built once: findings and reasons are immutable, and a
        cached review hands the same finding to every message of a bulk send)."""
        r = self._reason
        if r is None:
            r = Reason(self.code, self.articles, self.message_en, self.message_zh, dict(self.detail))
            object.__setattr__(self, "_reason", r)
        return r


_FINDING_SLOTS = ("code", "articles", "message_en", "message_zh", "severity", "detail", "_reason")
assert tuple(f.name for f in fields(Finding)) == _FINDING_SLOTS, "update Finding.__init__"
(
    _fset_code,
    _fset_articles,
    _fset_message_en,
    _fset_message_zh,
    _fset_severity,
    _fset_detail,
    _fset_reason,
) = (Finding.__dict__[name].__set__ for name in _FINDING_SLOTS)


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """What the caller knows about the sender; everything optional.

    ``signatures``: the content provider's registered signatures (without 【】). ``None`` means
    "not known here, do not compare"; an empty set means "registered with no signature" and every
    signature then mismatches.
    """

    content_provider: str | None = None
    signatures: frozenset[str] | None = None
    channel: Channel = Channel.SMS
    declared_kind: MessageKind | None = None
    signature_position: SignaturePosition = SignaturePosition.START_OR_END
    require_signature: SignatureRequirement = SignatureRequirement.COMMERCIAL
    pi_categories: frozenset[str] = DEFAULT_PI_CATEGORIES
    max_length: int = DEFAULT_MAX_LENGTH
    #: what the registry vouches for about the sender, which can clear a finding (see the
    #: ``clear`` of each verdict): ``public_welfare`` (a verified public-welfare campaign or
    #: provider), ``official_short_code`` (a government or carrier short code), ``licensed_lottery``
    #: (a licensed lottery content provider)
    clearances: frozenset[str] = frozenset()
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return self._hash  # computed once: the review cache hashes the context on every call

    def __post_init__(self) -> None:
        if self.signatures is not None and not isinstance(self.signatures, frozenset):
            object.__setattr__(self, "signatures", frozenset(self.signatures))
        if not isinstance(self.pi_categories, frozenset):
            object.__setattr__(self, "pi_categories", frozenset(self.pi_categories))
        if not isinstance(self.clearances, frozenset):
            object.__setattr__(self, "clearances", frozenset(self.clearances))
        unknown = self.clearances - CLEARANCES
        if unknown:
            raise validation_error(
                [FieldError("clearances", f"unknown: {', '.join(sorted(unknown))}")],
                f"Unknown sender clearance: {', '.join(sorted(unknown))} (one of {', '.join(sorted(CLEARANCES))}).",
                f"未知的发送方核验类型：{'、'.join(sorted(unknown))}。",
            )
        # enum lookups only when a plain string was given (contexts are built per content provider)
        if type(self.channel) is not Channel:
            object.__setattr__(self, "channel", Channel(self.channel))
        if type(self.signature_position) is not SignaturePosition:
            object.__setattr__(self, "signature_position", SignaturePosition(self.signature_position))
        if type(self.require_signature) is not SignatureRequirement:
            object.__setattr__(self, "require_signature", SignatureRequirement(self.require_signature))
        if self.declared_kind is not None and type(self.declared_kind) is not MessageKind:
            object.__setattr__(self, "declared_kind", MessageKind(self.declared_kind))
        object.__setattr__(
            self,
            "_hash",
            hash(
                (
                    self.content_provider,
                    self.signatures,
                    self.channel,
                    self.declared_kind,
                    self.signature_position,
                    self.require_signature,
                    self.pi_categories,
                    self.max_length,
                    self.clearances,
                )
            ),
        )


_DEFAULT_CONTEXT = ReviewContext()
# plain module constants: enum attribute access costs a descriptor call on the hot path
_COMMERCIAL = MessageKind.COMMERCIAL
_EMERGENCY = MessageKind.EMERGENCY
_PUBLIC_WELFARE = MessageKind.PUBLIC_WELFARE
_VERIFICATION_CODE = MessageKind.VERIFICATION_CODE
_NOTIFICATION = MessageKind.NOTIFICATION
_PASS, _FAIL = Verdict.PASS, Verdict.FAIL
_ERROR, _WARNING = Severity.ERROR, Severity.WARNING
_SMS, _EMAIL = Channel.SMS, Channel.EMAIL
_START_OR_END = SignaturePosition.START_OR_END
_SIG_ALL = SignatureRequirement.ALL
_BUILTIN_PI = FALLBACK_CATEGORIES

_KIND_OBLIGATIONS: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.COMMERCIAL: ("O31-18.1", "O31-20", "O31-21", "NPC-7"),
    MessageKind.PUBLIC_WELFARE: ("O31-17",),
    MessageKind.EMERGENCY: ("O31-17",),
    MessageKind.NOTIFICATION: ("O31-19",),
    MessageKind.VERIFICATION_CODE: ("O31-19",),
}
_KIND_ZH = {
    MessageKind.COMMERCIAL: "商业性短信息",
    MessageKind.PUBLIC_WELFARE: "公益性短信息",
    MessageKind.EMERGENCY: "紧急公益短信息",
    MessageKind.NOTIFICATION: "通知类短信息",
    MessageKind.VERIFICATION_CODE: "验证码短信息",
}
_KIND_REASON: dict[MessageKind, tuple[str, tuple[str, ...], str, str]] = {
    k: (
        "message_kind",
        _KIND_OBLIGATIONS[k],
        f"Content reviewed as {k.value.replace('_', ' ')}.",
        f"内容判定为{_KIND_ZH[k]}。",
    )
    for k in MessageKind
}


# immutable: the reviewer's cache hands the same result out again. ``__init__`` is written out
# (the generated one of a frozen class sets every field through ``object.__setattr__``)
@dataclass(frozen=True, slots=True, init=False)
class ReviewResult:
    verdict: Verdict
    kind: MessageKind
    prohibited: tuple[str, ...]
    findings: tuple[Finding, ...]
    signature: str | None
    opt_out: bool
    signals: tuple[Hit, ...] = ()  # the kind and opt-out evidence (why this kind)
    scores: tuple[tuple[str, float], ...] = ()
    _kind_reason: Reason | None = field(default=None, init=False, repr=False, compare=False)

    def __init__(
        self,
        verdict: Verdict,
        kind: MessageKind,
        prohibited: tuple[str, ...],
        findings: tuple[Finding, ...],
        signature: str | None,
        opt_out: bool,
        signals: tuple[Hit, ...] = (),
        scores: tuple[tuple[str, float], ...] = (),
    ) -> None:
        # the slots' own setters: what the frozen class's generated __init__ does, one lookup less each
        _set_verdict(self, verdict)
        _set_kind(self, kind)
        _set_prohibited(self, prohibited)
        _set_findings(self, findings)
        _set_signature(self, signature)
        _set_opt_out(self, opt_out)
        _set_signals(self, signals)
        _set_scores(self, scores)
        _set_kind_reason(self, None)

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def articles(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for f in self.findings:
            for a in f.articles:
                seen.setdefault(a, None)
        return tuple(seen)

    def to_dict(self, *, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "kind": self.kind.value,
            "prohibited": list(self.prohibited),
            "findings": [f.to_dict() for f in self.findings],
        }
        if explain:
            out["signature"] = self.signature
            out["opt_out"] = self.opt_out
            out["signals"] = [
                {"group": h.group, "match": h.evidence, "weight": h.weight} for h in self.signals
            ]
            out["scores"] = {k: round(v, 3) for k, v in self.scores}
        return out

    def kind_reason(self) -> Reason:
        """The ``message_kind`` reason (built once per result; per-kind texts are precomputed)."""
        r = self._kind_reason
        if r is None:
            code, obligations, en, zh = _KIND_REASON[self.kind]
            r = Reason(
                code,
                obligations,
                en,
                zh,
                {"kind": self.kind.value, "signals": [h.evidence for h in self.signals]},
            )
            object.__setattr__(self, "_kind_reason", r)
        return r

    def decision(self) -> Decision:
        """Refuse when any finding is an error; warnings and the kind ride along as reasons."""
        errors = [f.reason() for f in self.findings if f.severity is Severity.ERROR]
        others = [f.reason() for f in self.findings if f.severity is not Severity.ERROR]
        return Decision.combine([*others, self.kind_reason()], errors, [])


_RESULT_SLOTS = (
    "verdict",
    "kind",
    "prohibited",
    "findings",
    "signature",
    "opt_out",
    "signals",
    "scores",
    "_kind_reason",
)
assert tuple(f.name for f in fields(ReviewResult)) == _RESULT_SLOTS, "update ReviewResult.__init__"
(
    _set_verdict,
    _set_kind,
    _set_prohibited,
    _set_findings,
    _set_signature,
    _set_opt_out,
    _set_signals,
    _set_scores,
    _set_kind_reason,
) = (ReviewResult.__dict__[name].__set__ for name in _RESULT_SLOTS)

_KERNEL = _native.load("sms_review")
#: ReviewResult(...) and Finding(...) with every slot given, as C calls (no __init__ frame, no
#: setter call a slot); None without the compiled kernel, where the classes are called
_make_result: Any = _KERNEL.slot_maker(ReviewResult, _RESULT_SLOTS) if _KERNEL is not None else None
_make_finding: Any = _KERNEL.slot_maker(Finding, _FINDING_SLOTS) if _KERNEL is not None else None

# 【signature】 at the start, or at the very end (trailing spaces and 。!. allowed)
_SIG_START = re.compile(r"^\s*【([^【】]*)】")
_SIG_END = re.compile(r"【([^【】]*)】[\s。.!！]*$")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"))
_ZERO_WIDTH_RE = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")
# three or more CJK characters each split from the next by a symbol (百.家.乐, 贷*款*秒*批)
_SPLIT = re.compile(r"[\u4e00-\u9fff](?:[ .*_\-/|~·•+#^]{1,2}[\u4e00-\u9fff]){2,}")
# a Cyrillic or Greek letter between Latin letters or digits (pаypal with a Cyrillic а)
_FOREIGN_LOOKALIKE = re.compile(
    r"[a-zA-Z0-9][\u0370-\u03ff\u0400-\u04ff]|[\u0370-\u03ff\u0400-\u04ff][a-zA-Z0-9]"
)
# what the two above cannot match without: one of _SPLIT's separators, one Greek or Cyrillic
# letter. A single character class is one quick pass over the text, where _SPLIT and the
# alternation above try every position of a Chinese text; most texts hold neither
_SPLIT_SEPARATOR = re.compile(r"[ .*_\-/|~·•+#^]")
_FOREIGN_LETTER = re.compile(r"[\u0370-\u03ff\u0400-\u04ff]")
# categories that never make a finding on their own: the raw-text obfuscation checks wait for others
_QUIET_CATEGORIES = frozenset({"address", "warning", "optout", "institution", "lottery"})
_PI_ZH = {"id_card": "身份证号码", "bank_card": "银行卡号", "phone_mobile": "手机号码"}


DEFAULT_CACHE_SIZE = 4096


class Reviewer:
    """A compiled rule set ready to review messages; reuse one per process.

    Bulk sends repeat the same text (a template to many recipients), so results are kept in an LRU
    cache keyed by ``(text, context)``: ``cache_size`` entries (0 turns it off). Results are
    immutable, so a cached one is safe to hand out again.
    """

    def __init__(self, rules: RuleSet | None = None, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.rules = rules or load_rules()
        self._cached: Any = lru_cache(maxsize=cache_size)(self._review) if cache_size > 0 else None
        r = self.rules
        self._norm = r.normalizer
        self._kind_idx = {k: r.index("kind", k.value) for k in MessageKind}
        self._kind_threshold = {
            k: (r.groups[i].threshold if i >= 0 else float("inf")) for k, i in self._kind_idx.items()
        }
        self._optout_idx = r.index("optout", "instructions")
        self._obstacle_idx = r.index("obstacle", "obstacles")
        self._prohibited = [(i, g) for i, g in enumerate(r.groups) if g.role == "prohibited"]
        self._generic = {self._norm.normalize(s) for s in r.generic_signatures}
        self._sig_cache: dict[frozenset[str], frozenset[str]] = {}
        self._norm_sig_cache: dict[str, str] = {}
        self._kind_slots = tuple(
            (self._kind_idx[k], self._kind_threshold[k])
            for k in (_COMMERCIAL, _EMERGENCY, _PUBLIC_WELFARE, _VERIFICATION_CODE)
        )
        self._kind_groups = [(k.value, i) for k, i in self._kind_idx.items() if i >= 0]
        self._kind_names = tuple(name for name, _i in self._kind_groups)
        self._kind_indexes = tuple(i for _name, i in self._kind_groups)
        # the kinds' scores of a scan, as one C call (itemgetter of one index gives a bare value)
        getter = itemgetter(*self._kind_indexes) if self._kind_indexes else (lambda _s: ())
        self._kind_scores_of: Any = (
            getter if len(self._kind_indexes) != 1 else (lambda scores, g=getter: (g(scores),))
        )
        # signals: group index -> (category, cap); verdicts in a fixed order
        self._signal = {i: (g.category, g.cap) for i, g in enumerate(r.groups) if g.role == "signal"}
        # signals matched by plain containment (a word too common for the matcher: 您, 你)
        self._contains = [
            (
                g.category,
                g.cap,
                i,
                re.compile("|".join(map(re.escape, sorted(g.contains, key=len, reverse=True)))),
            )
            for i, g in enumerate(r.groups)
            if g.role == "signal" and g.contains
        ]
        #: the same terms as plain strings, for the compiled containment test
        self._contains_terms = [tuple(g.contains) for g in r.groups if g.role == "signal" and g.contains]
        self._verdicts = list(r.verdicts.values())
        #: per verdict, its score as data read in one loop (see _verdict_score): (rule, require,
        #: require_all, distinct, distinct_of, ((category, weight, cap), ...) in the weights' order,
        #: so the sum adds up in the same order as before)
        self._plans = tuple(
            (
                vr,
                frozenset(vr.require),
                tuple(frozenset(g) for g in vr.require_all),
                vr.distinct,
                vr.distinct_of,
                tuple((c, w, vr.caps.get(c, vr.cap)) for c, w in vr.weights.items()),
            )
            for vr in self._verdicts
        )
        #: per signal group, what its entry in a finding's reasons needs: (id, articles)
        self._signal_static = {i: (g.name, g.articles) for i, g in enumerate(r.groups) if g.role == "signal"}
        #: per verdict, what its score needs before it is worth computing (see _categories)
        self._gates = tuple(
            (frozenset(vr.require), tuple(frozenset(g) for g in vr.require_all)) for vr in self._verdicts
        )
        self._contains_categories = frozenset(c for c, _cap, _gi, _rx in self._contains)
        self._prohibited_by_name = {g.name: (i, g) for i, g in self._prohibited}
        #: per prohibited category, what its finding needs and does not depend on the message:
        #: (listed group or None, scored rule or None, label_en, label_zh, articles, promotes, the
        #: categories that add to its score in the rule's order, the categories its score needs)
        self._finding_static: dict[str, tuple[Any, ...]] = {}
        for name in (*self._prohibited_by_name, *r.verdicts):
            pg = self._prohibited_by_name.get(name)
            rule = r.verdicts.get(name)
            self._finding_static[name] = (
                pg,
                rule,
                pg[1].label_en if pg is not None else rule.label_en if rule is not None else name,
                pg[1].label_zh if pg is not None else rule.label_zh if rule is not None else name,
                _merge_articles(
                    pg[1].articles if pg is not None else (), rule.articles if rule is not None else ()
                ),
                (pg is not None and pg[1].promotes) or (rule is not None and rule.promotes),
                tuple(c for c in rule.weights if rule.weights[c] > 0) if rule is not None else (),
                tuple(rule.weights) if rule is not None else (),
            )
        self._pinyin = frozenset(r.pinyin_keys)
        kernel = _native.load("sms_review")  # the compiled _verdict_score when built
        self._score_of: Any = kernel.verdict_score if kernel is not None else self._verdict_score
        self._split_runs: Any = kernel.split_runs if kernel is not None else None
        self._sum_categories: Any = kernel.categories if kernel is not None else None
        self._signal_entries: Any = kernel.signal_entries if kernel is not None else None
        self._contains_any: Any = kernel.contains_any if kernel is not None else None
        self._pinyin_found: Any = kernel.pinyin_found if kernel is not None else None
        self._models = list(r.models)
        self._optout_threshold = r.groups[self._optout_idx].threshold if self._optout_idx >= 0 else 0.0
        # a message none of whose groups matched anything: its kind (by whether a model found it
        # promotional) and its scores, the same for every such message
        zeros = [0.0] * len(r.groups)
        self._kind_unmatched = (self._kind(zeros, False), self._kind(zeros, True))
        self._unmatched_scores = tuple((name, 0.0) for name, _i in self._kind_groups)
        # ... and so is its whole result, per context, when nothing else about the text can change
        # it (no model to ask, an SMS without 【 or 】, no personal information to look for): the
        # result is immutable, so the same one is handed out again, as the result cache does
        self._unmatched_results: dict[ReviewContext, ReviewResult] = {}
        self._unmatched_constant = not self._models and self._kind_unmatched[0] is not _COMMERCIAL

    def prepare(self, contexts: Iterable[ReviewContext]) -> None:
        """Normalise the registered signatures of ``contexts`` now (a registry snapshot hands over
        every content provider's context when it loads), so no message pays for its provider's
        first review. Only fills caches: results are the same with or without it."""
        for ctx in contexts:
            if ctx.signatures:
                self._registered(ctx.signatures)
                for s in ctx.signatures:
                    self._normalized_signature(s.strip())

    # ------------------------------------------------------------------ helpers
    def _registered(self, signatures: frozenset[str]) -> frozenset[str]:
        found = self._sig_cache.get(signatures)
        if found is None:
            if len(self._sig_cache) > 100_000:
                self._sig_cache.clear()
            found = frozenset(n for n in (self._norm.normalize(s) for s in signatures) if n)
            self._sig_cache[signatures] = found
        return found

    def _kind(self, scores: list[float], opt_out: bool) -> MessageKind:
        (ci, ct), (ei, et), (wi, wt), (vi, vt) = self._kind_slots
        commercial = scores[ci] if ci >= 0 else 0.0
        if ei >= 0 and scores[ei] >= et and scores[ei] >= commercial:
            return _EMERGENCY
        if wi >= 0 and not opt_out and scores[wi] >= wt and scores[wi] >= commercial:
            return _PUBLIC_WELFARE
        if opt_out or (ci >= 0 and commercial >= ct):
            return _COMMERCIAL
        if vi >= 0 and scores[vi] >= vt:
            return _VERIFICATION_CODE
        return _NOTIFICATION

    def _normalized_signature(self, signature: str) -> str:
        found = self._norm_sig_cache.get(signature)
        if found is None:
            if len(self._norm_sig_cache) > 100_000:
                self._norm_sig_cache.clear()
            found = self._norm_sig_cache[signature] = self._norm.normalize(signature)
        return found

    def _signature(
        self, raw: str, kind: MessageKind, ctx: ReviewContext, findings: list[Finding]
    ) -> str | None:
        m: re.Match[str] | None = None
        if "【" in raw:
            text = raw.translate(_ZERO_WIDTH) if _ZERO_WIDTH_RE.search(raw) else raw
            m = _SIG_START.match(text)
            if m is None and ctx.signature_position is _START_OR_END:
                m = _SIG_END.search(text)
            brackets = text.count("【") + text.count("】")
        else:  # no signature can start here (most unsigned messages: no regular expression to run)
            text = raw
            brackets = raw.count("】")
        required = kind is _COMMERCIAL or ctx.require_signature is _SIG_ALL
        severity = _ERROR if required else _WARNING
        signature: str | None = None
        if m is None:
            if ctx.channel is _EMAIL:
                # e-mail names the sender in its own way: a registered name anywhere in the text will do
                if ctx.signatures:
                    norm_text = self._norm.normalize(text)
                    if not any(self._norm.normalize(s) in norm_text for s in ctx.signatures if s.strip()):
                        findings.append(_f_sig_missing_email(severity))
                elif required:
                    findings.append(_f_sig_unverified_email())
                return None
            findings.append(_f_sig_missing(severity, ctx.signature_position))
        else:
            signature = m.group(1).strip()
            brackets -= 2
            norm_sig = self._normalized_signature(signature)
            if not norm_sig:
                findings.append(_f_sig_empty(severity))
            elif norm_sig in self._generic:
                findings.append(_f_sig_generic(severity, signature))
            if norm_sig and ctx.signatures is not None and norm_sig not in self._registered(ctx.signatures):
                findings.append(_f_sig_mismatch(ctx.content_provider))
        if brackets > 0 and ctx.channel is _SMS:
            findings.append(_f_extra_brackets())
        return signature

    # ------------------------------------------------------------------ scoring
    def _categories(self, text: str, scan: ScanResult, opt_out: bool) -> dict[str, float]:
        """Evidence per signal category (the hot path: floats only): each fired signal adds at
        most its weight. Empty when no signal of the matcher fired."""
        if self._sum_categories is not None:
            cats: dict[str, float] = self._sum_categories(scan.fired, scan.scores, self._signal)
        else:
            cats = {}
            scores, signal = scan.scores, self._signal
            for gi in scan.fired:
                sig = signal.get(gi)
                if sig is not None:
                    score = scores[gi]
                    if score > 0:
                        cat, cap = sig
                        cats[cat] = cats.get(cat, 0.0) + (score if score < cap else cap)
        if not cats:
            return cats
        # no scored category can fire without one of its required kinds of evidence: most honest
        # messages stop here (a bank's name alone, a weak word)
        maybe = self._contains_categories.union(cats)
        for require, require_all in self._gates:  # loops, not any()/all() over generators: hot
            if require and cats.keys().isdisjoint(require):
                continue
            for group in require_all:
                if maybe.isdisjoint(group):
                    break
            else:
                break  # this verdict could fire
        else:
            return {}
        normalized = scan.text
        contains_any = self._contains_any
        if contains_any is not None:
            for (cat, cap, _gi, _rx), words in zip(self._contains, self._contains_terms, strict=True):
                if contains_any(normalized, words):
                    cats[cat] = cats.get(cat, 0.0) + cap
        else:
            for cat, cap, _gi, terms in self._contains:
                if terms.search(normalized) is not None:
                    cats[cat] = cats.get(cat, 0.0) + cap
        if opt_out:  # registered marketing says how to refuse; phishing rarely does
            cats["optout"] = 1.0
        return cats

    def _verdicts_on(
        self, text: str, scan: ScanResult, cats: dict[str, float], obf: list[list[tuple[str, list[str]]]]
    ) -> list[str]:
        """The scored categories that fire. The raw-text obfuscation checks run only when their
        evidence could still tip a category over its threshold (``obf`` keeps what they found, so
        a finding's reasons do not look again)."""
        fired: list[str] = []
        near = False
        score_of = self._score_of
        for plan in self._plans:
            score = score_of(plan, cats)
            if score is None:
                continue
            vr = plan[0]
            if score >= vr.threshold:
                fired.append(vr.name)
            elif (
                score + vr.weights.get("obfuscation", 0.0) * vr.caps.get("obfuscation", vr.cap)
                >= vr.threshold
            ):
                near = True
        if near:
            found = self._obfuscation(text, scan)
            obf.append(found)
            n = len(found)
            if n:
                cats["obfuscation"] = cats.get("obfuscation", 0.0) + n * OBFUSCATION_WEIGHT
                fired = [
                    plan[0].name for plan in self._plans if (score_of(plan, cats) or 0.0) >= plan[0].threshold
                ]
        return fired

    def _obfuscation(self, text: str, scan: ScanResult) -> list[tuple[str, list[str]]]:
        """Evidence of obfuscation that normalisation itself sees: a pinyin spelling of a listed
        term, characters split by symbols, look-alike letters from another script."""
        out: list[tuple[str, list[str]]] = []
        if self._pinyin:
            if self._pinyin_found is not None:
                found: list[str] = self._pinyin_found(scan.fired, scan.hits, self._pinyin)
            else:
                found = [h.evidence for gi in scan.fired for h in scan.hits[gi] if h.evidence in self._pinyin]
            if found:
                out.append(("obf.pinyin", found))
        if self._split_runs is not None:
            split: list[str] | None = self._split_runs(text)  # the first three, as used below
        else:
            split = _SPLIT.findall(text) if _SPLIT_SEPARATOR.search(text) is not None else None
        if split:
            out.append(("obf.split_characters", split[:3]))
        if _FOREIGN_LETTER.search(text) is not None and _FOREIGN_LOOKALIKE.search(text) is not None:
            out.append(("obf.lookalike_letters", []))
        return out

    def _signal_entries_python(self, scan: ScanResult, wanted: set[str]) -> dict[str, list[dict[str, Any]]]:
        """The entries of the fired signal groups in the categories ``wanted``, per category, in
        the order they fired (``piguard._native.sms_review.signal_entries`` does the same)."""
        by_cat: dict[str, list[dict[str, Any]]] = {}
        scores, hits = scan.scores, scan.hits
        signal, static = self._signal, self._signal_static
        for gi in scan.fired:
            sig = signal.get(gi)
            if sig is None:
                continue
            score = scores[gi]
            cat, cap = sig
            if score <= 0 or cat not in wanted:
                continue
            sid, articles = static[gi]
            entry = {
                "id": sid,
                "category": cat,
                "weight": round(score if score < cap else cap, 3),
                "articles": list(articles),
                "matches": [h[1] for h in hits[gi]],
            }
            listed = by_cat.get(cat)
            if listed is None:
                by_cat[cat] = [entry]
            else:
                listed.append(entry)
        return by_cat

    def _signal_details(
        self,
        text: str,
        scan: ScanResult,
        opt_out: bool,
        wanted: set[str],
        obf: list[list[tuple[str, list[str]]]],
    ) -> dict[str, list[dict[str, Any]]]:
        """The signals that fired in the categories ``wanted`` (id, category, weight, articles,
        matches): the reasons of a finding. Built only for a finding."""
        groups, scores, hits = self.rules.groups, scan.scores, scan.hits
        signal, static = self._signal, self._signal_static
        entries_of = self._signal_entries
        if entries_of is not None:
            by_cat: dict[str, list[dict[str, Any]]] = entries_of(
                scan.fired, scores, signal, static, hits, wanted, round
            )
        else:
            by_cat = self._signal_entries_python(scan, wanted)
        for cat, cap, gi, terms in self._contains:
            if cat in wanted:
                found = list(dict.fromkeys(terms.findall(scan.text)))
                if found:
                    g = groups[gi]
                    by_cat.setdefault(cat, []).append(_signal_entry(g.name, cat, cap, g.articles, found[:3]))
        if opt_out and "optout" in wanted:
            by_cat["optout"] = [_signal_entry("optout.present", "optout", 1.0, ("O31-20",), [])]
        if "obfuscation" in wanted:
            for sid, evidence in obf[0] if obf else self._obfuscation(text, scan):
                by_cat.setdefault("obfuscation", []).append(
                    _signal_entry(sid, "obfuscation", OBFUSCATION_WEIGHT, ("O31-16", "CSL-47"), evidence)
                )
        return by_cat

    @staticmethod
    def _verdict_score(plan: tuple[Any, ...], cats: dict[str, float]) -> float | None:
        """The category's score, or None when its requirements do not hold (``plan``: see
        ``_plans``; loops, not any() over generators: this runs for every verdict of a message)."""
        _vr, require, require_all, distinct, distinct_of, weights = plan
        keys = cats.keys()
        if require and keys.isdisjoint(require):
            return None
        for group in require_all:
            if keys.isdisjoint(group):
                return None
        if distinct:
            n = 0
            for c in distinct_of:
                if c in cats:
                    n += 1
            if n < distinct:
                return None
        score = 0.0
        get = cats.get
        for c, w, cap in weights:
            found = get(c)
            if found:
                score += w * (found if found < cap else cap)
        return score

    @staticmethod
    def _cleared(v: VerdictRule, cats: dict[str, float], ctx: ReviewContext) -> bool:
        if not v.clear or ctx.clearances.isdisjoint(v.clear):
            return False
        if v.clear_when and not any(c in cats for c in v.clear_when):
            return False
        return not any(c in cats for c in v.clear_unless)

    # ------------------------------------------------------------------- review
    @carries("O31-16", "CSL-47", "O31-20", "O31-21", "O31-19", "O24-10", "NPC-7")
    def review(self, text: str, context: ReviewContext | None = None) -> ReviewResult:
        """Review one message; raises a validation error for empty or too long text."""
        if self._cached is not None and type(text) is str:
            return self._cached(text, context)  # type: ignore[no-any-return]
        return self._review(text, context)

    def cache_info(self) -> Any:
        return self._cached.cache_info() if self._cached is not None else None

    def _review(self, text: str, context: ReviewContext | None) -> ReviewResult:
        ctx = context or _DEFAULT_CONTEXT
        if not isinstance(text, str):
            raise validation_error(
                [FieldError("text", "not a string")],
                "The message text must be a string.",
                "短信内容必须是字符串。",
            )
        if not text or text.isspace():  # what ``not text.strip()`` says, without copying the text
            raise validation_error(
                [FieldError("text", "empty")], "The message text is empty.", "短信内容为空。"
            )
        if len(text) > ctx.max_length:
            raise validation_error(
                [FieldError("text", f"longer than {ctx.max_length} characters")],
                f"The message text is longer than {ctx.max_length} characters.",
                f"短信内容超过 {ctx.max_length} 个字符。",
            )
        scan = self.rules.scan(self._norm.normalize(text))
        scores, hits = scan.scores, scan.hits
        matched = bool(scan.fired)  # False for most honest messages: no group saw anything to weigh
        constant = False
        if (
            not matched
            and self._unmatched_constant
            and ctx.channel is _SMS
            and "【" not in text
            and "】" not in text
            and (not ctx.pi_categories or (scan.digit_run is False and ctx.pi_categories <= _BUILTIN_PI))
        ):
            known = self._unmatched_results.get(ctx)
            if known is not None:
                return known
            constant = True
        findings: list[Finding] = []

        opt_out = matched and self._optout_idx >= 0 and scores[self._optout_idx] >= self._optout_threshold
        prohibited: list[str] = []
        promotes = False
        fired: dict[str, Hit | None] = {}
        evidence: dict[str, float] | None = None
        signals_by_cat: dict[str, list[dict[str, Any]]] = {}
        if matched:
            for i, g in self._prohibited:
                if scores[i] >= g.threshold:
                    fired[g.name] = None
            if self._signal:
                evidence = self._categories(text, scan, opt_out)
                if evidence:
                    obf: list[list[tuple[str, list[str]]]] = []
                    for name in self._verdicts_on(text, scan, evidence, obf):
                        fired[name] = None
                    if fired:
                        wanted: set[str] = set()
                        statics = self._finding_static
                        for fired_name in fired:
                            wanted.update(statics[fired_name][7])
                        signals_by_cat = self._signal_details(text, scan, opt_out, wanted, obf)
        model_hits: dict[str, dict[str, Any]] = {}
        for model in self._models:
            label, margin = model.predict(scan.text)
            cat = model.categories.get(label, label)
            if margin >= model.margin and cat != "normal":
                if cat == "commercial":
                    promotes = True
                else:
                    fired.setdefault(cat, None)
                    model_hits.setdefault(
                        cat,
                        _signal_entry(
                            f"model.{label}", "model", round(margin, 2), ("O31-16", "CSL-47"), [model.source]
                        ),
                    )
        for name in fired:
            static = self._finding_static.get(name)
            if static is None:  # a category only an operator's model knows
                static = (None, None, name, name, (), False, (), ())
            pg, rule, label_en, label_zh, articles, promoting, positive, _all = static
            if rule is not None and evidence and self._cleared(rule, evidence, ctx):
                findings.append(
                    _f_cleared(name, rule.label_en, rule.label_zh, rule.articles, sorted(ctx.clearances))
                )
                continue
            matches = [h[1] for h in hits[pg[0]]] if pg is not None else []
            used: list[dict[str, Any]] = []
            if rule is not None and evidence:
                for c in positive:
                    entries = signals_by_cat.get(c)
                    if entries:
                        used.extend(entries)
                        for entry in entries:
                            matches.extend(entry["matches"])
            if name in model_hits:
                used.append(model_hits[name])
            prohibited.append(name)
            promotes = promotes or promoting
            findings.append(_f_prohibited(name, label_en, label_zh, articles, matches, used))
        kind = self._kind(scores, opt_out or promotes) if matched else self._kind_unmatched[promotes]

        signature = self._signature(text, kind, ctx, findings)

        if kind is _COMMERCIAL:
            if not opt_out:
                findings.append(_f_optout_missing())
            if self._obstacle_idx >= 0:
                score, obstacles = self.rules.score_lazy(self._obstacle_idx, scan.text, scan)
                if obstacles and score >= self.rules.groups[self._obstacle_idx].threshold:
                    findings.append(_f_optout_obstacle([h.evidence for h in obstacles]))
            if ctx.declared_kind is not None and ctx.declared_kind is not _COMMERCIAL:
                findings.append(_f_kind_mismatch(ctx.declared_kind))

        cats = ctx.pi_categories
        if cats and (not cats <= _BUILTIN_PI or (scan.digit_run is not False and may_hold_pi(scan.text))):
            counts: dict[str, int] = {}
            for hit in find_pi(text, cats, prechecked=True):
                counts[hit.category] = counts.get(hit.category, 0) + 1
            for cat, n in counts.items():
                findings.append(_f_pi(cat, n))

        signals: list[Hit] = []
        if matched:
            score_items: tuple[tuple[str, float], ...] = tuple(
                zip(self._kind_names, self._kind_scores_of(scores), strict=True)
            )
            for i in self._kind_indexes:
                if hits[i]:
                    signals.extend(hits[i])
            if self._optout_idx >= 0 and hits[self._optout_idx]:
                signals.extend(hits[self._optout_idx])
        else:
            score_items = self._unmatched_scores
        verdict = _PASS
        for f in findings:
            if f.severity is _ERROR:
                verdict = _FAIL
                break
        if _make_result is not None:  # the same result, built by the kernel (slots in _RESULT_SLOTS' order)
            result = _make_result(
                verdict,
                kind,
                tuple(prohibited),
                tuple(findings),
                signature,
                opt_out,
                tuple(signals),
                score_items,
                None,
            )
        else:
            result = ReviewResult(
                verdict=verdict,
                kind=kind,
                prohibited=tuple(prohibited),
                findings=tuple(findings),
                signature=signature,
                opt_out=opt_out,
                signals=tuple(signals),
                scores=score_items,
            )
        if constant:
            if len(self._unmatched_results) >= 1024:  # contexts are few; bound them anyway
                self._unmatched_results.clear()
            self._unmatched_results[ctx] = result
        return result


# ----------------------------------------------------------------- findings
def _signal_entry(
    sid: str, category: str, weight: float, articles: Iterable[str], matches: list[str]
) -> dict[str, Any]:
    return {
        "id": sid,
        "category": category,
        "weight": round(weight, 3),
        "articles": list(articles),
        "matches": matches,
    }


def _merge_articles(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a for g in groups for a in g))


def _f_prohibited(
    category: str,
    label_en: str,
    label_zh: str,
    articles: tuple[str, ...],
    matches: list[str],
    signals: list[dict[str, Any]],
) -> Finding:
    detail: dict[str, Any] = {"category": category, "matches": list(dict.fromkeys(matches))}
    if signals:
        detail["signals"] = signals
    message_en = f"Prohibited content ({label_en or category})."
    message_zh = f"含有禁止传播的内容（{label_zh or category}）。"
    if _make_finding is not None:  # the same finding, built by the kernel (slots in _FINDING_SLOTS' order)
        return _make_finding("prohibited_content", articles, message_en, message_zh, _ERROR, detail, None)  # type: ignore[no-any-return]
    return Finding("prohibited_content", articles, message_en, message_zh, detail=detail)


def _f_cleared(
    category: str, label_en: str, label_zh: str, articles: tuple[str, ...], clearances: list[str]
) -> Finding:
    return Finding(
        "prohibited_content_cleared",
        articles,
        f"Wording of {label_en or category} cleared by the sender's verified standing "
        f"({', '.join(clearances)}): a warning or a licensed result, not an offer.",
        f"含有{label_zh or category}相关用语，但发送方经核验（{'、'.join(clearances)}），"
        "属于提示警示或持证发布的内容，不作禁止内容处理。",
        Severity.WARNING,
        {"category": category, "clearances": clearances},
    )


@cache  # immutable and the same for the same arguments: built once
def _f_sig_missing(severity: Severity, position: SignaturePosition) -> Finding:
    where_en = "at the start" if position is SignaturePosition.START else "at the start or the end"
    where_zh = "开头" if position is SignaturePosition.START else "开头或结尾"
    return Finding(
        "signature_missing",
        ("O31-21",),
        f"No signature 【…】 naming the content provider {where_en} of the message.",
        f"短信{where_zh}没有标明内容提供者名称的签名【…】。",
        severity,
    )


@cache  # immutable and the same for the same arguments: built once
def _f_sig_missing_email(severity: Severity) -> Finding:
    return Finding(
        "signature_missing",
        ("O31-21", "NPC-7"),
        "The message does not name the registered content provider.",
        "邮件未标明已登记的内容提供者名称。",
        severity,
    )


@cache  # immutable and the same for the same arguments: built once
def _f_sig_unverified_email() -> Finding:
    return Finding(
        "signature_unverified",
        ("O31-21", "NPC-7"),
        "No registered sender name to check that the e-mail names its content provider.",
        "没有登记的发送方名称，无法核对邮件是否标明内容提供者。",
        Severity.WARNING,
    )


@cache  # immutable and the same for the same arguments: built once
def _f_sig_empty(severity: Severity) -> Finding:
    return Finding(
        "signature_empty",
        ("O31-21",),
        "The signature 【】 is empty.",
        "签名【】为空。",
        severity,
    )


def _f_sig_generic(severity: Severity, signature: str) -> Finding:
    return Finding(
        "signature_generic",
        ("O31-21",),
        "The signature does not name a content provider (a generic word such as 通知 or 温馨提示).",
        "签名未标明内容提供者名称（如“通知”“温馨提示”等泛称）。",
        severity,
        {"signature": signature},
    )


def _f_sig_mismatch(content_provider: str | None) -> Finding:
    return Finding(
        "signature_mismatch",
        ("O31-21", "O31-12"),
        "The signature is not one registered for this content provider.",
        "签名与该内容提供者登记的签名不一致。",
        detail={"content_provider": content_provider} if content_provider else {},
    )


@cache  # immutable and the same for the same arguments: built once
def _f_extra_brackets() -> Finding:
    return Finding(
        "signature_extra_brackets",
        ("O31-21",),
        "The body contains another 【】; only the one signature may use them.",
        "正文中含有其他【】，只有签名可以使用【】。",
    )


@cache  # immutable and the same for the same arguments: built once
def _f_optout_missing() -> Finding:
    return Finding(
        "optout_missing",
        ("O31-20",),
        "A commercial message must tell the recipient how to refuse further messages (e.g. 回T退订).",
        "商业性短信息须同时告知便捷有效的拒收方式（如“回T退订”）。",
    )


def _f_optout_obstacle(evidence: list[str]) -> Finding:
    return Finding(
        "optout_obstacle",
        ("O31-20",),
        "The opt-out puts an obstacle in the recipient's way (a charge or condition).",
        "拒收方式设置了障碍（收费或附加条件）。",
        detail={"matches": evidence},
    )


@cache  # immutable and the same for the same arguments: built once
def _f_kind_mismatch(declared: MessageKind) -> Finding:
    return Finding(
        "commercial_content_not_declared",
        ("O31-19", "O31-18.1"),
        f"Commercial content in a message declared as {declared.value.replace('_', ' ')}.",
        f"申报为{_KIND_ZH[declared]}的消息含有商业性内容。",
        detail={"declared_kind": declared.value},
    )


def _f_pi(category: str, count: int) -> Finding:
    return Finding(
        "pi_in_content",
        ("O24-10", "CSL-40", "CSL-42.1"),
        f"The message content discloses personal information ({category.replace('_', ' ')}).",
        f"短信内容泄露个人信息（{_PI_ZH.get(category, category)}）。",
        detail={"category": category, "count": count},
    )


_default_reviewer: dict[tuple[str, int], Reviewer] = {}


def default_reviewer() -> Reviewer:
    """The reviewer over the built-in rules plus ``PIGUARD_SMS_RULES_DIR`` (built once per value)."""
    env = (os.environ.get(RULES_DIR_ENV, ""), rules_generation())
    reviewer = _default_reviewer.get(env)
    if reviewer is None:
        _default_reviewer.clear()
        reviewer = _default_reviewer[env] = reviewer_for(load_rules())
    return reviewer


def reviewer_for(rules: RuleSet) -> Reviewer:
    """One reviewer per compiled rule set, kept on the rule set (so it lives exactly as long)."""
    reviewer: Reviewer | None = getattr(rules, "_reviewer", None)
    if reviewer is None:
        reviewer = Reviewer(rules)
        rules._reviewer = reviewer  # type: ignore[attr-defined]
    return reviewer


def category_label(category: str, *, rules: RuleSet | None = None) -> tuple[str, str, tuple[str, ...]] | None:
    """``(label_zh, label_en, articles)`` of a prohibited category as the review words its finding
    (``诈骗或钓鱼``, ``fraud or phishing``), or None for a category these rules do not know."""
    r = default_reviewer().rules if rules is None else rules
    verdict = r.verdicts.get(category)
    if verdict is not None:
        return verdict.label_zh, verdict.label_en, tuple(verdict.articles)
    for g in r.groups:
        if g.role == "prohibited" and g.name == category:
            return g.label_zh, g.label_en, tuple(g.articles)
    return None


def review(text: str, context: ReviewContext | None = None, *, rules: RuleSet | None = None) -> ReviewResult:
    """Review one message. ``rules`` defaults to the built-in set plus ``PIGUARD_SMS_RULES_DIR``."""
    reviewer = default_reviewer() if rules is None else reviewer_for(rules)
    return reviewer.review(text, context)
