"""Issue 11: the scoring content reviewer (signals as data, per-category verdicts, clearances),
normalisation against evasion, English review, and operators' own models (train / evaluate).

The example messages here are written for these tests from the kinds of fraud described by
anti-fraud campaigns; none is taken from the shared corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core.errors import PiguardError
from piguard.messaging.review import ReviewContext, load_rules, review
from piguard.messaging.review.engine import MessageKind
from piguard.messaging.review.model import read_labelled, read_model, train, write_model
from piguard.messaging.review.normalize import Normalizer

runner = CliRunner()


def prohibited(text: str, ctx: ReviewContext | None = None) -> tuple[str, ...]:
    return review(text, ctx).prohibited


def finding(text: str, category: str, ctx: ReviewContext | None = None) -> dict:
    for f in review(text, ctx).findings:
        if f.code == "prohibited_content" and f.detail["category"] == category:
            return f.to_dict()
    raise AssertionError(f"no {category} finding for {text!r}")


# ------------------------------------------------------------------ normalisation
@pytest.mark.obligation("O31-16", "CSL-47")
@pytest.mark.parametrize(
    "text",
    [
        "真人百家乐，首存即送",  # plain
        "真人ＢＡＩ ＪＩＡ ＬＥ，首存即送",  # full-width pinyin
        "真人bai jia le，首存即送",  # spaced pinyin
        "真人baijiale，首存即送",
        "真人bjl，首存即送",  # initials (weak alone, with 首存 it decides)
        "真人百.家.乐，首存即送",  # inserted punctuation
        "真人百 家 乐，首 存即送",  # inserted spaces
        "真人百家樂，首存即送",  # traditional
        "真人百jia乐，首存即送",  # mixed script
    ],
)
def test_gambling_spellings_all_read_as_the_word(text: str) -> None:
    assert "gambling" in prohibited(text)


@pytest.mark.obligation("O31-16", "CSL-47")
def test_pinyin_and_mixed_script_of_known_vocabularies() -> None:
    assert "gambling" in prohibited("duchang 开业，加v详谈")
    assert "illegal_lending" in prohibited("dai款 秒批 免息，黑户可贷")
    # a pinyin spelling is itself evidence of obfuscation, listed among the reasons
    ids = {s["id"] for s in finding("bai jia le 在线，加v", "gambling")["detail"]["signals"]}
    assert "obf.pinyin" in ids


def test_chinese_numerals_become_digits_only_in_runs() -> None:
    n = Normalizer()
    assert n.normalize("加扣扣幺三八零零一三八零零零") == "加扣扣13800138000"
    assert n.normalize("壹贰叁肆伍") == "12345"
    assert n.normalize("一起去三五成群") == "一起去三五成群"  # words, not numbers


def test_lookalike_letters_from_other_scripts_count_as_obfuscation() -> None:
    # a Cyrillic "а" inside a Latin word
    text = "Your Pаypal account has been suspended, verify your account at paypal-help.top"
    f = finding(text, "fraud")
    assert any(s["id"] == "obf.lookalike_letters" for s in f["detail"]["signals"])


# ---------------------------------------------------------------------- scoring
FRAUD = [
    # police / court impersonation: institution + threat + demand
    "您好，我是市公安局刑警，您的身份证涉嫌一起洗钱案，请配合调查，把资金转入安全账户核查。",
    "这里是法院，您有一张传票未处理，涉嫌违法，请立即添加QQ并提供银行卡号和验证码。",
    # fake customer service: platform + refund/problem + demand
    "您好，我是快递客服，您的包裹丢失，我们将双倍赔偿，请下载会议软件开启屏幕共享办理退款。",
    "尊敬的用户，这里是支付宝客服，您开通的百万保障即将自动扣费，否则影响征信，请按照我们的提示操作关闭。",
    # loans: loan lure + demand (fees, app, contact)
    "您好，我是贷款公司的客服，无抵押秒批，只需身份证，先交保证金即可放款，请加微信办理。",
    # acquaintance / leader impersonation
    "我是你领导，明天来我办公室一趟，现在急需一笔钱周转，先帮我转两万到这个账户，别告诉别人。",
    "爸，我手机丢了，这是我朋友的手机，我出了车祸急需手术费，快给我转5000。",
    # bank phishing: bank + points turned into cash + log in
    "【工商银行】尊敬的客户，您的积分已满可兑换现金，请登录 wap.icbc-jfdh.top 领取，逾期清零。",
    "【某银行】您的电子密码器将于今日过期，请尽快登录我行网站 www.mybank-vs.com 进行升级。",
    "【ETC】您的ETC已失效，请点击 etc-cx.top 重新认证。",
    "【社保局】您的社保卡已被冻结，请立即联系 021-12345678 解冻，否则影响医保使用。",
]


@pytest.mark.obligation("O31-16", "CSL-47", "O31-10")
@pytest.mark.parametrize("text", FRAUD)
def test_fraud_kinds_are_prohibited(text: str) -> None:
    assert "fraud" in prohibited(text)


@pytest.mark.obligation("O31-16", "CSL-47", "O31-10")
def test_finding_lists_the_signals_that_fired_with_ids_and_obligations() -> None:
    f = finding(FRAUD[0], "fraud")
    assert {"O31-16", "CSL-47", "O31-10"} <= set(f["articles"])
    signals = f["detail"]["signals"]
    cats = {s["category"] for s in signals}
    assert {"institution", "lure", "action"} <= cats
    for s in signals:
        assert s["id"] and s["articles"] and s["weight"] > 0
    assert "inst.police_court" in {s["id"] for s in signals}
    # the same finding as a reason of the decision, with its ids
    decision = review(FRAUD[0]).decision()
    assert not decision.allowed
    reason = next(r for r in decision.reasons if r.code == "prohibited_content")
    assert "CSL-47" in reason.obligations and reason.detail["signals"]


@pytest.mark.obligation("O31-16", "CSL-47")
@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("澳门葡京线上娱乐城，首存送100%，真人荷官在线", "gambling"),
        ("xx期三期必出生肖：虎狗鼠，一码中特", "gambling"),
        ("同城美女上门服务，包夜快餐，加微信约", "pornography"),
        ("专业办证刻章，代开各类发票，电话13800000000", "fake_documents"),
        ("代办一切有效证件，身份正、驾驶正，货到付款", "fake_documents"),
        ("出售公民信息，精准客户资料，量大从优", "pi_trading"),
        ("长期高价收购银行卡四件套，联系微信", "pi_trading"),
    ],
)
def test_other_prohibited_kinds(text: str, category: str) -> None:
    assert category in prohibited(text)


@pytest.mark.obligation("O31-16", "CSL-42.1", "NPC-3")
def test_pi_trade_carries_its_obligations() -> None:
    """Issue 11 names CSL-44 and NPC-5, which REQUIREMENTS.md does not list: the reasons carry the
    catalogued ids of the same duties (no sale or provision of PI: CSL-42.1, NPC-3; stop and keep
    records: CSL-47)."""
    f = finding("出售个人信息，车主资料，股民资料，加微信", "pi_trading")
    assert {"CSL-42.1", "NPC-3", "O31-16"} <= set(f["articles"])


@pytest.mark.parametrize(
    "text",
    [
        # honest messages that name institutions, money, links and numbers
        "【招商银行】您尾号1234的信用卡本期账单1,280.00元，还款日12月10日。",
        "【中国移动】尊敬的客户，您本月套餐剩余流量2.1GB，详情登录 10086.cn 查询，回复TD退订。",
        "【顺丰速运】您的快递已到达丰巢柜，取件码1234，快递员电话13800138000，有问题请联系。",
        "【京东】您的订单已出库，预计明天送达。",
        "区人民法院公开审理了一起合同诈骗案件，被告人当庭认罪。",  # news names a court and a case
        "验证码123456，用于登录，5分钟内有效，请勿泄露给他人。",
        "【体彩】第2024123期超级大乐透开奖结果：03 12 19 25 33 + 05 11，奖池8.6亿元。",
        "今晚我们一起去吃饭吧，你几点下班？",
    ],
)
def test_honest_messages_are_not_prohibited(text: str) -> None:
    assert prohibited(text) == ()


# ---------------------------------------------------------------------- clearing
WARNING = (
    "【市反诈中心】警惕冒充公检法诈骗：民警不会要求您转账到安全账户，也不会让您下载屏幕共享软件，谨防上当。"
)


@pytest.mark.obligation("O31-16", "O31-17")
def test_verified_public_welfare_sender_quoting_fraud_as_a_warning_is_cleared() -> None:
    cleared = review(WARNING, ReviewContext(clearances=frozenset({"public_welfare"})))
    assert cleared.prohibited == ()
    note = next(f for f in cleared.findings if f.code == "prohibited_content_cleared")
    assert note.severity.value == "warning" and note.detail["clearances"] == ["public_welfare"]
    assert review(WARNING, ReviewContext(clearances=frozenset({"official_short_code"}))).prohibited == ()


@pytest.mark.obligation("O31-16", "CSL-47")
def test_clearance_needs_the_warning_wording_and_only_clears_its_category() -> None:
    pw = ReviewContext(clearances=frozenset({"public_welfare"}))
    # a verified sender without any warning wording is reviewed like everyone
    assert "fraud" in prohibited(FRAUD[0], pw)
    # an unverified sender's "warning" is not cleared by its wording alone
    assert "fraud" in prohibited(WARNING)
    # a public-welfare clearance does not clear gambling
    assert "gambling" in prohibited("警惕：真人百家乐首存送彩金", pw)


@pytest.mark.obligation("O31-16", "CSL-47")
def test_licensed_lottery_provider_clears_lottery_results_only() -> None:
    lottery = ReviewContext(clearances=frozenset({"licensed_lottery"}))
    text = "【彩票中心】双色球第2024088期开奖结果公布，本期奖池5亿，投注站欢迎购彩。"
    assert prohibited(text, lottery) == ()
    assert "gambling" in prohibited("六合彩特码，期期必中，加微信", lottery)


def test_unknown_clearance_is_a_clear_error() -> None:
    with pytest.raises(PiguardError) as err:
        ReviewContext(clearances=frozenset({"friend_of_the_operator"}))
    assert err.value.code == "validation_error"


# ---------------------------------------------------------------------- English
@pytest.mark.obligation("O31-16", "CSL-47", "O31-10")
@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Your PayPal account has been suspended. Verify your account at paypal-secure.top/login", "fraud"),
        ("USPS: your package could not be delivered. Pay the redelivery fee at usps-parcel.xyz", "fraud"),
        ("Congratulations, you have won a $1000 gift card! Claim your prize at win-now.top", "fraud"),
        ("Online casino: 100% first deposit bonus and free spins, bet now at luckywin.bet", "gambling"),
        ("Hot girls near you, escort service tonight, text me", "pornography"),
        ("Fake passport and fake diploma, fast delivery", "fake_documents"),
    ],
)
def test_english_prohibited(text: str, category: str) -> None:
    assert category in prohibited(text)


@pytest.mark.obligation("O31-20", "O31-18.1")
def test_english_commercial_needs_an_opt_out() -> None:
    ad = review("【Shop】Big summer sale! 50% off everything this weekend only. Shop now at shop.example.com")
    assert ad.kind is MessageKind.COMMERCIAL
    assert "optout_missing" in [f.code for f in ad.findings]
    ok = review(
        "【Shop】Big summer sale! 50% off everything. Shop now at shop.example.com. Reply STOP to opt out"
    )
    assert ok.kind is MessageKind.COMMERCIAL and ok.opt_out and ok.passed
    assert (
        review("【Bank】Your verification code is 123456. Do not share it.").kind
        is not MessageKind.COMMERCIAL
    )
    assert review("Hi mom, I will be home at 7.").prohibited == ()


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize("text", ["", "   ", "x" * 70_000])
def test_empty_and_huge_text_are_validation_errors(text: str) -> None:
    with pytest.raises(PiguardError) as err:
        review(text)
    assert err.value.code == "validation_error"


@pytest.mark.parametrize("text", ["😀😀😀", "🎉", "ab\ud800cd", "\udfff赌场\ud800"])
def test_emoji_only_and_lone_surrogates_do_not_crash(text: str) -> None:
    result = review(text)
    assert result.kind in set(MessageKind)
    if "赌场" not in text:
        assert result.prohibited == ()


# --------------------------------------------------------------- operators' models
def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    return path


def _synthetic() -> list[tuple[str, str]]:
    """A made-up operator label set: its own scam wording (pig-butchering 'tea ladies'), not in the signals."""
    scam = [f"小姐姐{i}号茶园直招品茶师，带你一起发财，茶叶投资月入{i}万，跟着姐姐学" for i in range(40)]
    honest = [f"您好，您订购的{i}号商品已发货，物流单号请在订单页查看，感谢惠顾。" for i in range(40)]
    honest += [f"明天{i}点开会，请准时参加，会议室在三楼。" for i in range(40)]
    return [("fraud_tea", t) for t in scam] + [("normal", t) for t in honest]


@pytest.mark.obligation("O31-16", "CSL-47")
def test_trained_model_is_loaded_beside_the_signals(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    data = _write(tmp_path / "labelled.tsv", _synthetic())
    out = rules_dir / "tea.model.json"
    result = runner.invoke(app, ["sms", "review", "train", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    model = read_model(out.read_bytes(), str(out))
    assert set(model.labels) == {"fraud_tea", "normal"} and model.categories["fraud_tea"] == "fraud"
    text = "小姐姐茶园直招品茶师，茶叶投资带你发财"
    assert review(text).prohibited == ()  # the built-in signals do not know this wording
    rules = load_rules([rules_dir], use_env=False)
    found = review(text, rules=rules)
    assert "fraud" in found.prohibited
    f = next(x for x in found.findings if x.code == "prohibited_content")
    assert any(s["id"] == "model.fraud_tea" for s in f.detail["signals"])
    assert review("明天9点开会，请准时参加", rules=rules).prohibited == ()
    # evaluate prints per-category scores and the confusion table
    ev = runner.invoke(app, ["sms", "review", "evaluate", str(data), "--rules-dir", str(rules_dir)])
    assert ev.exit_code == 0, ev.output
    assert "precision" in ev.stdout and "confusion" in ev.stdout and "fraud_tea" in ev.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("normal\t你好\nmystery\t这是什么\n", "mystery"),  # unknown label
        ("normal\t你好\nnormal\t再见\n", "one class"),  # one class only
        ("normal 你好\n", "label<TAB>text"),  # no tab
        ("", "no messages"),
    ],
)
def test_bad_training_files_fail_clearly_and_write_nothing(tmp_path: Path, content: str, needle: str) -> None:
    data = tmp_path / "bad.tsv"
    data.write_text(content, encoding="utf-8")
    out = tmp_path / "m.model.json"
    result = runner.invoke(app, ["sms", "review", "train", str(data), "--out", str(out)])
    assert result.exit_code == 2
    assert needle in result.output and "Traceback" not in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == [data]


def test_invalid_utf8_and_label_map(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"normal\t\xff\xfe\n")
    result = runner.invoke(app, ["sms", "review", "train", str(bad), "--out", str(tmp_path / "m.model.json")])
    assert result.exit_code == 2 and "UTF-8" in result.output
    mapped = _write(tmp_path / "m.tsv", [("0", "你好"), ("1", "全场五折")])
    rows = read_labelled(mapped, ["fraud"], {"0": "normal", "1": "commercial"})
    assert {label for label, _ in rows} == {"normal", "commercial"}


def test_a_header_line_is_skipped_but_a_mapped_one_is_data(tmp_path: Path) -> None:
    """A spreadsheet export starts with its column names; that line is not a message."""
    data = tmp_path / "export.tsv"
    data.write_text("\ufeffLabel\tText\nnormal\t你好\ncommercial\t全场五折\n", encoding="utf-8")
    rows = read_labelled(data, ["fraud"])
    assert rows == [("normal", "你好"), ("commercial", "全场五折")]
    zh = tmp_path / "zh.tsv"
    zh.write_text("标签\t短信内容\nnormal\t你好\n", encoding="utf-8")
    assert read_labelled(zh, ["fraud"]) == [("normal", "你好")]
    # only the first line can be a header: the same words later are an unknown label
    later = tmp_path / "later.tsv"
    later.write_text("normal\t你好\nlabel\ttext\n", encoding="utf-8")
    with pytest.raises(PiguardError) as err:
        read_labelled(later, ["fraud"])
    assert "label (1)" in err.value.message_en
    # a label the operator maps is data, even on the first line
    mapped = tmp_path / "mapped.tsv"
    mapped.write_text("label\ttext\nnormal\t你好\n", encoding="utf-8")
    assert read_labelled(mapped, ["fraud"], {"label": "commercial"}) == [
        ("commercial", "text"),
        ("normal", "你好"),
    ]
    out = tmp_path / "m.model.json"
    both = tmp_path / "both.tsv"
    both.write_text("label\ttext\n" + "".join(f"{lab}\t{t}\n" for lab, t in _synthetic()), encoding="utf-8")
    result = runner.invoke(app, ["sms", "review", "train", str(both), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_model_file_must_be_named_and_valid(tmp_path: Path) -> None:
    rows = _synthetic()
    model = train(rows, Normalizer(), ["fraud"])
    with pytest.raises(PiguardError):
        write_model(model, tmp_path / "model.json")  # not *.model.json: the reviewer would not load it
    (tmp_path / "broken.model.json").write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(PiguardError) as err:
        load_rules([tmp_path], use_env=False)
    assert "not valid" in err.value.message_en
    path = write_model(model, tmp_path / "ok.model.json")
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "piguard-sms-review-model"


# ------------------------------------------------------------ disguised adverts
@pytest.mark.obligation("O31-18.1", "O31-20")
@pytest.mark.parametrize(
    "text",
    [
        "您好，我是城东汽配的王经理，本店主营刹车片、滤清器，欢迎随时来电。",
        "温馨提示：新学期作业班正式上课，一学期980元，报名电话0571-88886666。",
        "出售：滨江小区两居室精装修，随时看房，急卖。",
        "尊敬的顾客：本店充值500元送100元，欢迎新老顾客。",
    ],
)
def test_adverts_posing_as_notices_are_commercial(text: str) -> None:
    result = review(text)
    assert result.kind is MessageKind.COMMERCIAL
    assert "optout_missing" in [f.code for f in result.findings]


@pytest.mark.parametrize(
    "text",
    [
        "【优品商城】您的订单已发货，快递单号SF1234567，请注意查收。",
        "【市自来水公司】因管道检修，明天9点至17点东区停水，请提前储水。",
        "【某某银行】您尾号1234的账户于12月1日收入工资8,000.00元。",
    ],
)
def test_honest_notices_stay_notices(text: str) -> None:
    assert review(text).kind is not MessageKind.COMMERCIAL


# acquaintance / leader impersonation (signals/acquaintance.yaml): a claimed acquaintance or local
# office-holder, a reason the reader cannot check, a favour that costs money. Written for these tests.
ACQUAINTANCE_FRAUD = [
    (
        "王阿姨，是我啊，我在开会不方便接电话，公司急需一笔钱，你先帮我垫付一下，晚上还你。",
        "inst.acquaintance_unreachable",
    ),
    (
        "我是实验小学的班主任，您的孩子在学校摔伤了，需要马上支付医疗费，请先转到我这里。",
        "inst.local_office_holder",
    ),
    (
        "我是城关镇政府的主任，我们单位要订一批办公桌椅，你报个价，我让供应商跟你联系。",
        "act.procurement_story",
    ),
    ("老同学，我是你大学室友，加我新微信，最近手头紧能不能借给我五千块。", "act.favour_money"),
    (
        "喂，是我啊，我是你表哥的同学，手机坏了，你先加一下我这个新微信，有急事找你，千万别跟家里说。",
        "act.acquaintance_moves_channel",
    ),
]

ACQUAINTANCE_HONEST = [
    # a school writing to parents with no favour asked
    "【实验小学】各位家长：本周五下午学校举行运动会，请为孩子准备运动服，谢谢配合。",
    # a friend asking to borrow money without claiming to be someone else is between people who know
    # each other: no claimed identity, no reason not to check
    "周末一起吃饭吗？上次借我的书我下周还你。",
    # an honest purchase order from a company that names itself
    "【华美家具】您订购的办公桌椅一批已发货，预计周三送达，如有疑问请致电4008001234。",
    # a business contact who names the firm and offers a WeChat: no claimed acquaintance
    "您好，我是链城房产的置业顾问小刘，您关注的楼盘本周开放参观，您也可以加我的微信了解。",
    # a hospital promotion that names a fee
    "【仁爱医院】暑期近视手术优惠活动，手术费用八五折，详询4008005678，回T退订。",
]


@pytest.mark.obligation("O31-16", "CSL-47", "O31-10")
@pytest.mark.parametrize(("text", "signal"), ACQUAINTANCE_FRAUD)
def test_acquaintance_and_leader_impersonation_is_fraud(text: str, signal: str) -> None:
    f = finding(text, "fraud")
    assert signal in {s["id"] for s in f["detail"]["signals"]}


@pytest.mark.obligation("O31-16", "CSL-47")
@pytest.mark.parametrize("text", ACQUAINTANCE_HONEST)
def test_messages_that_look_like_acquaintance_fraud_but_are_honest_pass(text: str) -> None:
    assert "fraud" not in prohibited(text)


@pytest.mark.obligation("O31-16", "CSL-47")
def test_a_verified_warning_that_quotes_acquaintance_fraud_is_cleared() -> None:
    text = "【市反诈中心】警惕冒充领导、老师的诈骗：对方称在开会不方便接电话并要求垫付的，务必电话核实。"
    assert "fraud" in prohibited(text)  # the wording alone reads as the fraud it quotes
    assert "fraud" not in prohibited(text, ReviewContext(clearances=frozenset({"public_welfare"})))


@pytest.mark.obligation("O31-16", "CSL-47")
@pytest.mark.parametrize(
    "text",
    [
        "【速借】黑户可贷，不看征信，三分钟到账，加微信 dk8899",
        "网黑也能借：无视征信，逾期可贷，联系张经理",
        "征信花了也能贷，白户可贷，额度五万",
    ],
)
def test_lending_that_ignores_credit_records_is_illegal_lending(text: str) -> None:
    assert "illegal_lending" in review(text).to_dict()["prohibited"]


@pytest.mark.parametrize(
    "text",
    [
        "【工商银行】个人信用贷款，无抵押，最高30万，详询95588，回T退订",
        "【招商银行】您的信用记录良好，可申请闪电贷，详询95555，回T退订",
    ],
)
def test_a_banks_own_credit_loan_advert_is_not_illegal_lending(text: str) -> None:
    assert review(text).to_dict()["prohibited"] == []
