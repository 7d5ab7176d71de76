"""Evasion normalisation: full-width, case, zero-width characters, separators, variant characters
(O31-16, CSL-47: a prohibited word spelled to dodge the filter is still the word)."""

from __future__ import annotations

import pytest

from piguard.messaging.review import load_rules, review

pytestmark = pytest.mark.obligation("O31-16", "CSL-47")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("赌.博", "赌博"),
        ("贷 款", "贷款"),
        ("博*采", "博采"),
        ("赌\u200b博", "赌博"),  # zero-width space
        ("赌\u2060博", "赌博"),  # word joiner
        ("賭博", "赌博"),  # traditional
        ("回ＴＤ退订", "回td退订"),  # full-width letters
        ("回复“TD”退订", "回复td退订"),  # quotes
        ("Reply  STOP to unsubscribe", "reply stop to unsubscribe"),  # ASCII words keep one space
        ("①号", "1号"),
        ("百-家-樂", "百家乐"),
        ("佰*嘉*樂", "百嘉乐"),
    ],
)
def test_normalize(raw: str, normalized: str) -> None:
    assert load_rules().normalizer.normalize(raw) == normalized


@pytest.mark.parametrize(
    "text",
    [
        "百家乐",
        "百.家.乐",
        "百 家 乐",
        "百\u200b家\u200d乐",
        "百家樂",
        "百－家－乐",
        "【百】【家】【乐】",
        "百😀家😀乐",
    ],
)
def test_evasions_of_a_prohibited_word_are_caught(text: str) -> None:
    result = review(f"{text}，新用户注册就送")
    assert "gambling" in result.prohibited


def test_ascii_terms_match_whole_words_only() -> None:
    # "av" is a weak pornography term: it must not match inside "have" or "travel"
    assert review("I have a travel plan for you").prohibited == ()
    hits = {
        h.evidence
        for h in load_rules().scan("have travel").hits[load_rules().index("prohibited", "pornography")]
    }
    assert hits == set()
