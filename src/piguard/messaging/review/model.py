"""An operator's own model beside the signals: a character n-gram linear classifier.

``piguard sms review train LABELLED.tsv --out DIR/NAME.model.json`` fits it on the operator's
labelled messages (12321 complaints, their reviewers' decisions); a rules directory holding a
``*.model.json`` file makes the reviewer load it beside the signals (``--rules-dir DIR`` or
``PIGUARD_SMS_RULES_DIR``). The model only adds findings: a message the signals refuse stays
refused. No model ships with piguard: the built-in review is signals only.

The classifier is multinomial naive Bayes over character 1-3-grams of the review-normalised text
(the same normalisation as the signals, so full-width, traditional or split characters read as the
plain word), pure Python: a sum of per-class log weights, which is a linear model. Training reads
the file once and keeps only n-grams seen at least twice.

Labelled file: UTF-8, one message a line, ``label<TAB>text``. Labels are ``normal``,
``commercial``, a prohibited category (``fraud``, ``gambling``, ...) or a category with a sub-kind
after an underscore (``fraud_loan``); ``--map 1=commercial`` renames labels first.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.messaging.review.normalize import Normalizer

MODEL_FORMAT = "piguard-sms-review-model"
MODEL_VERSION = 1
MODEL_SUFFIX = ".model.json"
NGRAMS = (1, 2, 3)
MIN_COUNT = 2
#: characters of a training or reviewed text that the model reads (a long e-mail is cut)
MAX_CHARS = 2000
NORMAL, COMMERCIAL = "normal", "commercial"
#: how much more likely (natural log) the top class must be than ``normal`` for a finding
DEFAULT_MARGIN = 2.0
#: column names an exported labelled file may carry on its first line (skipped, not read as a label)
HEADER_LABELS = frozenset({"label", "labels", "category", "class", "y", "标签", "类别", "分类"})
HEADER_TEXTS = frozenset({"text", "content", "message", "sms", "body", "内容", "短信", "短信内容", "文本"})


def _bad(source: str, message_en: str, message_zh: str) -> PiguardError:
    return validation_error([FieldError(source, message_en)], message_en, message_zh)


def category_of(label: str, categories: Iterable[str]) -> str | None:
    """The category a label names: itself, or its prefix before ``_`` (``fraud_loan`` -> ``fraud``)."""
    known = set(categories) | {NORMAL, COMMERCIAL}
    if label in known:
        return label
    for c in sorted(known, key=len, reverse=True):
        if label.startswith(c + "_") and len(label) > len(c) + 1:
            return c
    return None


def read_labelled(
    path: Path, categories: Iterable[str], mapping: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """``(label, text)`` rows of a labelled TSV, after ``mapping``; every problem is a validation
    error that names the line (nothing is trained or written from a bad file)."""
    mapping = dict(mapping or {})
    cats = list(categories)
    if not path.is_file():
        raise _bad(str(path), f"Labelled file {path} not found.", f"找不到标注文件 {path}。")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _bad(
            str(path), f"Labelled file {path} cannot be read ({exc.strerror}).", f"无法读取标注文件 {path}。"
        ) from None
    rows: list[tuple[str, str]] = []
    unknown: Counter[str] = Counter()
    first = True
    for n, line in enumerate(raw.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if n == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if not line.strip():
            continue
        try:
            text_line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(
                f"{path}:{n}",
                f"Line {n} of {path} is not valid UTF-8.",
                f"标注文件 {path} 第 {n} 行不是有效的 UTF-8。",
            ) from None
        label, sep, text = text_line.partition("\t")
        label = label.strip()
        if first:
            first = False
            # a spreadsheet export's header line ("label<TAB>text"), unless the file maps it as a label
            if (
                label.lower() in HEADER_LABELS
                and text.strip().lower() in HEADER_TEXTS
                and label not in mapping
            ):
                continue
        if not sep or not label or not text.strip():
            raise _bad(
                f"{path}:{n}",
                f"Line {n} of {path} is not 'label<TAB>text'.",
                f"标注文件 {path} 第 {n} 行不是“标签<TAB>文本”格式。",
            )
        label = mapping.get(label, label)
        if category_of(label, cats) is None:
            unknown[label] += 1
            continue
        rows.append((label, text))
    if unknown:
        names = ", ".join(f"{k} ({v})" for k, v in unknown.most_common(10))
        known = ", ".join([NORMAL, COMMERCIAL, *sorted(cats)])
        raise _bad(
            str(path),
            f"Unknown labels in {path}: {names}. Known: {known} (or <category>_<kind>); rename with --map LABEL=CATEGORY.",
            f"标注文件 {path} 含有未知标签：{names}。可用标签：{known}；可用 --map 标签=类别 重命名。",
        )
    if not rows:
        raise _bad(str(path), f"Labelled file {path} holds no messages.", f"标注文件 {path} 中没有消息。")
    return rows


def ngrams(normalized: str) -> Counter[str]:
    s = normalized[:MAX_CHARS]
    out: Counter[str] = Counter()
    for n in NGRAMS:
        for i in range(len(s) - n + 1):
            out[s[i : i + n]] += 1
    return out


@dataclass
class TextModel:
    """Naive Bayes log weights: ``score(c) = prior[c] + sum(count(f) * weight[f][c])``."""

    labels: list[str]
    categories: dict[str, str]  # label -> category
    prior: list[float]
    unseen: list[float]  # weight of an n-gram the class never saw
    weights: dict[str, list[float]]
    margin: float = DEFAULT_MARGIN
    meta: dict[str, Any] | None = None
    source: str = ""

    def scores(self, normalized: str) -> list[float]:
        grams = ngrams(normalized)
        total = sum(grams.values())
        # weights are stored relative to an unseen n-gram's: every n-gram first counts as unseen
        out = [p + total * u for p, u in zip(self.prior, self.unseen, strict=True)]
        w = self.weights
        k = len(out)
        for g, n in grams.items():
            row = w.get(g)
            if row is not None:
                for i in range(k):
                    out[i] += n * row[i]
        return out

    def predict(self, normalized: str) -> tuple[str, float]:
        """The most likely label and how far (log) it is ahead of ``normal`` (or the runner-up)."""
        s = self.scores(normalized)
        best = max(range(len(s)), key=s.__getitem__)
        if NORMAL in self.labels:
            ref = s[self.labels.index(NORMAL)]
        else:
            ref = max((v for i, v in enumerate(s) if i != best), default=s[best])
        return self.labels[best], s[best] - ref

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "ngrams": list(NGRAMS),
            "labels": self.labels,
            "categories": self.categories,
            "prior": [round(x, 6) for x in self.prior],
            "unseen": [round(x, 6) for x in self.unseen],
            "margin": self.margin,
            "meta": self.meta or {},
            "weights": {g: [round(x, 5) for x in row] for g, row in self.weights.items()},
        }

    @classmethod
    def from_json(cls, data: Any, source: str) -> TextModel:
        def bad(why: str) -> PiguardError:
            return _bad(
                source, f"Model file {source} is not valid: {why}.", f"模型文件 {source} 无效：{why}。"
            )

        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise bad("not a piguard SMS review model")
        if data.get("version") != MODEL_VERSION:
            raise bad(f"version {data.get('version')!r}, expected {MODEL_VERSION}")
        labels, prior, unseen, weights = (
            data.get("labels"),
            data.get("prior"),
            data.get("unseen"),
            data.get("weights"),
        )
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
            raise bad("'labels' must list two labels or more")
        k = len(labels)
        for name, vec in (("prior", prior), ("unseen", unseen)):
            if not isinstance(vec, list) or len(vec) != k or not all(isinstance(x, int | float) for x in vec):
                raise bad(f"'{name}' must hold one number per label")
        if not isinstance(weights, dict) or not all(
            isinstance(r, list) and len(r) == k and all(isinstance(x, int | float) for x in r)
            for r in weights.values()
        ):
            raise bad("'weights' must map n-grams to one number per label")
        categories = data.get("categories") or {}
        if not isinstance(categories, dict) or set(categories) != set(labels):
            raise bad("'categories' must name the category of every label")
        margin = data.get("margin", DEFAULT_MARGIN)
        if isinstance(margin, bool) or not isinstance(margin, int | float):
            raise bad("'margin' must be a number")
        return cls(
            labels=list(labels),
            categories={str(k_): str(v) for k_, v in categories.items()},
            prior=[float(x) for x in prior],  # type: ignore[union-attr]
            unseen=[float(x) for x in unseen],  # type: ignore[union-attr]
            weights={str(g): [float(x) for x in r] for g, r in weights.items()},
            margin=float(margin),
            meta=data.get("meta") if isinstance(data.get("meta"), dict) else {},
            source=source,
        )


def train(
    rows: Sequence[tuple[str, str]],
    normalizer: Normalizer,
    categories: Iterable[str],
    *,
    margin: float = DEFAULT_MARGIN,
    alpha: float = 0.5,
    max_fp: float = 0.002,
) -> TextModel:
    """Fit the model on ``(label, text)`` rows (at least two distinct labels)."""
    cats = list(categories)
    labels = sorted({label for label, _ in rows})
    if len(labels) < 2:
        only = labels[0] if labels else "none"
        raise _bad(
            "labels",
            f"The labelled file has one class only ({only}): a model needs at least two (e.g. normal and fraud).",
            f"标注文件只有一个类别（{only}），训练至少需要两个类别（如 normal 与 fraud）。",
        )
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    docs = [0] * k
    counts: dict[str, list[int]] = {}
    totals = [0] * k
    for label, text in rows:
        i = index[label]
        docs[i] += 1
        for g, n in ngrams(normalizer.normalize(text)).items():
            row = counts.get(g)
            if row is None:
                row = counts[g] = [0] * k
            row[i] += n
            totals[i] += n
    kept = {g: row for g, row in counts.items() if sum(row) >= MIN_COUNT}
    vocab = len(kept) + 1
    denom = [math.log(totals[i] + alpha * vocab) for i in range(k)]
    unseen = [math.log(alpha) - denom[i] for i in range(k)]
    weights = {g: [math.log(row[i] + alpha) - denom[i] for i in range(k)] for g, row in kept.items()}
    # stored relative to the unseen weight, so that the model file keeps only the n-grams seen
    weights = {g: [w - unseen[i] for i, w in enumerate(row)] for g, row in weights.items()}
    n_docs = sum(docs)
    prior = [math.log(docs[i] / n_docs) for i in range(k)]
    digest = hashlib.sha256("\n".join(f"{a}\t{b}" for a, b in rows).encode("utf-8")).hexdigest()
    model = TextModel(
        labels=labels,
        categories={label: category_of(label, cats) or label for label in labels},
        prior=prior,
        unseen=unseen,
        weights=weights,
        margin=margin,
        meta={"rows": n_docs, "per_label": dict(zip(labels, docs, strict=True)), "sha256": digest},
    )
    # naive Bayes is over-confident on long texts: raise the margin until at most ``max_fp`` of the
    # normal training messages would be flagged (measured on the training rows themselves)
    if NORMAL in index:
        # margins of normal rows whose best class is not normal, smallest first
        predictions = (model.predict(normalizer.normalize(t)) for lab, t in rows if lab == NORMAL)
        flagged = sorted(m for best, m in predictions if best != NORMAL)
        allowed = int(max_fp * docs[index[NORMAL]])
        if len(flagged) > allowed:
            model.margin = max(margin, flagged[len(flagged) - allowed - 1] + 1e-6)
        model.meta = {**(model.meta or {}), "calibrated_margin": round(model.margin, 4), "max_fp": max_fp}
    return model


def write_model(model: TextModel, out: Path) -> Path:
    """Write ``model`` to ``out`` atomically (a temporary file renamed into place): a failure leaves
    no half-written model for the reviewer to load."""
    if not out.name.endswith(MODEL_SUFFIX):
        raise _bad(
            str(out),
            f"The model file name must end in {MODEL_SUFFIX} (the reviewer loads those from a rules directory).",
            f"模型文件名须以 {MODEL_SUFFIX} 结尾（审核从规则目录加载此类文件）。",
        )
    if not out.parent.is_dir():
        raise _bad(str(out), f"Directory {out.parent} does not exist.", f"目录 {out.parent} 不存在。")
    fd, tmp = tempfile.mkstemp(prefix=".model-", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(model.to_json(), fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def read_model(raw: bytes, source: str) -> TextModel:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _bad(
            source, f"Model file {source} is not valid JSON.", f"模型文件 {source} 不是有效的 JSON。"
        ) from None
    return TextModel.from_json(data, source)
