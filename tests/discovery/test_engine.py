"""The library API other domains call: detect(), Finding, batching, registry, accuracy on the
synthetic corpus, false positives on real SMS text."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from piguard.core.errors import PiguardError
from piguard.discovery.engine import Engine, Finding, Registry, default_engine, detect, detect_batch
from piguard.discovery.synth import Tally, generate, score

pytestmark = pytest.mark.obligation("O24-4", "O24-5", "O24-13.3")


def test_finding_is_frozen_and_value_free() -> None:
    f = detect("手机13812345678")[0]
    assert f == Finding(2, 13, "phone_mobile", f.confidence)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.start = 0  # type: ignore[misc]
    assert set(f.to_dict()) == {"start", "end", "category", "confidence"}
    assert "13812345678" not in repr(f)


def test_category_filter_and_unknown_category() -> None:
    text = "手机13812345678 邮箱a@b.cn"
    assert [f.category for f in detect(text, ["email"])] == ["email"]
    assert [f.category for f in detect(text, {"location_time"})] == []
    with pytest.raises(PiguardError) as e:
        detect(text, ["phone"])
    assert e.value.code == "validation_error"


def test_empty_and_non_str() -> None:
    assert detect("") == []
    with pytest.raises(TypeError):
        detect(b"13812345678")  # type: ignore[arg-type]


def test_min_confidence() -> None:
    weak = "我是张伟"  # a weak trigger: reported only when asked for low-confidence findings
    assert detect(weak) == []
    assert [f.category for f in detect(weak, min_confidence=0.3)] == ["name"]


def test_batch_equals_one_by_one() -> None:
    docs = [d.text for d in generate(300, seed=3)]
    assert detect_batch(docs, chunk_chars=2000) == [detect(d) for d in docs]


def test_registry_from_yaml_and_errors() -> None:
    engine = Engine(
        Registry.from_yaml("""
min_confidence: 0.5
recognizers:
  - {name: mobile, class: MobileRecognizer, category: phone_mobile, base: 0.9}
""")
    )
    assert [f.category for f in engine.detect("13812345678 a@b.cn")] == ["phone_mobile"]
    with pytest.raises(ValueError, match="unknown category"):
        Registry.from_yaml("recognizers: [{name: x, class: MobileRecognizer, category: phone, base: 1}]")
    with pytest.raises(ValueError, match="unknown recogniser class"):
        Registry.from_yaml("recognizers: [{name: x, class: Nope, category: email, base: 1}]")
    with pytest.raises(ValueError):
        Registry.from_yaml("- 1")


def test_every_category_has_a_recogniser() -> None:
    from piguard.discovery.categories import CODES

    assert {r.category for r in default_engine().recognizers} == set(CODES)


def test_synthetic_corpus_accuracy() -> None:
    tallies: dict[str, Tally] = {}
    for d in generate(1500, seed=99):
        score(d.spans, [(f.start, f.end, f.category) for f in detect(d.text)], tallies)
    for cat in ("id_card", "bank_card", "phone_mobile", "phone_landline", "email", "ip_address"):
        assert tallies[cat].f1 >= 0.99, (cat, tallies[cat])
    for cat, t in tallies.items():
        assert t.f1 >= 0.9, (cat, t)


def test_short_messages_are_fast() -> None:
    """The SMS gateway calls detect() on every message."""
    msg = "【某银行】尊敬的客户，您尾号1234的卡于12:30消费100.00元，如非本人操作请致电95555。"
    detect(msg)
    n = 2000
    t0 = time.process_time()
    for _ in range(n):
        detect(msg)
    per_call = (time.process_time() - t0) / n
    assert per_call < 0.001, f"{per_call * 1e6:.0f} µs per short message"


def test_real_sms_false_positives(shared_dir: Path) -> None:
    """Real SMS text (digits masked as x): masked runs must never be reported as numbers."""
    path = shared_dir / "corpora" / "sms" / "zh-sms-10k.tsv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    texts = [line.split("\t", 1)[1] for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]
    findings = detect_batch(texts)
    total = sum(len(f) for f in findings)
    # a few hundred real addresses, names and a handful of unmasked numbers in 10k messages
    assert total < 0.05 * len(texts)
    for text, fs in zip(texts, findings, strict=True):
        for f in fs:
            value = text[f.start : f.end]
            assert not (f.category in {"phone_mobile", "id_card", "bank_card", "qq"} and "x" in value), value


def test_lone_surrogates_are_text_not_a_crash() -> None:
    """Text decoded with ``surrogateescape`` (or a JSON ``"\\ud800"``) holds lone surrogates; the
    hyperscan pass encoded it as strict UTF-32 and raised UnicodeEncodeError. Offsets stay right."""
    from piguard.discovery.engine import detect

    for text in (
        "手机13812345678 \ud800 张三",
        "\udfff手机13812345678",
        "\udcff" * 3 + "身份证110101199003074514",
    ):
        found = [f for f in detect(text) if f.category in ("phone_mobile", "id_card")]
        assert len(found) == 1
        f = found[0]
        assert text[f.start : f.end] in ("13812345678", "110101199003074514")
