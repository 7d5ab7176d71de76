"""Policy lint on list-shaped disclosures (items under a heading, "label：channel" lines, named measures
listed under a security heading) and on the rules piguard generates for its own demo inventory.

The passages are written for the shapes, not copied from the templates; each shape has a trap that
must stay absent (a heading alone, a label without a channel, a vague measure in a list)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from piguard.inventory import service as inventory
from piguard.inventory.demo import load_demo_inventory
from piguard.inventory.lint import lint_text

pytestmark = pytest.mark.obligation("O24-8", "O24-9.2", "CSL-42.1", "CSL-42.2")

CASES: list[tuple[str, str, str, bool]] = [
    # label lines: the label names the right, the rest of the line is the way to use it
    ("inquiry_channel", "text", "查阅订单记录：登录网站后进入“账户中心-订单”页面查看。", True),
    ("inquiry_channel", "text", "Access your data: visit https://example.org/me/data or write to us.", True),
    ("inquiry_channel", "text", "查询个人信息：您有权查询。", False),  # a label without a way
    ("inquiry_channel", "text", "Access your data: you have this right.", False),
    ("correction_channel", "text", "修改资料：拨打热线 010-12345678 办理。", True),
    ("correction_channel", "text", "Amend your details: call 400-123-4567.", True),
    ("correction_channel", "text", "更新日期：2024年3月1日", False),  # a date label is not a right
    ("correction_channel", "text", "Update history: 2024-03-01", False),
    # sharing: recipients listed under a sharing heading or lead line
    (
        "third_party_sharing",
        "markdown",
        "## 对外提供\n\n- 某某物流有限公司：用于配送商品，提供收货人姓名和地址。\n",
        True,
    ),
    (
        "third_party_sharing",
        "text",
        "We pass information on only to the recipients below:\nAcme Logistics Ltd: for delivering your orders.\n",
        True,
    ),
    # a sharing heading over a list that names no recipient
    ("third_party_sharing", "markdown", "## 共享\n\n- 用于配送商品。\n", False),
    ("third_party_sharing", "markdown", "## Sharing\n\n- for delivering your orders.\n", False),
    # security: named measures listed under a security heading or lead line
    ("security_measures", "markdown", "## 五、数据保护\n\n- 数据库字段加密；\n- 定期数据备份；\n", True),
    (
        "security_measures",
        "text",
        "We protect your information as follows:\n- data encrypted at rest;\n",
        True,
    ),
    # vague wording in the list is still not a named measure
    ("security_measures", "markdown", "## 五、数据保护\n\n- 符合业界标准的做法；\n", False),
    ("security_measures", "markdown", "## Protecting your data\n\n- industry-standard practices;\n", False),
    # the document's own title is not a security heading for everything under it
    ("security_measures", "markdown", "# 个人信息保护政策\n\n我们会组织员工培训活动。\n", False),
    # purposes: categories listed under a heading that names the activity
    ("purposes", "markdown", "### 配送商品\n\n- 收集的信息：姓名、收货地址\n", True),
    (
        "purposes",
        "markdown",
        "### Delivering orders\n\n- Information collected: name, postal address\n",
        True,
    ),
    ("purposes", "markdown", "### 其他\n\n- 收集的信息：姓名、收货地址\n", False),
    ("purposes", "markdown", "### Other\n\n- Information collected: name, postal address\n", False),
    # breach: "tell you" is a notification
    (
        "breach_notification",
        "text",
        "If a data breach happens we will tell you by e-mail without delay.",
        True,
    ),
    ("breach_notification", "text", "We work hard to prevent a data breach.", False),
]


@pytest.mark.parametrize(("item_id", "fmt", "passage", "present"), CASES)
def test_list_shaped_disclosures(item_id: str, fmt: str, passage: str, present: bool) -> None:
    result = lint_text(passage, fmt).item(item_id)
    assert result.present is present, passage
    for ev in result.evidence:
        assert passage[ev.start : ev.end] == ev.text
    assert bool(result.evidence) is present


def test_a_heading_and_its_list_item_are_both_the_evidence() -> None:
    text = "## 四、向第三方提供个人信息\n\n- 某某支付有限公司：用于完成支付，提供的信息为银行卡号。\n"
    result = lint_text(text, "markdown").item("third_party_sharing")
    assert [e.text for e in result.evidence] == [
        "四、向第三方提供个人信息",
        "某某支付有限公司：用于完成支付，提供的信息为银行卡号。",
    ]


def test_the_same_list_as_html_is_read_under_its_heading() -> None:
    page = "<html><body><h2>数据保护</h2><ul><li>传输加密</li><li>访问控制</li></ul></body></html>"
    result = lint_text(page).item("security_measures")
    assert result.present
    for ev in result.evidence:
        assert page[ev.start : ev.end] == ev.text


def test_the_rules_generated_for_the_demo_inventory_pass_the_lint(session: Session) -> None:
    """Issue 7, done means: every disclosure item present, in Chinese and in English."""
    load_demo_inventory(session)
    session.commit()
    current = inventory.current_rules_version(session)
    assert current is not None
    for lang, text in (("zh", current.text_zh), ("en", current.text_en)):
        report = lint_text(text)
        missing = [i.id for i in report.items if not i.present]
        assert missing == [], (lang, missing)
        assert report.decision().allowed
