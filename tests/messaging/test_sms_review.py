"""Content review, rule by rule: message kind, signature (O31-21), opt-out wording (O31-20),
prohibited content (O31-16, CSL-47), personal information in the text (O24-10, CSL-40), the
Decision view, channel neutrality (NPC-7) and bad input."""

from __future__ import annotations

import json

import pytest
import structlog

from piguard.core.errors import PiguardError
from piguard.core.logging import get_logger
from piguard.core.reasons import Outcome
from piguard.messaging.review import (
    Channel,
    MessageKind,
    ReviewContext,
    Severity,
    SignaturePosition,
    SignatureRequirement,
    Verdict,
    find_pi,
    review,
)
from piguard.messaging.review import pi as pi_module

ID_NUMBER = "11010519491231002X"  # valid check digit
CARD = "6222021234567890128"  # valid Luhn digit


def codes(text: str, context: ReviewContext | None = None) -> dict[str, Severity]:
    return {f.code: f.severity for f in review(text, context).findings}


# ---------------------------------------------------------------------------------------- kinds
@pytest.mark.obligation("O31-18.1", "O31-19", "O31-17")
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("【京东】全场5折起，限时抢购，回T退订", "commercial"),
        ("【美食城】新店开业，全场8折，欢迎光临！退订回N", "commercial"),
        ("【华联超市】会员日满100减20，详询4008123456，拒收请回复R", "commercial"),
        ("【某银行】您的验证码是384756，5分钟内有效，请勿泄露。", "verification_code"),
        ("【Acme】Your verification code is 482913.", "verification_code"),
        ("【某某】384756是您的登录验证码，请勿告诉他人。", "verification_code"),
        ("【顺丰速运】您的快递已到驿站，取件码1234。", "notification"),
        ("【中国移动】您本月账单已出，余额12.50元。", "notification"),
        ("【某某物业】明天上午9点停水，请提前储水。", "notification"),
        ("【深圳市气象台】暴雨红色预警：请立即停止户外活动，转移避险。", "emergency"),
        ("【市应急管理局】台风橙色预警，沿海居民请紧急撤离。", "emergency"),
        ("【市反诈中心】提醒广大市民：公检法没有所谓安全账户，谨防电信诈骗。", "public_welfare"),
        ("【市文明办】无偿献血，传递爱心，文明出行从我做起。", "public_welfare"),
        # mixed content is commercial: a verification code with an advertisement appended
        ("【某商城】您的验证码123456。新用户首单立减20元，回T退订", "commercial"),
        # opt-out wording alone marks a commercial message
        ("【某店】您好，回T退订", "commercial"),
    ],
)
def test_kind(text: str, kind: str) -> None:
    result = review(text)
    assert result.kind == kind, result.signals


@pytest.mark.obligation("O31-18.1")
def test_kind_is_explained_by_its_signals() -> None:
    result = review("【京东】全场5折起，限时抢购，回T退订")
    matched = {h.evidence for h in result.signals}
    assert {"限时", "抢购", "re:discount_number"} <= matched
    reason = result.kind_reason()
    assert reason.code == "message_kind" and "O31-18.1" in reason.obligations
    assert reason.detail["kind"] == "commercial"


@pytest.mark.obligation("O31-19", "O31-18.1")
def test_commercial_content_in_a_template_declared_non_commercial() -> None:
    ctx = ReviewContext(declared_kind=MessageKind.NOTIFICATION)
    found = codes("【京东】全场5折起，限时抢购，回T退订", ctx)
    assert found["commercial_content_not_declared"] is Severity.ERROR
    assert "commercial_content_not_declared" not in codes("【顺丰速运】您的快递已到驿站。", ctx)


# ------------------------------------------------------------------------------------ signature
@pytest.mark.obligation("O31-21")
def test_commercial_message_without_signature_fails() -> None:
    result = review("全场5折起，限时抢购，回T退订")
    assert result.verdict is Verdict.FAIL
    finding = next(f for f in result.findings if f.code == "signature_missing")
    assert finding.articles == ("O31-21",) and finding.severity is Severity.ERROR
    assert finding.message_zh and finding.message_en


@pytest.mark.obligation("O31-21")
def test_unsigned_notification_is_a_warning_unless_all_must_be_signed() -> None:
    text = "您的快递已到驿站，取件码1234。"
    result = review(text)
    assert result.verdict is Verdict.PASS
    assert codes(text)["signature_missing"] is Severity.WARNING
    strict = ReviewContext(require_signature=SignatureRequirement.ALL)
    assert codes(text, strict)["signature_missing"] is Severity.ERROR


@pytest.mark.obligation("O31-21")
def test_signature_at_start_or_end() -> None:
    assert review("【京东】全场5折，回T退订").signature == "京东"
    at_end = review("全场5折，回T退订【京东】")
    assert at_end.signature == "京东" and at_end.verdict is Verdict.PASS
    assert review("全场5折，回T退订【京东】 。").signature == "京东"
    start_only = ReviewContext(signature_position=SignaturePosition.START)
    assert "signature_missing" in codes("全场5折，回T退订【京东】", start_only)


@pytest.mark.obligation("O31-21")
@pytest.mark.parametrize(
    "text",
    [
        "【京东】【自营】全场5折，回T退订",
        "【京东】全场5折，【限时】抢购，回T退订",
        "【京东】全场5折，回T退订【京东】",
        "【京东】全场5折】，回T退订",
    ],
)
def test_body_must_not_contain_another_bracket(text: str) -> None:
    assert codes(text)["signature_extra_brackets"] is Severity.ERROR


@pytest.mark.obligation("O31-21")
def test_empty_and_generic_signatures() -> None:
    assert "signature_empty" in codes("【】全场5折，回T退订")
    assert codes("【温馨提示】全场5折，回T退订")["signature_generic"] is Severity.ERROR
    assert codes("【通知】您的快递已到驿站。")["signature_generic"] is Severity.WARNING


@pytest.mark.obligation("O31-21", "O31-12")
def test_signature_must_match_the_registered_content_provider() -> None:
    ctx = ReviewContext(content_provider="jd", signatures=frozenset({"京东", "JD"}))
    assert "signature_mismatch" not in codes("【京东】全场5折，回T退订", ctx)
    assert "signature_mismatch" not in codes("【 ＪＤ 】全场5折，回T退订", ctx)  # width, case, spaces
    result = review("【淘宝】全场5折，回T退订", ctx)
    mismatch = next(f for f in result.findings if f.code == "signature_mismatch")
    assert result.verdict is Verdict.FAIL and mismatch.detail == {"content_provider": "jd"}
    # registered with no signature at all: every signature mismatches
    assert "signature_mismatch" in codes("【京东】全场5折，回T退订", ReviewContext(signatures=frozenset()))
    # signatures unknown here (None): not compared
    assert "signature_mismatch" not in codes("【淘宝】全场5折，回T退订", ReviewContext())


@pytest.mark.obligation("O31-21", "NPC-7")
def test_email_channel_names_the_sender_its_own_way() -> None:
    email = ReviewContext(channel=Channel.EMAIL, signatures=frozenset({"Acme Shop"}))
    body = "Spring sale: 30% off everything this week. Acme Shop. To unsubscribe, click here."
    result = review(body, email)
    assert result.kind is MessageKind.COMMERCIAL and result.verdict is Verdict.PASS, result.findings
    assert "signature_missing" in codes("Spring sale: 30% off. To unsubscribe, click here.", email)
    unknown = ReviewContext(channel=Channel.EMAIL)
    assert codes(body, unknown)["signature_unverified"] is Severity.WARNING
    # 【】 are an SMS convention: an e-mail subject in brackets is not "another signature"
    assert "signature_extra_brackets" not in codes("【春季特惠】全场5折 Acme Shop 取消订阅请点击", email)


# --------------------------------------------------------------------------------------- opt-out
@pytest.mark.obligation("O31-20")
@pytest.mark.parametrize(
    "wording",
    [
        "回T退订",
        "拒收请回复R",
        "退订回TD",
        "回复TD退订",
        "退订回N",
        "回复QX取消",
        "Reply STOP to unsubscribe",
        "回ＴＤ退订",
        "回ｔｄ退订",
        "回复“TD”退订",
        "退订请回复T",
        "退订回复0",
        "回复0000退订",
        "如不想收到此类信息请回复TD",
        "回复退订即可",
        "退订回复QX",
        "发送TD退订",
        "text STOP to opt out",
        "点击链接一键退订",
    ],
)
def test_opt_out_wording_variants(wording: str) -> None:
    result = review(f"【京东】全场5折起，限时抢购，{wording}")
    assert result.opt_out, wording
    assert "optout_missing" not in {f.code for f in result.findings}


@pytest.mark.obligation("O31-20")
@pytest.mark.parametrize(
    "text",
    [
        "【京东】全场5折起，限时抢购，详询4008123456",
        "【京东】全场5折起，限时抢购，退款请联系客服",  # 退 without an opt-out instruction
        "【京东】全场5折起，TD是我们的新品牌",
    ],
)
def test_commercial_message_without_opt_out_fails(text: str) -> None:
    result = review(text)
    assert result.kind is MessageKind.COMMERCIAL
    finding = next(f for f in result.findings if f.code == "optout_missing")
    assert finding.articles == ("O31-20",) and result.verdict is Verdict.FAIL


@pytest.mark.obligation("O31-20")
def test_opt_out_not_required_outside_commercial_messages() -> None:
    assert "optout_missing" not in codes("【顺丰速运】您的快递已到驿站，取件码1234。")


@pytest.mark.obligation("O31-20")
@pytest.mark.parametrize(
    "wording",
    ["回T退订（资费0.1元/条）", "退订请携带身份证到营业厅办理", "退订需登录APP", "回复TD退订，信息费1元"],
)
def test_opt_out_with_an_obstacle_fails(wording: str) -> None:
    assert codes(f"【京东】全场5折起，{wording}")["optout_obstacle"] is Severity.ERROR


# ------------------------------------------------------------------------------------ prohibited
@pytest.mark.obligation("O31-16", "CSL-47")
@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("澳门葡京线上娱乐城，首存送100%，真人荷官在线", "gambling"),
        ("六合彩特码，期期必中，加微信", "gambling"),
        ("恭喜您中奖，请点击链接 http://x.cn 登录领取奖金", "fraud"),
        ("您的积分即将清零，请点击链接 wap.xx.cn 兑换", "fraud"),
        ("招兼职刷单，日结200元", "fraud"),
        ("同城美女上门服务，加微信约", "pornography"),
        ("专业办证刻章，代开发票，电话13800000000", "fake_documents"),
        ("代开各类发票，点数低", "fake_documents"),
        ("出售仿真枪，货到付款", "illegal_goods"),
        ("高价收购银行卡，当天结算", "illegal_goods"),
        ("出售公民信息，精准客户资料，量大从优", "pi_trading"),
    ],
)
def test_prohibited_categories(text: str, category: str) -> None:
    result = review(text)
    assert category in result.prohibited
    finding = next(
        f for f in result.findings if f.code == "prohibited_content" and f.detail["category"] == category
    )
    assert {"O31-16", "CSL-47"} <= set(finding.articles)
    assert finding.detail["matches"]
    assert result.verdict is Verdict.FAIL


@pytest.mark.obligation("O31-16", "CSL-47")
@pytest.mark.parametrize(
    "text",
    [
        "【市禁毒办】珍爱生命，远离毒品，拒绝赌博。",
        "【市反诈中心】公检法没有所谓安全账户，刷单就是诈骗。",
        "【网信办】扫黄打非，净化网络环境。",
        "法院以贩卖毒品罪判处被告人有期徒刑",  # news naming a crime does not offer it
        "网站被曝存在色情内容",
        "他昨天打赌输了一顿饭",
        "【某银行】您的信用卡账单已出",
    ],
)
def test_mentions_and_warnings_are_not_prohibited(text: str) -> None:
    assert review(text).prohibited == ()


@pytest.mark.obligation("O31-16", "O31-18.1")
def test_advertising_prohibited_goods_is_commercial() -> None:
    assert review("百家乐真人荷官，首存送彩金").kind is MessageKind.COMMERCIAL
    assert review("恭喜您中奖，请点击链接 http://x.cn 登录领取奖金").kind is not MessageKind.COMMERCIAL


# ------------------------------------------------------------------------------ PI in the content
@pytest.mark.obligation("O24-10", "CSL-40", "CSL-42.1")
def test_id_number_and_bank_card_in_content_fail_without_echoing_them() -> None:
    result = review(f"【某某】您的身份证{ID_NUMBER}已登记，卡号{CARD}已绑定。")
    pi = {f.detail["category"]: f for f in result.findings if f.code == "pi_in_content"}
    assert set(pi) == {"id_card", "bank_card"}
    assert pi["id_card"].articles == ("O24-10", "CSL-40", "CSL-42.1")
    assert result.verdict is Verdict.FAIL
    dumped = json.dumps(result.to_dict(explain=True), ensure_ascii=False)
    assert ID_NUMBER not in dumped and CARD not in dumped


@pytest.mark.obligation("O24-10")
def test_invalid_numbers_and_phone_numbers_by_default_are_not_pi_findings() -> None:
    assert "pi_in_content" not in codes("【某某】订单号110105194912310021，卡号6222021234567890123")
    assert "pi_in_content" not in codes("【某某】详询13812345678")  # a contact number is normal
    ctx = ReviewContext(pi_categories=frozenset({"phone_mobile"}))
    assert "pi_in_content" in codes("【某某】用户13812345678已注册", ctx)


@pytest.mark.obligation("O24-10")
def test_full_width_and_spaced_numbers_are_found() -> None:
    wide = ID_NUMBER.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert "pi_in_content" in codes(f"【某某】身份证{wide}")
    spaced = f"{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}"
    assert "pi_in_content" in codes(f"【某某】卡号 {spaced}")


@pytest.mark.obligation("O24-10")
def test_pi_uses_the_discovery_engine_when_present_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    text = f"身份证{ID_NUMBER}"
    pi_module.reset_engine_cache()
    if pi_module.engine_detect() is not None:
        assert [h.source for h in find_pi(text)] == ["engine"]
    # without the engine: the built-in validator
    monkeypatch.setattr(pi_module, "_engine_cache", [None])
    hits = find_pi(text)
    assert [(h.category, h.source) for h in hits] == [("id_card", "builtin")]
    assert (hits[0].start, hits[0].end) == (3, 21)

    # an engine that fails: the built-in validator, and the log names no PI
    def broken(_text: str, categories: object = None) -> list[object]:
        raise RuntimeError(f"cannot parse {_text}")

    monkeypatch.setattr(pi_module, "_engine_cache", [broken])
    get_logger()  # configure logging first, so that capture_logs is not replaced by it
    with structlog.testing.capture_logs() as logs:
        assert [h.source for h in find_pi(text)] == ["builtin"]
    assert [e["event"] for e in logs] == ["sms_review_pi_engine_failed"]
    assert ID_NUMBER not in json.dumps(logs, ensure_ascii=False)  # the error is named, not its text
    pi_module.reset_engine_cache()


# ---------------------------------------------------------------------------- Decision and output
@pytest.mark.obligation("O31-16", "O31-21", "O31-20")
def test_decision_view() -> None:
    refused = review("百家乐真人荷官，首存送彩金").decision()
    assert refused.outcome is Outcome.REFUSE
    assert {"O31-16", "CSL-47", "O31-21", "O31-20"} <= set(refused.obligations)
    assert refused.reasons[0].code in {"prohibited_content", "signature_missing", "optout_missing"}
    allowed = review("【京东】全场5折起，回T退订").decision()
    assert allowed.outcome is Outcome.ALLOW
    assert [r.code for r in allowed.reasons] == ["message_kind"]
    assert "O31-18.1" in allowed.obligations
    warned = review("您的快递已到驿站").decision()
    assert warned.outcome is Outcome.ALLOW and warned.reasons[0].code == "signature_missing"


@pytest.mark.obligation("O31-21")
def test_output_shape() -> None:
    out = review("全场5折起，回T退订").to_dict()
    assert set(out) == {"verdict", "kind", "prohibited", "findings"}
    f = out["findings"][0]
    assert set(f) >= {"code", "articles", "message", "severity"}
    assert set(f["message"]) == {"zh", "en"}
    explained = review("全场5折起，回T退订").to_dict(explain=True)
    assert {"signature", "opt_out", "signals", "scores"} <= set(explained)


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.obligation("O31-16")
@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_a_validation_error(text: str) -> None:
    with pytest.raises(PiguardError) as e:
        review(text)
    assert e.value.code == "validation_error" and e.value.fields[0].field == "text"


@pytest.mark.obligation("O31-16")
def test_too_long_text_is_a_validation_error() -> None:
    with pytest.raises(PiguardError) as e:
        review("优" * 2000)
    assert "1000" in e.value.message_en
    assert review("优惠" * 1000, ReviewContext(max_length=5000)).kind is MessageKind.COMMERCIAL


@pytest.mark.obligation("O31-16")
def test_non_string_is_a_validation_error() -> None:
    with pytest.raises(PiguardError):
        review(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ReviewContext(channel="fax")  # type: ignore[arg-type]


@pytest.mark.obligation("O31-16")
def test_results_are_cached_per_text_and_context_and_immutable() -> None:
    from dataclasses import FrozenInstanceError

    from piguard.messaging.review import Reviewer, load_rules

    reviewer = Reviewer(load_rules())
    text = "【京东】全场5折起，回T退订"
    first = reviewer.review(text)
    assert reviewer.review(text) is first
    assert reviewer.review(text, ReviewContext(signatures=frozenset({"淘宝"}))) is not first
    with pytest.raises(FrozenInstanceError):
        first.verdict = Verdict.FAIL  # type: ignore[misc]
    cold = Reviewer(load_rules(), cache_size=0)
    assert cold.review(text) is not cold.review(text) and cold.review(text) == first
    with pytest.raises(PiguardError):
        reviewer.review(["not", "hashable"])  # type: ignore[arg-type]


@pytest.mark.obligation("O31-21")
def test_zero_width_characters_do_not_hide_or_fake_a_signature() -> None:
    ctx = ReviewContext(signatures=frozenset({"京东"}))
    result = review("\u200b【京\u200c东】全场5折，回T退订", ctx)
    assert result.signature == "京东" and result.verdict is Verdict.PASS, result.findings


def test_messages_that_match_nothing_share_a_result_per_context_only() -> None:
    """Most honest messages match no term: their result depends only on the context, so one result
    per context is handed out again. What does depend on the text must still be read from it."""
    from piguard.messaging.review import Reviewer

    r = Reviewer(cache_size=0)

    def codes(result: object) -> list[str]:
        return [f.code for f in result.findings]  # type: ignore[attr-defined]

    assert r.review("今天天气不错") == r.review("晚上一起吃饭")
    strict = ReviewContext(require_signature=SignatureRequirement.ALL)
    assert r.review("我到家了", strict).verdict is Verdict.FAIL
    assert codes(r.review("我到家了", strict)) == ["signature_missing"]
    assert r.review("我到家了").verdict is Verdict.PASS  # the default context is its own
    # e-mail: whether a registered name is in the body depends on the body
    mail = ReviewContext(channel=Channel.EMAIL, signatures=frozenset({"华信"}))
    assert codes(r.review("华信：路上堵车晚点到", mail)) == []
    assert "signature_missing" in codes(r.review("路上堵车晚点到", mail))
    assert codes(r.review("华信：路上堵车晚点到", mail)) == []
    # a signature is read from the text, and so are numbers when the context looks for them
    assert r.review("【华信】路上堵车晚点到").signature == "华信"
    assert r.review("路上堵车晚点到").signature is None
    phones = ReviewContext(pi_categories=frozenset({"phone_mobile"}))
    assert codes(r.review("路上堵车晚点到", phones)) == ["signature_missing"]
    assert "pi_in_content" in codes(r.review("路上堵车晚点到13812345678", phones))
