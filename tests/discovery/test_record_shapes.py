"""Shapes found by trying the scanner on records as people write them (issue 12): each a finding
that was missed or cut wrong before. Spans are asserted exactly (strict F1 counts them)."""

from __future__ import annotations

import pytest

from piguard.discovery.engine import detect

pytestmark = pytest.mark.obligation("O24-4", "GC-111")


def _found(text: str) -> list[tuple[str, str]]:
    return [(f.category, text[f.start : f.end]) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a version marker earlier on the line no longer hides the addresses after the version
        ("appVersion=2.10.3.4 client 192.168.1.20", [("ip_address", "192.168.1.20")]),
        ("version 2.10.3.4, server 10.0.0.1", [("ip_address", "10.0.0.1")]),
        ("软件 3.1.0.2 登录IP 58.32.1.9", [("ip_address", "58.32.1.9")]),
        # the quad right after the marker is still a version
        ('"appVersion":"1.2.3.4"', []),
        ("固件版本 1.0.3.7", []),
        ("software 4.4.0.1", []),
    ],
)
def test_versions_and_addresses_on_one_line(text: str, expected: list[tuple[str, str]]) -> None:
    assert [x for x in _found(text) if x[0] == "ip_address"] == expected


@pytest.mark.parametrize(
    ("text", "password"),
    [
        ("user=zhangsan01&passwd=Abc@12345&ip=10.2.3.4", "Abc@12345"),
        ("op=login|pwd=Qw3rty!!|ts=1700000000", "Qw3rty!!"),
        ("password=a&b=c", "a"),  # the value ends where the next key starts
        ("password=P&ss w0rd", "P&ss"),  # an & that starts no key is part of the password
    ],
)
def test_a_password_in_a_query_string_ends_at_the_next_key(text: str, password: str) -> None:
    assert ("password", password) in _found(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("联系人:Li Xiaoming Tel:13698765432", "Li Xiaoming"),
        ("Name: Wang Fang Phone: 13698765432", "Wang Fang"),
        ("Dear Mr. John Smith,", "John Smith"),
        ("Hi, this is Mike Chen from HR", "Mike Chen"),
        ("I'm Sarah O'Brien, nice to meet you", "Sarah O'Brien"),
        ("My name is Zhang Wei.", "Zhang Wei"),
        ("Contact: Ronald McDonald", "Ronald McDonald"),
        ("客户 刘德华 于2023-05-01 办理业务", "刘德华"),
        ("Hi, this is David Smith.", "David Smith"),
        ("云伟天您好，您的快递已到", "云伟天"),  # 天 and 一 may end a three-character given name
        ("巩勇一你好，请用卡号", "巩勇一"),
    ],
)
def test_names_as_records_and_chat_write_them(text: str, name: str) -> None:
    assert [x for x in _found(text) if x[0] == "name"] == [("name", name)]


@pytest.mark.parametrize(
    "text",
    [
        "Dear Customer,",
        "Dear Valued Member, your order has shipped",
        "This is China Mobile.",
        "this is a test",
        "This is Bank of China, your card ends 1234",
        "I am Very happy",
        "客户满意度调查",
        "用户 王者荣耀 玩家",
        "周一您好，本周会议改到周三",
        "星期一您好",
        "礼拜天您好",
        "今天您好",
    ],
)
def test_salutations_and_introductions_that_name_nobody(text: str) -> None:
    assert [x for x in _found(text) if x[0] == "name"] == []


def test_an_explicit_qq_cue_wins_over_the_mobile_shape() -> None:
    """A QQ number can have 11 digits starting with 1; after "QQ号：" it is a QQ number."""
    assert _found("QQ号：15289547186") == [("qq", "15289547186")]
    assert _found("qq:13610096079，wx") == [("qq", "13610096079")]
    # without a separator the cue is weaker than the number's own shape
    assert _found("我的QQ 13610096079") == [("phone_mobile", "13610096079")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("生日：3月5日", [("birth_date", "3月5日")]),
        ("我的生日是12月1号", [("birth_date", "12月1号")]),
        ("生日：2月30日", []),  # no such day
        ("生日快乐，3月5日见", []),  # a wish, not a field
        ("生日3月5日", []),  # without a separator the month and day alone say too little
    ],
)
def test_a_birthday_without_its_year_after_the_cue(text: str, expected: list[tuple[str, str]]) -> None:
    assert [x for x in _found(text) if x[0] == "birth_date"] == expected


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("住址：朝阳区建国路88号SOHO现代城A座1201", "朝阳区建国路88号SOHO现代城A座1201"),
        (
            "地址:上海浦东新区张江高科技园区碧波路690号3号楼502",
            "上海浦东新区张江高科技园区碧波路690号3号楼502",
        ),
        ("上海市徐汇区漕溪北路88号圣爱大厦12楼1201", "上海市徐汇区漕溪北路88号圣爱大厦12楼1201"),
        ("深圳市南山区粤兴三道8号B座1503室", "深圳市南山区粤兴三道8号B座1503室"),
        ("北京市海淀区中关村大街27号1座2023年入驻", "北京市海淀区中关村大街27号1座"),  # a year is no room
    ],
)
def test_buildings_written_with_zuo_and_bare_room_numbers(text: str, address: str) -> None:
    assert [x for x in _found(text) if x[0] == "address"] == [("address", address)]


def test_zuo_after_a_numeral_is_a_measure_word() -> None:
    assert [x for x in _found("浙江有中国第一座跨海大桥") if x[0] == "address"] == []
