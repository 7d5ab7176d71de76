"""Issue 11: the impersonation-of-an-acquaintance script (signals/acquaintance.yaml).

The script, whoever is impersonated (a leader, a relative, an old classmate, the child's teacher):
a claimed identity the reader cannot check (a new number, a friend's phone, "guess who"), a
pretext, secrecy or urgency, then a transfer or a favour that costs money. Every example here was
written for these tests (none comes from the shared corpora), and so were the honest look-alikes:
a manager's notice through an enterprise port, family messages, school and bank notices, and
anti-fraud warnings that quote the script.
"""

from __future__ import annotations

import pytest

from piguard.messaging.review import ReviewContext, load_rules, review

pytestmark = pytest.mark.obligation("O31-16", "CSL-47")


def fraud_signals(text: str, ctx: ReviewContext | None = None) -> set[str]:
    """The ids of the signals behind the fraud finding (empty set: no fraud finding)."""
    for f in review(text, ctx).findings:
        if f.code == "prohibited_content" and f.detail["category"] == "fraud":
            return {s["id"] for s in f.detail["signals"]}
    return set()


# (message, a signal that must be among the reasons)
OPENINGS = [
    # the leader script's first message: no ask yet
    ("我是你领导，明天到我办公室来一趟", "act.acquaintance_setup"),
    ("我是你张总，这是我新号码，存一下，明天上午来我办公室一趟。", "act.acquaintance_setup"),
    # "guess who", new number
    ("猜猜我是谁，换号了", "fraud.guess_who"),
    ("是我啊，听不出来我是谁了？我换微信了，加我新微信聊。", "fraud.guess_who"),
    # the old classmate who will "come and see you" (the trouble comes the next day)
    ("我是你老同学啊，还记得我吗？明天路过你那里，过来看你。", "act.acquaintance_setup"),
    ("我是你高中同学，换号了，你现在方便吗？有点事想请你帮忙。", "act.acquaintance_setup"),
    # the leader in a meeting, and the leader's "secretary"
    ("王主任，我是李书记，我现在在开会，有个急事，你先别给我打电话，加我这个QQ。", "act.acquaintance_setup"),
    ("我是你们局长的秘书，局长让你明天上午9点到他办公室，方便的时候回个电话。", "act.acquaintance_setup"),
]

ASKS = [
    # a relative in trouble who must not be checked on
    ("我是你表弟，我在外地出了车祸，对方要私了，急需两万，千万别告诉我爸妈。", "act.keep_it_from_family"),
    # no 你/您 at all: the message opens on a kinship term and speaks to its reader
    ("哥，我是小军，我的卡被冻结了，付不了房租，先帮我付一下，下周还。", "lure.cannot_pay_myself"),
    ("爸，我跟人打架了，现在在派出所，需要交5000保释金，别告诉妈。", "inst.kin_vocative"),
    # a boss who "cannot appear himself"
    (
        "我是你的老领导，有个事情需要你帮忙，领导那边要送礼，我不方便出面，你先帮我转两万过去。",
        "act.relay_payment",
    ),
    # the boss who "cannot transfer it himself"; the old deskmate who needs twenty thousand
    (
        "小张，我是刘总，客户的货款需要先付一下，我不方便转，你从公司账上先转给他，账号发你。",
        "inst.claimed_boss",
    ),
    ("老同学，我是你初中同桌啊，最近做生意资金周转不开，能借我两万吗，下个月就还。", "act.relay_payment"),
    # a claimed earlier dealing, then a deposit
    ("你好，我是之前给你服务过的小周，店里到了一款新表，你先转3000定金我帮你留着。", "inst.claimed_history"),
    # "tell him I sent you": a third party the reader cannot check
    ("最近听说你需要资金，我有个朋友是做贷款的，你加他微信，就说是我介绍的。", "act.relay_payment"),
    # the child's "school": a report behind a link
    ("家长您好，这是您孩子的期末成绩单，请点击查看 http://cj-cx.top/a1", "lure.child_report_link"),
    # the fake procurement: "our unit" orders, the reader advances the money to a supplier
    (
        "我是县教育局的王科长，我们单位要订一批办公电脑，你帮忙联系一下这个供应商，先垫付一下货款。",
        "inst.claimed_buyer",
    ),
    (
        "我是县一中的老师，想在你这里订购一些午餐，我给你个微信号，你先去那买过来，我等会一起给你结账。",
        "act.relay_payment",
    ),
    # the fake boss of the company's QQ group
    ("我是银行的客户经理，您公司的账户需要年检，请通过QQ与我联系办理。", "lure.company_inspection"),
    # a claimed son's teacher asking to pay a course on "Tsinghua" terms
    (
        "我是你儿子的同学，清华大学的培训课程名额有限，再不缴费名额就没了，请加班主任微信。",
        "lure.school_fees_due",
    ),
]


@pytest.mark.obligation("O31-10")
@pytest.mark.parametrize(("text", "signal"), OPENINGS + ASKS)
def test_acquaintance_script_is_fraud_and_says_why(text: str, signal: str) -> None:
    assert signal in fraud_signals(text)


def test_the_reasons_carry_category_and_obligation_ids() -> None:
    f = next(f for f in review(OPENINGS[0][0]).findings if f.code == "prohibited_content").to_dict()
    assert {"O31-16", "CSL-47", "O31-10"} <= set(f["articles"])
    by_id = {s["id"]: s for s in f["detail"]["signals"]}
    setup = by_id["act.acquaintance_setup"]
    assert setup["category"] == "action" and setup["articles"] == ["O31-16", "CSL-47"]
    assert setup["matches"] and setup["weight"] > 0


def test_every_acquaintance_signal_has_a_category_and_ids() -> None:
    rules = load_rules(use_env=False)
    mine = [
        g for g in rules.groups if g.role == "signal" and any("acquaintance.yaml" in s for s in g.sources)
    ]
    assert len(mine) >= 15
    for g in mine:
        assert g.category and g.articles and set(g.articles) <= {"O31-16", "CSL-47", "O31-10"}, g.name


HONEST = [
    # a real manager's notices to staff through the company's enterprise port
    "【华信科技】各位同事：明天上午9点在三楼会议室召开月度总结会，请准时参加。行政部",
    "【华信科技】王经理您好，我是人事部小李，明天上午10点请到我办公室办理入职手续。",
    "【华信集团】通知：请各部门负责人明天下午2点到总经理办公室开会，讨论年度预算。",
    "【华信集团】张经理您好，您提交的报销单已审批通过，款项将于3个工作日内到账。",
    # family messages
    "妈，我到学校了，这周末不回家吃饭，你们早点休息。",
    "爸，生活费收到了，谢谢，天冷了记得加衣服。",
    "哥，明天我和嫂子一起回去看爷爷，你几点到？",
    "叔叔，我是小明，明天去看您和阿姨，给您带了点茶叶。",
    "亲爱的，我今天加班，晚饭你先吃吧。",
    # a friend's new number without any claim or ask
    "我是小王，换号了，以后打这个号。",
    "老同学，周末同学聚会定在老地方，你来吗？",
    # a salon's greeting and a car dealer's deposit offer (adverts, not fraud)
    "姐姐，我是丽人美容院的小芳，三八节全部项目八折，欢迎到店。",
    "【长风汽车】本月到店预定轻卡系列，交2000元定金可抵5000元购车款，详询4008001234，回T退订。",
    # school and bank notices
    "【实验小学】家长您好，本学期期末成绩已发布，请登录学校家校通APP查看。",
    "【城南中学】家长您好，本周五下午召开家长会，请准时到校，孩子的成绩单届时发放。",
    "【建设银行】尊敬的客户，您的单位结算账户将于下月年检，请携带营业执照到开户网点办理。",
    # a courier's notice with the courier's phone
    "【顺丰速运】您的快件已由快递员张师傅派送，电话13800138000，如有问题请联系。",
]


@pytest.mark.parametrize("text", HONEST)
def test_honest_look_alikes_are_not_prohibited(text: str) -> None:
    assert review(text).prohibited == ()


WARNINGS = [
    "【12321】警惕冒充领导诈骗：骗子常称“我是你领导，明天到我办公室来一趟”，随后以送礼为由要求转账，请务必电话核实。",
    "【国家反诈中心】冒充熟人诈骗高发：对方自称“猜猜我是谁”“换号了”，以借钱为由要求转账，请当面或电话核实。",
]


@pytest.mark.obligation("O31-17")
@pytest.mark.parametrize("text", WARNINGS)
@pytest.mark.parametrize("clearance", ["official_short_code", "public_welfare"])
def test_an_official_warning_that_quotes_the_script_is_not_prohibited(text: str, clearance: str) -> None:
    assert review(text, ReviewContext(clearances=frozenset({clearance}))).prohibited == ()


@pytest.mark.obligation("O31-17")
def test_quoted_script_reads_as_fraud_unless_the_sender_is_vouched_for() -> None:
    """An unverified sender can write 警惕 too: the quoted script stays a finding until the registry
    vouches for the sender, and then the finding is a cleared warning naming the clearance."""
    text = WARNINGS[1]
    assert "fraud" in review(text).prohibited
    result = review(text, ReviewContext(clearances=frozenset({"official_short_code"})))
    note = next(f for f in result.findings if f.code == "prohibited_content_cleared")
    assert note.detail["category"] == "fraud" and note.detail["clearances"] == ["official_short_code"]
    assert result.decision().allowed


def test_a_relatives_secrecy_is_not_read_as_a_warning() -> None:
    """千万不要告诉我父母 is the fraud's secrecy: it must not lower the score as 千万不要 (a warning
    word) would."""
    text = "我是您的孙子，我遇到了一些麻烦，在外面不敢回家，你能给我转一下钱吗？千万不要告诉我父母。"
    assert "act.keep_it_from_family" in fraud_signals(text)
