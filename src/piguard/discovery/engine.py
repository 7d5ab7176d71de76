"""The detection engine: ``detect(text) -> [Finding]``, the library call other domains make.

Speed by design. A text is read twice at C speed and Python only ever looks at candidates:

1. one structural regular-expression pass finds digit clusters (ASCII and full-width digits with
   their separators), ``@`` signs, licence-plate heads and IPv6 colons;
2. one dictionary pass finds every dictionary word at once: trigger words of the keyword
   recognisers, context and negative-context words, ~4,800 administrative-division names (a
   compiled Aho-Corasick automaton, piguard/_native/dictscan.c; without it Hyperscan, else
   pyahocorasick).

Candidates then go only to the recognisers that registered for them (by digit count, by anchor
kind, by trigger word), which run exact patterns and validators (check digits, Luhn, phonenumbers'
allocated ranges) on a few characters each. Offsets are character offsets into the text given;
full-width characters are folded one for one, so offsets never shift.

Findings carry no value: ``(start, end, category, confidence)``.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources
from itertools import accumulate, compress, count
from operator import add, itemgetter
from pathlib import Path
from typing import Any

import ahocorasick

from piguard import _native
from piguard.core import yamlfiles
from piguard.core.hs_cache import compile_cached
from piguard.discovery import ner as ner_tier
from piguard.discovery import recognizers as r
from piguard.discovery.categories import CODES, check_categories
from piguard.discovery.validators import FULLWIDTH
from piguard.regulations.markers import carries

_PLATE_HEADS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_DIGIT = "0-9０-９"
_NUMSEP = r"[ \-.:/\u3000－．：／]"
# The structural pass. It opens with ONE character class so that the regex engine skips through
# the text at C speed looking only for those characters; the branch after it (chosen by a
# look-behind on that first character) reads a digit cluster of 5+ characters (shorter ones never
# reach Python), an IPv6 colon or a plate head.
_STRUCT = re.compile(
    rf"[+＋{_DIGIT}@＠:{_PLATE_HEADS}]"
    rf"(?:(?<=[{_DIGIT}])(?:[{_DIGIT}]|{_NUMSEP}(?=[{_DIGIT}])){{4,}}[XxＸｘ]?"
    rf"|(?<=[+＋])[{_DIGIT}](?:[{_DIGIT}]|{_NUMSEP}(?=[{_DIGIT}])){{3,}}"
    r"|(?<=[@＠])"
    r"|(?<=:)(?=[0-9A-Fa-f]{0,4}:)"
    rf"|(?<=[{_PLATE_HEADS}])[A-HJ-NP-Za-hj-np-z])"
)
_HEADS = frozenset(_PLATE_HEADS)
_ASCII_DIGITS = "0123456789"
_NOT_SPACE, _NOT_COLON_SLASH, _NOT_DASH = re.compile(r"[^ ]+"), re.compile(r"[^:/]+"), re.compile(r"[^-]+")


def _struct_spans_py(text: str) -> list[int]:
    """The structural pass's matches as a flat list ``[start, stop, start, stop, ...]``."""
    out: list[int] = []
    for m in _STRUCT.finditer(text):
        out += m.span()
    return out


# the compiled twins of _struct_spans_py and of the folding in Engine.raw
# (piguard/_native/structscan.c): same results, ~5x faster
_native_struct = _native.load("structscan")
# the trigger gate (piguard/_native/anchorgate.c): drops, before any Python call, the trigger hits
# the name and division-name checks would reject; without it every trigger hit goes to Python
_native_gate = _native.load("anchorgate")
# the candidate loop over the structural spans (piguard/_native/numscan.c): Engine.raw's loop,
# _cluster and _token in C, with each number recogniser's first checks made before it is called
_native_numscan = _native.load("numscan")
# the dictionary pass as a compiled Aho-Corasick automaton (piguard/_native/dictscan.c): the same
# hits as Hyperscan's pass with no Python callback per match
_native_dictscan = _native.load("dictscan")
# Scan.score in C (piguard/_native/ctxscore.c), for the candidates numscan.c scores
_native_ctxscore = _native.load("ctxscore")
_DATETIME = re.compile(r"(?:19|20)\d\d([-/.])[01]?\d\1[0-3]?\d(?:[ T][0-2]?\d:[0-5]\d(?::[0-5]\d)?)?")
_LOCATION_DEPS = frozenset({"gps", "ip_address", "address"})
# The characters recognisers need folded (full-width digits, letters, + - . / @, odd spaces and
# dashes). Common Chinese punctuation (，：（）) is left alone: every pattern accepts both forms, and
# folding it would make nearly every Chinese text pay for a full translation.
_FOLD_RUNS = re.compile(
    "[\uff0b\uff0d-\uff0f\uff10-\uff19\uff20-\uff3a\uff41-\uff5a\u3000\u00a0\u2013\u2014]+"
)


_FOLD_CHARS = (
    "".join(chr(c) for c in range(0xFF00, 0xFF60) if _FOLD_RUNS.fullmatch(chr(c)))
    + "\u3000\u00a0\u2013\u2014"
)
_FOLD_MAP = {c: c.translate(FULLWIDTH) for c in _FOLD_CHARS}


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(FULLWIDTH)


def _fold_py(text: str, folds: list[int]) -> str:
    """``text`` with the full-width characters at ``folds`` (the dictionary pass reports where they
    are) folded to ASCII, one character for one."""
    if not folds:
        return text
    parts = []
    prev = 0
    for p in folds:
        parts.append(text[prev:p])
        parts.append(_FOLD_MAP[text[p]])
        prev = p + 1
    parts.append(text[prev:])
    return "".join(parts)


def fold_text(text: str) -> str:
    """The text with full-width digits, letters and separators folded to ASCII, one character for
    one (offsets hold). One C-speed search; translation only of the runs that need it."""
    if text.isascii() or _FOLD_RUNS.search(text) is None:
        return text
    return _FOLD_RUNS.sub(_fold_run, text)


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of PI found in a text: where, what, how sure. Never the value itself."""

    start: int
    end: int
    category: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "category": self.category,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class Registry:
    recognizers: tuple[r.Recognizer, ...]
    min_confidence: float
    context_window: int
    numeric_negative: tuple[str, ...]

    @classmethod
    def from_yaml(cls, text: str) -> Registry:
        # libyaml's safe loader when PyYAML has it (the recognisers load ten times faster)
        data = yamlfiles.load(text)
        if not isinstance(data, dict) or not isinstance(data.get("recognizers"), list):
            raise ValueError("recogniser registry: a mapping with a 'recognizers' list is expected")
        recs = []
        for item in data["recognizers"]:
            if item.get("enabled", True) is False:
                continue
            spec = r.RecognizerSpec.from_dict(item)
            if spec.category not in CODES:
                raise ValueError(f"recogniser {spec.name!r}: unknown category {spec.category!r}")
            recs.append(r.build(spec))
        return cls(
            recognizers=tuple(recs),
            min_confidence=float(data.get("min_confidence", 0.5)),
            context_window=int(data.get("context_window", 20)),
            numeric_negative=tuple(data.get("numeric_negative", ())),
        )

    @classmethod
    def default(cls) -> Registry:
        text = (
            resources.files("piguard.discovery")
            .joinpath("data", "recognizers.yaml")
            .read_text(encoding="utf-8")
        )
        return cls.from_yaml(text)


class Scan:
    """Per-text state handed to recognisers: the text, its folded twin (full-width digits and
    letters as ASCII, same offsets) and the dictionary hits (sorted by end).

    Context is looked up lazily: only when a candidate is scored are the few words just before
    (and just after) it examined, so the many context words in a text cost nothing on their own.
    """

    __slots__ = ("_words_of", "address_end", "bounds", "ends", "engine", "folded", "hits", "text")

    def __init__(
        self, engine: Engine, text: str, hits: list[tuple[int, int, int]], folded: str | None = None
    ) -> None:
        self.engine = engine
        self.text = text
        self.folded = fold_text(text) if folded is None else folded
        self.hits = hits
        self.ends = list(map(_END, hits))
        self._words_of: dict[int, frozenset[int]] | None = None  # the plan's trigger words per recogniser
        self.address_end = -1
        # record starts when several texts are scanned as one: a list, or detect_batch's
        # ``(offsets, lo, hi, base)``: the records start at offsets[lo:hi] - base
        self.bounds: list[int] | tuple[list[int], int, int, int] | None = None

    def record_end(self, pos: int) -> int:
        """End of the record holding ``pos`` (the whole text unless ``detect_batch`` joined several):
        recognisers that read past a line break (CSV headers) stop there."""
        b = self.bounds
        if not b:
            return len(self.text)
        if isinstance(b, tuple):  # (offsets, lo, hi, base) from detect_batch: no list per chunk
            offsets, lo, hi, base = b
            k = bisect_right(offsets, pos + base, lo, hi)
            return offsets[k] - base - 1 if k < hi else len(self.text)
        k = bisect_right(b, pos)
        return b[k] - 1 if k < len(b) else len(self.text)

    def _nearest(self, table: list[frozenset[str]], key: str, start: int, lo: int) -> int:
        """End of the nearest word before ``start`` (ending at or before it, not before ``lo``)
        whose role set holds ``key``; -1 if none."""
        hits, ends = self.hits, self.ends
        i = bisect_right(ends, start) - 1
        while i >= 0 and ends[i] >= lo:
            if key in table[hits[i][2]]:
                return ends[i]
            i -= 1
        return -1

    def _after(self, key: str, end: int, span: int = 8) -> bool:
        hits, ctx = self.hits, self.engine._ctx_of
        i = bisect_left(self.ends, end)
        while i < len(hits) and hits[i][0] <= end + span:
            if hits[i][0] >= end and key in ctx[hits[i][2]]:
                return True
            i += 1
        return False

    def near_context(self, rec: r.Recognizer, start: int, end: int) -> bool:
        if not self.hits:
            return False
        lo = start - self.engine.window
        return self._nearest(self.engine._ctx_of, rec.category, start, lo) >= 0 or self._after(
            rec.category, end
        )

    def score(self, rec: r.Recognizer, start: int, end: int, conf: float) -> float:
        """Context scoring: the nearest preceding word decides (a positive word nearer than an
        order-number word wins; at the same distance the positive one wins); following context
        counts within a few characters. One backward walk over the hits, usually a step or two."""
        hits = self.hits
        if not hits:
            return conf
        eng = self.engine
        cat = rec.category
        ends = self.ends
        lo = start - eng.window
        ctx_of, neg_of = eng._ctx_of, eng._neg_of
        numeric = rec.numeric
        i = bisect_right(ends, start) - 1
        while i >= 0:
            e = ends[i]
            if e < lo:
                break
            w = hits[i][2]
            if cat in ctx_of[w]:
                return min(1.0, conf + rec.spec.context_bonus)
            negs = neg_of[w]
            if negs and (cat in negs or (numeric and "*" in negs)):
                # a positive word ending at the same place still wins
                j = i - 1
                while j >= 0 and ends[j] == e:
                    if cat in ctx_of[hits[j][2]]:
                        return min(1.0, conf + rec.spec.context_bonus)
                    j -= 1
                return conf - rec.spec.negative_penalty
            i -= 1
        if self._after(cat, end):
            return min(1.0, conf + rec.spec.context_bonus)
        return conf

    def address_context(self, start: int) -> bool:
        return bool(self.hits) and self._nearest(self.engine._ctx_of, "address", start, start - 8) >= 0

    def anchor_positions(self, rec: r.Recognizer) -> list[int]:
        """Starts of the hits of ``rec``'s trigger words, in hit order (by end), when ``rec`` is
        active in this scan's plan."""
        words_of = self._words_of
        if words_of is None:
            return []
        wids = words_of.get(self.engine.index[id(rec)])
        if not wids:
            return []
        hits = self.hits
        return list(compress(map(_START, hits), map(wids.__contains__, map(_WID, hits))))


# hits sorted by end, then start: the order Hyperscan delivers matches ending at the same place in
# differs between its UTF-16 and UTF-32 databases, the findings must not
_END_START = itemgetter(1, 0)
_END = itemgetter(1)
_WID = itemgetter(2)
_START = itemgetter(0)


class _Dictionary:
    """The one multi-pattern pass over every dictionary word: the compiled automaton when given
    (``kernel``), else Hyperscan when installed (C speed, ~200 MB/s with 5,000 words, but a Python
    callback per match), else pyahocorasick (whose per-character cost grows with the number
    of distinct first characters: ~8 MB/s here). Yields ``(start, end, word_id)`` in characters."""

    def __init__(self, words: list[str], fold_from: int | None = None, kernel: Any = None) -> None:
        """``kernel``: the compiled dictionary pass (piguard/_native/dictscan.c), used instead of
        Hyperscan when given and no fold positions are asked for (``fold_from`` None)."""
        self.words = words
        # word ids from ``fold_from`` on are single full-width characters: reported apart, so the
        # engine learns where folding is needed from this same pass
        self.fold_from = len(words) if fold_from is None else fold_from
        self.lengths = [len(w) for w in words]
        self.backend = "pyahocorasick"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._hs: Any = None  # the UTF-32 database: texts with characters beyond the BMP (emoji)
        self._hs16: Any = None  # the UTF-16 database: every other text (half the bytes to read)
        self._hs_ascii: Any = None
        self._ok = False
        self._native: Any = None  # the compiled automaton (dictscan.build), when in use
        self._native_scan: Any = None
        if kernel is not None and fold_from is None and words:
            try:
                self._native = kernel.build(words)
                self._native_scan = kernel.scan
                self.backend = "compiled Aho-Corasick (dictscan.c)"
                return  # no Hyperscan database to compile (nor to load at start)
            except ValueError:  # pragma: no cover - a word beyond the BMP: Hyperscan takes them
                self._native = None
        try:
            import hyperscan

            self._hs_mod = hyperscan
            if all(len(w.encode("utf-16-le")) == 2 * len(w) for w in words):
                self._hs16 = self._compile([w.encode("utf-16-le") for w in words])
            else:  # pragma: no cover - a word beyond the BMP: every text goes through UTF-32
                self._hs = self._compile([w.encode("utf-32-le") for w in words])
            ascii_ids = [i for i, w in enumerate(words) if w.isascii()]
            self._hs_ascii = self._compile([words[i].encode("ascii") for i in ascii_ids], ascii_ids)
            self._ok = True
            self.backend = "hyperscan"
        except ImportError:  # pragma: no cover - hyperscan wheels exist for x86-64 and arm64 Linux
            pass
        if not self._ok and words:  # pragma: no cover
            self._ac = ahocorasick.Automaton()
            for i, w in enumerate(words):
                self._ac.add_word(w, i)
            self._ac.make_automaton()

    def _db32(self) -> Any:
        """The UTF-32 database, compiled (or loaded from the cache) the first time a text needs it."""
        if self._hs is None:
            with self._lock:
                if self._hs is None:
                    self._hs = self._compile([w.encode("utf-32-le") for w in self.words])
        return self._hs

    def _compile(self, patterns: list[bytes], ids: list[int] | None = None) -> Any:
        if not patterns:
            return None
        hs = self._hs_mod
        exprs = [b"".join(b"\\x%02x" % c for c in p) for p in patterns]
        use_ids = ids if ids is not None else list(range(len(patterns)))

        def build() -> tuple[Any, None]:
            db = hs.Database(mode=hs.HS_MODE_BLOCK)
            db.compile(expressions=exprs, ids=use_ids, elements=len(exprs), flags=[0] * len(exprs))
            return db, None

        # Loaded from the on-disk cache when these words were compiled before (core/hs_cache.py).
        return compile_cached(hs, hs.HS_MODE_BLOCK, ("discovery", exprs, use_ids), build)[0]

    def hits(self, text: str) -> list[tuple[int, int, int]]:
        return self.scan(text)[0]

    def scan(self, text: str) -> tuple[list[tuple[int, int, int]], list[int]]:
        """``(hits, fold_positions)``: word hits ``(start, end, word_id)`` sorted by end, and where
        the full-width characters are. Character offsets without decoding: ASCII text is scanned
        as bytes; any other text as UTF-32 (four bytes a character, so a byte offset divided by
        four is a character offset)."""
        if not self.words:
            return [], []
        if self._native is not None:  # the compiled pass: same hits, in the same order (tests)
            return self._native_scan(self._native, text), []
        fold_from = self.fold_from
        if not self._ok:  # pragma: no cover
            found = [(end + 1 - self.lengths[i], end + 1, i) for end, i in self._ac.iter(text)]
            return [h for h in found if h[2] < fold_from], [h[0] for h in found if h[2] >= fold_from]
        if text.isascii():
            db, data, width = self._hs_ascii, text.encode("ascii"), 1
            if db is None:
                return [], []
        else:
            # UTF-16 when every character is in the BMP (two bytes each: a byte offset divided by
            # two is a character offset), else UTF-32 (four bytes each); lone surrogates take the
            # same room as other characters in both
            data = text.encode("utf-16-le", "surrogatepass") if self._hs16 is not None else b""
            if len(data) == 2 * len(text):
                db, width = self._hs16, 2
            else:
                db, data, width = self._db32(), text.encode("utf-32-le", "surrogatepass"), 4
        scratches = getattr(self._local, "scratch", None)
        if scratches is None:
            scratches = self._local.scratch = {}
        scratch = scratches.get(width)
        if scratch is None:
            scratch = scratches[width] = self._hs_mod.Scratch(db)
        hits: list[tuple[int, int, int]] = []
        folds: list[int] = []
        append, fold_append = hits.append, folds.append
        lengths = self.lengths

        # a match that ends inside a character (a byte pattern found across two) is no word
        shift, misaligned = (1, 1) if width == 2 else (2, 3)
        if width == 1:

            def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
                append((to - lengths[i], to, i))

        elif fold_from >= len(lengths):  # no full-width characters among the words (the kernel folds)

            def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
                if not to & misaligned:
                    to >>= shift
                    append((to - lengths[i], to, i))

        else:

            def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
                if not to & misaligned:
                    to >>= shift
                    if i < fold_from:
                        append((to - lengths[i], to, i))
                    else:
                        fold_append(to - 1)

        db.scan(data, match_event_handler=on_match, scratch=scratch)
        if len(hits) > 1:
            hits.sort(key=_END_START)  # delivered in end order already: a sort of sorted data is cheap
        if len(folds) > 1:
            folds.sort()
        return hits, folds


class Engine:
    """Built once from a :class:`Registry`; ``detect`` is thread-safe (no shared mutable state)."""

    def __init__(self, registry: Registry, *, native: bool | None = None) -> None:
        """``native``: use the compiled kernels (piguard/_native/structscan.c); ``None`` where they
        are built and not turned off (``PIGUARD_PURE_PYTHON=1``), ``False`` for the Python
        originals (the tests compare both). Same findings either way."""
        self.registry = registry
        self.min_confidence = registry.min_confidence
        self.window = registry.context_window
        self.recognizers = registry.recognizers
        self.index = {id(rec): i for i, rec in enumerate(self.recognizers)}
        kernel = _native_struct if native is not False else None
        if native and kernel is None:
            raise RuntimeError(
                "the structscan kernel is not built here (uv sync --reinstall-package piguard)"
            )
        self.native = kernel is not None
        self._struct = kernel.struct_spans if kernel is not None else _struct_spans_py
        self._fold_kernel = kernel.fold if kernel is not None else None
        self._fold_table = ""
        self._gate = _native_gate.gate if kernel is not None and _native_gate is not None else None
        numscan = _native_numscan if kernel is not None else None
        self._numscan = numscan.run if numscan is not None else None
        self._anchors = numscan.anchors if numscan is not None else _anchors_py
        self._ctxscore = (
            _native_ctxscore.score if kernel is not None and _native_ctxscore is not None else None
        )
        # per recogniser, what the compiled scoring reads of it (category, numeric, bonus, penalty)
        self._score_params = {
            rec: (rec.category, bool(rec.numeric), rec.spec.context_bonus, rec.spec.negative_penalty)
            for rec in self.recognizers
        }
        self._gate_table = r.gate_table() if self._gate is not None else b""
        self._automaton = self._build_automaton()

    def _build_automaton(self) -> Any:
        roles: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for i, rec in enumerate(self.recognizers):
            for w in rec.spec.context:
                roles[w].append(("c", rec.category))
            for w in rec.spec.negative:
                roles[w].append(("n", rec.category))
            if rec.anchor in ("keyword", "post"):
                for w in rec.keywords():
                    roles[w].append(("t", i))
        for w in self.registry.numeric_negative:
            roles[w].append(("n", "*"))
        self._words = sorted(roles)  # a stable order across processes, so the compiled database is cached
        self._ctx_of = [frozenset(k for kind, k in roles[w] if kind == "c") for w in self._words]
        self._neg_of = [frozenset(k for kind, k in roles[w] if kind == "n") for w in self._words]
        self._trig_of = [tuple(dict.fromkeys(k for kind, k in roles[w] if kind == "t")) for w in self._words]
        fold_from = len(self._words)
        extra = [c for c in _FOLD_CHARS if c not in roles]
        if self._fold_kernel is not None:
            # the kernel folds the text itself: the dictionary pass need not report where the
            # full-width characters are (the ideographic space alone gave thousands of byte matches
            # across two characters, each a Python callback)
            table = [chr(c) for c in range(0x10000)]
            for c in extra:
                table[ord(c)] = _FOLD_MAP[c]
            self._fold_table = "".join(table)
            return _Dictionary(list(self._words), kernel=_native_dictscan if self.native else None)
        self._ctx_of += [frozenset()] * len(extra)
        self._neg_of += [frozenset()] * len(extra)
        self._trig_of += [()] * len(extra)
        return _Dictionary([*self._words, *extra], fold_from)

    @lru_cache(maxsize=64)  # noqa: B019 - one engine per process, a handful of category sets
    def _plan(self, categories: frozenset[str] | None) -> dict[str, Any]:
        wanted = set(categories) if categories is not None else set(CODES)
        if "location_time" in wanted:
            wanted |= _LOCATION_DEPS
        active = [(i, rec) for i, rec in enumerate(self.recognizers) if rec.category in wanted]
        by_len: dict[int, list[r.Recognizer]] = defaultdict(list)
        plan: dict[str, Any] = {
            "dotted": [],
            "at": [],
            "plate": [],
            "colon": [],
            "post": [],
            "keyword": set(),
        }
        for i, rec in active:
            if rec.anchor == "number":
                for n in rec.digit_lengths:
                    by_len[n].append(rec)
            elif rec.anchor in ("keyword", "post"):
                plan["keyword"].add(i)
                if rec.anchor == "post":
                    plan["post"].append(rec)
            else:
                plan[rec.anchor].append(rec)
        plan["by_len"] = dict(by_len)
        # the same for the compiled candidate loop (piguard/_native/numscan.c): per digit count, the
        # recognisers as (kind, on_token, recogniser, category), the kind naming the first checks
        # the kernel may make for it before calling it
        mobile = any(type(rec) is r.MobileRecognizer for recs in by_len.values() for rec in recs)
        mobile_kind = _mobile_kind() if mobile else 0  # phonenumbers' pattern only when it is used
        plan["numtab"] = [
            tuple((_num_kind(rec, mobile_kind), rec.on_token, rec, rec.category) for rec in by_len.get(n, ()))
            for n in range(max(by_len, default=0) + 1)
        ]
        plan["dotted_tab"] = tuple(
            (_NUM_KINDS.get(type(rec), 0), rec.on_token, rec, rec.category) for rec in plan["dotted"]
        )
        plan["shortest"] = max(5, min(by_len, default=1 << 30))  # the fewest digits a recogniser takes
        plan["output"] = categories
        # per dictionary word, the active keyword and post recognisers it triggers; per recogniser,
        # its anchor call (None for post recognisers, which read the trigger positions themselves)
        kw = plan["keyword"]
        plan["trig"] = [tuple(k for k in keys if k in kw) for keys in self._trig_of]
        words_of: dict[int, set[int]] = defaultdict(set)
        for wid, keys in enumerate(plan["trig"]):
            for k in keys:
                words_of[k].add(wid)
        plan["words_of"] = {k: frozenset(v) for k, v in words_of.items()}
        # per dictionary word, what the compiled gate may check before its one recogniser is called
        # (0: no active trigger; a word with several recognisers is always kept)
        recs = self.recognizers
        gate = bytearray(len(plan["trig"]))
        for wid, keys in enumerate(plan["trig"]):
            if len(keys) == 1 and recs[keys[0]].anchor == "keyword":
                gate[wid] = recs[keys[0]].gate_kind(self._words[wid])
            elif keys:
                gate[wid] = r.GATE_KEEP
        plan["gate"] = bytes(gate)
        plan["call"] = [
            (rec.on_anchor, rec.category) if rec.anchor == "keyword" else None for rec in self.recognizers
        ]
        # the same for numscan.anchors, which checks a column header's first condition itself (the
        # characters on both sides of the word are cell edges) before calling its recogniser
        edges = "".join(sorted(r._CELL_EDGE))
        plan["call_c"] = [
            (*call, edges) if call is not None and type(rec) is r.HeaderColumnRecognizer else call
            for call, rec in zip(plan["call"], self.recognizers, strict=True)
        ]
        return plan

    @carries("O24-4", "O24-5", "O24-13.3", "GC-111")
    def detect(
        self,
        text: str,
        categories: Collection[str] | None = None,
        min_confidence: float | None = None,
        *,
        ner: bool | str | None = None,
    ) -> list[Finding]:
        """``ner``: also run the NER tier (``True`` or a backend name; ``None`` follows
        ``ner.enabled()``), see ``piguard.discovery.ner``."""
        if not isinstance(text, str):
            raise TypeError("detect() takes a str")
        cats = check_categories(categories) if categories is not None else None
        plan = self._plan(cats)
        threshold = self.min_confidence if min_confidence is None else min_confidence
        found = self.raw(text, plan, threshold)
        backend = ner_tier.resolve(ner)
        if backend is not None:
            found = ner_tier.add_ner([text], [found], backend, cats, threshold)[0]
        return [Finding(s, e, c, round(min(x, 1.0), 3)) for s, e, c, x in found]

    def raw(
        self,
        text: str,
        plan: dict[str, Any],
        threshold: float,
        bounds: list[int] | tuple[list[int], int, int, int] | None = None,
    ) -> list[tuple[int, int, str, float]]:
        """The findings as plain tuples ``(start, end, category, confidence)``, sorted by start."""
        hits, folds = self._automaton.scan(text)
        if self._fold_kernel is not None:
            folded = self._fold_kernel(text, self._fold_table)
        else:
            folded = _fold_py(text, folds)
        scan = Scan(self, text, hits, folded)
        scan.bounds = bounds
        cands: list[tuple[int, int, str, float]] = []
        # the hits of trigger words, in text order (by start, then end: one word per span), each
        # to hand to its recognisers in registry order (C-level filter, no tuple per anchor)
        anchors: list[tuple[int, int, int]] = []
        if hits and plan["keyword"]:
            trig_of = plan["trig"]
            scan._words_of = plan["words_of"]
            if self._gate is not None:
                anchors = self._gate(hits, plan["gate"], text, self._gate_table)
            else:
                anchors = list(compress(hits, map(trig_of.__getitem__, map(_WID, hits))))
        spans = self._struct(folded)
        if self._numscan is not None:
            self._spans_native(scan, spans, plan, cands)
        else:
            self._spans_py(scan, spans, plan, cands)
        if anchors:
            anchors.sort()
            calls = plan["call"] if self._anchors is _anchors_py else plan["call_c"]
            self._anchors(anchors, plan["trig"], calls, self._words, scan, cands)
        for rec in plan["post"]:
            kept = [c for c in cands if c[3] >= threshold]
            for s, e, c in rec.on_post(scan, kept):  # type: ignore[attr-defined]
                cands.append((s, e, rec.category, c))
        return _resolve(cands, threshold, plan["output"])

    def _spans_py(
        self, scan: Scan, spans: list[int], plan: dict[str, Any], cands: list[tuple[int, int, str, float]]
    ) -> None:
        """The candidates of the structural pass's spans ``[start, stop, ...]``, appended to ``cands``."""
        folded = scan.folded
        by_len, shortest = plan["by_len"], plan["shortest"]
        at, colon, plate, dotted = plan["at"], plan["colon"], plan["plate"], plan["dotted"]
        pairs = iter(spans)
        for start, stop in zip(pairs, pairs, strict=True):
            ch = folded[start]
            if ch == "@":
                if at:
                    self._run_anchor(scan, at, start, cands)
            elif ch == ":":
                if stop == start + 1 and colon:
                    self._run_anchor(scan, colon, start, cands)
            elif ch in _HEADS:
                if plate:
                    self._run_anchor(scan, plate, start, cands)
            elif stop - start >= shortest or (stop - start >= 5 and dotted and "." in folded[start:stop]):
                # a cluster with fewer characters than any number recogniser's digits can only be
                # a dotted token (every token of it has at most as many digits as characters)
                self._cluster(scan, start, folded[start:stop], by_len, dotted, cands)

    def _spans_native(
        self, scan: Scan, spans: list[int], plan: dict[str, Any], cands: list[tuple[int, int, str, float]]
    ) -> None:
        """_spans_py in C (piguard/_native/numscan.c): same candidates in the same order."""
        by_len, dotted = plan["by_len"], plan["dotted"]
        assert self._numscan is not None
        score = scan.score
        run_anchor = self._run_anchor
        if self._ctxscore is not None:  # the same scores without a Python frame each
            score = compiled = partial(
                self._ctxscore,
                scan.hits,
                scan.ends,
                self._ctx_of,
                self._neg_of,
                self.window,
                self._score_params,
                scan.score,
            )

            def run_anchor(
                scan: Scan, recs: list[r.Recognizer], pos: int, out: list[tuple[int, int, str, float]]
            ) -> None:
                """_run_anchor with the compiled scoring."""
                for rec in recs:
                    for s, e, c in rec.on_anchor(scan, pos, pos, ""):
                        out.append((s, e, rec.category, compiled(rec, s, e, c)))

        self._numscan(
            scan,
            scan.folded,
            spans,
            plan["at"],
            plan["colon"],
            plan["plate"],
            _PLATE_HEADS,
            plan["shortest"],
            plan["numtab"],
            plan["dotted_tab"],
            score,
            run_anchor,
            lambda scan, start, raw: self._cluster(scan, start, raw, by_len, dotted, cands),
            _DATETIME.fullmatch,
            cands,
        )

    def _run_anchor(
        self, scan: Scan, recs: list[r.Recognizer], pos: int, out: list[tuple[int, int, str, float]]
    ) -> None:
        for rec in recs:
            for s, e, c in rec.on_anchor(scan, pos, pos, ""):
                out.append((s, e, rec.category, scan.score(rec, s, e, c)))

    def _cluster(
        self,
        scan: Scan,
        start: int,
        raw: str,
        by_len: dict[int, list[r.Recognizer]],
        dotted: list[r.Recognizer],
        out: list[tuple[int, int, str, float]],
    ) -> None:
        """Split a digit cluster into tokens and hand each to the recognisers for its shape."""
        folded = raw  # the structural pass runs on the folded text
        if raw[0] in "12" and raw[4:5] in ("-", "/", ".") and _DATETIME.fullmatch(raw):
            return  # a date or timestamp: no recogniser takes it (location_time reads it itself)
        if " " not in folded:
            self._token(scan, start, folded, by_len, dotted, out)
            return
        parts = [(start + m.start(), m.group()) for m in _NOT_SPACE.finditer(folded)]
        plain = [p[1].lstrip("+").replace("-", "").rstrip("Xx").isdigit() for p in parts]
        i, k = 0, len(parts)
        while i < k:
            done = False
            if plain[i]:
                j = i + 1
                while j < k and plain[j]:
                    j += 1
                for jj in range(j, i + 1, -1):  # longest run of plain groups first: 138 1234 5678
                    s0 = parts[i][0]
                    e0 = parts[jj - 1][0] + len(parts[jj - 1][1])
                    tok = folded[s0 - start : e0 - start]
                    if sum(map(str.isdigit, tok)) > 23:
                        continue
                    if self._token(scan, s0, tok, by_len, dotted, out):
                        i, done = jj, True
                        break
            if not done:
                self._token(scan, parts[i][0], parts[i][1], by_len, dotted, out)
                i += 1

    def _token(
        self,
        scan: Scan,
        start: int,
        tok: str,
        by_len: dict[int, list[r.Recognizer]],
        dotted: list[r.Recognizer],
        out: list[tuple[int, int, str, float]],
    ) -> bool:
        if "." in tok:
            hit = False
            for rec in dotted:
                c = rec.on_token(scan, start, tok, "")
                if c:
                    out.append((c[0], c[1], rec.category, scan.score(rec, c[0], c[1], c[2])))
                    hit = True
            return hit
        if ":" in tok or "/" in tok:
            hit = False
            for m in _NOT_COLON_SLASH.finditer(tok):
                if m.end() - m.start() >= 5:
                    hit = self._token(scan, start + m.start(), m.group(), by_len, dotted, out) or hit
            return hit
        digits = tok
        if not tok.isdigit():
            digits = "".join(filter(_ASCII_DIGITS.__contains__, tok))
        recs = by_len.get(len(digits))
        hit = False
        if recs:
            for rec in recs:
                c = rec.on_token(scan, start, tok, digits)
                if c:
                    out.append((c[0], c[1], rec.category, scan.score(rec, c[0], c[1], c[2])))
                    hit = True
        if not hit and "-" in tok.strip("-"):
            for m in _NOT_DASH.finditer(tok):
                if m.end() - m.start() >= 5 and m.group() != tok:
                    hit = self._token(scan, start + m.start(), m.group(), by_len, dotted, out) or hit
        return hit


def _anchors_py(
    anchors: list[tuple[int, int, int]],
    trig_of: list[tuple[int, ...]],
    calls: list[tuple[Any, str] | None],
    words: list[str],
    scan: Scan,
    cands: list[tuple[int, int, str, float]],
) -> None:
    """Each trigger hit ``(start, end, word id)`` to the keyword recognisers of its word, in order;
    their candidates appended to ``cands`` (numscan.anchors is the compiled twin)."""
    for start, end, wid in anchors:
        for i in trig_of[wid]:
            call = calls[i]
            if call is not None:
                on_anchor, category = call
                for s, e, c in on_anchor(scan, end, start, words[wid]):
                    cands.append((s, e, category, c))


# what numscan.c may check before calling a number recogniser (0: nothing, always called); exact
# classes only, so a subclass with its own on_token is always called
_NUM_KINDS = {
    r.LandlineRecognizer: 1,
    r.MobileRecognizer: 2,
    r.BankCardRecognizer: 3,
    r.IdCardRecognizer: 4,
    r.PassportRecognizer: 5,
    r.Ipv4Recognizer: 6,
    r.GpsRecognizer: 7,
}


def _num_kind(rec: r.Recognizer, mobile_kind: int) -> int:
    kind = _NUM_KINDS.get(type(rec), 0)
    return mobile_kind if kind == 2 else kind


@lru_cache(maxsize=1)
def _mobile_kind() -> int:
    """2 (the kernel checks that a mobile number starts with 1) when every top-level alternative
    of phonenumbers' mobile pattern starts with a literal 1, else 0 (always called)."""
    from piguard.discovery.validators import _cn_pattern_strings

    return 2 if _starts_with_1(_cn_pattern_strings()[0]) else 0


def _starts_with_1(pattern: str) -> bool:
    """Whether every top-level alternative of the regular expression ``pattern`` starts with a
    literal ``1`` (not quantified)."""
    alternatives, depth, cur, i = [], 0, "", 0
    while i < len(pattern):  # split at the top-level "|", stepping over escapes and [classes]
        ch = pattern[i]
        step = 2 if ch == "\\" else 1
        if ch == "[":
            close = pattern.find("]", i + 2)
            if close < 0:
                return False
            step = close + 1 - i
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "|" and depth == 0:
            alternatives.append(cur)
            cur = ""
        else:
            cur += pattern[i : i + step]
        i += step
    alternatives.append(cur)
    ok = depth == 0 and all(a[:1] == "1" and a[1:2] not in ("?", "*", "{", "+", "|") for a in alternatives)
    return ok


def _resolve(
    cands: list[tuple[int, int, str, float]], threshold: float, output: frozenset[str] | None
) -> list[tuple[int, int, str, float]]:
    """Drop weak candidates; where spans overlap keep the most confident (then the longest).

    Sorted by start, the candidates fall into runs of mutually overlapping spans; a lone span is
    kept as it is and only real overlaps go through the greedy choice (most confident first)."""
    strong = [c for c in cands if c[3] >= threshold and c[1] > c[0]]
    if len(strong) > 1:
        strong.sort(key=_START)
        out: list[tuple[int, int, str, float]] = []
        i, n = 0, len(strong)
        while i < n:
            hi = strong[i][1]
            j = i + 1
            while j < n and strong[j][0] < hi:
                if strong[j][1] > hi:
                    hi = strong[j][1]
                j += 1
            if j == i + 1:
                out.append(strong[i])
            else:
                out.extend(_greedy(strong[i:j]))
            i = j
        strong = out
    if output is None:
        return strong
    return [c for c in strong if c[2] in output]


def _greedy(group: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    group.sort(key=lambda c: (-c[3], c[0] - c[1], c[0]))
    starts: list[int] = []
    ends: list[int] = []
    kept: list[tuple[int, int, str, float]] = []
    for c in group:
        i = bisect_right(starts, c[0])
        if i and ends[i - 1] > c[0]:
            continue
        if i < len(starts) and starts[i] < c[1]:
            continue
        starts.insert(i, c[0])
        ends.insert(i, c[1])
        kept.insert(i, c)
    return kept


@lru_cache(maxsize=1)
def default_engine() -> Engine:
    return Engine(Registry.default())


def engine_from_file(path: Path) -> Engine:
    """An engine from another registry file (operators may tune words and thresholds)."""
    return Engine(Registry.from_yaml(path.read_text(encoding="utf-8")))


@carries("O24-4", "O24-5", "O24-13.3", "GC-111")
def detect(
    text: str,
    categories: Collection[str] | None = None,
    min_confidence: float | None = None,
    *,
    ner: bool | str | None = None,
) -> list[Finding]:
    """Find personal information in ``text``: value-free findings with character offsets.
    ``ner=True`` adds the optional NER tier's names and places (``piguard.discovery.ner``)."""
    return default_engine().detect(text, categories, min_confidence, ner=ner)


def detect_batch(
    texts: list[str],
    categories: Collection[str] | None = None,
    min_confidence: float | None = None,
    chunk_chars: int = 200_000,
    *,
    ner: bool | str | None = None,
) -> list[list[Finding]]:
    """``detect`` over many short texts at once: they are joined with newlines into large chunks
    (no recogniser reads across a line break), scanned in one go, and the findings handed back
    per text with offsets into that text. Same results as one call per text, far less overhead.
    ``ner`` as for :func:`detect` (``None``: on inside ``ner.enabled()``, as scans use it)."""
    out = _detect_batch(texts, categories, min_confidence, chunk_chars)
    backend = ner_tier.resolve(ner)
    if backend is None or not texts:
        return out
    engine = default_engine()
    cats = check_categories(categories) if categories is not None else None
    threshold = engine.min_confidence if min_confidence is None else min_confidence
    for k, extra in enumerate(ner_tier.tag(texts, backend, cats, threshold)):
        if extra:  # most texts of a scan have no name or place: their findings stay as they are
            fast = [(f.start, f.end, f.category, f.confidence) for f in out[k]]
            out[k] = [Finding(*t) for t in ner_tier.merge(fast, extra)]
    return out


def _detect_batch(
    texts: list[str],
    categories: Collection[str] | None,
    min_confidence: float | None,
    chunk_chars: int,
) -> list[list[Finding]]:
    engine = default_engine()
    cats = check_categories(categories) if categories is not None else None
    plan = engine._plan(cats)
    threshold = engine.min_confidence if min_confidence is None else min_confidence
    out: list[list[Finding]] = [[] for _ in texts]
    if not texts:
        return out
    # offsets[k]: where text k starts in the newline-joined whole (all C-level work, no per-text loop)
    offsets = [0, *map(add, accumulate(map(len, texts)), count(1))]
    n = len(texts)
    i = 0
    while i < n:
        j = max(i + 1, bisect_right(offsets, offsets[i] + chunk_chars) - 1)
        j = min(j, n)
        base = offsets[i]
        bounds = (offsets, i + 1, j, base)  # where each later text of the chunk starts
        found = engine.raw("\n".join(texts[i:j]), plan, threshold, bounds)
        _split(found, offsets, i, j, base, out, Finding, _conf, _CONF_MEMO)
        i = j
    return out


def _conf(x: float) -> float:
    return round(min(x, 1.0), 3)


def _split_py(
    found: list[tuple[int, int, str, float]],
    offsets: list[int],
    lo: int,
    hi: int,
    base: int,
    out: list[list[Finding]],
    finding: type[Finding],
    conf: Any,
    memo: dict[float, float],
) -> None:
    """A chunk's findings (offsets into the chunk of texts ``lo``..``hi``, joined by newlines, which
    starts at ``offsets[lo] == base``) into the lists of the texts they fall in, with offsets into
    those texts; a finding that runs into the next text is dropped."""
    for s, e, c, x in found:
        k = bisect_right(offsets, s + base, lo, hi) - 1
        start = offsets[k]
        if e + base < offsets[k + 1]:  # offsets[k + 1] - 1 == start + len(texts[k])
            out[k].append(finding(s + base - start, e + base - start, c, conf(x)))


# the compiled twin of _split_py (piguard/_native/findings.c): a Finding per finding with no Python
# frame; confidences rounded by round() itself, once per distinct value (kept in _CONF_MEMO)
_native_findings = _native.load("findings")
_split = _native_findings.split if _native_findings is not None else _split_py
_CONF_MEMO: dict[float, float] = {}
