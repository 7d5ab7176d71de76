"""Inbound replies: opt-out (O31-20, O31-18.1, NPC-8), consent grant and refusal (O31-18.1,
O31-18.2), ambiguous replies recorded and not guessed. Table-driven with real-style variants."""

from __future__ import annotations

import pytest

from piguard.core.errors import PiguardError
from piguard.messaging.subscriptions.replies import ReplyIntent, classify_reply

OPT_OUT, GRANT, REFUSAL, AMBIGUOUS, NONE = (
    ReplyIntent.OPT_OUT,
    ReplyIntent.CONSENT_GRANT,
    ReplyIntent.CONSENT_REFUSAL,
    ReplyIntent.AMBIGUOUS,
    ReplyIntent.NONE,
)

OPT_OUTS = [
    "退订",
    "退订！",
    "退订。",
    " 退订 ",
    "退订了",
    "我要退订",
    "退订谢谢",
    "请帮我退订",
    "退定",
    "TD",
    "td",
    "Td",
    "tD",
    "ＴＤ",
    "ｔｄ",
    "TD谢谢",
    "TD 谢谢",
    "TD!",
    "回复TD",
    "ok TD",
    "T",
    "t",
    "Ｔ",
    "T。",
    "T谢谢",
    "回T",
    "R",
    "r",
    "QX",
    "qx",
    "0000",
    "取消",
    "取消订阅",
    "退出",
    "拒收",
    "拒收!",
    "STOP",
    "stop",
    "Stop",
    "stop please",
    "STOP!!",
    "Unsubscribe",
    "UNSUBSCRIBE",
    "不要再发了",
    "请不要再给我发了",
    "别再发了",
    "别发了",
    "不要再给我发短信",
    "不想再收到你们的短信",
    "停止发送",
    "拉黑",
    "别骚扰我",
    "再发就投诉12321",
    "你们是谁啊，别再给我发了！",
    "为什么还发？退订！",
    "我已经退订了为什么还发",
    "早就回复TD了还发",
    "同意退订",
    "好的，TD",
    "退订\u200b",
    "T D".replace(" ", ""),
    "滚",
]


@pytest.mark.obligation("O31-20", "O31-18.1", "NPC-8")
@pytest.mark.parametrize("text", OPT_OUTS)
def test_opt_out(text: str) -> None:
    result = classify_reply(text)
    assert result.intent is OPT_OUT, (text, result)
    assert result.ends_consent
    assert {"O31-20", "O31-18.1", "NPC-8"} <= set(result.obligations)
    assert result.token


@pytest.mark.obligation("O31-20", "O31-18.1")
@pytest.mark.parametrize("text", ["退订", "TD", "T", "STOP", "不要再发了", "好的，TD"])
def test_opt_out_also_while_a_consent_request_is_pending(text: str) -> None:
    assert classify_reply(text, pending_consent=True).intent is OPT_OUT


N_WHEN_PENDING = [
    ("N", REFUSAL),
    ("n", REFUSAL),
    ("否", REFUSAL),
    ("不同意", REFUSAL),
    ("不需要", REFUSAL),
    ("No.", REFUSAL),
    ("不需要，谢谢", REFUSAL),
    ("我不同意接收", REFUSAL),
    ("拒绝", REFUSAL),
]


@pytest.mark.obligation("O31-18.2", "O31-18.1")
@pytest.mark.parametrize(("text", "intent"), N_WHEN_PENDING)
def test_refusal_of_a_pending_consent_request(text: str, intent: ReplyIntent) -> None:
    result = classify_reply(text, pending_consent=True)
    assert result.intent is intent, result
    assert result.ends_consent and "O31-18.2" in result.obligations


@pytest.mark.obligation("O31-20", "O31-18.1")
@pytest.mark.parametrize("text", ["N", "n", "否", "不需要", "不同意", "no"])
def test_refusal_words_with_nothing_pending_are_an_opt_out(text: str) -> None:
    result = classify_reply(text)
    assert result.intent is OPT_OUT
    assert result.reasons[0].code in {"reply_opt_out", "reply_refusal_when_nothing_pending"}


GRANTS = [
    "是",
    "是的",
    "Y",
    "y",
    "YES",
    "yes!",
    "同意",
    "同意。",
    "好的",
    "好",
    "可以",
    "OK",
    "ok",
    "确认",
    "我同意",
    "同意接收",
    "好的谢谢",
    "是的，同意",
]


@pytest.mark.obligation("O31-18.1", "O31-18.2", "NPC-7")
@pytest.mark.parametrize("text", GRANTS)
def test_consent_grant_only_when_a_request_is_pending(text: str) -> None:
    pending = classify_reply(text, pending_consent=True)
    assert pending.intent is GRANT, pending
    assert "O31-18.1" in pending.obligations and not pending.ends_consent
    nothing = classify_reply(text)
    assert nothing.intent is NONE  # a yes with nothing asked grants nothing


AMBIGUOUS_CASES = [
    "T什么意思",
    "TD是什么",
    "退订了吗?",
    "退订了吗？",
    "怎么退订",
    "如何退订",
    "退订吗",
    "不",
    "不退订",
    "不用退订",
    "嗯",
    "T?",
    "Y?",
    "STOP?",
    "what is stop?",
    "我为什么要回复T",
]


@pytest.mark.obligation("O31-20", "O31-18.2")
@pytest.mark.parametrize("text", AMBIGUOUS_CASES)
def test_ambiguous_replies_are_recorded_not_guessed(text: str) -> None:
    for pending in (False, True):
        result = classify_reply(text, pending_consent=pending)
        assert result.intent is AMBIGUOUS, (text, pending, result)
        assert not result.ends_consent
        assert result.reasons[0].code in {"reply_question", "reply_negated", "reply_unclear"}


NOT_OPT_OUT = [
    "TDD测试",
    "我今天去T3航站楼",
    "我在T恤店",
    "N多人都说好",
    "收到",
    "谢谢",
    "你好",
    "好的收到了谢谢你们",
    "取消订单怎么弄",
    "我的快递到哪了",
    "STOPWATCH",
    "我在TDK上班",
    "R&D部门",
    "😀",
    "。。。",
    "明天见",
    "QXX",
    "TTT",
]


@pytest.mark.obligation("O31-20")
@pytest.mark.parametrize("text", NOT_OPT_OUT)
def test_not_an_opt_out(text: str) -> None:
    result = classify_reply(text)
    assert result.intent in (NONE, AMBIGUOUS), (text, result)
    assert result.intent is not OPT_OUT


@pytest.mark.obligation("O31-18.2")
def test_unrelated_reply_to_a_consent_request_grants_nothing() -> None:
    result = classify_reply("你们是哪家公司", pending_consent=True)
    assert result.intent in (NONE, AMBIGUOUS) and result.intent is not GRANT


@pytest.mark.obligation("O31-20")
def test_result_shape_and_bad_input() -> None:
    out = classify_reply("TD谢谢").to_dict()
    assert out["intent"] == "opt_out" and out["token"] == "td" and out["pending_consent"] is False
    assert out["reasons"][0]["obligations"][0] == "O31-20"
    assert set(out["reasons"][0]["message"]) == {"zh", "en"}
    assert classify_reply("").intent is NONE
    with pytest.raises(PiguardError):
        classify_reply(None)  # type: ignore[arg-type]
