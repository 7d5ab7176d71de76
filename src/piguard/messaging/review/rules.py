"""Keyword and pattern sets as data, compiled once into one multi-pattern matcher.

Every literal term of every group goes into one matcher, scanned once per message: the compiled
kernel's Aho-Corasick automaton (with every pattern's necessary factors, factors.py), else one
Hyperscan database, else one pyahocorasick automaton; regular-expression patterns run only when one
of their trigger terms was seen (and the matcher's pre-filter reported them). Key matches are taken
by end, the longest first at one end, and patterns in definition order: the canonical order in
which signals fire (so the order of a finding's reasons), the same whichever matcher runs.

Built-in sets live in ``piguard/messaging/data/``; operators add to them without code by pointing
``PIGUARD_SMS_RULES_DIR`` (several directories separated by ``os.pathsep``) or the CLI option
``--rules-dir`` at a directory of the same kind of files:

* ``*.yaml`` / ``*.yml`` — a mapping with any of the keys ``category`` (one prohibited category,
  written at top level: ``label``, ``articles``, ``threshold``, ``promotes``, ``strong``, ``weak``,
  ``terms``, ``context``, ``exempt``, ``patterns``), ``prohibited`` (a list of categories), ``kinds``
  (message-kind signals), ``optout`` (opt-out wording in commercial messages), ``signatures`` (generic signature
  names that do not name a content provider), ``replies`` (inbound-reply tokens) and ``variants``
  (variant character -> canonical character). A category or kind that already exists is extended
  (its terms and patterns are added; ``threshold``, ``articles`` and ``label`` replace the old ones
  when given).
* ``*.txt`` — one term a line (``#`` comments; optional ``<TAB>weight``) for the prohibited category
  named by the file stem, e.g. ``counterfeit_goods.txt``; ``variants.txt`` holds lines
  ``<variant> <canonical>``.

Scoring: strong terms weigh 1.0, weak ones 0.5 (``terms`` gives explicit weights); a group fires when
the summed weight of its distinct matches reaches its threshold. A term inside a longer match of the
same group counts once; ``context`` terms count only beside another match of their group; ``exempt``
phrases cancel the matches inside them ("远离赌博").

Terms are normalised exactly as messages are (see :mod:`.normalize`), so ``贷 款`` or ``ＴＤ`` in a
data file means ``贷款`` or ``td``. Regular expressions are matched against the normalised text:
lower case, separators removed, one space kept between ASCII words. A pattern may name
``triggers`` (literal terms): it then runs only when one of them occurs, which keeps the scan fast.
Terms made only of ASCII letters and digits match whole words only (``av`` does not match ``have``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import ahocorasick
import yaml

from piguard import _native
from piguard.core import yamlfiles
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.core.hs_cache import compile_cached
from piguard.messaging.review.factors import necessary_run, necessary_sets, prefix_set
from piguard.messaging.review.normalize import ASCII_ALNUM, Normalizer

RULES_DIR_ENV = "PIGUARD_SMS_RULES_DIR"
DEFAULT_PROHIBITED_ARTICLES = ("O31-16", "CSL-47")
STRONG, WEAK = 1.0, 0.5

# eleven digits with at most one separator between them: on normalised text (single spaces only)
# every run that ``pi.may_hold_pi`` accepts contains it, so the one scan answers the pre-check
DIGIT_RUN = r"[0-9](?: ?[0-9]){10}"

# automaton entry types
_TERM, _EXEMPT, _TRIGGER, _CONTEXT, _LAZY = 0, 1, 2, 3, 4
# shapes of a matcher key (see RuleSet.compile): one group's term only, pattern triggers only, other
_ONE_TERM, _ONLY_TRIGGERS, _GENERAL = 0, 1, 2
# groups scored only on request (RuleSet.score_lazy), e.g. opt-out obstacles: needed only for
# commercial messages
LAZY_ROLES = frozenset({"obstacle"})


@dataclass
class PatternRule:
    id: str
    regex: str
    weight: float = STRONG
    triggers: tuple[str, ...] = ()


@dataclass
class TermGroup:
    """A scored set of terms and patterns: a prohibited category, a kind's signals, opt-out wording.

    The group fires when the summed weight of its distinct matches reaches ``threshold``.
    """

    name: str
    role: str  # "prohibited" | "kind" | "optout" | "obstacle"
    threshold: float = STRONG
    terms: dict[str, float] = field(default_factory=dict)
    exempt: set[str] = field(default_factory=set)
    context: dict[str, float] = field(default_factory=dict)  # count only beside a non-context match
    patterns: list[PatternRule] = field(default_factory=list)
    articles: tuple[str, ...] = ()
    label_en: str = ""
    label_zh: str = ""
    promotes: bool = False  # a prohibited category whose messages advertise something: kind commercial
    sources: list[str] = field(default_factory=list)
    #: role "signal": the evidence category the signal counts towards (institution, lure, ...)
    category: str = ""
    #: role "signal": the most the signal adds to its category, however many of its terms match
    cap: float = STRONG
    #: role "signal": terms looked for by plain containment, outside the matcher (words so common
    #: that matching every occurrence would cost more than one look: 您, 你)
    contains: list[str] = field(default_factory=list)


@dataclass
class VerdictRule:
    """How signal categories add up to a prohibited category (``verdicts:`` in a signals file).

    ``score = sum(weights[c] * min(category score, caps.get(c, cap)))``; the category is found
    prohibited when ``score >= threshold`` and, if ``require`` is given, one of the required
    categories has evidence. ``clear`` names the sender clearances (``ReviewContext.clearances``)
    that cancel the finding; ``clear_when`` the categories one of which must then be present (a
    warning's wording, lottery results), and ``clear_unless`` those that keep it standing.
    """

    name: str
    threshold: float = 2.0
    weights: dict[str, float] = field(default_factory=dict)
    caps: dict[str, float] = field(default_factory=dict)
    cap: float = 1.5
    require: tuple[str, ...] = ()
    #: every one of these lists needs evidence in one of its categories
    require_all: tuple[tuple[str, ...], ...] = ()
    #: at least ``distinct`` of the categories ``distinct_of`` need evidence (0: no such rule)
    distinct: int = 0
    distinct_of: tuple[str, ...] = ()
    clear: tuple[str, ...] = ()
    clear_when: tuple[str, ...] = ()
    clear_unless: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()
    label_en: str = ""
    label_zh: str = ""
    promotes: bool = False
    sources: list[str] = field(default_factory=list)


class Hit(NamedTuple):
    """One match that counted towards a group: the normalised term or ``re:<pattern id>``."""

    group: str
    evidence: str
    weight: float


@dataclass(slots=True)
class ScanResult:
    text: str  # the normalised text
    scores: list[float]
    hits: list[list[Hit]]
    #: ids of the lazy groups' terms and pattern triggers seen by the same scan (see score_lazy)
    lazy: frozenset[int] | set[int] | None = None
    #: patterns the matcher's pre-filter reported (None: no pre-filter)
    reported: set[int] | None = None
    #: False when the same scan proved there is no run of 11 digits (the personal-information
    #: pre-check, see ``pi.may_hold_pi``); None when it cannot tell
    digit_run: bool | None = None
    #: the groups with at least one match (indexes into ``scores``)
    fired: tuple[int, ...] = ()


_SIGNAL_ID = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*")
_SIGNAL_KEYS = frozenset(
    {"id", "category", "articles", "weight", "label", "strong", "weak", "terms", "exempt", "context"}
    | {"patterns", "pinyin", "contains"}
)
_VERDICT_KEYS = frozenset(
    {"threshold", "weights", "caps", "cap", "require", "require_all", "clear", "clear_when", "clear_unless"}
    | {"articles", "distinct", "distinct_of"}
    | {"label", "promotes"}
)


def pinyin_spellings(term: str, syllables: str) -> list[tuple[str, bool]]:
    """The spellings of ``term`` that evade a keyword list: all in pinyin (joined and spaced), its
    initials (three characters or more), and one or more characters replaced by their syllable
    (``dai款``, ``百jia乐``). ``(spelling, is_initials)`` pairs; the term itself is not among them."""
    sy = syllables.lower().split()
    n = len(term)
    if n < 2:  # one syllable alone ("du") is an ordinary word in too many languages
        return []
    out: list[tuple[str, bool]] = [("".join(sy), False), (" ".join(sy), False)]
    if n >= 3:
        out.append(("".join(s[0] for s in sy), True))
    if n <= 4:
        for mask in range(1, (1 << n) - 1):
            parts: list[str] = []
            for i in range(n):
                if mask >> i & 1:
                    if parts and parts[-1][-1:].isascii() and parts[-1][-1:].isalpha():
                        parts.append(" ")
                    parts.append(sy[i])
                else:
                    parts.append(term[i])
            spaced = "".join(parts)
            out.append((spaced, False))
            out.append((spaced.replace(" ", ""), False))
    return list(dict.fromkeys(out))


def _bad(source: str, message: str) -> PiguardError:
    return validation_error(
        [FieldError(source, message)],
        f"SMS rules file {source} is not valid: {message}",
        f"短信规则文件 {source} 无效：{message}",
    )


def _label(value: Any, source: str) -> Mapping[str, Any] | None:
    """A category's ``label: {en, zh}``; anything else is an error (an unquoted comma in a YAML flow
    mapping makes a stray key and cuts the label short: ``{en: fake certificates, seals …}``)."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(map(str, value)) - {"en", "zh"}:
        raise _bad(source, "'label' must be {en: …, zh: …} (quote a label that holds a comma)")
    if any(not isinstance(v, str) or not v.strip() for v in value.values()):
        raise _bad(source, "'label' must be {en: …, zh: …} with non-empty texts")
    return value


def _as_list(value: Any, source: str, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise _bad(source, f"'{key}' must be a list of strings")
    for v in value:
        if not isinstance(v, str):
            # YAML reads yes/no/on/off as booleans and 0000 as 0: such terms must be quoted
            raise _bad(source, f"'{key}': {v!r} is not a string; quote it (\"{v}\")")
    return list(value)


def _weight(value: Any, source: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _bad(source, f"'{key}' must be a positive number")
    return float(value)


_PY_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


def _hs_regex(regex: str) -> bytes:
    """A Python pattern in the PCRE syntax Hyperscan reads (``\\uXXXX`` -> ``\\x{XXXX}``); Hyperscan
    only pre-filters with it, so any remaining difference costs a Python search, never a match."""
    return _PY_UNICODE_ESCAPE.sub(lambda m: "\\x{%s}" % (m.group(1) or m.group(2)), regex).encode("utf-8")


# libyaml's safe loader when PyYAML has it: the built-in rules load ten times faster than in Python.
_YAML_LOADER = yamlfiles.StrictSafeLoader  # libyaml where present; duplicate keys refused


def prefilter_flags(hs: Any) -> int:
    """The Hyperscan flags every pattern is compiled with (module ``hs``): UTF-8, Unicode
    properties, pre-filter mode, one report per scan."""
    return int(
        hs.HS_FLAG_UTF8
        | hs.HS_FLAG_UCP
        | hs.HS_FLAG_PREFILTER
        | hs.HS_FLAG_SINGLEMATCH
        | hs.HS_FLAG_ALLOWEMPTY
        | hs.HS_FLAG_DOTALL
    )


class _Matcher:
    """Every literal key and every regular-expression pattern at once, in one pass.

    With the compiled kernel (``native``): ``sms_review.Automaton``, one Aho-Corasick automaton
    over the keys and each pattern's necessary factors (factors.py); a pattern is reported when one
    string of each of its sets and the number run it needs occur (else it cannot match). Character
    offsets; key occurrences kept as C integers for ``collect``, no callback a match.

    Hyperscan when installed (C speed whatever the number of keys): one database holds the literal
    keys (ids ``0..len(keys)-1``, matched as plain UTF-8 bytes) and each pattern compiled in
    *prefilter* mode (UTF-8, Unicode properties, lookarounds approximated, one report per scan): a
    pattern Hyperscan does not report cannot match, so Python's ``re`` confirms only the reported
    ones (and gives the exact span). A pattern Hyperscan cannot compile is not pre-filtered (it runs
    whenever its triggers occur, as without Hyperscan). Offsets are then UTF-8 byte offsets.

    Without Hyperscan: pyahocorasick over the keys, character offsets, no pre-filter (its
    per-character cost grows with the number of distinct first characters, ~0.15 us a character).
    """

    def __init__(
        self, keys: list[str], backend: str | None = None, regexes: Sequence[str] = (), n_main: int = 0
    ) -> None:
        self.keys = keys
        self.nkeys = len(keys)
        self.backend = "pyahocorasick"
        #: patterns (by position in ``regexes``) that the scan pre-filters
        self.prefiltered: frozenset[int] = frozenset()
        #: offsets in UTF-8 bytes (Hyperscan) or characters (pyahocorasick)
        self.byte_offsets = False
        self._hs: Any = None
        self._local = threading.local()
        kernel = _native.load("sms_review")
        self._handler: Any = kernel.Matches if kernel is not None else None
        self._native: Any = None
        if backend == "native" or (backend is None and kernel is not None):
            if kernel is None:
                raise ImportError("the native matcher needs the compiled kernel piguard._native.sms_review")
            self._native = self._compile_native(kernel, keys, regexes, n_main)
            self.backend = "native"
            return
        if backend in (None, "hyperscan"):
            try:
                import hyperscan

                self._hs_mod = hyperscan
                self._hs = self._compile_all(keys, regexes)
                self.backend = "hyperscan"
                self.byte_offsets = True
            except ImportError:
                if backend == "hyperscan":
                    raise
                self._hs = None
        if self._hs is None:
            self._ac = ahocorasick.Automaton()
            for i, k in enumerate(keys):
                self._ac.add_word(k, i)
            if keys:
                self._ac.make_automaton()

    def _compile_native(self, kernel: Any, keys: list[str], regexes: Sequence[str], n_main: int) -> Any:
        """One Aho-Corasick automaton (``sms_review.Automaton``) over the keys and every pattern's
        necessary factors (factors.py): a pattern is reported when one string of each of its sets
        occurs; DIGIT_RUN is followed by the automaton's own digit counter."""
        strings = list(keys)
        factor_slots: list[tuple[int, int]] = []
        masks: list[int] = []
        runs: list[int] = []
        digit_slot = -1
        prefiltered: set[int] = set()
        for j, rx in enumerate(regexes):
            if rx == DIGIT_RUN and digit_slot < 0:
                digit_slot = j
                masks.append(0)
                runs.append(0)
                prefiltered.add(j)
                continue
            sets, run = necessary_sets(rx), necessary_run(rx)
            masks.append((1 << len(sets)) - 1)
            runs.append(run)
            if sets or run:
                prefiltered.add(j)
            for bit, strs in enumerate(sets):
                for x in sorted(strs):
                    strings.append(x)
                    factor_slots.append((j, bit))
            starts = prefix_set(rx) if j < n_main else None  # the scan's patterns: tried where they start
            for x in sorted(starts or ()):
                strings.append(x)
                factor_slots.append((j, -1))
        self.prefiltered = frozenset(prefiltered)
        return kernel.Automaton(strings, len(keys), factor_slots, masks, runs, digit_slot)

    def _compile_all(self, keys: list[str], regexes: Sequence[str]) -> Any:
        hs = self._hs_mod
        literal = [b"".join(b"\\x%02x" % c for c in k.encode("utf-8")) for k in keys]
        pf = prefilter_flags(hs)
        pattern = {j: _hs_regex(rx) for j, rx in enumerate(regexes)}

        def build() -> tuple[Any, list[int]]:
            nonlocal pattern
            while True:
                exprs = literal + list(pattern.values())
                ids = list(range(len(keys))) + [len(keys) + j for j in pattern]
                if not exprs:
                    return None, []
                db = hs.Database(mode=hs.HS_MODE_BLOCK)
                try:
                    db.compile(
                        expressions=exprs,
                        ids=ids,
                        elements=len(exprs),
                        flags=[0] * len(literal) + [pf] * len(pattern),
                    )
                except hs.error:
                    if not pattern:
                        raise
                    pattern = {j: e for j, e in pattern.items() if self._compiles(e, pf)}
                    continue
                return db, sorted(pattern)

        # Loaded from the on-disk cache when these keys and patterns were compiled before.
        db, kept = compile_cached(hs, hs.HS_MODE_BLOCK, ("review", pf, literal, list(pattern.items())), build)
        self.prefiltered = frozenset(kept)
        return db

    def _compiles(self, expr: bytes, flags: int) -> bool:
        hs = self._hs_mod
        try:
            hs.Database(mode=hs.HS_MODE_BLOCK).compile(expressions=[expr], ids=[0], elements=1, flags=[flags])
        except hs.error:
            return False
        return True

    def match(self, text: str) -> tuple[bytes | str, list[tuple[int, int]], set[int] | None]:
        """``(subject, hits, reported)``: the subject the offsets index (UTF-8 bytes or the text),
        ``(end, key id)`` of every key occurrence (``end`` exclusive), and the pre-filtered patterns
        Hyperscan reported (None without Hyperscan)."""
        subject, found, reported = self.occurrences(text)
        return subject, found if type(found) is list else found.found, reported

    def occurrences(self, text: str) -> tuple[bytes | str, Any, set[int] | None]:
        """:meth:`match`, the key occurrences as the compiled handler keeps them when it ran (a
        ``Matches``: its ``len()`` is their number and the compiled ``collect`` reads them without
        a list of tuples), else as the list. The scan's path."""
        if self._native is not None:  # the compiled automaton: keys and pattern factors at once
            found = self._native.scan(text)
            return text, found, found.reported
        if self._hs is None:
            if not self.keys:
                return text, [], None
            return text, self._canonical([(end + 1, i) for end, i in self._ac.iter(text)]), None
        data = text.encode("utf-8")
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs_mod.Scratch(self._hs)
        if self._handler is not None:  # the compiled handler: no Python frame per match
            handler = self._handler(self.nkeys)
            self._hs.scan(data, handler, 0, None, scratch)
            return data, handler, handler.reported
        raw: list[tuple[int, int]] = []
        reported: set[int] = set()
        append, report, nkeys = raw.append, reported.add, self.nkeys

        def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            if i < nkeys:
                append((to, i))
            else:
                report(i - nkeys)

        # positional (data, handler, flags, context, scratch): the binding parses them faster than keywords
        self._hs.scan(data, on_match, 0, None, scratch)
        return data, self._canonical(raw), reported

    def _canonical(self, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Occurrences in the canonical order (the native automaton's): by end, at one end the
        longest key first (the order the groups fire in, so the order of a finding's reasons)."""
        keys = self.keys
        found.sort(key=lambda f: (f[0], -len(keys[f[1]])))
        return found

    def hits(self, text: str) -> list[tuple[int, int]]:
        """``(end, key id)`` of every key occurrence, ``end`` in the matcher's offset unit."""
        return self.match(text)[1]


class RuleSet:
    """All keyword and pattern sets, compiled. Build with :func:`load_rules` (cached)."""

    def __init__(self) -> None:
        self.groups: list[TermGroup] = []
        self._by_key: dict[tuple[str, str], TermGroup] = {}
        self.generic_signatures: set[str] = set()
        self.replies: dict[str, list[str]] = {}
        self.variants: dict[str, str] = {}
        self.verdicts: dict[str, VerdictRule] = {}
        #: operators' models loaded from rules directories (``*.model.json``, review/model.py)
        self.models: list[Any] = []
        #: spellings generated from ``pinyin`` (normalised at compile): evidence of obfuscation too
        self.pinyin_terms: set[str] = set()
        self.pinyin_keys: set[str] = set()
        self.sources: list[str] = []
        self.normalizer = Normalizer()
        self._matcher = _Matcher([], "pyahocorasick")
        self._values: list[tuple[Any, ...]] = []
        self._patterns: list[tuple[int, float, re.Pattern[str], str]] = []
        self._always: list[int] = []
        self._index: dict[str, int] = {}
        self._lazy_patterns: dict[tuple[int, str], re.Pattern[str]] = {}
        self._lazy_triggers: dict[tuple[int, str], re.Pattern[str]] = {}
        # lazy groups ride along in the one matcher: term -> id, pattern -> ids of its triggers
        self._lazy_term_ids: dict[tuple[int, str], int] = {}
        self._lazy_trigger_ids: dict[tuple[int, str], frozenset[int]] = {}
        #: lazy groups each of whose patterns runs only after one of its triggers
        self._lazy_gated: frozenset[int] = frozenset()
        # patterns the matcher pre-filters: main pattern index -> bool; lazy pattern -> matcher slot
        self._gated: list[bool] = []
        self._always_gated: frozenset[int] = frozenset()
        self._always_open: tuple[int, ...] = ()
        self._lazy_slots: dict[tuple[int, str], int] = {}
        self._digit_slot = -1
        self._group_names: list[str] = []
        # the scan's two loops: the compiled kernel's when built, else the Python originals
        kernel = _native.load("sms_review")
        self._collect: Callable[..., Any] = kernel.collect if kernel is not None else collect
        #: ScanResult(...) with every field given: the kernel's slot maker (no __init__ frame) or the class
        self._new_scan: Callable[..., ScanResult] = (
            kernel.slot_maker(ScanResult, ScanResult.__slots__) if kernel is not None else ScanResult
        )
        self._consolidate: Callable[..., Any] = kernel.consolidate if kernel is not None else consolidate
        self._utf8_span: Callable[..., Any] | None = kernel.utf8_span if kernel is not None else None
        self._run_patterns: Callable[..., Any] | None = kernel.run_patterns if kernel is not None else None

    # ------------------------------------------------------------------ loading
    def group(self, role: str, name: str) -> TermGroup:
        key = (role, name)
        if key not in self._by_key:
            g = TermGroup(name=name, role=role)
            self._by_key[key] = g
            self.groups.append(g)
        return self._by_key[key]

    def has_group(self, role: str, name: str) -> bool:
        return (role, name) in self._by_key

    def _merge_group(self, g: TermGroup, spec: Mapping[str, Any], source: str) -> None:
        if not isinstance(spec, Mapping):
            raise _bad(source, f"'{g.name}' must be a mapping")
        if "threshold" in spec:
            g.threshold = _weight(spec["threshold"], source, "threshold")
        if "articles" in spec:
            g.articles = tuple(_as_list(spec["articles"], source, "articles"))
        if "promotes" in spec:
            if not isinstance(spec["promotes"], bool):
                raise _bad(source, "'promotes' must be true or false")
            g.promotes = spec["promotes"]
        label = _label(spec.get("label"), source)
        if label is not None:
            g.label_en = str(label.get("en", g.label_en))
            g.label_zh = str(label.get("zh", g.label_zh))
        for t in _as_list(spec.get("strong"), source, "strong"):
            g.terms[t] = max(g.terms.get(t, 0.0), STRONG)
        for t in _as_list(spec.get("weak"), source, "weak"):
            g.terms.setdefault(t, WEAK)
        terms = spec.get("terms")
        if terms is not None:
            if not isinstance(terms, Mapping):
                raise _bad(source, "'terms' must map term -> weight")
            for t, w in terms.items():
                g.terms[str(t)] = _weight(w, source, f"terms.{t}")
        g.exempt.update(_as_list(spec.get("exempt"), source, "exempt"))
        for t in _as_list(spec.get("context"), source, "context"):
            g.context.setdefault(t, WEAK)
        for i, p in enumerate(spec.get("patterns") or []):
            if not isinstance(p, Mapping) or not isinstance(p.get("regex"), str):
                raise _bad(source, f"pattern {i} of '{g.name}' needs a 'regex' string")
            pid = str(p.get("id") or f"{g.name}_{len(g.patterns) + 1}")
            try:
                re.compile(p["regex"])
            except re.error as exc:
                raise _bad(source, f"pattern {pid}: {exc}") from None
            g.patterns.append(
                PatternRule(
                    id=pid,
                    regex=p["regex"],
                    weight=_weight(p.get("weight", STRONG), source, f"{pid}.weight"),
                    triggers=tuple(_as_list(p.get("triggers"), source, f"{pid}.triggers")),
                )
            )
        if source not in g.sources:
            g.sources.append(source)

    def add_signal(self, spec: Mapping[str, Any], source: str) -> None:
        """One signal: ``id``, ``category``, ``articles``, ``weight`` (its cap), terms and patterns as
        a group has them, and ``pinyin`` (term -> its syllables, for the pinyin spellings)."""
        if not isinstance(spec, Mapping):
            raise _bad(source, "'signals' must be a list of mappings")
        sid = spec.get("id")
        if not isinstance(sid, str) or not _SIGNAL_ID.fullmatch(sid):
            raise _bad(source, "a signal needs an 'id' such as 'lure.frozen_account'")
        category = spec.get("category")
        if not isinstance(category, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", category):
            raise _bad(source, f"signal {sid}: 'category' must be a lower-case identifier")
        unknown = set(map(str, spec)) - _SIGNAL_KEYS
        if unknown:
            raise _bad(source, f"signal {sid}: unknown keys: {', '.join(sorted(unknown))}")
        new = not self.has_group("signal", sid)
        g = self.group("signal", sid)
        if new:
            g.articles = DEFAULT_PROHIBITED_ARTICLES
            g.label_en = g.label_zh = sid
        elif g.category and g.category != category:
            raise _bad(source, f"signal {sid} is already in category '{g.category}'")
        g.category = category
        g.threshold = 0.01  # a signal counts from its first match; its weight caps what it adds
        if "weight" in spec:
            g.cap = _weight(spec["weight"], source, f"{sid}.weight")
        merged = {
            k: v for k, v in spec.items() if k not in ("id", "category", "weight", "pinyin", "contains")
        }
        g.contains.extend(_as_list(spec.get("contains"), source, f"{sid}.contains"))
        self._merge_group(g, merged, source)
        pinyin = spec.get("pinyin") or {}
        if not isinstance(pinyin, Mapping):
            raise _bad(source, f"signal {sid}: 'pinyin' must map a term to its syllables")
        for term, syllables in pinyin.items():
            if not isinstance(syllables, str) or len(syllables.split()) != len(str(term)):
                raise _bad(source, f"signal {sid}: pinyin of '{term}' needs one syllable per character")
            w = g.terms.get(str(term), g.cap)
            for spelling, initials in pinyin_spellings(str(term), syllables):
                g.terms.setdefault(spelling, w * (0.5 if initials else 1.0))
                self.pinyin_terms.add(spelling)

    def add_verdict(self, name: str, spec: Mapping[str, Any], source: str) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)) or not isinstance(spec, Mapping):
            raise _bad(source, f"verdict '{name}' must be a lower-case identifier mapping to its rule")
        unknown = set(map(str, spec)) - _VERDICT_KEYS
        if unknown:
            raise _bad(source, f"verdict {name}: unknown keys: {', '.join(sorted(unknown))}")
        v = self.verdicts.get(name)
        if v is None:
            v = self.verdicts[name] = VerdictRule(name=name, articles=DEFAULT_PROHIBITED_ARTICLES)
            v.label_en = v.label_zh = name
        if "threshold" in spec:
            v.threshold = _weight(spec["threshold"], source, f"{name}.threshold")
        if "cap" in spec:
            v.cap = _weight(spec["cap"], source, f"{name}.cap")
        for key, target in (("weights", v.weights), ("caps", v.caps)):
            m = spec.get(key) or {}
            if not isinstance(m, Mapping):
                raise _bad(source, f"verdict {name}: '{key}' must map a category to a number")
            for c, w in m.items():
                if isinstance(w, bool) or not isinstance(w, int | float):
                    raise _bad(source, f"verdict {name}: {key}.{c} must be a number")
                target[str(c)] = float(w)
        for key in ("require", "clear", "clear_when", "clear_unless"):
            if key in spec:
                setattr(v, key, tuple(_as_list(spec[key], source, f"{name}.{key}")))
        if "distinct" in spec:
            n = spec["distinct"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise _bad(source, f"verdict {name}: 'distinct' must be a whole number")
            v.distinct = n
        if "distinct_of" in spec:
            v.distinct_of = tuple(_as_list(spec["distinct_of"], source, f"{name}.distinct_of"))
        if "require_all" in spec:
            groups = spec["require_all"]
            if not isinstance(groups, list):
                raise _bad(source, f"verdict {name}: 'require_all' must be a list of lists of categories")
            v.require_all = tuple(tuple(_as_list(g, source, f"{name}.require_all")) for g in groups)
        if "articles" in spec:
            v.articles = tuple(_as_list(spec["articles"], source, f"{name}.articles"))
        if "promotes" in spec:
            if not isinstance(spec["promotes"], bool):
                raise _bad(source, f"verdict {name}: 'promotes' must be true or false")
            v.promotes = spec["promotes"]
        label = _label(spec.get("label"), source)
        if label is not None:
            v.label_en = str(label.get("en", v.label_en))
            v.label_zh = str(label.get("zh", v.label_zh))
        if source not in v.sources:
            v.sources.append(source)

    def add_prohibited(self, spec: Mapping[str, Any], source: str) -> None:
        name = spec.get("category")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _bad(source, "'category' must be a lower-case identifier such as 'gambling'")
        new = not self.has_group("prohibited", name)
        g = self.group("prohibited", name)
        if new:
            g.articles = DEFAULT_PROHIBITED_ARTICLES
            g.label_en = g.label_zh = name
        self._merge_group(g, spec, source)

    def add_mapping(self, data: Mapping[str, Any], source: str) -> None:
        known = {
            "category",
            "prohibited",
            "kinds",
            "optout",
            "signatures",
            "replies",
            "variants",
            "signals",
            "verdicts",
        }
        if "category" in data:  # a single category written at top level
            known |= {
                "label",
                "articles",
                "threshold",
                "strong",
                "weak",
                "terms",
                "exempt",
                "context",
                "patterns",
                "promotes",
            }
        unknown = set(map(str, data)) - known
        if unknown:
            raise _bad(source, f"unknown keys: {', '.join(sorted(map(str, unknown)))}")
        if "category" in data:
            self.add_prohibited(data, source)
        for spec in data.get("prohibited") or []:
            if not isinstance(spec, Mapping):
                raise _bad(source, "'prohibited' must be a list of mappings")
            self.add_prohibited(spec, source)
        signals = data.get("signals") or []
        if not isinstance(signals, list):
            raise _bad(source, "'signals' must be a list of mappings")
        for spec in signals:
            self.add_signal(spec, source)
        verdicts = data.get("verdicts") or {}
        if not isinstance(verdicts, Mapping):
            raise _bad(source, "'verdicts' must map a prohibited category to its rule")
        for name, spec in verdicts.items():
            self.add_verdict(str(name), spec, source)
        kinds = data.get("kinds") or {}
        if not isinstance(kinds, Mapping):
            raise _bad(source, "'kinds' must be a mapping")
        for name, spec in kinds.items():
            if name not in KIND_NAMES:
                raise _bad(source, f"unknown message kind '{name}' (one of {', '.join(KIND_NAMES)})")
            self._merge_group(self.group("kind", name), spec, source)
        optout = data.get("optout") or {}
        if not isinstance(optout, Mapping):
            raise _bad(source, "'optout' must be a mapping")
        for name, role in (("instructions", "optout"), ("obstacles", "obstacle")):
            if name in optout:
                self._merge_group(self.group(role, name), optout[name], source)
        sigs = data.get("signatures") or {}
        if not isinstance(sigs, Mapping):
            raise _bad(source, "'signatures' must be a mapping")
        self.generic_signatures.update(_as_list(sigs.get("generic"), source, "signatures.generic"))
        replies = data.get("replies") or {}
        if not isinstance(replies, Mapping):
            raise _bad(source, "'replies' must be a mapping")
        for key, values in replies.items():
            self.replies.setdefault(str(key), []).extend(_as_list(values, source, f"replies.{key}"))
        variants = data.get("variants") or {}
        if not isinstance(variants, Mapping):
            raise _bad(source, "'variants' must be a mapping")
        for k, v in variants.items():
            self._add_variant(str(k), str(v), source)
        self.sources.append(source)

    def _add_variant(self, variant: str, canonical: str, source: str) -> None:
        if len(variant) != 1:
            raise _bad(source, f"variant '{variant}' must be one character")
        self.variants[variant] = canonical

    def add_text(self, text: str, source: str, stem: str) -> None:
        lines = [ln.strip() for ln in text.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if stem == "variants":
            for ln in lines:
                parts = ln.split()
                if len(parts) != 2:
                    raise _bad(source, f"variant line '{ln}' must be '<variant> <canonical>'")
                self._add_variant(parts[0], parts[1], source)
            self.sources.append(source)
            return
        terms: dict[str, float] = {}
        for ln in lines:
            term, _, w = ln.partition("\t")
            w = w.strip()
            if w and not _is_number(w):
                raise _bad(source, f"weight '{w}' of '{term}' is not a number")
            terms[term.strip()] = _weight(float(w) if w else STRONG, source, term)
        self.add_prohibited({"category": stem, "terms": terms}, source)
        self.sources.append(source)

    def load_dir(self, directory: Path, label: str | None = None) -> None:
        if not directory.is_dir():
            raise _bad(str(directory), "not a directory")
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            source = f"{label}/{path.name}" if label else str(path)
            if path.name.lower().endswith(".model.json"):  # an operator's model (review/model.py)
                from piguard.messaging.review.model import read_model

                self.models.append(read_model(path.read_bytes(), source))
                self.sources.append(source)
                continue
            self._load_file(path.read_bytes(), path.suffix.lower(), path.stem, source)

    def _load_file(self, raw: bytes, suffix: str, stem: str, source: str) -> None:
        if suffix not in (".yaml", ".yml", ".txt"):
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(source, "not UTF-8") from None
        if suffix == ".txt":
            self.add_text(text, source, stem)
            return
        try:
            data = yaml.load(text, Loader=_YAML_LOADER)  # safe: no object construction
        except yaml.YAMLError as exc:
            raise _bad(source, f"YAML error: {exc}") from None
        if data is None:
            return
        if not isinstance(data, Mapping):
            raise _bad(source, "top level must be a mapping")
        self.add_mapping(data, source)

    # ---------------------------------------------------------------- compiling
    def compile(self, backend: str | None = None) -> RuleSet:
        """Compile every term and pattern once. ``backend``: force ``native``, ``hyperscan`` or ``pyahocorasick``."""
        self.normalizer = Normalizer(self.variants)
        norm = self.normalizer.normalize
        entries: dict[str, list[tuple[int, int, float]]] = {}
        self._patterns = []
        self._always = []
        self._lazy_patterns = {}
        self._lazy_triggers = {}
        self._lazy_term_ids = {}
        self._lazy_trigger_ids = {}
        lazy_regexes: list[tuple[tuple[int, str], str]] = []
        lazy_ids: dict[str, int] = {}  # lazy id per normalised key (a key is seen or not)

        def lazy_id(key: str) -> int:
            found = lazy_ids.get(key)
            if found is None:
                found = lazy_ids[key] = len(lazy_ids)
                entries.setdefault(key, []).append((_LAZY, found, 0.0))
            return found

        self._index = {f"{g.role}:{g.name}": i for i, g in enumerate(self.groups)}
        self._group_names = [g.name for g in self.groups]
        pinyin_keys = {norm(t) for t in self.pinyin_terms}
        self.pinyin_keys = set()
        for gi, g in enumerate(self.groups):
            lazy = g.role in LAZY_ROLES
            normalized_terms: dict[str, float] = {}
            for term, w in g.terms.items():
                key = norm(term)
                if key:
                    normalized_terms[key] = max(w, normalized_terms.get(key, 0.0))
            g.terms = normalized_terms
            g.contains = list(dict.fromkeys(c for c in (norm(x) for x in g.contains) if c))
            if g.role == "signal":
                self.pinyin_keys.update(k for k in normalized_terms if k in pinyin_keys)
            g.exempt = {e for e in (norm(x) for x in g.exempt) if e}
            g.context = {k: w for k, w in ((norm(t), w) for t, w in g.context.items()) if k}
            if lazy:
                for key in normalized_terms:
                    self._lazy_term_ids[(gi, key)] = lazy_id(key)
                for p in g.patterns:
                    self._lazy_patterns[(gi, p.id)] = re.compile(p.regex)
                    lazy_regexes.append(((gi, p.id), p.regex))
                    triggers = sorted({t for t in (norm(x) for x in p.triggers) if t}, key=len, reverse=True)
                    if triggers:
                        self._lazy_triggers[(gi, p.id)] = re.compile("|".join(map(re.escape, triggers)))
                        self._lazy_trigger_ids[(gi, p.id)] = frozenset(lazy_id(t) for t in triggers)
                continue
            for key, w in normalized_terms.items():
                entries.setdefault(key, []).append((_TERM, gi, w))
            for key, w in g.context.items():
                entries.setdefault(key, []).append((_CONTEXT, gi, w))
            for key in g.exempt:
                entries.setdefault(key, []).append((_EXEMPT, gi, 0.0))
            for p in g.patterns:
                pi = len(self._patterns)
                self._patterns.append((gi, p.weight, re.compile(p.regex), "re:" + p.id))
                triggers = [t for t in (norm(x) for x in p.triggers) if t]
                if not triggers:
                    self._always.append(pi)
                for t in triggers:
                    entries.setdefault(t, []).append((_TRIGGER, pi, 0.0))
        self._lazy_gated = frozenset(
            gi
            for gi, g in enumerate(self.groups)
            if g.role in LAZY_ROLES and all((gi, p.id) in self._lazy_trigger_ids for p in g.patterns)
        )
        keys = sorted(entries)  # a stable order across processes, so the compiled database is cached
        regexes = [rx.pattern for _, _, rx, _ in self._patterns] + [rx for _, rx in lazy_regexes]
        self._digit_slot = len(regexes)
        regexes.append(DIGIT_RUN)
        self._matcher = matcher = _Matcher(keys, backend, regexes, len(self._patterns))
        if self._digit_slot not in matcher.prefiltered:
            self._digit_slot = -1
        n_main = len(self._patterns)
        self._gated = [pi in matcher.prefiltered for pi in range(n_main)]
        # patterns without triggers: those the pre-filter gates run only when it reports them, so
        # a scan starts from the ungated ones and adds the reported gated ones
        self._always_gated = frozenset(pi for pi in self._always if self._gated[pi])
        self._always_open = tuple(pi for pi in self._always if not self._gated[pi])
        self._lazy_slots = {
            key: n_main + j for j, (key, _) in enumerate(lazy_regexes) if n_main + j in matcher.prefiltered
        }
        self._values = []
        for key in keys:
            ents = entries[key]
            length = len(key.encode("utf-8")) if matcher.byte_offsets else len(key)
            a0, a1 = key[0] in ASCII_ALNUM, key[-1] in ASCII_ALNUM
            terms = tuple((gi, w) for t, gi, w in ents if t == _TERM)
            context = tuple((gi, w) for t, gi, w in ents if t == _CONTEXT)
            key_triggers = tuple(pi for t, pi, _ in ents if t == _TRIGGER)
            exempts = tuple(gi for t, gi, _ in ents if t == _EXEMPT)
            key_lazy = tuple(li for t, li, _ in ents if t == _LAZY)
            # the shapes most matches have, taken by a short path in scan (same effect as the
            # general one): one group's term and nothing else; a pattern trigger and nothing else
            shape = _GENERAL
            if not (a0 or a1 or context or exempts or key_lazy):
                if len(terms) == 1 and not key_triggers:
                    shape = _ONE_TERM
                elif not terms and key_triggers:
                    shape = _ONLY_TRIGGERS
            self._values.append((shape, length, a0, a1, key, terms, context, key_triggers, exempts, key_lazy))
        return self

    @property
    def backend(self) -> str:
        """The multi-pattern matcher in use: ``native``, ``hyperscan`` or ``pyahocorasick``."""
        return self._matcher.backend

    def index(self, role: str, name: str) -> int:
        return self._index.get(f"{role}:{name}", -1)

    @property
    def term_count(self) -> int:
        return sum(len(g.terms) for g in self.groups)

    # -------------------------------------------------------------------- scan
    def score_lazy(self, gi: int, normalized: str, scan: ScanResult | None = None) -> tuple[float, list[Hit]]:
        """Score a lazy group on a normalised text: plain containment of its terms (no word
        boundaries), its patterns run when one of their triggers occurs. ``scan``: the
        :meth:`scan` of the same text, whose matcher pass already saw the lazy terms and triggers
        (no second pass over the text)."""
        g = self.groups[gi]
        seen = scan.lazy if scan is not None and scan.text == normalized else None
        if seen is None:
            hits = [Hit(g.name, t, w) for t, w in g.terms.items() if t in normalized]
        elif seen:
            ids = self._lazy_term_ids
            hits = [Hit(g.name, t, w) for t, w in g.terms.items() if ids[(gi, t)] in seen]
        elif gi in self._lazy_gated:  # nothing of the group seen, and each pattern needs a trigger
            return 0, []  # what the loop below gives: sum() of no hits is the int 0
        else:
            hits = []
        for p in g.patterns:
            key = (gi, p.id)
            if seen is None:
                gate = self._lazy_triggers.get(key)
                if gate is not None and gate.search(normalized) is None:
                    continue
            else:
                trig = self._lazy_trigger_ids.get(key)
                if trig is not None and seen.isdisjoint(trig):
                    continue
                slot = self._lazy_slots.get(key)
                if (
                    slot is not None
                    and scan is not None
                    and scan.reported is not None
                    and slot not in scan.reported
                ):
                    continue  # the matcher's pre-filter says it cannot match
            if self._lazy_patterns[key].search(normalized):
                hits.append(Hit(g.name, "re:" + p.id, p.weight))
        return sum(h.weight for h in hits), hits

    def scan(self, normalized: str) -> ScanResult:
        """Score every group on an already normalised text (the hot path: keep it lean)."""
        groups = self.groups
        n = len(groups)
        scores = [0.0] * n
        hits: list[list[Hit]] = [_NO_HITS] * n
        s = normalized
        # group -> [(start, -end, weight, evidence)]; context terms carry a negative weight
        raw: dict[int, list[tuple[int, int, float, str]]] = {}
        exempt: dict[int, list[tuple[int, int]]] | None = None
        run = set(self._always_open)
        lazy: set[int] | frozenset[int] = _NO_LAZY
        reported: set[int] | None = None
        subject: bytes | str = s
        found_keys: Any = None
        if s:
            values = self._values
            subject, found_keys, reported = self._matcher.occurrences(s)
            if reported and self._always_gated:
                run.update(self._always_gated.intersection(reported))
            if not found_keys and not run:  # nothing matched (most honest messages): no scores
                digit_run = None if reported is None or self._digit_slot < 0 else self._digit_slot in reported
                return self._new_scan(s, scores, hits, _NO_LAZY, reported, digit_run, ())
            exempt, lazy_seen = self._collect(found_keys, values, subject, raw, run)
            if lazy_seen is not None:
                lazy = lazy_seen
        if run:
            patterns = self._patterns
            gated = self._gated
            # a match's character offsets in the subject's unit (monotone, so order and nesting
            # against the keys' spans are kept)
            to_bytes = type(subject) is bytes and len(subject) != len(s)
            if self._run_patterns is not None:  # the compiled loop, same order and results
                self._run_patterns(run, reported, gated, patterns, s, to_bytes, raw, found_keys)
            else:
                utf8_span = self._utf8_span
                for pi in sorted(run):  # definition order: the canonical order of the patterns' hits
                    if reported is not None and gated[pi] and pi not in reported:
                        continue  # Hyperscan's pre-filter did not report it: it cannot match
                    gi, w, rx, pid = patterns[pi]
                    m = rx.search(s)
                    if m is not None:
                        a, b = m.span()
                        if to_bytes:
                            span = utf8_span(s, a, b) if utf8_span is not None else None
                            if span is not None:
                                a, b = span
                            else:
                                a = len(s[:a].encode("utf-8"))
                                b = a + len(s[m.start() : b].encode("utf-8"))
                        item = (a, -b, w, pid)
                        found = raw.get(gi)
                        if found is None:
                            raw[gi] = [item]
                        else:
                            found.append(item)
        if raw:
            self._consolidate(raw, exempt, self._group_names, scores, hits, Hit)
        digit_run = None if reported is None or self._digit_slot < 0 else self._digit_slot in reported
        return self._new_scan(s, scores, hits, lazy, reported, digit_run, tuple(raw))


def collect(
    found_keys: list[tuple[int, int]],
    values: list[tuple[Any, ...]],
    subject: bytes | str,
    raw: dict[int, list[tuple[int, int, float, str]]],
    run: set[int],
) -> tuple[dict[int, list[tuple[int, int]]] | None, set[int] | None]:
    """:meth:`RuleSet.scan`'s loop over the matcher's key occurrences ``found_keys`` ``[(end, key
    id)]``: fills ``raw`` (group -> ``[(start, -end, weight, evidence)]``, context terms with a
    negative weight) and adds the pattern triggers seen to ``run``; returns the exempt spans per
    group and the lazy ids seen (None when none). The compiled kernel
    (``piguard._native.sms_review.collect``) does the same."""
    exempt: dict[int, list[tuple[int, int]]] | None = None
    lazy_seen: set[int] | None = None
    # offsets index the subject: UTF-8 bytes (Hyperscan) or the text; in UTF-8 an ASCII
    # letter or digit byte is always that character, so the word-boundary test is the same
    alnum = _ASCII_ALNUM_BYTES if type(subject) is bytes else ASCII_ALNUM
    size = len(subject)
    for end, kid in found_keys:
        shape, length, a0, a1, key, terms, context, triggers, exempts, lazy_ids = values[kid]
        if shape == _ONE_TERM:
            gi, w = terms[0]
            item = (end - length, -end, w, key)
            found = raw.get(gi)
            if found is None:
                raw[gi] = [item]
            else:
                found.append(item)
            continue
        if shape == _ONLY_TRIGGERS:
            run.update(triggers)
            continue
        if lazy_ids:  # containment only: no word boundary for the lazy groups
            if lazy_seen is None:
                lazy_seen = set()
            lazy_seen.update(lazy_ids)
        start = end - length
        if (a0 and start > 0 and subject[start - 1] in alnum) or (
            a1 and end < size and subject[end] in alnum
        ):
            continue
        if triggers:
            run.update(triggers)
        for gi, w in terms:
            item = (start, -end, w, key)
            found = raw.get(gi)
            if found is None:
                raw[gi] = [item]
            else:
                found.append(item)
        for gi, w in context:
            raw.setdefault(gi, []).append((start, -end, -w, key))
        if exempts:
            if exempt is None:
                exempt = {}
            for gi in exempts:
                exempt.setdefault(gi, []).append((start, end))
    return exempt, lazy_seen


def consolidate(
    raw: dict[int, list[tuple[int, int, float, str]]],
    exempt: dict[int, list[tuple[int, int]]] | None,
    names: list[str],
    scores: list[float],
    hits: list[list[Hit]],
    hit_type: type[Hit],
) -> None:
    """:meth:`RuleSet.scan`'s loop over each group's matches: a match inside a longer one of the
    same group or inside an exempt phrase does not count, evidence counts once, context terms only
    beside another match; writes the group's score and hits. The compiled kernel
    (``piguard._native.sms_review.consolidate``) does the same."""
    for gi, found in raw.items():
        spans = exempt.get(gi) if exempt else None
        if len(found) == 1 and not spans:
            _, _, w, ev = found[0]
            if w > 0:
                scores[gi] = w
                hits[gi] = [_new(hit_type, (names[gi], ev, w))]
            continue
        found.sort()
        kept_end = -1
        seen: set[str] = set()
        group_name = names[gi]
        total = context_total = 0.0
        out: list[Hit] = []
        ctx_hits: list[Hit] | None = None
        for start, neg_end, w, ev in found:
            end = -neg_end
            if end <= kept_end:  # inside a longer match of the same group: count once
                continue
            if spans and any(a <= start and end <= b for a, b in spans):
                continue
            kept_end = end
            if ev in seen:
                continue
            seen.add(ev)
            if w < 0:  # context: counts only beside a subject match
                context_total -= w
                if ctx_hits is None:
                    ctx_hits = []
                ctx_hits.append(_new(hit_type, (group_name, ev, -w)))
            else:
                total += w
                out.append(_new(hit_type, (group_name, ev, w)))
        if out and ctx_hits:
            total += context_total
            out.extend(ctx_hits)
        scores[gi] = total
        hits[gi] = out
    return None


_NO_HITS: list[Hit] = []
_NO_LAZY: frozenset[int] = frozenset()
_ASCII_ALNUM_BYTES = frozenset(ord(c) for c in ASCII_ALNUM)
_new = tuple.__new__  # Hit(...) through tuple.__new__ directly: a C call, not NamedTuple's Python __new__


KIND_NAMES = ("verification_code", "notification", "commercial", "public_welfare", "emergency")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def rules_dirs_from_env() -> tuple[Path, ...]:
    raw = os.environ.get(RULES_DIR_ENV, "").strip()
    return tuple(Path(p) for p in raw.split(os.pathsep) if p.strip())


def _builtin_files() -> Iterable[tuple[str, bytes, str, str]]:
    stack = [
        (resources.files("piguard.messaging.review") / "data", "builtin/review"),
        (resources.files("piguard.messaging") / "data", "builtin"),
    ]
    while stack:
        node, label = stack.pop()
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                stack.append((child, f"{label}/{child.name}"))
            elif child.is_file():
                name = child.name
                suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
                yield f"{label}/{name}", child.read_bytes(), suffix, name.rsplit(".", 1)[0]


@lru_cache(maxsize=16)
def _load(dirs: tuple[Path, ...], backend: str | None) -> RuleSet:
    rs = RuleSet()
    for source, raw, suffix, stem in _builtin_files():
        rs._load_file(raw, suffix, stem, source)
    for d in dirs:
        rs.load_dir(d)
    return rs.compile(backend)


def load_rules(
    extra_dirs: Sequence[Path | str] = (), *, use_env: bool = True, backend: str | None = None
) -> RuleSet:
    """The built-in rules plus ``PIGUARD_SMS_RULES_DIR`` (when ``use_env``) plus ``extra_dirs``.

    Compiled once per distinct set of directories and cached; edits to the files take effect in a
    new process (or after :func:`clear_rules_cache`). ``backend`` forces the matcher
    (``native``, ``hyperscan`` or ``pyahocorasick``); by default the compiled kernel's automaton,
    else Hyperscan when it is installed.
    """
    dirs = (rules_dirs_from_env() if use_env else ()) + tuple(Path(d) for d in extra_dirs)
    return _load(tuple(p.resolve() for p in dirs), backend)


_generation = [0]


def rules_generation() -> int:
    """Bumped by :func:`clear_rules_cache`, so holders of compiled rules know to rebuild."""
    return _generation[0]


def clear_rules_cache() -> None:
    """Forget every compiled rule set: the next :func:`load_rules` reads the files again."""
    _load.cache_clear()
    _generation[0] += 1
