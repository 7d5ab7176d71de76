"""Context recognisers for structured cases (issue 12, item 1): names, accounts and passwords by
field names in JSON and key=value logs, by column headers in CSV-like text, and names after role
words and in greetings. Hand-written positives and negatives, Chinese and English."""

from __future__ import annotations

import pytest

from piguard.discovery.engine import detect, detect_batch

pytestmark = pytest.mark.obligation("O24-4", "GC-111")


def found(text: str, category: str | None = None) -> list[tuple[str, str]]:
    return [
        (f.category, text[f.start : f.end])
        for f in detect(text)
        if category is None or f.category == category
    ]


# ---- JSON and key=value fields
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('{"name":"Xie Yang","phone":"13812345678"}', "Xie Yang"),
        ('{"customer.name": "张伟", "sku": 3}', "张伟"),
        ('{"customer_name":"欧阳娜娜"}', "欧阳娜娜"),
        ('{"realName":"王芳"}', "王芳"),
        ('{"receiverName": "J. R. Smith"}', "J. R. Smith"),
        ("recipient: Mary-Jane Smith, 2 items", "Mary-Jane Smith"),
        ("2024-05-01 INFO order shipped real_name=陈凯玲 city=Beijing", "陈凯玲"),
        ('"姓名":"Xie Yang"', "Xie Yang"),
        ('{"姓名": "李娜"}', "李娜"),
    ],
)
def test_name_in_fields(text: str, name: str) -> None:
    assert found(text, "name") == [("name", name)]


@pytest.mark.parametrize(
    "text",
    [
        '{"product_name":"iPhone Pro"}',
        '{"hostname":"Web Server"}',
        '{"name":"Shanghai Branch"}',
        '{"filename":"Report Final"}',
        '{"name":"default"}',
        '{"names": "Tom Hanks"}',
        '{"name":"张伟工作室"}',
        "nameserver=Alpha",
    ],
)
def test_name_like_fields_that_are_not_person_names(text: str) -> None:
    assert found(text, "name") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"username":"zhang_3","password":"s3cret!"}', [("account", "zhang_3"), ("password", "s3cret!")]),
        ("login ok username=zhangsan pwd=Qwe!2345", [("account", "zhangsan"), ("password", "Qwe!2345")]),
        ('{"userPassword":"p@ss1"}', [("password", "p@ss1")]),
        (
            '{"账号":"wangfang01","初始密码":"88aa99bb"}',
            [("account", "wangfang01"), ("password", "88aa99bb")],
        ),
        ("auth failed login=lucy88; retry", [("account", "lucy88")]),
        ('{"user_name": "li.lei"}', [("account", "li.lei")]),
    ],
)
def test_accounts_and_passwords_in_fields(text: str, expected: list[tuple[str, str]]) -> None:
    assert [x for x in found(text) if x[0] in ("account", "password")] == expected


def test_password_fields_that_hold_no_password() -> None:
    assert found('{"password":"******"}', "password") == []
    assert found('{"password_hash":"$2b$12$abc"}', "password") == []
    assert found("please reset your password at the portal", "password") == []
    assert found("the login page is slow", "account") == []


# ---- CSV headers
def test_csv_header_columns() -> None:
    text = "姓名,手机,账号,密码\n陈凯玲,13812345678,chenkl,Abc#1234\nJohn Smith,13912345678,jsmith,****\n"
    got = found(text)
    assert ("name", "陈凯玲") in got and ("name", "John Smith") in got
    assert ("account", "chenkl") in got and ("account", "jsmith") in got
    assert ("password", "Abc#1234") in got
    assert ("password", "****") not in got  # masked cells are not passwords


def test_csv_header_english_tab_and_ragged_rows() -> None:
    text = "id\tusername\tpwd\n1\tlily_w\tx9!kk2\n2\tbroken row\n3\ttom_z\tqq1234\n\nusername\nafter_blank"
    got = found(text)
    assert ("account", "lily_w") in got and ("account", "tom_z") in got
    assert ("password", "x9!kk2") in got and ("password", "qq1234") in got
    assert ("account", "after_blank") not in got  # a header with the blank line: a new table, not read


def test_csv_header_word_must_be_a_whole_field() -> None:
    # "姓名" inside a longer header cell, and a prose line with commas, are no header
    assert found("客户姓名备注,手机\n老客户,13812345678\n", "name") == []
    assert found("请填写姓名, 然后提交\n张三丰, 明天\n", "name") == []
    assert found("name,price\nWidget Pro,12\n", "name") == []  # not a person's name shape


def test_csv_header_does_not_read_across_batch_records() -> None:
    # detect_batch joins records with newlines: a header in one record does not reach the next
    out = detect_batch(["姓名,城市", "陈凯玲,北京"])
    assert out[1] == []
    assert [f.category for f in detect_batch(["姓名,城市\n陈凯玲,北京"])[0]] == ["name"]


# ---- role words and greetings
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("快递员陈凯玲已到楼下", "陈凯玲"),
        ("收款人王芳，卡号稍后发您", "王芳"),
        ("客服专员李娜为您服务", "李娜"),
        ("胡洋飞您好，您的快递到了", "胡洋飞"),
        ("欧阳娜娜你好，会议改到三点", "欧阳娜娜"),
        ("骑手张强 正在配送", "张强"),
    ],
)
def test_names_after_roles_and_in_greetings(text: str, name: str) -> None:
    assert found(text, "name") == [("name", name)]


@pytest.mark.parametrize(
    "text",
    [
        "周一您好",
        "大家好",
        "各位您好",
        "医生说要复查",
        "快递员已到",
        "收款人信息有误",
        "负责人的电话",
        "今天您好",
    ],
)
def test_role_and_greeting_negatives(text: str) -> None:
    assert found(text, "name") == []
