"""Policy lint on hand-written passages: each item present and absent, Chinese and English, with the
traps (vague measures, "contact us" without a channel, a right without a way to use it)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from piguard.core.errors import PiguardError
from piguard.inventory.lint import ITEM_IDS, ITEMS, decode_policy, lint_file, lint_text
from piguard.regulations.catalogue import catalogue

pytestmark = pytest.mark.obligation("O24-8", "O24-9.2", "O24-12", "CSL-41.1")

# A contact sentence that other passages may point to ("contact us").
ZH_CONTACT = "如您有任何疑问，可通过邮箱 privacy@example.cn 与我们联系。"
EN_CONTACT = "If you have questions, contact us at privacy@example.com."

# (item, passage, present?) — written for the kinds of disclosure, not copied from any policy
CASES: list[tuple[str, str, bool]] = [
    # operator identity
    ("operator_identity", "本服务由示例网络科技有限公司（以下简称“我们”）运营。", True),
    ("operator_identity", 'Example Networks Co., Ltd. (hereinafter "we") operates this service.', True),
    ("operator_identity", "本应用由我们及我们的关联公司运营。", False),
    ("operator_identity", "我们会接入示例统计有限公司提供的 SDK。", False),  # a third party, not the operator
    ("operator_identity", "We and our affiliates operate this service.", False),
    # contact: needs a channel
    ("contact", "如您有任何疑问，请拨打客服电话 400-123-4567 与我们联系。", True),
    ("contact", "Questions? Write to us at 12 Market Street, or e-mail dpo@example.com.", True),
    ("contact", "联系地址：北京市海淀区示例路 1 号示例大厦 5 层。", True),
    ("contact", "如您有任何疑问，请联系我们。", False),
    ("contact", "客服电话：（010）12345678", True),
    ("contact", "If you have any questions, please contact us.", False),
    ("contact", "我们会收集您的姓名、联系方式和电子邮件地址。", False),
    # purposes: a concrete activity
    ("purposes", "我们收集您的手机号码，用于注册登录和身份验证。", True),
    (
        "purposes",
        "We use your email address to send you order confirmations and to verify your account.",
        True,
    ),
    ("purposes", "我们会将您的个人信息用于本政策所述的目的。", False),
    ("purposes", "We use your information for the purposes described in this policy.", False),
    # methods
    ("methods", "您注册时主动提供的信息，以及我们通过 Cookie 自动收集的浏览记录。", True),
    (
        "methods",
        "We collect device data automatically through cookies and receive data from our partners.",
        True,
    ),
    ("methods", "我们会通过合法的方式收集您的信息。", False),
    ("methods", "We collect information by lawful means.", False),
    # scope: concrete categories
    ("scope", "我们会收集您的姓名、手机号码和收货地址。", True),
    ("scope", "We collect your name, phone number and location.", True),
    ("scope", "我们仅收集为提供服务所必要的个人信息。", False),
    ("scope", "We only collect the information we need.", False),
    # inquiry: a right and a way
    ("inquiry_channel", "您可以在“我的-设置-个人资料”中查询您的个人信息。", True),
    ("inquiry_channel", "You can view your personal information in the Account settings page.", True),
    ("inquiry_channel", "您有权查询您的个人信息。", False),
    ("inquiry_channel", "You have the right to access your personal information.", False),
    # correction
    ("correction_channel", "您可以通过“我的 > 编辑资料”更正或修改您的个人信息。", True),
    ("correction_channel", ZH_CONTACT + "您可以联系我们更正您的个人信息。", True),
    ("correction_channel", "You may correct your data by e-mailing privacy@example.com.", True),
    ("correction_channel", "您有权更正您的个人信息。", False),
    ("correction_channel", "You have the right to correct inaccurate personal data.", False),
    (
        "correction_channel",
        "您可以联系我们更正您的个人信息。",
        False,
    ),  # "contact us" with no contact anywhere
    # deletion
    ("deletion_channel", "您可以发送邮件至 privacy@example.cn 申请删除您的个人信息。", True),
    ("deletion_channel", EN_CONTACT + " You can ask us to delete your data by contacting us.", True),
    ("deletion_channel", "用户享有请求删除其个人信息的权利。", False),
    ("deletion_channel", "You have the right to request deletion of your personal data.", False),
    # account cancellation
    ("account_cancellation", "您可以通过“我的-设置-账号管理-注销账号”注销您的账号。", True),
    ("account_cancellation", "You can delete your account in the Settings > Account screen.", True),
    ("account_cancellation", "您有权注销您的账号。", False),
    ("account_cancellation", "You may close your account at any time.", False),
    # refusal consequences
    ("refusal_consequences", "如您不提供手机号码，将无法完成注册，但不影响您浏览内容。", True),
    (
        "refusal_consequences",
        "If you do not provide your phone number, you will not be able to register.",
        True,
    ),
    ("refusal_consequences", "您可以拒绝提供这些信息。", False),
    ("refusal_consequences", "You may refuse to provide this information.", False),
    # complaint channel
    ("complaint_channel", "如您对个人信息处理有投诉，请拨打投诉电话 010-12345678。", True),
    (
        "complaint_channel",
        "To make a complaint, e-mail complaints@example.com; we reply within 15 days.",
        True,
    ),
    ("complaint_channel", "如有疑问、意见或建议，请发送邮件至 dpo@example.cn。我们将在十五日内答复。", True),
    ("complaint_channel", "如您对本政策有任何投诉，请联系我们。", False),
    ("complaint_channel", "您还可以向网信、公安等监管部门投诉。", False),  # an outside authority only
    ("complaint_channel", "If you wish to complain, please contact us.", False),
    # third-party sharing
    ("third_party_sharing", "我们会将您的收货地址提供给第三方物流服务商，用于配送商品。", True),
    ("third_party_sharing", "We share your order details with delivery partners to fulfil your order.", True),
    ("third_party_sharing", "三、共享", False),
    ("third_party_sharing", "How we share your information", False),
    ("third_party_sharing", "您可以将喜欢的文章一键分享到第三方社交平台。", False),  # the user shares, not us
    ("third_party_sharing", "You can share links to third-party apps from the menu.", False),
    ("third_party_sharing", "我们不会向任何第三方提供您的个人信息，法律另有规定的除外。", True),
    # retention
    ("retention", "您的订单信息保存三年，期满后删除。", True),
    ("retention", "We keep your account data until you delete your account.", True),
    (
        "retention",
        "账号注销完成后，除法律另有要求外，我们会把与该账号相关的个人信息一并删除或作匿名化处理。",
        True,
    ),
    ("retention", "我们仅在实现目的所必需的最短期限内保留您的个人信息。", False),
    (
        "retention",
        "如我们停止运营，我们将在合理期限内删除您的个人信息。",
        False,
    ),  # a shutdown is not a period
    ("retention", "We retain your data for as long as necessary.", False),
    # security measures: a named measure
    ("security_measures", "我们采用 TLS 加密传输和访问控制等安全措施保护您的个人信息。", True),
    (
        "security_measures",
        "We protect your data with encryption at rest and role-based access controls.",
        True,
    ),
    ("security_measures", "我们采取符合业界标准的安全防护措施保护您的个人信息。", False),
    ("security_measures", "We take industry-standard measures to protect your information.", False),
    # breach notification
    (
        "breach_notification",
        "发生个人信息安全事件后，我们将通过邮件、短信等方式告知您事件情况和补救措施。",
        True,
    ),
    ("breach_notification", "If a data breach occurs, we will notify you by e-mail without delay.", True),
    ("breach_notification", "发生安全事件时，我们会启动应急预案。", False),
    ("breach_notification", "We will handle security incidents promptly.", False),
    # effective date
    ("effective_date", "生效日期：2024年3月1日", True),
    ("effective_date", "Effective date: March 1, 2024.", True),
    ("effective_date", "更新日期：【2024】年【3】月【1】日", True),
    ("effective_date", "本政策自发布之日起生效。", False),
    ("effective_date", "This policy is effective from its publication.", False),
]


@pytest.mark.parametrize(("item_id", "passage", "present"), CASES)
def test_item_on_passage(item_id: str, passage: str, present: bool) -> None:
    result = lint_text(passage, "text").item(item_id)
    assert result.present is present, passage
    if present:
        assert result.evidence
        for ev in result.evidence:
            assert passage[ev.start : ev.end] == ev.text
    else:
        assert result.evidence == ()


def test_every_item_has_positive_and_negative_cases_in_both_languages() -> None:
    for item_id in ITEM_IDS:
        cases = [(p, ok) for i, p, ok in CASES if i == item_id]
        zh = [ok for p, ok in cases if any("\u4e00" <= ch <= "\u9fff" for ch in p)]
        en = [ok for p, ok in cases if not any("\u4e00" <= ch <= "\u9fff" for ch in p)]
        assert True in zh and False in zh and True in en and False in en, item_id


def test_items_are_fixed_and_cite_known_obligations() -> None:
    assert ITEM_IDS == (
        "operator_identity", "contact", "purposes", "methods", "scope", "inquiry_channel",
        "correction_channel", "deletion_channel", "account_cancellation", "refusal_consequences",
        "complaint_channel", "third_party_sharing", "retention", "security_measures",
        "breach_notification", "effective_date",
    )  # fmt: skip
    known = catalogue().obligations
    for item in ITEMS:
        assert item.articles
        assert all(a in known for a in item.articles), item.id


ZH_POLICY = """示例隐私政策
生效日期：2024年3月1日
本服务由示例网络科技有限公司（以下简称“我们”）运营。
我们会收集您的姓名、手机号码和收货地址，用于注册登录、配送商品和身份验证。
这些信息由您注册时主动提供，设备信息由我们通过 Cookie 自动收集。
如您不提供手机号码，将无法完成注册，但不影响您浏览内容。
我们会将您的收货地址提供给第三方物流服务商，用于配送商品。
您的订单信息保存三年，期满后删除。
我们采用加密传输和访问控制等安全措施保护您的个人信息。
发生个人信息安全事件后，我们将通过邮件、短信等方式告知您。
您可以在“我的-设置-个人资料”中查询、更正您的个人信息，也可以发送邮件至 privacy@example.cn 申请删除。
您可以通过“我的-设置-账号管理-注销账号”注销您的账号。
如您有投诉，请拨打投诉电话 010-12345678 或发送邮件至 privacy@example.cn，我们将在十五日内答复。
"""


def test_a_complete_chinese_policy_passes_and_its_decision_allows() -> None:
    report = lint_text(ZH_POLICY)
    assert report.missing == ()
    decision = report.decision()
    assert decision.allowed
    assert "O24-12" in decision.obligations


@pytest.mark.obligation("O24-9.2", "O24-12")
def test_gaps_refuse_with_the_items_obligations() -> None:
    text = ZH_POLICY.replace(
        "如您有投诉，请拨打投诉电话 010-12345678 或发送邮件至 privacy@example.cn，我们将在十五日内答复。", ""
    )
    report = lint_text(text)
    assert report.missing == ("complaint_channel",)
    decision = report.decision()
    assert not decision.allowed
    refusal = decision.reasons[0]
    assert refusal.code == "policy_lint.complaint_channel_absent"
    assert refusal.obligations == ("O24-12",)


def test_json_shape() -> None:
    body = lint_text(ZH_POLICY).to_dict()
    assert [i["id"] for i in body["items"]] == list(ITEM_IDS)
    first = body["items"][0]
    assert set(first) == {"id", "present", "articles", "evidence"}
    assert set(first["evidence"][0]) == {"start", "end", "text"}


# ------------------------------------------------------------------ HTML and Markdown: offsets map back


def test_html_evidence_points_into_the_original_markup() -> None:
    page = (
        "<!doctype html><html><head><style>p{color:red}</style><title>隐私政策</title></head><body>"
        "<h1>隐私政策</h1><p>生效日期：<b>2024年3月1日</b></p>"
        "<p>如有疑问，请<a href='mailto:dpo@example.cn'>发送邮件</a>与我们联系。</p>"
        "<p>我们采用 <em>TLS</em> 加密&amp;访问控制等安全措施保护您的个人信息。</p></body></html>"
    )
    report = lint_text(page, filename="policy.html")
    assert report.input_format == "html"
    contact = report.item("contact")
    assert contact.present
    ev = contact.evidence[0]
    assert page[ev.start : ev.end] == ev.text
    assert "dpo@example.cn" in ev.text  # the link target is part of the evidence in the markup
    security = report.item("security_measures").evidence[0]
    assert security.text.startswith("我们采用 <em>TLS</em> 加密&amp;访问控制")
    date = report.item("effective_date").evidence[0]
    assert page[date.start : date.end] == date.text and "2024年3月1日" in date.text
    assert "color:red" not in " ".join(e.text for r in report.items for e in r.evidence)


def test_markdown_markup_does_not_hide_a_disclosure() -> None:
    md = "## 联系我们\n\n**邮箱**：[privacy@example.cn](mailto:privacy@example.cn)\n\n- 更新日期：**2024-03-01**\n"
    report = lint_text(md, filename="policy.md")
    assert report.input_format == "markdown"
    assert report.item("contact").present
    date = report.item("effective_date")
    assert date.present
    assert md[date.evidence[0].start : date.evidence[0].end] == date.evidence[0].text


# ------------------------------------------------------------------ decoding


def test_decoding_utf8_bom_and_gbk(tmp_path: Path) -> None:
    text = "生效日期：2024年3月1日。如有疑问，请拨打客服电话 400-123-4567 与我们联系。"
    for name, data in (
        ("utf8.txt", text.encode("utf-8")),
        ("bom.txt", codecs.BOM_UTF8 + text.encode("utf-8")),
        ("gbk.txt", text.encode("gbk")),
        ("gb18030.txt", text.encode("gb18030")),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        report = lint_file(path)
        assert report.item("contact").present, name
        ev = report.item("effective_date").evidence[0]
        assert text[ev.start : ev.end] == ev.text, name  # offsets into the decoded text (no BOM)


@pytest.mark.parametrize(
    "data",
    [b"\x81\x30\xff\xfe\x00\x01binary", codecs.BOM_UTF8 + b"\xff\xfe bad", bytes(range(0, 32)) * 4],
)
def test_undecodable_is_refused_clearly(data: bytes) -> None:
    with pytest.raises(PiguardError) as err:
        decode_policy(data, "policy.txt")
    assert err.value.code == "policy_undecodable"
    assert "UTF-8" in err.value.message_en and "GBK" in err.value.message_zh
    assert err.value.fields[0].field == "policy.txt"


def test_unknown_input_format_is_a_validation_error() -> None:
    with pytest.raises(PiguardError) as err:
        lint_text("x", "pdf")
    assert err.value.code == "validation_error"


EN_POLICY = """Privacy Policy
Last updated: March 1, 2024.
Example Networks Co., Ltd. (hereinafter "we") operates this service.
We collect your name, phone number and delivery address to register your account, deliver orders and verify your identity.
You provide this information when you register; we collect device data automatically through cookies.
If you do not provide your phone number, you will not be able to register, but you can still browse.
We share your delivery address with courier partners to deliver your orders.
We keep order records for 3 years and account data until you delete your account.
We protect your data with TLS encryption and role-based access controls.
If a data breach occurs, we will notify you by e-mail without delay.
You can view and correct your personal information in the Account settings page.
You can ask us to delete your data by e-mailing privacy@example.com.
You can delete your account in the Settings > Account screen.
To make a complaint, e-mail complaints@example.com; we reply within 15 days.
"""


def test_a_complete_english_policy_passes() -> None:
    report = lint_text(EN_POLICY)
    assert report.missing == ()
    for r in report.items:
        for ev in r.evidence:
            assert EN_POLICY[ev.start : ev.end] == ev.text


def test_the_same_policy_as_html_and_markdown_passes_with_exact_offsets() -> None:
    import html as _html

    page = (
        "<html><body>"
        + "".join(
            f"<p>{_html.escape(line, quote=False).replace(' ', '&nbsp;', 1)}</p>\n"
            for line in ZH_POLICY.splitlines()
        )
        + "</body></html>"
    )
    md = "".join(
        f"- **{line}**\n" if i % 2 else f"## {line}\n" for i, line in enumerate(ZH_POLICY.splitlines())
    )
    for text, fmt in ((page, "html"), (md, "markdown")):
        report = lint_text(text)
        assert report.input_format == fmt
        assert report.missing == (), fmt
        for r in report.items:
            for ev in r.evidence:
                assert text[ev.start : ev.end] == ev.text, fmt
