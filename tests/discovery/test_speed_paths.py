"""The fast tier's speed-ups change no finding: the compiled kernels against their Python originals
on the same inputs, the batch API against one call per text, and pinned findings on representative
texts (bench/discovery_same.py compares whole corpora against another revision)."""

from __future__ import annotations

from functools import lru_cache, partial
from itertools import accumulate
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piguard import _native
from piguard.discovery import engine as eng
from piguard.discovery.engine import Engine, Registry, detect, detect_batch
from piguard.discovery.synth import generate

pytestmark = pytest.mark.obligation("O24-4", "O24-5")

SMS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "sms" / "zh-sms-10k.tsv"
STRUCT = _native.load("structscan")
needs_struct = pytest.mark.skipif(
    STRUCT is None, reason="structscan kernel not built here, or PIGUARD_PURE_PYTHON=1"
)

# the characters the structural pass cares about, and a few it must skip
_ALPHABET = (
    "0123456789０１２３４５６７８９ -.:/\u3000－．：／XxＸｘ+＋@＠abcdefABCDEFIiOoZz"
    "京沪粤川宁琼中国手机号码，。\n\t\U0001f600"
)
texts = st.text(alphabet=_ALPHABET, max_size=80)

PINNED = {
    "手机13812345678，身份证11010519491231002X": [(2, 13, "phone_mobile", 1.0), (17, 35, "id_card", 1.0)],
    "卡号 6222 0212 3456 7890 128 电话010-12345678转99": [
        (3, 26, "bank_card", 1.0),
        (29, 44, "phone_landline", 1.0),
    ],
    "邮箱 zhang.san@example.com IP 192.168.1.10 v1.2.3.4": [
        (3, 24, "email", 1.0),
        (28, 40, "ip_address", 0.95),
    ],
    "收件人：王芳 地址：北京市朝阳区建国路88号3单元501室": [(4, 6, "name", 0.9), (10, 29, "address", 0.95)],
    "京A12345 车牌 +86 139 1234 5678": [(0, 7, "license_plate", 0.95), (11, 28, "phone_mobile", 0.9)],
    "订单号 202401011234567890 时间 2024-01-01 12:30:00": [],
    "fe80::1ff:fe23:4567:890a 登录": [(0, 24, "ip_address", 0.95)],
    "Name: John Smith, 密码：abc12345, 用户名=zhangsan": [
        (6, 16, "name", 0.85),
        (21, 29, "password", 0.9),
        (35, 43, "account", 0.85),
    ],
    "胡洋飞您好，您的QQ号 12345678 微信 wxid_abc123": [
        (0, 3, "name", 0.75),
        (12, 20, "qq", 0.9),
        (24, 35, "wechat", 0.85),
    ],
    "姓名,手机,出生日期\n张伟,13912345678,1990-01-02\n李娜,13812345679,1985-12-31": [
        (11, 13, "name", 0.9),
        (14, 25, "phone_mobile", 1.0),
        (26, 36, "birth_date", 0.9),
        (37, 39, "name", 0.9),
        (40, 51, "phone_mobile", 0.9),
        (52, 62, "birth_date", 0.9),
    ],
    "１３８１２３４５６７８ 全角": [(0, 11, "phone_mobile", 0.9)],
    "经度116.397128 纬度39.916527 北纬39°54′27″": [(2, 24, "gps", 1.0)],
}


def _tuples(found: list[eng.Finding]) -> list[tuple[int, int, str, float]]:
    return [(f.start, f.end, f.category, f.confidence) for f in found]


@pytest.mark.parametrize("text", list(PINNED))
def test_pinned_findings(text: str) -> None:
    assert _tuples(detect(text, ner=False)) == PINNED[text]
    assert [_tuples(fs) for fs in detect_batch([text, text], ner=False)] == [PINNED[text]] * 2


@needs_struct
@settings(max_examples=400, deadline=None)
@given(texts)
def test_struct_kernel_equals_the_regex(text: str) -> None:
    assert STRUCT.struct_spans(text) == eng._struct_spans_py(text)


@needs_struct
def test_struct_kernel_bad_input() -> None:
    with pytest.raises(TypeError):
        STRUCT.struct_spans(b"13812345678")  # type: ignore[arg-type]
    assert STRUCT.struct_spans("") == []


def _corpus() -> list[str]:
    out = [d.text for d in generate(300, 7)]
    if SMS.is_file():
        lines = SMS.read_text(encoding="utf-8").splitlines()[:2000]
        out += [ln.split("\t", 1)[1] for ln in lines if "\t" in ln]
    return out


@needs_struct
def test_pure_python_and_compiled_engines_agree() -> None:
    corpus = _corpus()
    fast, pure = eng.default_engine(), _pure()
    assert fast.native and not pure.native
    assert [fast.detect(t, ner=False) for t in corpus] == [pure.detect(t, ner=False) for t in corpus]
    # one long text of many records, as detect_batch scans them
    joined = "\n".join(corpus)
    bounds = [k + i for i, k in enumerate(accumulate(map(len, corpus)), start=1)][:-1]
    assert all(joined[b - 1] == "\n" for b in bounds)
    for engine in (fast, pure):
        assert engine._plan(None) is engine._plan(None)
    got = fast.raw(joined, fast._plan(None), 0.5, bounds)
    assert got == pure.raw(joined, pure._plan(None), 0.5, bounds)
    assert len(got) > 300  # the corpus does hold PI


@needs_struct
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET + "ＡＺａｚ＠＋－．／\u00a0\u2013\u2014（）：，", max_size=60))
def test_fold_kernel_equals_the_python_folding(text: str) -> None:
    fast, pure = eng.default_engine(), _pure()
    folds = pure._automaton.scan(text)[1]
    assert fast._fold_kernel is not None
    folded = fast._fold_kernel(text, fast._fold_table)
    assert folded == eng._fold_py(text, folds) == eng.fold_text(text)
    assert len(folded) == len(text)


@lru_cache(maxsize=1)
def _pure() -> Engine:
    return Engine(Registry.default(), native=False)


def test_engine_without_the_kernel_when_asked() -> None:
    assert not Engine(Registry.default(), native=False).native
    if STRUCT is None:
        with pytest.raises(RuntimeError):
            Engine(Registry.default(), native=True)


def test_batch_equals_one_call_per_text() -> None:
    corpus = _corpus()[:600]
    assert [_tuples(fs) for fs in detect_batch(corpus, ner=False)] == [
        _tuples(detect(t, ner=False)) for t in corpus
    ]


def test_utf16_and_utf32_dictionary_passes_agree() -> None:
    """Texts within the BMP are scanned as UTF-16, others (emoji) as UTF-32: same word hits."""
    auto = eng.default_engine()._automaton
    for text in _corpus()[:400]:
        if text.isascii():
            continue
        hits, folds = auto.scan(text)
        hits32, folds32 = auto.scan(text + "\U0001f600")  # one character beyond the BMP: UTF-32
        assert (hits, folds) == (hits32, folds32)
    text = "地址：北京市朝阳区建国路88号😀手机１３８１２３４５６７８"
    assert _tuples(detect(text, ner=False)) == [(3, 15, "address", 0.95), (18, 29, "phone_mobile", 1.0)]


@needs_struct
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "手机13812345678",
                "１３８１２３４５６７８",
                "电话010-12345678转99",
                "\U0001f600",
                "\ud83d",
                "\u3000",
                "\x00",
                "\n",
                "身份证11010519491231002X",
                "京A12345",
                "fe80::1",
                "a@b.cn",
                "＋86 139 1234 5678",
                "北京市朝阳区建国路88号",
                "收件人：王芳",
                "2024-01-01 12:30:00",
            ]
        ),
        max_size=8,
    ).map("".join)
)
def test_compiled_and_python_engines_agree_on_odd_text(text: str) -> None:
    """Emoji and lone surrogates (UTF-32 and UTF-16 passes), NUL, ideographic spaces, full-width."""
    assert eng.default_engine().detect(text, ner=False) == _pure().detect(text, ner=False)


GATE = _native.load("anchorgate")
needs_gate = pytest.mark.skipif(
    GATE is None or STRUCT is None, reason="anchorgate kernel not built here, or PIGUARD_PURE_PYTHON=1"
)


def test_gate_table_follows_the_recognisers_character_classes() -> None:
    from array import array

    from piguard.discovery import recognizers as rec

    table = array("H", rec.gate_table())
    single, compound = rec.surnames()
    firsts = {w[0] for w in compound}
    mark_words = rec._ADDR_MARK_PY.pattern.rsplit(")", 1)[1].split("|")[
        1:
    ]  # the words after the numbered group
    assert set(mark_words) == {
        "村",
        "镇",
        "小区",
        "大厦",
        "公寓",
        "花园",
        "苑",
        "路",
        "街道",
        "街",
        "巷",
        "胡同",
        "大道",
    }
    assert set(rec._ADDR_ALONE) == {w[0] for w in mark_words if w[0] not in rec._ADDR_PAIR_FIRST}
    assert set(rec._ADDR_PAIR_FIRST) == {w[0] for w in mark_words if len(w) == 2 and w[0] not in "街"}
    for code in range(0x10000):
        c, b = chr(code), table[code]
        assert bool(b & rec._G_BODY) == bool(rec._ADDR_BODY.fullmatch(c)), hex(code)
        assert bool(b & rec._G_MARK) == bool(rec._ADDR_MARK_CHAR.fullmatch(c)), hex(code)
        assert bool(b & rec._G_NAME_SKIP) == (c in rec._NAME_SKIP), hex(code)
        assert bool(b & rec._G_LATIN) == (c in rec.ASCII_LETTERS), hex(code)
        assert bool(b & rec._G_SINGLE) == (c in single), hex(code)
        assert bool(b & rec._G_COMPOUND_FIRST) == (c in firsts), hex(code)
        assert bool(b & rec._G_GIVEN) == (rec._is_cjk(c) and c not in rec._NAME_STOP), hex(code)
        # a numbered word's first character (单 of 单元): matched after a number
        numbered = any((m := rec._ADDR_MARK.match(p + c + "元")) and m.end() > 1 for p in ("1", "一", "A"))
        assert bool(b & rec._G_NUMBERED) == numbered, hex(code)


@needs_gate
def test_gate_bad_input() -> None:
    from piguard.discovery import recognizers as rec

    assert GATE is not None
    table = rec.gate_table()
    assert GATE.gate([], b"", "", table) == []
    with pytest.raises(ValueError):
        GATE.gate([], b"", "", bytes(0x10000))  # bytes, not 16-bit words
    with pytest.raises(TypeError):
        GATE.gate([(0, 1)], b"\x01", "ab", table)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        GATE.gate([(0, 1, 5)], b"\x01", "ab", table)  # no such word
    with pytest.raises(ValueError):
        GATE.gate([(0, 9, 0)], b"\x01", "ab", table)  # beyond the text
    with pytest.raises(TypeError):
        GATE.gate([(0, 1, 0)], b"\x01", b"ab", table)  # type: ignore[arg-type]


# names and addresses with their triggers, separators, surnames, division names and address
# characters next to other text (the gate's tests read the characters right after the trigger)
_GATE_PARTS = [
    "收件人",
    "姓名",
    "联系人",
    "：",
    ":",
    " ",
    "是",
    '"',
    "王",
    "欧阳",
    "芳",
    "小明",
    "先生",
    "您好",
    "Name: ",
    "John",
    "北京市",
    "朝阳区",
    "广东省",
    "深圳市",
    "地址",
    "建国路",
    "88号",
    "3单元",
    "501室",
    "小区",
    "小",
    "区",
    "大",
    "厦",
    "公",
    "花园",
    "胡同",
    "5",
    "十",
    "A",
    "号",
    "楼",
    "单元",
    "村",
    "司马",
    "#",
    "（",
    "，",
    "\U0001f600",
    "\U00020000",
    "\n",
    "的",
    "今天",
]


@needs_gate
@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_GATE_PARTS), max_size=12).map("".join))
def test_gated_and_ungated_engines_agree(text: str) -> None:
    fast = eng.default_engine()
    assert fast._gate is not None
    assert fast.detect(text, ner=False) == _pure().detect(text, ner=False)


@needs_gate
def test_gate_drops_only_hits_their_recogniser_rejects() -> None:
    """Each trigger hit the gate drops gives nothing when handed to its recogniser anyway."""
    fast = eng.default_engine()
    assert fast._gate is not None
    plan = fast._plan(None)
    dropped = 0
    for text in _corpus()[:1500]:
        hits, _ = fast._automaton.scan(text)
        kept = set(fast._gate(hits, plan["gate"], text, fast._gate_table))
        for start, end, wid in hits:
            if (start, end, wid) in kept or not plan["trig"][wid]:
                continue
            dropped += 1
            scan = eng.Scan(fast, text, hits)
            for i in plan["trig"][wid]:
                call = plan["call"][i]
                assert call is not None
                assert list(call[0](scan, end, start, fast._words[wid])) == [], (text, start, end)
    assert dropped > 100  # the corpus has division names and name triggers with no name after them


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 -:/Xx+.", min_size=5, max_size=6))
def test_clusters_shorter_than_every_number_are_skipped_safely(cluster: str) -> None:
    """Engine.raw skips a cluster with fewer characters than any number recogniser's digits (and
    no dot): handed to _cluster anyway, such a cluster gives nothing."""
    engine = eng.default_engine()
    plan = engine._plan(None)
    assert plan["shortest"] == 7 and len(cluster) < plan["shortest"]
    text = f"号码{cluster}。"
    scan = eng.Scan(engine, text, engine._automaton.scan(text)[0])
    out: list[tuple[int, int, str, float]] = []
    engine._cluster(scan, 2, cluster, plan["by_len"], [] if "." not in cluster else plan["dotted"], out)
    if "." not in cluster:
        assert out == []
    assert engine._plan(frozenset({"email"}))["shortest"] == 1 << 30


FINDINGS = _native.load("findings")
needs_findings = pytest.mark.skipif(
    FINDINGS is None, reason="findings kernel not built here, or PIGUARD_PURE_PYTHON=1"
)


def _split_both(found, texts, lo, hi):  # type: ignore[no-untyped-def]
    offsets = [0, *(k + i for i, k in enumerate(accumulate(map(len, texts)), start=1))]
    outs = []
    for fn in (eng._split_py, FINDINGS.split):
        out: list[list[eng.Finding]] = [[] for _ in texts]
        fn(list(found), offsets, lo, hi, offsets[lo], out, eng.Finding, eng._conf, {})
        outs.append(out)
    return outs


@needs_findings
def test_findings_kernel_equals_the_python_split_on_real_batches() -> None:
    corpus = _corpus()
    engine = eng.default_engine()
    plan = engine._plan(None)
    made = []
    for lo, hi in ((0, len(corpus)), (5, 400), (399, 400)):
        offsets = [0, *(k + i for i, k in enumerate(accumulate(map(len, corpus)), start=1))]
        found = engine.raw("\n".join(corpus[lo:hi]), plan, 0.5, (offsets, lo + 1, hi, offsets[lo]))
        py, c = _split_both(found, corpus, lo, hi)
        assert py == c
        assert [[type(f.confidence) for f in fs] for fs in py] == [
            [type(f.confidence) for f in fs] for fs in c
        ]
        made += [f for fs in c for f in fs]
    assert len(made) > 300
    # the kernel's Findings are real, frozen Findings
    f = made[0]
    assert type(f) is eng.Finding and f == eng.Finding(f.start, f.end, f.category, f.confidence)
    with pytest.raises(AttributeError):
        f.start = 0  # type: ignore[misc]


_confs = st.one_of(
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.0, 1.0000001, 0.9995, 0.1235, 0.45, 1e-300]),
    st.integers(-2, 2),
)


@needs_findings
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab\n", max_size=6), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 8), st.sampled_from(["qq", "name"]), _confs)),
)
def test_findings_kernel_equals_the_python_split(texts: list[str], spans) -> None:  # type: ignore[no-untyped-def]
    texts = [t.replace("\n", "") for t in texts]
    total = sum(map(len, texts)) + len(texts) - 1
    found = sorted((min(s, total), min(s, total) + n, c, x) for s, n, c, x in spans)
    py, c = _split_both(found, texts, 0, len(texts))
    assert py == c
    flat = [(f.start, f.end, f.category, f.confidence) for fs in c for f in fs]
    assert [type(x[3]) for x in flat] == [type(f.confidence) for fs in py for f in fs]
    assert [repr(x[3]) for x in flat] == [repr(f.confidence) for fs in py for f in fs]


@needs_findings
def test_findings_kernel_bad_input() -> None:
    out: list[list[eng.Finding]] = [[], []]
    offsets = [0, 3, 6]
    args = (offsets, 0, 2, 0, out, eng.Finding, eng._conf, {})
    with pytest.raises(TypeError):
        FINDINGS.split([(0, 1, "qq")], *args)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        FINDINGS.split([("0", 1, "qq", 1.0)], *args)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        FINDINGS.split("not a list", *args)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FINDINGS.split([], offsets, 0, 3, 0, out, eng.Finding, eng._conf, {})
    with pytest.raises(ValueError):
        FINDINGS.split([], offsets, -1, 2, 0, out, eng.Finding, eng._conf, {})
    with pytest.raises(TypeError):
        FINDINGS.split([(0, 1, "qq", 1.0)], offsets, 0, 2, 0, [None, None], eng.Finding, eng._conf, {})  # type: ignore[list-item]
    with pytest.raises(ZeroDivisionError):  # an error in the rounding function comes through
        FINDINGS.split([(0, 1, "qq", 0.5)], offsets, 0, 2, 0, out, eng.Finding, lambda x: 1 / 0, {})
    FINDINGS.split([(0, 1, "qq", 0.5), (2, 4, "qq", 0.5), (4, 5, "qq", 2.0)], *args)
    assert out == [[eng.Finding(0, 1, "qq", 0.5)], [eng.Finding(1, 2, "qq", 1.0)]]


NUMSCAN = _native.load("numscan")
needs_numscan = pytest.mark.skipif(
    NUMSCAN is None or STRUCT is None, reason="numscan kernel not built here, or PIGUARD_PURE_PYTHON=1"
)


def _cands_both(text: str, categories: frozenset[str] | None = None):  # type: ignore[no-untyped-def]
    """The structural candidates of ``text`` from the compiled loop and from _spans_py."""
    engine = eng.default_engine()
    assert engine._numscan is not None
    plan = engine._plan(categories)
    hits, _ = engine._automaton.scan(text)
    folded = engine._fold_kernel(text, engine._fold_table) if engine._fold_kernel else eng.fold_text(text)
    spans = engine._struct(folded)
    out = []
    for fn in (engine._spans_native, engine._spans_py):
        scan = eng.Scan(engine, text, hits, folded)
        cands: list[tuple[int, int, str, float]] = []
        fn(scan, spans, plan, cands)
        out.append(cands)
    return out


# the shapes the kernel's first checks look at: prefixes, check digits, parentheses and capitals
# before a number, newlines where "$" also matches, spaced and dashed groups, dots, X, full width
_NUM_PARTS = [
    "13812345678",
    "+86 138 1234 5678",
    "0086-138-1234-5678",
    "8613812345678",
    "+13812345678",
    "12345678901",
    "110105194912310021",
    "11010519491231002X",
    "11010519491231002x",
    "110105491231002",
    "110105491331002",
    "110105491200002",
    "6222021234567890128",
    "6222 0212 3456 7890 128",
    "4111111111111111",
    "4111111111111112",
    "378282246310005",
    "010-12345678",
    "010-12345678-8898",
    "(010)",
    "（0755）",
    "(010)\n",
    "(010) ",
    "(010)-",
    "12345678",
    "1234567",
    "E",
    "G",
    "EA",
    "DE",
    "P",
    "E\n",
    "192.168.1.10",
    "1.2.3.4:8080/24",
    "116.397128,39.916527",
    "-39.9165",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.4.5",
    "1.2.3",
    "1.2.3.4:123456",
    "1.2.3.4/123",
    "1.2.3.4:80/8",
    "1234.5678",
    "1.23",
    "12.3456",
    "--12.3456",
    "v",
    ".",
    "2024-01-01 12:30:00",
    "2024/01/01",
    "12:30:45",
    "1234/5678/9012",
    "１３８１２３４５６７８",
    "１３８：１２３４：５６７８",
    "0755：12345678",
    "@",
    "a@b.cn",
    "fe80::1",
    "京A12345",
    " ",
    "-",
    "--",
    "\n",
    "x",
    "X",
    "手机",
    "卡号",
    "身份证",
    "订单号",
    "0",
    "9",
    "86",
    "0086",
]


@needs_numscan
@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_NUM_PARTS), max_size=10).map("".join))
def test_numscan_kernel_equals_the_python_loop(text: str) -> None:
    native, py = _cands_both(text)
    assert native == py
    assert eng.default_engine().detect(text, ner=False) == _pure().detect(text, ner=False)


@needs_numscan
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 -.:/Xx+()（）EGDSPA\n@京", max_size=40))
def test_numscan_kernel_equals_the_python_loop_on_any_digits(text: str) -> None:
    assert _cands_both(text)[0] == _cands_both(text)[1]
    for cats in (frozenset({"phone_mobile"}), frozenset({"bank_card", "ip_address"})):
        native, py = _cands_both(text, cats)
        assert native == py


@needs_numscan
def test_numscan_kernel_equals_the_python_loop_on_the_corpus() -> None:
    corpus = _corpus()
    joined = "\n".join(corpus)
    native, py = _cands_both(joined)
    assert native == py
    assert len(native) > 400
    for text in corpus[:500]:
        assert _cands_both(text)[0] == _cands_both(text)[1]


@needs_numscan
@pytest.mark.parametrize(
    "text",
    [
        "(010)\n12345678",  # _LANDLINE_PAREN's "$" matches before a final newline
        "（0755） 1234567",
        "E\n1234567",  # so does _PASSPORT's
        "E12345678 G12345678 DE1234567 PE1234567 A1234567",
        "+8613812345678 +13812345678 008613812345678",
        "11010519491231002X 110105194912310021 110105491231002",
        "6222021234567890128 4111 1111 1111 1111 378282246310005 卡号378282246310005",
        "1 -2.345678 0.9123,0.8812 39.9165, 116.3971",
        "1" * 40 + " " + "2" * 30,
        "１３８：１２３４：５６７８ 0755：12345678",  # a full-width colon: the cluster goes to _cluster whole
    ],
)
def test_numscan_kernel_edges(text: str) -> None:
    native, py = _cands_both(text)
    assert native == py
    assert eng.default_engine().detect(text, ner=False) == _pure().detect(text, ner=False)


def test_mobile_check_only_where_the_pattern_allows_it() -> None:
    assert eng._starts_with_1(r"1(?:610\d|740[0-5])\d{6}|1(?:[38]\d|4[57])\d{8}")
    assert eng._starts_with_1(r"1[3-9]\d{9}")
    assert not eng._starts_with_1(r"1(?:3\d)\d{8}|(?:1|2)\d{10}")
    assert not eng._starts_with_1(r"1?\d{10}")
    assert not eng._starts_with_1(r"[1-9]\d{10}")
    assert not eng._starts_with_1(r"1(?:3\d\d{8}")
    assert not eng._starts_with_1(r"1[3|9\d{9}")
    assert eng._starts_with_1(r"1[3|9]\d{9}")  # a "|" inside a class splits nothing


@needs_numscan
def test_numscan_kernel_bad_input() -> None:
    engine = eng.default_engine()
    plan = engine._plan(None)
    text = "手机13812345678"
    scan = eng.Scan(engine, text, engine._automaton.scan(text)[0])
    assert NUMSCAN is not None

    def run(spans, numtab=None, dotted=None, folded=text, cands=None):  # type: ignore[no-untyped-def]
        out: list[tuple[int, int, str, float]] = [] if cands is None else cands
        NUMSCAN.run(
            scan,
            folded,
            spans,
            plan["at"],
            plan["colon"],
            plan["plate"],
            eng._PLATE_HEADS,
            plan["shortest"],
            plan["numtab"] if numtab is None else numtab,
            plan["dotted_tab"] if dotted is None else dotted,
            scan.score,
            engine._run_anchor,
            lambda *a: None,
            eng._DATETIME.fullmatch,
            out,
        )
        return out

    assert run([2, 13]) == [(2, 13, "phone_mobile", 1.0)]
    assert run([]) == []
    for spans in ([2], [2, 99], [-1, 3], [13, 13], [5, 2]):
        with pytest.raises(ValueError):
            run(spans)
    with pytest.raises(TypeError):
        run(["2", 13])
    with pytest.raises(TypeError):
        run([2, 13], numtab=[()] * 11 + [((2,),)])  # an entry that is no 4-tuple
    with pytest.raises(TypeError):
        run([2, 13], numtab=[()] * 11 + [[]])  # not a tuple
    with pytest.raises(TypeError):
        run([2, 13], folded=b"13812345678")

    def boom(*a):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):  # a recogniser's error comes through
        run([2, 13], numtab=[()] * 11 + [((0, boom, None, "x"),)])
    # a recogniser that answers something falsy finds nothing; its candidate is scored
    assert run([2, 13], numtab=[()] * 11 + [((0, lambda *a: (), None, "x"),)]) == []


def _anchor_cands_both(text: str):  # type: ignore[no-untyped-def]
    engine = eng.default_engine()
    plan = engine._plan(None)
    hits, _ = engine._automaton.scan(text)
    assert engine._gate is not None
    anchors = sorted(engine._gate(hits, plan["gate"], text, engine._gate_table))
    out = []
    for fn, calls in ((engine._anchors, plan["call_c"]), (eng._anchors_py, plan["call"])):
        scan = eng.Scan(engine, text, hits, eng.fold_text(text))
        scan._words_of = plan["words_of"]
        cands: list[tuple[int, int, str, float]] = []
        fn(anchors, plan["trig"], calls, engine._words, scan, cands)
        out.append(cands)
    return out


@needs_numscan
def test_anchor_kernel_checks_column_headers_as_their_recogniser_does() -> None:
    """The kernel calls a column header's recogniser only where the word has cell edges on both
    sides: the calls it leaves out are the ones the recogniser itself refuses first."""
    from piguard.discovery import recognizers as rec

    engine = eng.default_engine()
    plan = engine._plan(None)
    headers = [r for r in engine.recognizers if type(r) is rec.HeaderColumnRecognizer]
    assert headers and all(len(plan["call_c"][engine.index[id(r)]]) == 3 for r in headers)
    texts = [
        "姓名,手机,密码\n王芳,13812345678,abc123\n李雷,13912345678,x9\n",
        "name|username|pwd\nXie Yang|xieyang|s3cret\n",
        "x姓名,手机\n王芳,13812345678\n",
        '"姓名";"生日"\r\n"王芳";"1990-01-02"\n',
        "用户名 密码\nadmin 123456",
        "姓名",
        "姓名\n",
        "的姓名是王芳",
    ]
    # every header word of these recognisers, with each delimiter and with a letter or a CJK
    # character pressed against either side
    words = sorted({w for r in headers for w in r.keywords()})
    shapes = [
        f"{a}{w}{b}{d}手机\n王芳{d}13812345678\n"
        for w in words
        for d in (",", "\t", "|", ";", "，")
        for a, b in (("", ""), ("x", ""), ("", "x"), ("的", ""), ('"', '"'), (" ", " "))
    ]
    assert len(shapes) > 300
    for text in texts + shapes:
        native, py = _anchor_cands_both(text)
        assert native == py, text
    assert any(c[2] == "password" for t in texts[:2] for c in _anchor_cands_both(t)[0])
    # a call left out is one the recogniser answers with nothing
    for text in texts:
        scan = eng.Scan(engine, text, engine._automaton.scan(text)[0], eng.fold_text(text))
        for s, e, wid in scan.hits:
            for k in plan["trig"][wid]:
                r = engine.recognizers[k]
                if type(r) is rec.HeaderColumnRecognizer:
                    edge = rec._CELL_EDGE
                    if (e < len(text) and text[e] not in edge) or (s and text[s - 1] not in edge):
                        assert list(r.on_anchor(scan, e, s, engine._words[wid])) == []


@needs_numscan
def test_anchor_kernel_equals_the_python_loop_on_the_corpus() -> None:
    assert eng.default_engine()._anchors is not eng._anchors_py
    corpus = _corpus()
    native, py = _anchor_cands_both("\n".join(corpus))
    assert native == py and len(native) > 300
    for text in corpus[:300]:
        assert _anchor_cands_both(text)[0] == _anchor_cands_both(text)[1]


@needs_numscan
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([*_GATE_PARTS, "密码：", "QQ号 12345678", "出生日期：1990-01-02"]), max_size=12
    ).map("".join)
)
def test_anchor_kernel_equals_the_python_loop(text: str) -> None:
    native, py = _anchor_cands_both(text)
    assert native == py


@needs_numscan
def test_anchor_kernel_bad_input() -> None:
    assert NUMSCAN is not None
    out: list[tuple[int, int, str, float]] = []

    def rec(*items):  # type: ignore[no-untyped-def]
        return [(lambda *a: items, "qq")]

    NUMSCAN.anchors([(0, 1, 0)], [(0,)], rec((0, 1, 0.5), [2, 3, 0.6]), ["w"], None, out)
    assert out == [(0, 1, "qq", 0.5), (2, 3, "qq", 0.6)]
    with pytest.raises(ValueError):
        NUMSCAN.anchors([(0, 1, 0)], [(0,)], rec((0, 1)), ["w"], None, [])
    with pytest.raises(TypeError):
        NUMSCAN.anchors([(0, 1, 0)], [(0,)], rec(5), ["w"], None, [])
    with pytest.raises(TypeError):
        NUMSCAN.anchors([(0, 1, 0)], [(0,)], [(lambda *a: 5, "qq")], ["w"], None, [])
    with pytest.raises(IndexError):
        NUMSCAN.anchors([(0, 1, 3)], [(0,)], rec(), ["w"], None, [])
    with pytest.raises(IndexError):
        NUMSCAN.anchors([(0, 1, 0)], [(4,)], rec(), ["w"], None, [])
    with pytest.raises(TypeError):
        NUMSCAN.anchors([(0, 1)], [(0,)], rec(), ["w"], None, [])
    with pytest.raises(TypeError):
        NUMSCAN.anchors([(0, 1, 0)], [[0]], rec(), ["w"], None, [])
    with pytest.raises(TypeError):
        NUMSCAN.anchors([(0, 1, 0)], [(0,)], ["not a call"], ["w"], None, [])

    def boom(*a):  # type: ignore[no-untyped-def]
        yield (0, 1, 0.5)
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        NUMSCAN.anchors([(0, 1, 0)], [(0,)], [(boom, "qq")], ["w"], None, [])
    NUMSCAN.anchors([(0, 1, 0)], [(0,)], [None], ["w"], None, out)  # a post recogniser: no call
    with pytest.raises(TypeError):  # edges must be a str
        NUMSCAN.anchors([(0, 1, 0)], [(0,)], [(lambda *a: (), "name", 5)], ["w"], None, [])
    with pytest.raises(AttributeError):  # a column header needs the scan's text
        NUMSCAN.anchors([(0, 1, 0)], [(0,)], [(lambda *a: (), "name", ",")], ["w"], None, [])

    class Scan:
        text = "w,x"

    got: list[object] = []
    called: list[object] = []

    def header(*a):  # type: ignore[no-untyped-def]
        called.append(a[1:3])
        return [(0, 1, 0.5)]

    hits = [(0, 1, 0), (2, 3, 0), (1, 2, 0), (5, 9, 0)]
    NUMSCAN.anchors(hits, [(0,)], [(header, "name", ",")], ["w"], Scan(), got)
    assert called == [(1, 0), (3, 2), (9, 5)]  # "," after w, "," before x, a hit outside the text
    assert len(out) == 2


DICTSCAN = _native.load("dictscan")
needs_dictscan = pytest.mark.skipif(
    DICTSCAN is None or STRUCT is None, reason="dictscan kernel not built here, or PIGUARD_PURE_PYTHON=1"
)


@lru_cache(maxsize=1)
def _hyperscan_pass() -> eng._Dictionary:
    """The dictionary pass the compiled one replaces: Hyperscan over the same words."""
    return eng._Dictionary(list(eng.default_engine()._words))


@needs_dictscan
def test_dictscan_kernel_is_the_native_engines_dictionary_pass() -> None:
    assert eng.default_engine()._automaton.backend.startswith("compiled Aho-Corasick")
    assert _pure()._automaton.backend != eng.default_engine()._automaton.backend


@needs_dictscan
def test_dictscan_kernel_equals_the_hyperscan_pass_on_the_corpus() -> None:
    fast, slow = eng.default_engine()._automaton, _hyperscan_pass()
    corpus = _corpus()
    for text in corpus:
        assert fast.scan(text) == slow.scan(text)
    joined = "\n".join(corpus)
    hits, folds = fast.scan(joined)
    assert (hits, folds) == slow.scan(joined)
    assert len(hits) > 1000 and folds == []
    assert hits == sorted(hits, key=lambda h: (h[1], h[0]))


_DICT_ALPHABET = "北京市朝阳区海淀路街道号楼手机电话身份证姓名收件人地址您好王李张陈欧阳QQqq微信@:： \n\x00\U0001f600\ud83d\u3000１２"


@needs_dictscan
@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_DICT_ALPHABET, max_size=60))
def test_dictscan_kernel_equals_the_hyperscan_pass(text: str) -> None:
    """Overlapping words, words inside words, emoji (UTF-32) and lone surrogates, NUL, ASCII."""
    assert eng.default_engine()._automaton.scan(text) == _hyperscan_pass().scan(text)


@needs_dictscan
def test_dictscan_kernel_on_small_dictionaries() -> None:
    assert DICTSCAN is not None
    a = DICTSCAN.build(["he", "she", "his", "hers", "北京", "北京市", "京市"])
    assert DICTSCAN.scan(a, "ushers") == [(1, 4, 1), (2, 4, 0), (2, 6, 3)]
    assert DICTSCAN.scan(a, "北京市😀北京") == [(0, 2, 4), (0, 3, 5), (1, 3, 6), (4, 6, 4)]
    assert DICTSCAN.scan(a, "") == []
    assert DICTSCAN.scan(DICTSCAN.build([]), "she") == []
    with pytest.raises(ValueError):
        DICTSCAN.build(["ok", "\U0001f600"])
    with pytest.raises(ValueError):
        DICTSCAN.build([""])
    with pytest.raises(TypeError):
        DICTSCAN.build(["ok", 1])
    with pytest.raises(TypeError):
        DICTSCAN.build(("ok",))
    with pytest.raises(TypeError):
        DICTSCAN.scan(a, b"she")
    with pytest.raises(ValueError):
        DICTSCAN.scan("not an automaton", "she")


_V6_PIECES = [
    "0",
    "1",
    "a",
    "F",
    "ff",
    "2001",
    "db8",
    "12345",
    "g",
    "١",
    ":",
    "::",
    ":::",
    ".",
    "1.2.3.4",
    "%",
    "/",
]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_V6_PIECES), max_size=16).map("".join))
def test_ipv6_shortcut_refuses_only_what_the_parser_refuses(s: str) -> None:
    """ipv6_ok (the colon count, then the group check) accepts what the standard parser does."""
    from piguard.discovery import validators

    assert validators.ipv6_ok(s) == validators.ipv6_parses(s)


def test_ipv6_shortcut_on_known_shapes() -> None:
    from piguard.discovery import validators

    for s in (
        "1:2:3:4:5:6:7:8",
        "::1",
        "fe80::1",
        "1:2:3:4:5:6:1.2.3.4",
        "::ffff:1.2.3.4",
        "1::",
        "::",
        "fe80::1%eth0",
    ):
        assert validators.ipv6_ok(s) and validators.ipv6_parses(s), s
    for s in (
        "12:30:00",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:1.2.3.4",
        ":::",
        "1::2::3",
        ":1::2",
        "1::2:",
        "1:2:3:4::5:6:7:8",
        "12345::1",
        "g::1",
    ):
        assert not validators.ipv6_ok(s) and not validators.ipv6_parses(s), s


CTXSCORE = _native.load("ctxscore")
needs_ctxscore = pytest.mark.skipif(
    CTXSCORE is None or NUMSCAN is None, reason="ctxscore kernel not built here, or PIGUARD_PURE_PYTHON=1"
)


def _scored_calls(text: str) -> tuple[eng.Scan, list[tuple[object, int, int, float]]]:
    """The (recogniser, start, end, confidence) calls the candidate loop makes to Scan.score."""
    engine = eng.default_engine()
    plan = engine._plan(None)
    scan = eng.Scan(
        engine, text, engine._automaton.scan(text)[0], engine._fold_kernel(text, engine._fold_table)
    )
    calls: list[tuple[object, int, int, float]] = []

    def record(rec: object, s: int, e: int, c: float) -> float:
        calls.append((rec, s, e, c))
        return scan.score(rec, s, e, c)  # type: ignore[arg-type]

    cands: list[tuple[int, int, str, float]] = []
    assert engine._numscan is not None
    engine._numscan(
        scan,
        scan.folded,
        engine._struct(scan.folded),
        plan["at"],
        plan["colon"],
        plan["plate"],
        eng._PLATE_HEADS,
        plan["shortest"],
        plan["numtab"],
        plan["dotted_tab"],
        record,
        engine._run_anchor,
        lambda sc, start, raw: engine._cluster(sc, start, raw, plan["by_len"], plan["dotted"], cands),
        eng._DATETIME.fullmatch,
        cands,
    )
    return scan, calls


def _compiled_score(scan: eng.Scan) -> object:
    engine = scan.engine
    assert CTXSCORE is not None
    return partial(
        CTXSCORE.score,
        scan.hits,
        scan.ends,
        engine._ctx_of,
        engine._neg_of,
        engine.window,
        engine._score_params,
        scan.score,
    )


@needs_ctxscore
def test_ctxscore_kernel_equals_scan_score_on_the_corpus() -> None:
    scan, calls = _scored_calls("\n".join(_corpus()))
    assert len(calls) > 300
    score = _compiled_score(scan)
    got = [score(*c) for c in calls]  # type: ignore[operator]
    assert got == [scan.score(*c) for c in calls]  # type: ignore[arg-type]
    assert len(set(got)) > 3  # raised, lowered and kept scores alike
    # every recogniser at every position of a short text, with every confidence shape
    text = "订单号13812345678 手机 13912345678 快递单号 6222021234567890128 电话"
    scan, _ = _scored_calls(text)
    score = _compiled_score(scan)
    for rec in eng.default_engine().recognizers:
        for s in range(0, len(text) + 1, 3):
            for conf in (0.5, 0.95, 1.0):
                assert score(rec, s, s + 5, conf) == scan.score(rec, s, s + 5, conf)  # type: ignore[operator]


@needs_ctxscore
def test_ctxscore_kernel_falls_back_and_refuses_bad_input() -> None:
    scan, _ = _scored_calls("手机13812345678")
    score = _compiled_score(scan)
    rec = eng.default_engine().recognizers[0]
    assert score(rec, 2, 13, 1) == scan.score(rec, 2, 13, 1)  # an int confidence: the Python original
    assert type(score(rec, 2, 13, 1)) is type(scan.score(rec, 2, 13, 1))  # type: ignore[operator]
    assert CTXSCORE is not None
    with pytest.raises(TypeError):
        CTXSCORE.score([], [], [], [], 20, {}, scan.score, rec, 0, 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        CTXSCORE.score((), [], [], [], 20, {}, scan.score, rec, 0, 1, 0.5)  # type: ignore[arg-type]
    params = {rec: (rec.category, False, 0.15, 0.4)}
    assert CTXSCORE.score([], [], [], [], 20, params, scan.score, rec, 0, 1, 0.5) == 0.5
    with pytest.raises(TypeError):
        CTXSCORE.score([(0, 1)], [1], [frozenset()], [frozenset()], 20, params, scan.score, rec, 5, 6, 0.5)
    with pytest.raises(IndexError):
        CTXSCORE.score([(0, 1, 9)], [1], [frozenset()], [frozenset()], 20, params, scan.score, rec, 5, 6, 0.5)


# the regular expressions rewritten to open with one character class, against their originals
_REWRITTEN = ("_V6", "_ADDR_MARK", "_TIMESTAMP")
_REGEX_ALPHABET = (
    "0123456789abcdefABCDEFxyzIPipv6:.:: \n-/T+Z年月日号楼院栋幢单元室层弄组村镇小区大厦道公寓花园苑路街巷胡同"
    "一二三十百零０１٣"
)


def _all_matches(pattern: object, text: str, a: int, b: int) -> list[object]:
    p = pattern  # a compiled pattern: finditer, then search and match at every position
    out: list[object] = [m.span() for m in p.finditer(text, a, b)]  # type: ignore[attr-defined]
    for i in range(a, b + 1):
        m, s = p.match(text, i, b), p.search(text, i, b)  # type: ignore[attr-defined]
        out.append((m and m.span(), s and s.span()))
    return out


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=_REGEX_ALPHABET, max_size=40), st.integers(0, 40), st.integers(0, 40))
def test_rewritten_patterns_match_as_their_originals(text: str, a: int, b: int) -> None:
    from piguard.discovery import recognizers as rec

    a, b = min(a, len(text)), min(max(a, b), len(text))
    for name in _REWRITTEN:
        fast, orig = getattr(rec, name), getattr(rec, name + "_PY")
        assert _all_matches(fast, text, 0, len(text)) == _all_matches(orig, text, 0, len(text)), name
        assert _all_matches(fast, text, a, b) == _all_matches(orig, text, a, b), name


def test_rewritten_patterns_match_as_their_originals_on_the_corpus() -> None:
    from piguard.discovery import recognizers as rec

    joined = "\n".join(_corpus())
    for name in _REWRITTEN:
        fast, orig = getattr(rec, name), getattr(rec, name + "_PY")
        got = [m.span() for m in fast.finditer(joined)]
        assert got == [m.span() for m in orig.finditer(joined)], name
        assert len(got) > 20, name
    for text in (
        "IP:2001:db8::1",
        "ip::1",
        "v6::ffff:1.2.3.4",
        "x::1",
        "a.::1",
        "2024-01-01 12:30:00Z",
        "12024-01-01 12:30",
        "２０２４年1月2日8:30",
        "朝阳区1号楼3单元",
        "A12号",
        "三十号",
        "大道小区街道",
    ):
        for name in _REWRITTEN:
            fast, orig = getattr(rec, name), getattr(rec, name + "_PY")
            assert _all_matches(fast, text, 0, len(text)) == _all_matches(orig, text, 0, len(text)), (
                name,
                text,
            )
