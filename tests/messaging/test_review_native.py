"""The content review's compiled kernels (piguard._native.sms_review) give what their Python
originals give, piece by piece and as whole reviews, and the review's outcomes on the shared
corpora stay the recorded ones (a speed-up must not move a decision or a reason)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piguard import _native
from piguard.messaging.review import ReviewContext, Reviewer, load_rules
from piguard.messaging.review import engine as engine_mod
from piguard.messaging.review import rules as rules_mod
from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH
from piguard.messaging.review.normalize import Normalizer
from piguard.messaging.review.pi import FALLBACK_CATEGORIES

KERNEL = _native.load("sms_review")
needs_kernel = pytest.mark.skipif(KERNEL is None, reason="piguard._native.sms_review not compiled here")
CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "sms"

#: what the review's outcomes on every message of the shared corpora (default context) hash to;
#: a change of the signals that is meant to change decisions updates it (bench/review_compare.py
#: against the previous revision shows what moved)
CORPUS_DIGEST = (
    "5b28d3130400f686"  # the fake-documents label read whole (an unquoted comma had cut it): same decisions
)

# the characters evasions and honest messages are made of: ASCII, CJK ideographs (variant and
# Chinese-digit characters among them), full-width forms, CJK and Western punctuation, separators,
# Greek/Cyrillic look-alikes, compatibility forms, emoji, a lone surrogate, zero-width characters
_ALPHABET = (
    "abcXYZ019 _-.*/|~+#^·•,，。！？【】：「」"
    "贷款秒批免息百家乐赌博场六合彩一二三四五六七八九零〇幺两壹贰叁肆伍陆柒捌玖貳參陸"
    "賭場銀號碼為點擊開戶領紅包"
    "ＡＢｃｄ０１２①②㈠ⅰﬁ"
    "аеорсΑΒοπ"
    "é\u0301ßİ\u200b\u00ad\ufeff😀\ud800한"
)
texts = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=60)

REPRESENTATIVE = [
    "【优品商城】会员专享：全场春装5折起，满299减50，限时3天，详询4008123456，戳 youpin.cn/a1 回T退订",
    "您的验证码是 482913，5分钟内有效，请勿泄露。",
    "【中国银行】尊敬的客户，您的积分已满8000，可兑换现金598元，请登录 bocxx.cn 办理，逾期清零",
    "我是公安局的民警，你涉嫌洗钱，请将资金转入安全账户，并提供验证码配合调查",
    "真人百家乐 六合 时时彩 足球投注，首充送100%，加微信 abc12345",
    "百.家.乐 d u c h a n g 贷*款*秒*批 dai款 免息",
    "Ｗｅｌｃｏｍｅ！Reply STOP to opt out. Win a FREE iPhone at pаypal-secure.com",
    "警惕电信诈骗：公安机关不会通过电话要求转账，谨防上当。",
    "出售公民身份证信息、银行卡资料，长期收购各类数据",
    "你好，我是你领导，明天来我办公室一趟，先帮我转两万到这个账户",
    "幺三八零零一三八零零零 收到请回复",
    "快递已到驿站，取件码 3-2-1108，联系电话 13800138000",
    "辦證 刻章 各類證件 假文憑",
]

CONTEXTS: list[ReviewContext | None] = [
    None,
    ReviewContext(
        content_provider="cp1",
        signatures=frozenset({"优品商城"}),
        pi_categories=FALLBACK_CATEGORIES,
        clearances=frozenset({"public_welfare", "official_short_code", "licensed_lottery"}),
    ),
]


def _outcome(reviewer: Reviewer, text: str, ctx: ReviewContext | None) -> str:
    r = reviewer.review(text, ctx)
    out: dict[str, Any] = r.to_dict(explain=True)
    out["decision"] = r.decision().to_dict()
    return json.dumps(out, ensure_ascii=False, sort_keys=True, default=str)


@pytest.fixture(scope="module")
def pure_reviewer() -> Reviewer:
    """A reviewer over rules compiled without the kernel (PIGUARD_PURE_PYTHON=1 while building)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PIGUARD_PURE_PYTHON", "1")
    try:
        rules = rules_mod._load.__wrapped__((), None)  # a fresh rule set, not the cached one
        reviewer = Reviewer(rules, cache_size=0)
    finally:
        mp.undo()
    assert rules._collect is rules_mod.collect and rules.normalizer._kernel is None
    return reviewer


@pytest.fixture(scope="module")
def native_reviewer() -> Reviewer:
    return Reviewer(load_rules(use_env=False), cache_size=0)


def _corpus_texts(step: int = 1) -> list[str]:
    out: list[str] = []
    for path in sorted(CORPORA.glob("*.tsv")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                _label, sep, text = line.rstrip("\n").partition("\t")
                if sep and text.strip():
                    out.append(text[:DEFAULT_MAX_LENGTH])
    return out[::step]


# ------------------------------------------------------------------------------- piece by piece
@needs_kernel
@settings(max_examples=1500, deadline=None)
@given(texts)
def test_normalize_kernel_equals_the_python_original(text: str) -> None:
    norm = load_rules(use_env=False).normalizer
    assert norm._kernel is not None
    assert norm.normalize(text) == norm.normalize_python(text)


@needs_kernel
@settings(max_examples=200, deadline=None)
@given(texts, st.dictionaries(st.sampled_from("賭場銀號ab 一"), st.sampled_from("赌场银号xy 1"), max_size=4))
def test_normalize_kernel_with_an_operators_variants(text: str, variants: dict[str, str]) -> None:
    norm = Normalizer(variants)
    assert norm.normalize(text) == norm.normalize_python(text)


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(texts)
def test_split_runs_are_the_first_three_of_the_pattern(text: str) -> None:
    assert KERNEL is not None
    assert KERNEL.split_runs(text) == engine_mod._SPLIT.findall(text)[:3]


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(texts.filter(lambda t: not re.search("[\ud800-\udfff]", t)), st.data())
def test_utf8_span_is_the_encoded_length(text: str, data: st.DataObject) -> None:
    assert KERNEL is not None
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    assert KERNEL.utf8_span(text, a, b) == (len(text[:a].encode()), len(text[:b].encode()))


@needs_kernel
def test_utf8_span_declines_a_surrogate() -> None:
    assert KERNEL is not None
    assert KERNEL.utf8_span("ab\ud800c", 0, 3) is None


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "institution",
                "lure",
                "action",
                "link_contact",
                "obfuscation",
                "gambling",
                "optout",
                "warning",
                "acquaintance",
                "pi_trade",
            ]
        ),
        st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0]),
        max_size=8,
    )
)
def test_verdict_score_kernel_equals_the_python_original(
    native_reviewer: Reviewer, cats: dict[str, float]
) -> None:
    assert KERNEL is not None
    for plan in native_reviewer._plans:
        assert KERNEL.verdict_score(plan, cats) == Reviewer._verdict_score(plan, cats)


@needs_kernel
def test_scan_loops_equal_the_python_originals(native_reviewer: Reviewer) -> None:
    assert KERNEL is not None
    rules = native_reviewer.rules
    pairs: list[tuple[Any, Any]] = [
        (KERNEL.collect, KERNEL.consolidate),
        (rules_mod.collect, rules_mod.consolidate),
    ]
    for text in [*REPRESENTATIVE, *_corpus_texts(step=11)]:
        s = rules.normalizer.normalize(text)
        subject, found, _reported = rules._matcher.match(s)
        got = []
        for collect, consolidate in pairs:
            raw: dict[int, list[tuple[int, int, float, str]]] = {}
            run: set[int] = set()
            exempt, lazy = collect(found, rules._values, subject, raw, run)
            n = len(rules.groups)
            scores = [0.0] * n
            hits: list[list[rules_mod.Hit]] = [[] for _ in range(n)]
            consolidate(raw, exempt, rules._group_names, scores, hits, rules_mod.Hit)
            got.append((list(raw), sorted(run), exempt, lazy, scores, hits))
        assert got[0] == got[1], text


@needs_kernel
def test_categories_kernel_equals_the_python_loop(native_reviewer: Reviewer) -> None:
    assert KERNEL is not None
    rules, signal = native_reviewer.rules, native_reviewer._signal
    for text in [*REPRESENTATIVE, *_corpus_texts(step=11)]:
        scan = rules.scan(rules.normalizer.normalize(text))
        want: dict[str, float] = {}
        for gi in scan.fired:
            sig = signal.get(gi)
            if sig is not None and scan.scores[gi] > 0:
                cat, cap = sig
                want[cat] = want.get(cat, 0.0) + min(scan.scores[gi], cap)
        got = KERNEL.categories(scan.fired, scan.scores, signal)
        assert list(got.items()) == list(want.items()), text


@needs_kernel
def test_signal_entries_kernel_equals_the_python_loop(native_reviewer: Reviewer) -> None:
    assert KERNEL is not None
    r = native_reviewer
    wanted = {c for static in r._finding_static.values() for c in static[7]}
    for text in [*REPRESENTATIVE, *_corpus_texts(step=11)]:
        scan = r.rules.scan(r.rules.normalizer.normalize(text))
        got = KERNEL.signal_entries(
            scan.fired, scan.scores, r._signal, r._signal_static, scan.hits, wanted, round
        )
        want = r._signal_entries_python(scan, wanted)
        assert json.dumps(got, ensure_ascii=False) == json.dumps(want, ensure_ascii=False), text


@needs_kernel
def test_signal_entries_remember_only_the_builtin_rounding(native_reviewer: Reviewer) -> None:
    """The kernel remembers round(weight, 3) per float value for the built-in ``round``; any other
    rounding function it is given is called every time."""
    assert KERNEL is not None
    r = native_reviewer
    wanted = {c for static in r._finding_static.values() for c in static[7]}
    for text in REPRESENTATIVE:
        scan = r.rules.scan(r.rules.normalizer.normalize(text))
        if KERNEL.signal_entries(
            scan.fired, scan.scores, r._signal, r._signal_static, scan.hits, wanted, round
        ):
            break
    else:
        pytest.skip("no representative text fires a signal")
    calls: list[float] = []

    def tenth(x: float, _digits: int) -> float:
        calls.append(x)
        return 0.1

    for _ in range(2):
        got = KERNEL.signal_entries(
            scan.fired, scan.scores, r._signal, r._signal_static, scan.hits, wanted, tenth
        )
        assert {e["weight"] for entries in got.values() for e in entries} == {0.1}
    assert len(calls) == 2 * sum(len(entries) for entries in got.values())
    again = KERNEL.signal_entries(
        scan.fired, scan.scores, r._signal, r._signal_static, scan.hits, wanted, round
    )
    assert again == r._signal_entries_python(scan, wanted)


@needs_kernel
def test_matches_handler_counts_and_hands_over_its_occurrences() -> None:
    assert KERNEL is not None
    h = KERNEL.Matches(2)
    assert len(h) == 0 and h.found == []
    for end in range(100):  # past the first allocation
        h(end % 2, 0, end, 0, None)
    h(5, 0, 3, 0, None)
    assert len(h) == 100
    assert h.found == [(end, end % 2) for end in range(100)]
    assert h.reported == {3}


@needs_kernel
@settings(max_examples=200, deadline=None)
@given(
    texts,
    st.lists(st.text(alphabet=st.sampled_from("你您的a b.*帮我转"), min_size=1, max_size=3), max_size=5),
)
def test_contains_any_is_the_alternation_search(text: str, terms: list[str]) -> None:
    assert KERNEL is not None
    rx = re.compile("|".join(map(re.escape, sorted(terms, key=len, reverse=True))))
    assert KERNEL.contains_any(text, tuple(terms)) == (bool(terms) and rx.search(text) is not None)


@needs_kernel
def test_pinyin_found_is_the_python_listcomp(native_reviewer: Reviewer) -> None:
    assert KERNEL is not None
    r = native_reviewer
    for text in [*REPRESENTATIVE, *_corpus_texts(step=11)]:
        scan = r.rules.scan(r.rules.normalizer.normalize(text))
        want = [h.evidence for gi in scan.fired for h in scan.hits[gi] if h.evidence in r._pinyin]
        assert KERNEL.pinyin_found(scan.fired, scan.hits, r._pinyin) == want, text


@needs_kernel
def test_pattern_loop_kernel_equals_the_python_loop(
    native_reviewer: Reviewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = native_reviewer.rules
    normalized = [rules.normalizer.normalize(t) for t in [*REPRESENTATIVE, *_corpus_texts(step=11)]]

    def scans() -> list[tuple[Any, ...]]:
        return [(r.fired, r.scores, r.hits, r.lazy) for r in map(rules.scan, normalized)]

    compiled = scans()
    monkeypatch.setattr(rules, "_run_patterns", None)
    assert scans() == compiled


@needs_kernel
def test_matches_handler_collects_as_the_closure() -> None:
    assert KERNEL is not None
    h = KERNEL.Matches(3)
    for args in ((0, 0, 5, 0, None), (4, 0, 9, 0, None), (2, 1, 7, 0, None), (3, 0, 2, 0, None)):
        h(*args)
    assert h.found == [(5, 0), (7, 2)]
    assert h.reported == {1, 0}


# --------------------------------------------------------------------------------- whole reviews
@needs_kernel
def test_whole_reviews_equal_with_and_without_the_kernel(
    pure_reviewer: Reviewer, native_reviewer: Reviewer
) -> None:
    for ctx in CONTEXTS:
        for text in [*REPRESENTATIVE, *_corpus_texts(step=7)]:
            assert _outcome(native_reviewer, text, ctx) == _outcome(pure_reviewer, text, ctx), text


@settings(max_examples=150, deadline=None)
@given(texts.filter(lambda t: t.strip() != ""))
def test_whole_reviews_of_odd_texts_equal(
    pure_reviewer: Reviewer, native_reviewer: Reviewer, text: str
) -> None:
    assert _outcome(native_reviewer, text, None) == _outcome(pure_reviewer, text, None)


@pytest.mark.skipif(not any(CORPORA.glob("*.tsv")), reason="the shared corpora are not here")
def test_corpus_outcomes_are_the_recorded_ones(native_reviewer: Reviewer) -> None:
    lines = [_outcome(native_reviewer, t, None) for t in _corpus_texts()]
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]
    assert digest == CORPUS_DIGEST, (
        "the review's outcomes on the shared corpora moved; if that is meant (a change of the signals), "
        "see what moved with bench/review_compare.py --base <previous checkout> and update CORPUS_DIGEST"
    )


@needs_kernel
def test_slot_maker_builds_what_the_class_builds() -> None:
    from piguard.messaging.review.engine import (
        _FINDING_SLOTS,
        _RESULT_SLOTS,
        Finding,
        MessageKind,
        ReviewResult,
        Severity,
        Verdict,
    )
    from piguard.messaging.review.rules import ScanResult

    assert KERNEL is not None
    finding = Finding("prohibited_content", ("O31-16",), "en", "zh", detail={"category": "fraud"})
    made = KERNEL.slot_maker(Finding, _FINDING_SLOTS)(
        "prohibited_content", ("O31-16",), "en", "zh", Severity.ERROR, {"category": "fraud"}, None
    )
    assert type(made) is Finding and made == finding and made.reason() == finding.reason()
    result = ReviewResult(Verdict.FAIL, MessageKind.NOTIFICATION, ("fraud",), (finding,), None, False)
    made_result = KERNEL.slot_maker(ReviewResult, _RESULT_SLOTS)(
        Verdict.FAIL, MessageKind.NOTIFICATION, ("fraud",), (finding,), None, False, (), (), None
    )
    assert made_result == result and made_result.to_dict(explain=True) == result.to_dict(explain=True)
    assert made_result.decision() == result.decision()
    scan = KERNEL.slot_maker(ScanResult, ScanResult.__slots__)("t", [0.0], [[]], None, None, None, ())
    assert scan == ScanResult("t", [0.0], [[]], None, None, None, ())
    with pytest.raises(TypeError):
        KERNEL.slot_maker(ScanResult, ScanResult.__slots__)("t")
    with pytest.raises(ValueError):
        KERNEL.slot_maker(ScanResult, ScanResult.__slots__[:-1])  # a slot would stay unset
    with pytest.raises(ValueError):
        KERNEL.slot_maker(ScanResult, ("text", "text", *ScanResult.__slots__[2:]))
    with pytest.raises(ValueError):
        KERNEL.slot_maker(dict, ())  # not a class of slots: its instances need its own __new__

    class WithNew:
        __slots__ = ("a",)

        def __new__(cls) -> WithNew:
            return object.__new__(cls)

    with pytest.raises(ValueError):
        KERNEL.slot_maker(WithNew, ("a",))


# ------------------------------------------------------------------ the native matcher (automaton)
_KEY_ALPHABET = "ab贷款秒批x01 "


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet=_KEY_ALPHABET, min_size=1, max_size=4), min_size=1, max_size=12, unique=True),
    st.text(alphabet=_KEY_ALPHABET + "c，", max_size=40),
)
def test_automaton_finds_what_pyahocorasick_finds(keys: list[str], text: str) -> None:
    """Every occurrence of every key, as (end, id): by end, the longest key first at one end."""
    import ahocorasick

    assert KERNEL is not None
    ac = ahocorasick.Automaton()
    for i, k in enumerate(keys):
        ac.add_word(k, i)
    ac.make_automaton()
    want = sorted(((end + 1, i) for end, i in ac.iter(text)), key=lambda f: (f[0], -len(keys[f[1]])))
    got = KERNEL.Automaton(keys, len(keys), [], [], [], -1).scan(text)
    assert got.found == want
    assert len(got) == len(want) and got.reported == set()


@needs_kernel
def test_automaton_reports_a_pattern_when_each_of_its_sets_and_its_run_occur() -> None:
    assert KERNEL is not None
    # keys "ab"; pattern 0 needs ("我是" or "作为") and ("客服"); pattern 1 a run of 6 of [0-9x];
    # pattern 2 is DIGIT_RUN
    strings = ["ab", "我是", "作为", "客服"]
    a = KERNEL.Automaton(strings, 1, [(0, 0), (0, 0), (0, 1)], [0b11, 0, 0], [0, 6, 0], 2)
    assert a.scan("我是客服ab").reported == {0}
    assert a.scan("我是ab").reported == set()
    assert a.scan("作为 客服 12x456").reported == {0, 1}
    assert a.scan("138 0013 8000").reported == {2}
    assert a.scan("138  0013 8000").reported == set()
    assert a.scan("ab").found == [(2, 0)]


def _rule_patterns(rules: rules_mod.RuleSet) -> list[str]:
    return [rx.pattern for _, _, rx, _ in rules._patterns] + [
        p.pattern for p in rules._lazy_patterns.values()
    ]


@needs_kernel
def test_native_matcher_reports_what_the_python_test_says(native_reviewer: Reviewer) -> None:
    """The automaton's report equals factors.may_match on each pattern's sets and run, and no
    pattern that matches goes unreported (the pre-filter only ever skips patterns that cannot match)."""
    from piguard.messaging.review.factors import may_match, necessary_run, necessary_sets, prefix_set

    rules = native_reviewer.rules
    matcher = rules._matcher
    assert matcher.backend == "native"
    regexes = [*_rule_patterns(rules), rules_mod.DIGIT_RUN]
    plans = [(necessary_sets(rx), necessary_run(rx)) for rx in regexes]
    prefixes = [prefix_set(rx) for rx in regexes]
    compiled = [re.compile(rx) for rx in regexes]
    for text in [*REPRESENTATIVE, *_corpus_texts(step=13)]:
        s = rules.normalizer.normalize(text)
        _subject, _found, reported = matcher.occurrences(s)
        for j, rx in enumerate(compiled):
            matched = rx.search(s) is not None
            if j == len(regexes) - 1:  # DIGIT_RUN: reported exactly when it matches
                assert (j in reported) == matched, s
                continue
            sets, run = plans[j]
            if j in matcher.prefiltered:
                assert (j in reported) == may_match(sets, run, s), (s, rx.pattern)
            if matched:
                assert j not in matcher.prefiltered or j in reported, (s, rx.pattern)
            start = prefixes[j]
            m = rx.search(s)
            if start is not None and m is not None:  # every match starts with one of them
                assert any(s.startswith(x, m.start()) for x in start), (s, rx.pattern)


def test_necessary_sets_and_runs_of_small_patterns() -> None:
    from piguard.messaging.review.factors import longest_run, necessary_run, necessary_sets, prefix_set

    assert necessary_sets("(?:我是|作为)[^，]{0,9}(?:客服|专员)") == (
        frozenset({"我是", "作为"}),
        frozenset({"客服", "专员"}),
    )
    assert necessary_sets("(?:您好|你好)?我是") == (frozenset({"您好我是", "你好我是", "我是"}),)
    assert necessary_sets("a|.+") == ()  # one branch with no necessary string: nothing is necessary
    assert necessary_sets("(?i)abc") == ()  # case-folding: no literal is necessary as written
    assert necessary_run(r"(?<![0-9x])(?:[1x][3-9x][0-9x]{9}|0[0-9x]{2,3} ?[0-9x]{7,8})") == 7
    assert necessary_run(r"卡号[0-9x]{16,19}") == 16
    assert necessary_run(r"[0-9]+元") == 1
    assert longest_run("a12x4 567") == 4
    assert prefix_set("(?:您好)?我是[^，]{0,9}客服") == {"您好我是", "我是"}
    assert prefix_set("(?<![0-9])(?:ab|cd)x|ef") == {"abx", "cdx", "ef"}
    assert prefix_set("[^a]b") is None and prefix_set("(?:a|.)b") is None


@needs_kernel
def test_patterns_tried_where_their_prefix_starts_find_the_leftmost_match() -> None:
    """run_patterns with the automaton's starts gives what search() gives."""
    assert KERNEL is not None
    patterns = [(0, 1.0, re.compile("(?:我是|作为)[^，]{0,4}客服"), "a"), (1, 1.0, re.compile("ab|b"), "b")]
    strings = ["我是", "作为", "ab", "b"]
    auto = KERNEL.Automaton(strings, 0, [(0, -1), (0, -1), (1, -1), (1, -1)], [0, 0], [0, 0], -1)
    for text in ["作为我是客服", "我是，作为客服", "xxbab", "客服", "我是"]:
        found = auto.scan(text)
        got: dict[int, list[tuple[int, int, float, str]]] = {}
        KERNEL.run_patterns({0, 1}, None, [False, False], patterns, text, False, got, found)
        want: dict[int, list[tuple[int, int, float, str]]] = {}
        KERNEL.run_patterns({0, 1}, None, [False, False], patterns, text, False, want)
        assert got == want, text
