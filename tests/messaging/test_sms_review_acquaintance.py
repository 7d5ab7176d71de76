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


# Third round: the parts of the script that name no institution and no payment yet (a personal
# plea, an untold reason, an inside chance, a favour with an official, a streamer's event, money
# passing through the reader's account). Written for these tests, like the rest of this file.
THIRD_ROUND = [
    ("你好朋友，我最近遇到了一些麻烦，急需用钱，希望你能帮我一下，我会尽快还你。", "act.plea_for_help"),
    ("由于某些原因我不方便自己操作，需要你协助完成一笔转账，请务必保密。", "lure.unexplained_reason"),
    (
        "我是城建公司的项目经理，我们有个工程项目你有兴趣参与吗？我可以帮你跟领导沟通，加个微信细聊。",
        "lure.inside_opportunity",
    ),
    (
        "我是你远房表舅，来城里找领导办事一直没办成，你能不能帮忙在中间协调一下，我准备点红包作为感谢。",
        "lure.favour_with_official",
    ),
    (
        "我是主播小美，今晚平台活动要冲人气，能不能帮我一个忙，给我刷礼物打赏一下，明天就还你。",
        "lure.popularity_event",
    ),
    (
        "我是你大学室友，我先把钱转给你，到账后你再转到这个账户，我的卡现在用不了，拜托你了。",
        "lure.money_through_you",
    ),
    (
        "我是你舅舅的同事，你舅舅在医院，现在走不开，这笔钱需要你先垫一下，我会尽快归还。",
        "lure.sudden_trouble",
    ),
    (
        "我是您丈夫投保的保险公司的经理，他在国外联系不上，请告诉我他的全名和保单号，我马上帮您处理。",
        "act.third_party_details",
    ),
    ("我是你初中同学，还记得我吗？我的微信被封了，需要好友辅助验证，帮我扫一下这个码。", "act.lend_account"),
    (
        "张总您好，我是你们的供应商会计，我们的收款账户变更了，这次货款请转到新的收款账户。",
        "lure.account_changed",
    ),
]

THIRD_ROUND_HONEST = [
    # shops and services offer help, they do not ask for it
    "【优品商城】如需帮助，请联系在线客服，我们将竭诚为您服务。",
    "【平安保险】尊敬的客户，如您需要帮助，可拨打95511，我们很乐意为您提供帮助。",
    # a notice that gives its reason, a public project, a live-stream advert with its opt-out
    "【自来水公司】由于管道检修，本周六9时至17时停水，给您带来不便敬请谅解。",
    "【市住建局】城东工程项目招标公告已发布，有意参与投标的单位请登录政府采购网查看。",
    "【乐看直播】今晚8点主播专场，关注直播间抽奖送好礼，回T退订",
    # friends and family
    "周末同学聚会别忘了，我在饭店门口等你，谢谢你帮忙订的包间。",
    "妈，钱收到了，谢谢，下个月发工资就还你。",
]


def test_a_licence_for_money_without_the_exam_is_fake_documents() -> None:
    result = review("我是xx驾校的，不用考试，只要交钱我们就一定能够帮你拿到驾驶证，加微信详谈。")
    assert "fake_documents" in result.prohibited
    f = next(f for f in result.findings if f.detail.get("category") == "fake_documents")
    # "不用考试" is read first (licence_without_exam); the pay-for-it pattern covers the same words
    assert {"re:pay_and_get_licence", "re:licence_without_exam"} & set(f.detail["matches"])


# Fourth round: the same script in other words (a go-between for the leader or a parent, the
# writer's hard times, a confidential matter, money put into the writer's scheme, the fake boss's
# work group, a streamer's ask for gifts, an amount in words, the summons with the claim after it).
# Written for these tests from how this fraud is told, not taken from any corpus.
FOURTH_ROUND = [
    ("李局长让我通知你，他现在在开会不方便接电话，有一笔款项需要你先汇过去，账号我发你。", "inst.go_between"),
    (
        "你好，我是你爸爸的老朋友，你爸让我联系你，他那边出了点状况，需要你马上汇一笔钱过去。",
        "inst.go_between",
    ),
    (
        "朋友你好，我最近生活上遇到了一点困难，手头很紧，需要一点钱买些日常用品，你能不能帮我一下。",
        "lure.hard_times",
    ),
    ("你好，最近经济比较困难，想找你借点钱应应急，真的很感谢你。", "lure.hard_times"),
    (
        "我是某集团的负责人，我们正在做一个非常重要的项目，由于项目高度保密，请你务必不要向任何人透露。",
        "lure.confidential_matter",
    ),
    (
        "嗨，我是你以前的同事小张，我在做一个很赚钱的生意，想拉你一起入伙，只需要投一点钱就有回报。",
        "act.put_money_in",
    ),
    (
        "各位同事，我是公司董事长，现在拉大家进一个新的工作群，请大家扫码加入，财务人员请留意群内通知。",
        "act.boss_work_group",
    ),
    (
        "亲爱的粉丝，平台正在举办活动，我需要大家的支持来提升人气，请添加我推荐的QQ，给我送几个礼物。",
        "act.send_gifts",
    ),
    (
        "宝贝，我现在在外面，手机没电了，借朋友手机给你发的，你先给我转两千，我回去跟你解释。",
        "act.transfer_money",
    ),
    ("明天早上八点前来我办公室一趟，我是你们张书记，这是我新换的号码。", "act.acquaintance_setup"),
    ("我是你们单位的李局长，明天上午九点到我办公室来一趟，有重要的事情跟你说。", "act.acquaintance_setup"),
    (
        "是我，你听不出来了？我是你小学同学啊，最近我在你附近，想过来看看你，你现在住在哪里？",
        "act.acquaintance_setup",
    ),
    (
        "我是你远房表舅，多年没联系了，最近在你们城市做生意，资金出了点问题，你能支持一下吗？",
        "act.plea_for_help",
    ),
    (
        "我是工地的负责人，明天需要你来现场处理一件事，领导对工程进度非常不满意，给点好处就让你多赚一笔。",
        "lure.trouble_at_work",
    ),
    (
        "您好，我是某早教中心的客服人员，经核查发现您在本中心的消费记录存在异常，确认后为您办理退费。",
        "lure.problem_found",
    ),
    (
        "爸妈，我是你们的女儿，学校这学期要交书本费和校服费一共580元，你们直接转给老师吧。",
        "act.relay_payment",
    ),
    # the same seeds told in other words: the colleague checking the company's funds, the subsidy
    # paid by a stranger to add, the fire brigade's order, the fee paid to the teacher's WeChat, the
    # relative abroad on a new account, the earlier partner's goods, the refund group
    (
        "我是财务部的同事，领导在群里发了通知，让核对公司账上的资金，你把账户余额报给我，再用你自己的卡转一笔过来。",
        "lure.company_funds_check",
    ),
    (
        "兄弟，现在国家有补贴发放，你加一下负责人的微信，他能给你发几千块补助。",
        "act.collect_through_stranger",
    ),
    (
        "我是消防大队的，我们要搞一次演练，需要采购一批物资，100箱矿泉水、50袋大米，你们能供吗？",
        "inst.claimed_buyer",
    ),
    (
        "我是小丽，学校选拔优秀学生参加培训，我被选上了，学校要家长交一笔费用，你加一下老师的微信交给老师。",
        "act.relay_payment",
    ),
    (
        "我是小明，我在美国出了点事，急需帮助，这是我在那边用的微信，你加我一下我跟你细说。",
        "act.acquaintance_setup",
    ),
    (
        "我是你以前的合作伙伴老王，你要的那批货马上可以发了，先把钱打过来，账号是XXXX。",
        "inst.claimed_history",
    ),
    (
        "我是健身房的私教，你之前买的私教课现在可以退了，你进一下我们的退款群，里面有人指导你办理。",
        "act.collect_through_stranger",
    ),
    (
        "爸，我的手机掉水里了，现在用的是这个新手机，有重要的事要和你说，你加一下这个号的微信吧。",
        "act.acquaintance_setup",
    ),
]

FOURTH_ROUND_HONEST = [
    "妈，我到学校了，一切都好，别担心。",
    "老同学，下周同学聚会，你来不来？地点在老地方。",
    "王总，明天上午的会议改到下午三点，请知悉。",
    "您好，我是您孩子的班主任，明天下午三点召开家长会，请准时参加。",
    "我手机坏了，这几天用这个号，有事打这个号。",
    "各位同事，明天公司年会，请大家准时到场。",
    "您好，我是你们公司新来的实习生小王，以后请多多指教。",
    # adverts: a chief who attends in person, a shop that gives presents, an honest loan advert
    "【全友家居】周年庆典，总裁亲临现场，全场工厂价，回T退订",
    "【雪松美容院】三八妇女节在这里给大家送礼物了，满1000元送100元，回T退订",
    "【如遇困难】如您遇到困难，请拨打12345市民热线，我们将竭诚为您服务。",
    "【优品商城】优惠券已到账，如有疑问请联系客服微信领取，回TD退订",
    "老师好，孩子的作业已经交给老师了，谢谢您这学期的照顾。",
]


@pytest.mark.obligation("O31-10")
@pytest.mark.parametrize(("text", "signal"), THIRD_ROUND + FOURTH_ROUND)
def test_the_rest_of_the_script_is_fraud_and_says_why(text: str, signal: str) -> None:
    assert signal in fraud_signals(text)


@pytest.mark.parametrize("text", THIRD_ROUND_HONEST + FOURTH_ROUND_HONEST)
def test_look_alikes_of_the_later_rounds_are_not_prohibited(text: str) -> None:
    assert review(text).prohibited == ()


def test_a_claimed_anti_fraud_officer_is_not_a_warning() -> None:
    """反诈 lowers the fraud score as warning wording; "我是国家反诈中心的工作人员" is the police script's
    claim, so it must not (the centre's real warnings come from 96110 / 12381, which are cleared)."""
    text = "我是国家反诈中心的工作人员，我们发现您的花呗账户存在影响征信的问题，需要您配合处理。"
    assert "inst.police_court" in fraud_signals(text)
