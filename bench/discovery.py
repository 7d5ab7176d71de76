"""piguard vs JioNLP vs Presidio on the same corpora: precision/recall/F1 per category, MB/s per core.

    uv run --group bench python bench/discovery.py            # full run (a few minutes on 1 core)
    uv run --group bench python bench/discovery.py --quick    # smaller corpora
    uv run --group bench python bench/discovery.py --cluener  # only the NER tier on CLUENER

Corpora
- gold: the seeded synthetic corpus (piguard.discovery.synth), Chinese and English, with gold spans
  and hard negatives (order/tracking numbers, timestamps, amounts, IDs with wrong check digits,
  Luhn-valid random digits, 18-digit order numbers). A prediction counts when it overlaps a gold span
  of the same category (each gold span once); F1 is computed per tool over the categories that tool
  claims to detect.
- speed corpora, from least to most PI (the real SMS sample ../shared/corpora/sms/zh-sms-10k.tsv is
  read in place; its digits are masked as x):
  * sms: the 10,000 real messages as they are (masked runs are no PI);
  * mixed: "mixed Chinese text", the definition the >= 30 MB/s target is checked on: the same real
    messages with every masked run filled back with digits of the same length, and the runs that
    have the length of a PI number made real PI (11 -> an allocated mobile number, 7-8 -> a
    subscriber number, 15/18 -> a valid resident ID, 16/19 -> a Luhn-valid UnionPay card). So the
    text, its layout and its PI density are those of real messages (3.6 % carry a number of 5+
    digits, 2.1 % a mobile number) with nothing masked;
  * mixed+1:20 and mixed+1:5: that corpus with one synthetic PI document (1-4 sentences, ~2.6 PI
    items and hard negatives each) after every 20th / 5th message: PI-enriched, 3x and 10x the real
    density;
  * dense: the gold corpus alone (a PI item or a near miss every ~60 characters).
  Without the SMS file, the synthetic corpus alone is used and the output says so.
Speed is bytes of UTF-8 input per CPU second of this process (time.process_time), i.e. per core,
of the scan alone for every tool (piguard's batch API returns its findings as objects, JioNLP's and
Presidio's functions theirs): output formatting is not timed. What `piguard scan --jsonl` adds on
top (a JSON line per finding) is printed apart, below the speed table.

Peers
- JioNLP: its extract_* functions (phone, ID card, e-mail, IP, QQ, WeChat, licence plate), per text.
- Presidio (presidio-analyzer), regex-only: spaCy models cannot be downloaded here, so it runs with a
  minimal NLP engine (spaCy's blank multi-language tokenizer, no NER; PERSON/LOCATION are therefore
  off), first with its default recognisers, then with Chinese pattern recognisers added (resident ID,
  mobile, landline, UnionPay card, passport, plate, QQ), written with digit look-arounds (not \\b).
  PHONE_NUMBER results are split into mobile/landline by their digits.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from piguard.discovery.engine import default_engine, detect, detect_batch
from piguard.discovery.synth import Synth, Tally, generate, score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from discovery_shapes import generate_shapes

ROOT = Path(__file__).resolve().parents[1]
SMS = ROOT.parent / "shared" / "corpora" / "sms" / "zh-sms-10k.tsv"
CLUENER = ROOT.parent / "shared" / "corpora" / "ner" / "cluener-train.jsonl"  # evaluation only
TARGET_F1 = ("id_card", "bank_card", "phone_mobile", "phone_landline", "email", "ip_address")
Span = tuple[int, int, str]


def phone_category(value: str) -> str:
    digits = "".join(c for c in value if c.isdigit())
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    return "phone_mobile" if len(digits) == 11 and digits.startswith("1") else "phone_landline"


# ---------------------------------------------------------------- tools


class Tool:
    name = ""
    categories: frozenset[str] = frozenset()
    note = ""

    def spans(self, text: str) -> list[Span]:
        raise NotImplementedError

    def speed_run(self, texts: list[str]) -> None:
        for t in texts:
            self.spans(t)


class Piguard(Tool):
    name = "piguard"

    def __init__(self) -> None:
        from piguard.discovery.categories import CODES

        self.categories = frozenset(CODES)
        self.note = (
            f"dictionary pass: {default_engine()._automaton.backend}; batch API (as `piguard scan --jsonl`"
            " uses it; the scan only, its JSON lines timed apart)"
        )

    def spans(self, text: str) -> list[Span]:
        return [(f.start, f.end, f.category) for f in detect(text)]

    def speed_run(self, texts: list[str]) -> None:
        # the batch API `piguard scan --jsonl` uses; the scan only, as JioNLP is timed on its
        # extraction only: writing the JSON lines is output formatting, timed apart (json_lines)
        detect_batch(texts)


def json_lines(texts: list[str], reps: int = 3) -> tuple[float, float, int]:
    """What `piguard scan --jsonl` adds to the scan: one JSON line per finding. CPU seconds of the
    scan alone and of writing the lines of its findings (best of ``reps`` each), and the findings."""
    scan_s = lines_s = float("inf")
    found: list[list[Any]] = []
    for _ in range(reps):
        t0 = time.process_time()
        found = detect_batch(texts)
        t1 = time.process_time()
        for i, fs in enumerate(found):
            for f in fs:
                json.dumps({"id": i, **f.to_dict()})
        t2 = time.process_time()
        scan_s, lines_s = min(scan_s, t1 - t0), min(lines_s, t2 - t1)
    return scan_s, lines_s, sum(map(len, found))


class PiguardPerText(Piguard):
    name = "piguard (one call per text)"

    def __init__(self) -> None:
        super().__init__()
        self.note = "detect() once per text, like the SMS gateway"

    def speed_run(self, texts: list[str]) -> None:
        for t in texts:
            detect(t)


class JioNLP(Tool):
    name = "jionlp"
    categories = frozenset(
        {"phone_mobile", "phone_landline", "id_card", "email", "ip_address", "qq", "wechat", "license_plate"}
    )

    def __init__(self) -> None:
        import jionlp

        self.jio = jionlp
        self.note = f"jionlp {getattr(jionlp, '__version__', '?')}"

    def spans(self, text: str) -> list[Span]:
        j = self.jio
        out: list[Span] = []
        for item in j.extract_phone_number(text, detail=True):
            s, e = item["offset"]
            out.append((s, e, "phone_mobile" if item.get("type") == "cell_phone" else "phone_landline"))
        for fn, cat in (
            (j.extract_id_card, "id_card"),
            (j.extract_email, "email"),
            (j.extract_ip_address, "ip_address"),
            (j.extract_qq, "qq"),
            (j.extract_wechat_id, "wechat"),
            (j.extract_motor_vehicle_licence_plate, "license_plate"),
        ):
            try:
                items = fn(text, detail=True)
            except Exception:  # one extractor failing must not stop the run
                items = []
            for item in items:
                s, e = item["offset"]
                out.append((s, e, cat))
        return out


ZH_PATTERNS: list[tuple[str, str, str, float, list[str]]] = [
    (
        "CN_ID_CARD",
        "id_card",
        r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9])",
        0.6,
        ["身份证", "证件号"],
    ),
    (
        "CN_ID_CARD",
        "id_card",
        r"(?<![0-9])[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9])",
        0.3,
        ["身份证"],
    ),
    (
        "CN_MOBILE",
        "phone_mobile",
        r"(?<![0-9])(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?![0-9])",
        0.6,
        ["手机", "电话", "联系"],
    ),
    (
        "CN_LANDLINE",
        "phone_landline",
        r"(?:[(（]0\d{2,3}[)）]|(?<![0-9])0\d{2,3}[ -]?)\d{7,8}(?![0-9])",
        0.5,
        ["电话", "座机"],
    ),
    (
        "CN_BANK_CARD",
        "bank_card",
        r"(?<![0-9])62\d{2}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}(?:[ -]?\d{1,3})?(?![0-9])",
        0.5,
        ["卡号", "银行卡"],
    ),
    ("CN_PASSPORT", "passport", r"(?<![A-Za-z0-9])[EG][A-Z]?\d{7,8}(?![0-9])", 0.4, ["护照"]),
    (
        "CN_PLATE",
        "license_plate",
        r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{5,6}",
        0.5,
        ["车牌"],
    ),
    ("CN_QQ", "qq", r"(?<=QQ|qq)[:：号 ]*[1-9]\d{4,10}(?![0-9])", 0.5, ["QQ"]),
]
PRESIDIO_MAP = {"EMAIL_ADDRESS": "email", "CREDIT_CARD": "bank_card", "IP_ADDRESS": "ip_address"}


class Presidio(Tool):
    def __init__(self, with_chinese: bool) -> None:
        import spacy
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

        blank = spacy.blank("xx")

        class RegexOnlyNlpEngine(NlpEngine):  # type: ignore[misc]
            """No model: tokens from spaCy's blank tokenizer, no named entities."""

            def load(self) -> None: ...

            def is_loaded(self) -> bool:
                return True

            def process_text(self, text: str, language: str) -> Any:
                doc = blank.make_doc(text)
                return NlpArtifacts(
                    entities=[],
                    tokens=doc,
                    tokens_indices=[t.idx for t in doc],
                    lemmas=[t.text.lower() for t in doc],
                    nlp_engine=self,
                    language=language,
                )

            def process_batch(
                self, texts: Any, language: str, batch_size: int = 1, n_process: int = 1, **kw: Any
            ) -> Any:
                for t in texts:
                    yield t, self.process_text(t, language)

            def is_stopword(self, word: str, language: str) -> bool:
                return False

            def is_punct(self, word: str, language: str) -> bool:
                return False

            def get_supported_entities(self) -> list[str]:
                return []

            def get_supported_languages(self) -> list[str]:
                return ["en"]

        registry = RecognizerRegistry()
        registry.load_predefined_recognizers(languages=["en"])
        self.map = dict(PRESIDIO_MAP)
        cats = {"email", "bank_card", "ip_address", "phone_mobile", "phone_landline"}
        if with_chinese:
            grouped: dict[str, list[tuple[str, float, list[str], str]]] = {}
            for entity, cat, regex, sc, ctx in ZH_PATTERNS:
                grouped.setdefault(entity, []).append((regex, sc, ctx, cat))
            for entity, pats in grouped.items():
                registry.add_recognizer(
                    PatternRecognizer(
                        supported_entity=entity,
                        supported_language="en",
                        patterns=[Pattern(f"{entity}_{i}", p[0], p[1]) for i, p in enumerate(pats)],
                        context=[c for p in pats for c in p[2]],
                    )
                )
                self.map[entity] = pats[0][3]
                cats.add(pats[0][3])
        self.engine = AnalyzerEngine(
            registry=registry, nlp_engine=RegexOnlyNlpEngine(), supported_languages=["en"]
        )
        self.categories = frozenset(cats)
        self.name = "presidio+zh" if with_chinese else "presidio"
        import presidio_analyzer

        self.note = (
            f"presidio-analyzer {getattr(presidio_analyzer, '__version__', '')} regex-only "
            f"(blank spaCy tokenizer, no NER){', + Chinese patterns' if with_chinese else ', default recognisers'}"
        )

    def spans(self, text: str) -> list[Span]:
        out: list[Span] = []
        for r in self.engine.analyze(text=text, language="en"):
            if r.entity_type == "PHONE_NUMBER":
                out.append((r.start, r.end, phone_category(text[r.start : r.end])))
            elif r.entity_type in self.map:
                out.append((r.start, r.end, self.map[r.entity_type]))
        return out


# ---------------------------------------------------------------- running


def evaluate(tool: Tool, docs: list[Any]) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for d in docs:
        score(d.spans, tool.spans(d.text), tallies, set(tool.categories))
    return tallies


def chosen_bytes(texts: list[str], max_bytes: int) -> list[str]:
    """The first texts holding at least ``max_bytes`` of UTF-8 (all when fewer)."""
    chosen: list[str] = []
    size = 0
    for t in texts:
        chosen.append(t)
        size += len(t.encode("utf-8"))
        if size >= max_bytes:
            break
    return chosen


def speed(tool: Tool, texts: list[str], max_bytes: int, reps: int = 1) -> float:
    chosen = chosen_bytes(texts, max_bytes)
    size = sum(len(t.encode("utf-8")) for t in chosen)
    tool.speed_run(chosen[:50])  # warm up
    best = float("inf")
    for _ in range(reps):  # the machine is shared: the best run is the least disturbed one
        t0 = time.process_time()
        tool.speed_run(chosen)
        best = min(best, time.process_time() - t0)
    return size / best / 1e6


def sms_corpus() -> list[str]:
    if not SMS.is_file():
        return []
    return [line.split("\t", 1)[1] for line in SMS.read_text(encoding="utf-8").splitlines() if "\t" in line]


_MASKED = re.compile(r"(?<![A-Za-z])x+(?![A-Za-z])")


def restored_sms(sms: list[str], seed: int) -> list[str]:
    """The real messages with their masked digit runs filled back (PI-length runs as valid PI)."""
    s = Synth(seed)

    def fill(m: re.Match[str]) -> str:
        n = len(m.group())
        if n == 11:
            return s.mobile_digits()
        if n in (7, 8):
            return s.r.choice("2345678") + s.digits(n - 1)
        if n == 18:
            return s.id_card()
        if n == 15:
            return s.id15()
        if n in (16, 19):
            return s.luhn_fix("62" + s.digits(n - 3))
        return s.digits(n)

    return [_MASKED.sub(fill, t) for t in sms]


def enriched(base: list[str], synthetic: list[str], every: int) -> list[str]:
    out: list[str] = []
    for i, line in enumerate(base):
        out.append(line)
        if i % every == every - 1:
            out.append(synthetic[(i // every) % len(synthetic)])
    return out


def speed_corpora(seed: int, synthetic: list[str], dense: list[str]) -> tuple[dict[str, list[str]], str]:
    sms = sms_corpus()
    if not sms:
        note = f"SMS sample not found at {SMS}: every speed corpus is the synthetic documents only"
        return {k: synthetic for k in ("sms", "mixed", "mixed+1:20", "mixed+1:5")} | {"dense": dense}, note
    mixed = restored_sms(sms, seed)
    return {
        "sms": sms,
        "mixed": mixed,
        "mixed+1:20": enriched(mixed, synthetic, 20),
        "mixed+1:5": enriched(mixed, synthetic, 5),
        "dense": dense,
    }, f"{len(sms)} real SMS messages; mixed = the same with masked digits restored (see the module doc)"


def strict_score(
    gold: list[Span], predicted: list[Span], tallies: dict[str, Tally], wanted: set[str]
) -> None:
    """Strict matching: a prediction counts only when its span and category equal a gold span's."""
    golds = {g for g in gold if g[2] in wanted}
    for p in set(predicted):
        if p[2] not in wanted:
            continue
        t = tallies.setdefault(p[2], Tally())
        if p in golds:
            t.tp += 1
            golds.discard(p)
        else:
            t.fp += 1
    for g in golds:
        tallies.setdefault(g[2], Tally()).fn += 1


def shapes_figures(n_shapes: int, seed: int) -> dict[str, Any]:
    """piguard's P/R/F1 on the shapes corpus (bench/discovery_shapes.py) and its fast-tier speed
    (batch API) on `mixed` and `dense`, best of 3: the part of the run --baseline repeats on an
    older engine."""
    tool = Piguard()
    shapes = generate_shapes(n_shapes, seed + 12)
    tallies: dict[str, Tally] = {}
    strict: dict[str, Tally] = {}
    # location_time is not a shape of this corpus (its login lines are not labelled for it)
    wanted = set(tool.categories) - {"location_time"}
    for d in shapes:
        found = tool.spans(d.text)
        score(d.spans, found, tallies, wanted)
        strict_score(d.spans, found, strict, wanted)
    cluener: dict[str, Tally] = {}
    if CLUENER.is_file():  # real news/social text, read in place: name and address only
        for line in CLUENER.read_text(encoding="utf-8").splitlines()[:5000]:
            rec = json.loads(line)
            gold = [
                (a, b + 1, cat)
                for label, cat in (("name", "name"), ("address", "address"))
                for spans in rec.get("label", {}).get(label, {}).values()
                for a, b in spans
            ]
            score(gold, tool.spans(rec["text"]), cluener, {"name", "address"})
    docs = generate(1000, seed)
    corpora, _ = speed_corpora(seed, [d.text for d in generate(3000, seed + 1)], [d.text for d in docs])
    return {
        "shapes": {
            c: {"p": t.precision, "r": t.recall, "f1": t.f1, "tp": t.tp, "fp": t.fp, "fn": t.fn}
            for c, t in sorted(tallies.items())
        },
        "strict": {
            c: {"p": t.precision, "r": t.recall, "f1": t.f1, "tp": t.tp, "fp": t.fp, "fn": t.fn}
            for c, t in sorted(strict.items())
        },
        "gold": {c: t.f1 for c, t in sorted(evaluate(tool, docs).items())},
        "cluener": {c: {"p": t.precision, "r": t.recall, "f1": t.f1} for c, t in sorted(cluener.items())},
        "speed": {c: speed(tool, corpora[c], 10**9, 5) for c in ("mixed", "dense")},
    }


def baseline_figures(rev: str, n_shapes: int, seed: int) -> dict[str, Any]:
    """The same figures from the engine at git revision ``rev``: its ``src`` is exported to a
    temporary folder (git archive; the repository is not touched) and this script runs there."""
    import shutil
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        # the compiled kernels whose source REV shares with this checkout (piguard/_native): the
        # older engine runs with them as an install of REV would, not with its Python fallbacks
        native = ROOT / "src" / "piguard" / "_native"
        for module in native.glob("*.so"):
            source = Path(tmp) / "src" / "piguard" / "_native" / (module.name.split(".")[0] + ".c")
            mine = native / source.name
            if source.is_file() and mine.is_file() and source.read_bytes() == mine.read_bytes():
                shutil.copy(module, source.parent / module.name)
        out = Path(tmp) / "figures.json"
        env = {**__import__("os").environ, "PYTHONPATH": str(Path(tmp) / "src")}
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--shapes-only",
                "--shapes",
                str(n_shapes),
                "--seed",
                str(seed),
                "--json",
                str(out),
            ],
            check=True,
            env=env,
        )
        return json.loads(out.read_text(encoding="utf-8"))


def print_shapes(after: dict[str, Any], before: dict[str, Any] | None, label: str) -> None:
    print(
        f"\nshapes corpus (bench/discovery_shapes.py): per-category P/R/F1{'; before = ' + label if before else ''}"
    )
    for key, title in (("strict", "strict (exact span and category)"), ("shapes", "overlap")):
        if key not in after:
            continue
        print(f"{title}:")
        head = f"{'category':16s}" + (f"{'before':>28s}" if before else "") + f"{'after':>28s}"
        print(head)
        for c in sorted(set(after[key]) | set(before.get(key, {}) if before else ())):
            row = f"{c:16s}"
            for fig in ([before] if before else []) + [after]:
                t = fig.get(key, {}).get(c)
                row += f"{t['f1']:>10.3f} ({t['p']:.3f}/{t['r']:.3f})  " if t else f"{'-':>28s}"
            print(row)
    if after.get("cluener"):
        print("CLUENER2020 train split, first 5,000 lines (real text; overlap match), name/address P/R/F1:")
        for c, a in after["cluener"].items():
            b = (before or {}).get("cluener", {}).get(c)
            was = f"before {b['f1']:.3f} ({b['p']:.3f}/{b['r']:.3f})  " if b else ""
            print(f"  {c:10s}{was}after {a['f1']:.3f} ({a['p']:.3f}/{a['r']:.3f})")
    if before:
        print("gold corpus F1 (1,000 documents) where it changed:")
        for c in sorted(after["gold"]):
            b, a = before["gold"].get(c), after["gold"][c]
            if b is None or abs(a - b) > 1e-9:
                print(f"  {c:16s} {b if b is None else round(b, 3)} -> {a:.3f}")
    print("fast tier, MB/s per core (batch API; best of 5 runs x rounds, before and after alternating):")
    for c, a in after["speed"].items():
        if before:
            b = before["speed"][c]
            print(f"  {c:8s}  before {b:6.2f}  after {a:6.2f}  ({a / b - 1:+.1%})")
        else:
            print(f"  {c:8s}  {a:6.2f}")


# ---------------------------------------------------------------- CLUENER: the NER tier (issue 12, item 2)

NER_CATS = ("name", "address")


def cluener_rows(limit: int | None) -> tuple[list[str], list[list[Span]]]:
    """The CLUENER2020 training split, read in place (evaluation only): texts and their gold
    ``name``/``address`` spans (CLUENER's end offsets are inclusive)."""
    texts: list[str] = []
    gold: list[list[Span]] = []
    with CLUENER.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                break
            rec = json.loads(line)
            texts.append(rec["text"])
            gold.append(
                [
                    (a, b + 1, cat)
                    for cat in NER_CATS
                    for spans in rec.get("label", {}).get(cat, {}).values()
                    for a, b in spans
                ]
            )
    return texts, gold


def strict_and_overlap(gold: list[list[Span]], pred: list[list[Span]]) -> dict[str, dict[str, Tally]]:
    """Per category: strict (same start, end and category) and overlap (synth.score) tallies."""
    strict: dict[str, Tally] = {c: Tally() for c in NER_CATS}
    overlap: dict[str, Tally] = {c: Tally() for c in NER_CATS}
    for g, p in zip(gold, pred, strict=True):
        p = [x for x in p if x[2] in NER_CATS]
        score(g, p, overlap, set(NER_CATS))
        gs, ps = set(g), set(p)
        for c in NER_CATS:
            gc = {x for x in gs if x[2] == c}
            pc = {x for x in ps if x[2] == c}
            strict[c].tp += len(gc & pc)
            strict[c].fp += len(pc - gc)
            strict[c].fn += len(gc - pc)
    return {"strict": strict, "overlap": overlap}


class JiebaPosseg(Tool):
    """A candidate NER measured beside the chosen one: jieba's POS tagger (nr -> name, ns ->
    address; adjacent ns words joined), or rjieba (jieba-rs, same dictionary and tags)."""

    def __init__(self, rust: bool) -> None:
        if rust:
            import rjieba

            self.name, self._tag = "rjieba.tag (nr/ns)", rjieba.tag
        else:
            import jieba
            import jieba.posseg

            jieba.setLogLevel(60)
            self.name = "jieba.posseg (nr/ns)"
            self._tag = lambda t: [(w.word, w.flag) for w in jieba.posseg.lcut(t)]
        self._tag("张三")  # load the dictionary outside the timed part

    def spans(self, text: str) -> list[Span]:
        out: list[Span] = []
        pos = 0
        for word, flag in self._tag(text):
            cat = "name" if flag in ("nr", "nrfg", "nrt") else "address" if flag == "ns" else None
            if cat == "address" and out and out[-1][2] == cat and out[-1][1] == pos:
                out[-1] = (out[-1][0], pos + len(word), cat)
            elif cat:
                out.append((pos, pos + len(word), cat))
            pos += len(word)
        return out


def ner_load_cost() -> dict[str, float]:
    """Loading the NER tier in a fresh interpreter, as `piguard scan --ner` pays it once per process:
    CPU and wall seconds and the memory it adds."""
    import subprocess

    # resident memory from /proc (ru_maxrss would carry the parent's peak across fork and exec)
    code = (
        "import json, re, time\n"
        "def rss():\n"
        "    return int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024\n"
        "r0 = rss()\n"
        "c0, w0 = time.process_time(), time.perf_counter()\n"
        "from piguard.discovery import ner\n"
        "ner.load()\n"
        "c1, w1 = time.process_time(), time.perf_counter()\n"
        "ner.load().spans(['张三在北京工作'])\n"
        "print(json.dumps({'cpu_s': c1 - c0, 'wall_s': w1 - w0, 'first_call_s': time.process_time() - c1,\n"
        "  'rss_mb': rss() - r0}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cluener_figures(limit: int | None, peers: bool = True) -> dict[str, Any]:
    """Fast tier vs fast tier + NER tier on CLUENER: strict and overlap P/R/F1 for name and address,
    speed (MB/s per core, CPU seconds) on the same text, and the cost of loading the model."""
    from piguard.discovery import ner

    texts, gold = cluener_rows(limit)
    size = sum(len(t.encode("utf-8")) for t in texts)
    out: dict[str, Any] = {"lines": len(texts), "mb": size / 1e6, "tiers": {}}

    def run(label: str, fn: Any, reps: int) -> None:
        best, pred = float("inf"), None
        for _ in range(reps):
            t0 = time.process_time()
            pred = fn()
            best = min(best, time.process_time() - t0)
        tallies = strict_and_overlap(gold, pred)  # type: ignore[arg-type]
        out["tiers"][label] = {
            "cpu_s": best,
            "mb_s": size / best / 1e6,
            **{
                kind: {c: {"p": t.precision, "r": t.recall, "f1": t.f1} for c, t in tl.items()}
                for kind, tl in tallies.items()
            },
        }

    def spans_of(found: list[Any], min_conf: float = 0.0) -> list[list[Span]]:
        return [[(f.start, f.end, f.category) for f in fs if f.confidence >= min_conf] for fs in found]

    run("fast", lambda: spans_of(detect_batch(texts)), 3)
    try:
        out["load"] = ner_load_cost()
        ner.load()
    except Exception as e:  # the extra is not installed: say so, keep the fast tier's figures
        out["ner_error"] = str(e)
        return out
    detect_batch(texts[:50], ner=True)  # warm up outside the timed part
    both: list[Any] = []

    def with_ner() -> list[list[Span]]:
        both[:] = detect_batch(texts, ner=True)
        return spans_of(both)

    run("fast+NER", with_ner, 1)
    out["by_confidence"] = {}
    for m in (0.7, 0.9):
        tl = strict_and_overlap(gold, spans_of(both, m))["strict"]
        out["by_confidence"][m] = {c: {"p": t.precision, "r": t.recall, "f1": t.f1} for c, t in tl.items()}
    if peers:
        for rust in (True, False):
            try:
                tool = JiebaPosseg(rust)
            except ImportError:
                continue
            run(tool.name, lambda tool=tool: [tool.spans(t) for t in texts], 1)
    return out


def print_cluener(fig: dict[str, Any]) -> None:
    print(
        f"\nCLUENER2020 train split: {fig['lines']} lines, {fig['mb']:.2f} MB (real news/social text; "
        "evaluation only, read in place), name and address"
    )
    if "ner_error" in fig:
        print(f"  ! NER tier unavailable ({fig['ner_error']}); install with `uv sync --extra ner`")
    print(f"  {'':22s}{'':9s}{'strict F1 (P/R)':>24s}{'overlap F1 (P/R)':>26s}")
    for c in NER_CATS:
        for label, t in fig["tiers"].items():
            st, ov = t["strict"][c], t["overlap"][c]
            print(
                f"  {label:22s}{c:9s}{st['f1']:>8.3f} ({st['p']:.3f}/{st['r']:.3f}){ov['f1']:>10.3f} "
                f"({ov['p']:.3f}/{ov['r']:.3f})"
            )
    for m, by in fig.get("by_confidence", {}).items():
        row = "  ".join(f"{c} {v['f1']:.3f} ({v['p']:.3f}/{v['r']:.3f})" for c, v in by.items())
        print(f"  fast+NER, NER findings with confidence >= {m}: strict {row}")
    print("  speed on the same text (CPU time of this process; best of 3 for the fast tier):")
    for label, t in fig["tiers"].items():
        print(f"    {label:22s}{t['mb_s']:8.3f} MB/s per core  {t['cpu_s']:7.2f} s CPU")
    if "load" in fig:
        ld = fig["load"]
        print(
            f"  NER model load, once per process (fresh interpreter): {ld['cpu_s']:.2f} s CPU, "
            f"{ld['wall_s']:.2f} s wall, +{ld['rss_mb']:.0f} MB resident; first call {ld['first_call_s']:.3f} s"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000, help="gold documents")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--quick", action="store_true", help="1,000 gold documents, smaller speed samples")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--shapes", type=int, default=2000, help="documents in the shapes corpus")
    ap.add_argument(
        "--shapes-only", action="store_true", help="only the shapes corpus and the fast tier's speed"
    )
    ap.add_argument("--baseline", metavar="REV", help="also run the shapes figures on the engine at git REV")
    ap.add_argument("--rounds", type=int, default=4, help="alternating speed rounds with --baseline")
    ap.add_argument(
        "--cluener",
        action="store_true",
        help="only the CLUENER section: fast tier vs fast+NER (name/address F1, speed, model load)",
    )
    ap.add_argument("--cluener-lines", type=int, help="with --cluener: only the first N lines")
    args = ap.parse_args()
    if args.cluener:
        if not CLUENER.is_file():
            print(f"CLUENER corpus not found at {CLUENER}")
            return 1
        fig = cluener_figures(args.cluener_lines)
        print_cluener(fig)
        if args.json:
            args.json.write_text(json.dumps(fig, ensure_ascii=False, indent=2), encoding="utf-8")
        return 0
    if args.shapes_only or args.baseline:
        before = baseline_figures(args.baseline, args.shapes, args.seed) if args.baseline else None
        after = shapes_figures(args.shapes, args.seed)
        # the machine is shared: baseline and current speed measured in alternation, best of each
        for _ in range(args.rounds - 1 if before else 0):
            again = baseline_figures(args.baseline, args.shapes, args.seed)
            before["speed"] = {c: max(x, again["speed"][c]) for c, x in before["speed"].items()}  # type: ignore[index]
            later = shapes_figures(args.shapes, args.seed)["speed"]
            after["speed"] = {c: max(x, later[c]) for c, x in after["speed"].items()}
        if args.shapes_only and args.json and not args.baseline:
            args.json.write_text(json.dumps(after), encoding="utf-8")
            return 0
        print_shapes(after, before, args.baseline or "")
        if args.shapes_only:
            return 0
    import logging

    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # Presidio's e-mail check tries the network
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    n = 1000 if args.quick else args.n
    docs = generate(n, args.seed)
    gold_bytes = sum(len(d.text.encode()) for d in docs)
    corpora, corpora_note = speed_corpora(
        args.seed, [d.text for d in generate(3000, args.seed + 1)], [d.text for d in docs]
    )
    print(f"gold corpus: {n} synthetic documents, {gold_bytes / 1e6:.2f} MB, seed {args.seed}")
    print(f"speed corpora: {corpora_note}")
    for name, texts in corpora.items():
        print(f"  {name:11s} {len(texts):6d} texts {sum(len(t.encode()) for t in texts) / 1e6:6.2f} MB")

    tools: list[Tool] = [Piguard(), PiguardPerText()]
    for factory, label in (
        (JioNLP, "jionlp"),
        (lambda: Presidio(False), "presidio"),
        (lambda: Presidio(True), "presidio+zh"),
    ):
        try:
            tools.append(factory())
        except Exception as e:  # not installed, or failed to start: say so and run the rest
            print(f"! {label} unavailable: {type(e).__name__}: {e} (install with `uv sync --group bench`)")
    for t in tools:
        print(f"  - {t.name}: {t.note}")

    results: dict[str, Any] = {"gold_docs": n, "seed": args.seed, "corpora": corpora_note, "tools": {}}
    f1: dict[str, dict[str, Tally]] = {}
    for t in tools:
        if isinstance(t, PiguardPerText):
            continue
        f1[t.name] = evaluate(t, docs)
    cats = sorted({c for tallies in f1.values() for c in tallies})
    names = list(f1)
    print("\nF1 per category (P/R in brackets); '-' = the tool does not detect this category")
    print(f"{'category':16s}" + "".join(f"{nm:>26s}" for nm in names))
    for c in cats:
        row = f"{c:16s}"
        for nm in names:
            t = f1[nm].get(c)
            tool = next(x for x in tools if x.name == nm)
            if c not in tool.categories:
                row += f"{'-':>26s}"
            elif t is None:
                row += f"{'(no gold)':>26s}"
            else:
                row += f"{t.f1:>10.3f} ({t.precision:.3f}/{t.recall:.3f})"
        print(row)

    print(
        "\nspeed, MB/s per core (CPU time of this process, best of 3 runs for piguard); corpora in the module doc"
    )
    print(f"  {'':30s}" + "".join(f"{c:>12s}" for c in corpora))
    speeds: dict[str, dict[str, float]] = {}
    for t in tools:
        budget = 300_000 if t.name.startswith("presidio") else (400_000 if t.name == "jionlp" else 10**9)
        if args.quick:
            budget = min(budget, 150_000)
        reps = 3 if t.name.startswith("piguard") else 1
        speeds[t.name] = {c: speed(t, texts, budget, reps) for c, texts in corpora.items()}
        print(f"  {t.name:30s}" + "".join(f"{speeds[t.name][c]:12.2f}" for c in corpora))
    dense = chosen_bytes(corpora["dense"], 150_000 if args.quick else 10**9)
    scan_s, lines_s, n_found = json_lines(dense)
    size = sum(len(t.encode()) for t in dense)
    print(
        f"  (piguard's figures are the scan alone, the work JioNLP is timed on; on dense the JSON line per "
        f"finding of `piguard scan --jsonl`, {n_found} findings, adds {lines_s * 1e3:.1f} ms to "
        f"{scan_s * 1e3:.1f} ms: {size / (scan_s + lines_s) / 1e6:.2f} MB/s with the lines)"
    )
    base = speeds["piguard"]["mixed"]
    print("\nratios (piguard / peer, speed on the mixed corpus; on dense in brackets)")
    for nm in names:
        if nm == "piguard":
            continue
        shared = sorted(set(f1[nm]) & next(x for x in tools if x.name == nm).categories)
        wins = [c for c in shared if c in f1["piguard"] and f1["piguard"][c].f1 > f1[nm][c].f1]
        ties = [c for c in shared if c in f1["piguard"] and f1["piguard"][c].f1 == f1[nm][c].f1]
        print(
            f"  vs {nm:14s} speed x{base / speeds[nm]['mixed']:6.1f} (x{speeds['piguard']['dense'] / speeds[nm]['dense']:5.1f})"
            f"   higher F1 on {len(wins)}/{len(shared)} shared "
            f"categories{' (ties: ' + ', '.join(ties) + ')' if ties else ''}"
        )

    print("\ntargets")
    ok_f1 = all(f1["piguard"][c].f1 >= 0.99 for c in TARGET_F1 if c in f1["piguard"])
    print(f"  F1 >= 0.99 on {', '.join(TARGET_F1)}: {'met' if ok_f1 else 'NOT met'}")
    for corpus in corpora:
        v = speeds["piguard"][corpus]
        print(f"  >= 30 MB/s per core, {corpus:10s}: {'met' if v >= 30 else 'NOT met'} ({v:.1f} MB/s)")
    if "jionlp" in speeds:
        x = speeds["piguard"]["dense"] / speeds["jionlp"]["dense"]
        print(f"  >= 10x JioNLP on dense, same run: {'met' if x >= 10 else 'NOT met'} (x{x:.1f})")
    for t in tools:
        results["tools"][t.name] = {
            "note": t.note,
            "speed_mb_s": speeds[t.name],
            "f1": {
                c: {"f1": round(x.f1, 4), "precision": round(x.precision, 4), "recall": round(x.recall, 4)}
                for c, x in f1.get(t.name, {}).items()
            },
        }
    if CLUENER.is_file():
        results["cluener"] = cluener_figures(3000 if args.quick else None, peers=False)
        print_cluener(results["cluener"])
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
