"""Inbound replies: is this an opt-out, a consent grant, a refusal, or something we must not guess?

Users write 退订, TD, T, N, R, QX, 取消, STOP, 不要再发… in any case or width, alone or with polite
words around them. An opt-out ends consent at once (O31-20, O31-18.1, NPC-8). With a consent request
pending (O31-18.2), an explicit yes grants it and N/否 refuses it. Anything that mentions an opt-out
or consent word but cannot be read safely (a question, a negation, a bare 不) is *ambiguous*:
recorded, not acted upon. The token lists are data (``data/replies.yaml``), extendable like the
review rules. The rules, in order:

1. The whole reply, once fillers (谢谢, 请, 了, 回复, thanks…) and punctuation are removed, is a
   token: a question mark makes it ambiguous; with a consent request pending, a refusal token (N, 否,
   不需要…) refuses it and a grant token (是, Y, 同意, 好的…) grants it; otherwise an opt-out token
   (T, TD, N, R, QX, 0000, STOP, 退订, 取消…) or a refusal token is an opt-out; a grant token with
   nothing pending grants nothing; 不, 嗯… are ambiguous.
2. Otherwise the reply is split into clauses (at punctuation, and at spaces next to Chinese text).
   A clause that is a token on its own counts as in rule 1 ("好的，T", "是的，同意"). An imperative or complaint pattern (不要再给我发, 再发就投诉12321) is an opt-out wherever it is.
   An opt-out phrase (退订, 拒收, 不想收到…) or a distinctive code written as a word of its own
   (TD, QX, STOP; not inside TDD) is an opt-out in a clause that is not a question and not negated
   right before it (不退订, 不用退订); in a question (退订了吗?, 怎么退订, T什么意思) or negated it is
   ambiguous. Single letters (T, N, R) count only as the whole reply, so 我在T3航站楼 is nothing.
3. Precedence: opt-out, then refusal (consent pending), then ambiguous, then grant (consent
   pending), then none. A reply that both grants and opts out (好的, TD) opts out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from piguard.core.errors import FieldError, validation_error
from piguard.core.reasons import Reason, obligations_of
from piguard.messaging.review.rules import RuleSet, load_rules
from piguard.regulations.markers import carries


class ReplyIntent(StrEnum):
    OPT_OUT = "opt_out"
    CONSENT_GRANT = "consent_grant"
    CONSENT_REFUSAL = "consent_refusal"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


_OBLIGATIONS: dict[ReplyIntent, tuple[str, ...]] = {
    ReplyIntent.OPT_OUT: ("O31-20", "O31-18.1", "NPC-8"),
    ReplyIntent.CONSENT_GRANT: ("O31-18.1", "O31-18.2", "NPC-7"),
    ReplyIntent.CONSENT_REFUSAL: ("O31-18.2", "O31-18.1"),
    ReplyIntent.AMBIGUOUS: ("O31-20", "O31-18.2"),
    ReplyIntent.NONE: ("O31-11",),
}

_MESSAGES: dict[str, tuple[str, str]] = {
    "reply_opt_out": (
        "The reply refuses further messages: consent ends at once and no obstacle is put in the way.",
        "回复表示拒收：立即终止同意，不设障碍。",
    ),
    "reply_refusal_when_nothing_pending": (
        "The reply refuses to receive messages; with no consent request pending it is treated as an opt-out.",
        "回复表示拒绝接收；当前无待答复的同意请求，按退订处理。",
    ),
    "reply_consent_granted": (
        "The reply explicitly agrees to the pending request to receive commercial messages.",
        "回复明确同意接收所请求的商业性短信息。",
    ),
    "reply_consent_refused": (
        "The reply refuses the pending consent request; the same or similar content is not sent again.",
        "回复拒绝同意请求；不得再次发送相同或相似内容。",
    ),
    "reply_question": (
        "The reply asks about an opt-out or consent word rather than using it: recorded, not acted upon.",
        "回复是在询问退订或同意事项而非作出表示：予以记录，不作推断。",
    ),
    "reply_negated": (
        "The reply negates an opt-out word: recorded, not acted upon.",
        "回复否定了退订用语：予以记录，不作推断。",
    ),
    "reply_unclear": (
        "The reply is too short or vague to act on: recorded, not acted upon. A pending consent request "
        "that is not clearly granted lapses as a refusal.",
        "回复过短或含义不明：予以记录，不作推断。未明确同意的请求到期视为不同意。",
    ),
    "reply_grant_nothing_pending": (
        "The reply says yes but no consent request is pending: it grants nothing.",
        "回复表示同意，但当前没有待答复的同意请求：不产生同意。",
    ),
    "reply_no_intent": (
        "No opt-out or consent intent found; the reply is recorded.",
        "未识别到退订或同意意思表示；回复予以记录。",
    ),
}


@dataclass(frozen=True, slots=True)
class ReplyClassification:
    intent: ReplyIntent
    token: str | None  # the normalised token, phrase or pattern that decided (no PI)
    reasons: tuple[Reason, ...]
    pending_consent: bool = False

    @property
    def ends_consent(self) -> bool:
        """Opt-outs and refusals end (or refuse) consent at once."""
        return self.intent in (ReplyIntent.OPT_OUT, ReplyIntent.CONSENT_REFUSAL)

    @property
    def obligations(self) -> tuple[str, ...]:
        return obligations_of(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent.value,
            "token": self.token,
            "pending_consent": self.pending_consent,
            "reasons": [r.to_dict() for r in self.reasons],
        }


def _result(intent: ReplyIntent, code: str, token: str | None, pending: bool) -> ReplyClassification:
    en, zh = _MESSAGES[code]
    detail = {"token": token} if token else {}
    return ReplyClassification(intent, token, (Reason(code, _OBLIGATIONS[intent], en, zh, detail),), pending)


_CLAUSE = re.compile(r"[^。!?,;、\n~…]+\?*")
_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
_LATIN = re.compile(r"[a-z0-9]+")


def _alternation(words: list[str]) -> re.Pattern[str] | None:
    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in words))


_SPACED = re.compile(r"^[a-z0-9](?:[\s.\-_·,，。、/|*+]+[a-z0-9])+$")
_SPACING = re.compile(r"[^a-z0-9]+")


@carries("O31-20")
def _join_spaced(core: str) -> str:
    """Single letters or digits with separators between them are one token: ``t d`` is ``td``."""
    return _SPACING.sub("", core) if _SPACED.match(core) else core


class ReplyClassifier:
    """Compiled reply tables for one rule set; reuse one per process."""

    def __init__(self, rules: RuleSet | None = None) -> None:
        self.rules = rules or load_rules()
        self._norm = self.rules.normalizer
        cfg = self.rules.replies

        def words(key: str) -> list[str]:
            return [w for w in (self._norm.normalize(x) for x in cfg.get(key, [])) if w]

        self.optout_tokens = frozenset(words("optout_tokens"))
        self.optout_codes = frozenset(words("optout_codes"))
        self.refusal_tokens = frozenset(words("refusal_tokens"))
        self.grant_tokens = frozenset(words("grant_tokens"))
        self.ambiguous_tokens = frozenset(words("ambiguous_tokens"))
        self._phrases = _alternation(words("optout_phrases"))
        self._refusal_phrases = _alternation(words("refusal_phrases"))
        self._grant_phrases = _alternation(words("grant_phrases"))
        self._negations = tuple(sorted(set(words("negations")), key=len, reverse=True))
        self._patterns = [re.compile(p) for p in cfg.get("optout_patterns", [])]
        fillers = sorted(
            {self._norm.fold(f) for f in cfg.get("fillers", []) if f.strip()}, key=len, reverse=True
        )
        self._fillers = re.compile("|".join(re.escape(f) for f in fillers)) if fillers else None
        markers = [self._norm.fold(m) for m in cfg.get("question_markers", []) if m.strip()]
        self._q_symbols = tuple(m for m in markers if not self._norm.squeeze(m))  # "?" survives only in fold
        self._q_words = _alternation([self._norm.squeeze(m) for m in markers])
        self._all_tokens = (
            self.optout_tokens | self.refusal_tokens | self.grant_tokens | self.ambiguous_tokens
        )

    def _core(self, folded: str) -> str:
        text = self._fillers.sub(" ", folded) if self._fillers else folded
        return self._norm.squeeze(text).strip()

    def _is_question(self, folded_clause: str, squeezed: str) -> bool:
        if any(s in folded_clause for s in self._q_symbols):
            return True
        return bool(self._q_words and self._q_words.search(squeezed))

    def _negated(self, squeezed: str, start: int) -> bool:
        before = squeezed[:start]
        return any(before.endswith(n) for n in self._negations)

    @carries("O31-20", "O31-18.1", "O31-18.2", "NPC-8")
    def classify(self, text: str, *, pending_consent: bool = False) -> ReplyClassification:
        if not isinstance(text, str):
            raise validation_error(
                [FieldError("text", "not a string")],
                "The reply text must be a string.",
                "回复内容必须是字符串。",
            )
        pending = bool(pending_consent)
        folded = self._norm.fold(text)
        if not self._norm.squeeze(folded):
            return _result(ReplyIntent.NONE, "reply_no_intent", None, pending)
        # 1. the whole reply is a token (also spelt out: "t d", "T-D", "q.x")
        core = _join_spaced(self._core(folded))
        if core in self._all_tokens:
            if self._is_question(folded, core):
                return _result(ReplyIntent.AMBIGUOUS, "reply_question", core, pending)
            if pending and core in self.refusal_tokens:
                return _result(ReplyIntent.CONSENT_REFUSAL, "reply_consent_refused", core, pending)
            if core in self.optout_tokens:
                return _result(ReplyIntent.OPT_OUT, "reply_opt_out", core, pending)
            if core in self.refusal_tokens:
                return _result(ReplyIntent.OPT_OUT, "reply_refusal_when_nothing_pending", core, pending)
            if core in self.grant_tokens:
                if pending:
                    return _result(ReplyIntent.CONSENT_GRANT, "reply_consent_granted", core, pending)
                return _result(ReplyIntent.NONE, "reply_grant_nothing_pending", core, pending)
            return _result(ReplyIntent.AMBIGUOUS, "reply_unclear", core, pending)
        # 2. clause by clause
        optout: str | None = None
        refusal: str | None = None
        ambiguous: tuple[str, str] | None = None
        grant: str | None = None
        for part in _CLAUSE.findall(folded):
            for clause in _CJK_SPACE.split(part):
                s = self._norm.squeeze(clause)
                if not s:
                    continue
                for rx in self._patterns:
                    m = rx.search(s)
                    if m:
                        optout = optout or m.group()
                question = self._is_question(clause, s)
                part_core = self._core(clause)
                if not question and part_core in self._all_tokens:
                    # a clause that is a token on its own: "好的，T", "是的，同意"
                    if pending and part_core in self.refusal_tokens:
                        refusal = refusal or part_core
                    elif part_core in self.optout_tokens or part_core in self.refusal_tokens:
                        optout = optout or part_core
                    elif pending and part_core in self.grant_tokens:
                        grant = grant or part_core
                if self._phrases is not None:
                    for m in self._phrases.finditer(s):
                        if question:
                            ambiguous = ambiguous or (m.group(), "reply_question")
                        elif self._negated(s, m.start()):
                            ambiguous = ambiguous or (m.group(), "reply_negated")
                        else:
                            optout = optout or m.group()
                for word in _LATIN.findall(s):
                    if word in self.optout_codes and not question:
                        optout = optout or word
                    elif question and (word in self.optout_tokens or word in self.grant_tokens):
                        ambiguous = ambiguous or (word, "reply_question")
                if pending and not question:
                    if self._refusal_phrases is not None and (m := self._refusal_phrases.search(s)):
                        refusal = refusal or m.group()
                    m = self._grant_phrases.search(s) if self._grant_phrases is not None else None
                    if m is not None and not self._negated(s, m.start()):
                        grant = grant or m.group()
        if optout:
            return _result(ReplyIntent.OPT_OUT, "reply_opt_out", optout, pending)
        if refusal:
            return _result(ReplyIntent.CONSENT_REFUSAL, "reply_consent_refused", refusal, pending)
        if ambiguous:
            return _result(ReplyIntent.AMBIGUOUS, ambiguous[1], ambiguous[0], pending)
        if grant:
            return _result(ReplyIntent.CONSENT_GRANT, "reply_consent_granted", grant, pending)
        return _result(ReplyIntent.NONE, "reply_no_intent", None, pending)


def classifier_for(rules: RuleSet | None = None) -> ReplyClassifier:
    """One classifier per compiled rule set, kept on the rule set."""
    rs = rules or load_rules()
    found: ReplyClassifier | None = getattr(rs, "_reply_classifier", None)
    if found is None:
        found = ReplyClassifier(rs)
        rs._reply_classifier = found  # type: ignore[attr-defined]
    return found


def classify_reply(
    text: str, *, pending_consent: bool = False, rules: RuleSet | None = None
) -> ReplyClassification:
    """Classify one inbound reply. ``pending_consent``: a consent request to this user awaits an answer."""
    return classifier_for(rules).classify(text, pending_consent=pending_consent)
