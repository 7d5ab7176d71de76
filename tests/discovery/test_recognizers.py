"""Per-category recogniser tests, traps included: CJK adjacency, full-width digits, 19-digit cards,
wrong check digits, 18-digit order numbers, Luhn-valid random digits."""

from __future__ import annotations

import pytest

from piguard.discovery.engine import detect, detect_batch
from piguard.discovery.validators import id_check_digit, luhn_ok

pytestmark = pytest.mark.obligation("O24-4", "GC-111")


def found(text: str, category: str | None = None) -> list[tuple[str, str]]:
    return [
        (f.category, text[f.start : f.end])
        for f in detect(text)
        if category is None or f.category == category
    ]


def with_check(first17: str) -> str:
    return first17 + id_check_digit(first17)


def luhn(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


# ---- id_card
def test_id_card_valid_and_cjk_adjacent() -> None:
    assert found("我的身份证11010519491231002X请核对") == [("id_card", "11010519491231002X")]
    assert found("身份证号：360426199101010071。") == [("id_card", "360426199101010071")]


def test_id_card_wrong_check_digit_is_not_an_id() -> None:
    assert found("身份证110105194912310021错了", "id_card") == []
    assert found("编号110105194912310021", "bank_card") == []  # a mistyped ID is not a card either


def test_id_card_bad_date_or_area_rejected() -> None:
    assert found(with_check("11010519491331002"), "id_card") == []  # month 13
    assert found(with_check("99010519491231002"), "id_card") == []  # area 99 never existed


def test_id_card_legacy_15_digits_and_area_era() -> None:
    assert found("身份证：110105491231002") == [("id_card", "110105491231002")]
    # 110103 (崇文区) was abolished in 2010: a 2015 birth there lowers confidence, it does not reject
    old = detect(with_check("11010320150101001"))
    current = detect(with_check("11010519490101001"))
    assert old and old[0].category == "id_card" and old[0].confidence < current[0].confidence


def test_id_card_full_width_digits() -> None:
    s = "身份证" + "".join(chr(ord(c) - 48 + 0xFF10) if c.isdigit() else c for c in "11010519491231002X")
    assert found(s) == [("id_card", s[3:])]


# ---- phones
@pytest.mark.parametrize(
    "number",
    [
        "13812345678",
        "138-1234-5678",
        "138 1234 5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "0086-13812345678",
        "１３８１２３４５６７８",
        "＋８６ １３８ １２３４ ５６７８",
    ],
)
def test_mobile_formats_next_to_chinese(number: str) -> None:
    assert found(f"请拨打{number}联系张经理") == [("phone_mobile", number)]


def test_mobile_traps() -> None:
    assert found("订单号202305011381234567", "phone_mobile") == []  # inside a longer run
    assert found("12345678901", "phone_mobile") == []  # 12x is no mobile range
    assert found("SF13812345678", "phone_mobile") == []  # a tracking number, not a phone
    assert found("验证码138123，有效期5分钟") == []


@pytest.mark.parametrize(
    "number",
    [
        "010-12345678",
        "(010)12345678",
        "（0755）12345678",
        "+86 755 12345678",
        "0911-6512345",
        "021 62345678",
        "０１０－１２３４５６７８",
        "+86-10-12345678",
    ],
)
def test_landline_formats(number: str) -> None:
    assert found(f"办公电话{number}。") == [("phone_landline", number)]


def test_service_numbers_are_not_landlines() -> None:
    assert found("客服热线400-123-4567", "phone_landline") == []


# ---- bank cards
def test_unionpay_19_digits_and_grouped() -> None:
    card = luhn("622202001234567890")
    assert len(card) == 19
    assert found(f"卡号{card}已绑定") == [("bank_card", card)]
    grouped = " ".join(card[i : i + 4] for i in range(0, 19, 4))
    assert found(f"转账至{grouped}，谢谢") == [("bank_card", grouped)]


def test_card_traps() -> None:
    card = luhn("622202001234567")
    bad = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert found(f"卡号{bad}", "bank_card") == []  # Luhn fails
    rand = luhn("3" + "123456789012345")  # Luhn-valid, but no issuer starts with 31
    assert found(f"编号{rand}", "bank_card") == []
    order = luhn("62" + "2305011234567")  # Luhn-valid 16 digits behind an order-number label
    assert found(f"订单号：{order}", "bank_card") == []


def test_18_digit_order_numbers_are_nothing() -> None:
    assert found("订单号：202305011234567890，请查收") == []
    assert found("Order No. 202305011234567890") == []


# ---- email, ip, gps
def test_email_does_not_swallow_chinese() -> None:
    assert found("邮箱zhang.san@example.com联系我") == [("email", "zhang.san@example.com")]
    assert found("发到a_b-1@mail.corp.cn。") == [("email", "a_b-1@mail.corp.cn")]
    assert found("关注@新浪微博") == []


def test_ip_addresses() -> None:
    assert found("登录IP 192.168.1.10，") == [("ip_address", "192.168.1.10")]
    assert found("来源IP:2001:db8::8a2e:370:7334。") == [("ip_address", "2001:db8::8a2e:370:7334")]
    assert found("地址fe80::1") == [("ip_address", "fe80::1")]
    assert found("版本v1.2.3.4发布", "ip_address") == []
    assert found("999.1.1.1", "ip_address") == []
    assert found("会议时间12:30:45", "ip_address") == []


def test_gps_pair_and_amounts() -> None:
    assert found("坐标：39.904200,116.407396") == [("gps", "39.904200,116.407396")]
    assert found("合计12.50, 30.00元", "gps") == []


# ---- plates, passports
def test_plates_including_new_energy() -> None:
    assert found("车牌京A12345违章") == [("license_plate", "京A12345")]
    assert found("粤BD12345已进场") == [("license_plate", "粤BD12345")]  # 8-character new-energy plate
    assert found("沪A·1B234") == [("license_plate", "沪A·1B234")]


def test_passport() -> None:
    assert found("护照号码：E12345678") == [("passport", "E12345678")]
    assert found("护照EA1234567") == [("passport", "EA1234567")]
    assert found("型号XE12345678", "passport") == []


# ---- keyword categories
def test_keyword_value_categories() -> None:
    text = "QQ：12345678 微信号：zhang_wei88 账号：user_2023 密码=Abc@12345"
    assert found(text) == [
        ("qq", "12345678"),
        ("wechat", "zhang_wei88"),
        ("account", "user_2023"),
        ("password", "Abc@12345"),
    ]
    assert found("忘记密码请点击这里") == []
    assert found("密码：******") == []  # already masked
    assert found("login from 10.0.0.1", "account") == []


def test_names_and_birth_dates() -> None:
    assert found("姓名：张伟，出生日期1990年1月2日") == [("name", "张伟"), ("birth_date", "1990年1月2日")]
    assert found("尊敬的王小明先生您好") == [("name", "王小明")]
    assert found("收件人欧阳娜娜") == [("name", "欧阳娜娜")]
    assert found("Name: John Smith, DOB: March 5, 1990") == [
        ("name", "John Smith"),
        ("birth_date", "March 5, 1990"),
    ]
    assert found("会议定于2023年1月2日召开", "birth_date") == []  # a date alone is no birth date
    assert found("患者和亲属一起来", "name") == []


def test_addresses() -> None:
    assert found("收货地址：北京市海淀区中关村大街27号1101室，电话") == [
        ("address", "北京市海淀区中关村大街27号1101室")
    ]
    assert found("寄到广东省深圳市南山区科技园路1号") == [("address", "广东省深圳市南山区科技园路1号")]
    assert found("Address: 221 Baker Street, London. Thanks") == [("address", "221 Baker Street, London")]
    assert found("北京今天有小雨", "address") == []


def test_location_time_needs_use_and_place() -> None:
    text = "2023-05-01 12:30:45 用户登录，IP 10.1.2.3"
    assert found(text) == [("location_time", "2023-05-01 12:30:45"), ("ip_address", "10.1.2.3")]
    assert found("会议时间2023-05-01 12:30:45，地点301", "location_time") == []


@pytest.mark.parametrize(
    "plate",
    [
        "京A12345",
        "粤BD12345",
        "粤B12345D",
        "沪A·1B234",
        "京A 12345",
        "粤B1234学",
        "京A0001警",
        "粤Z1234港",
        "鲁B1234挂",
        "粤b12345",
        "京a8k888",
    ],
)
def test_plate_forms_next_to_chinese(plate: str) -> None:
    assert found(f"车主开{plate}在小区门口") == [("license_plate", plate)]


def test_plate_lookalikes_are_not_plates() -> None:
    for text in (
        "产品型号A12345",
        "航班CA1234延误",
        "车次G1234",
        "型号SA12345",
        "京ICP备12345678号",
        "京B2-20090059",
    ):
        assert found(text, "license_plate") == [], text


@pytest.mark.parametrize(
    "text",
    [
        "QQ:12345678",
        "qq号 12345678",
        "QQ号码：12345678",
        "我的QQ是12345678",
        "扣扣12345678",
        "加QQ12345678咨询",
        "QQ：１２３４５６７８",
    ],
)
def test_qq_forms(text: str) -> None:
    assert [c for c, _ in found(text)] == ["qq"]
    assert found(text)[0][1].translate({0xFF10 + i: 48 + i for i in range(10)}) == "12345678"


def test_qq_lookalikes() -> None:
    assert found("订单号12345678", "qq") == []  # a bare number is no QQ number
    assert found("QQ群号：12345678", "qq") == []  # a group, not a person
    assert found("我的QQ邮箱是12345678@qq.com") == [("email", "12345678@qq.com")]


def test_the_latest_birth_year_is_this_year_in_china() -> None:
    """A resident ID born on New Year's Day is valid from midnight in China, whatever the process's
    own zone, and a long-running process sees the new year (it was fixed at import, local year)."""
    import time_machine

    from piguard.discovery import validators as v

    first17 = "11010120280101001"
    number = first17 + v.id_check_digit(first17)
    v._YEAR[1] = 0.0
    with time_machine.travel("2027-12-31T15:59:00Z", tick=False):  # 23:59 on 31 Dec in China
        assert v.this_year() == 2027 and v.id_card_quality(number) == 0.0
        v._YEAR[1] = 0.0
    with time_machine.travel("2027-12-31T16:01:00Z", tick=False):  # 00:01 on 1 Jan 2028 in China
        assert v.this_year() == 2028 and v.id_card_quality(number) > 0
    v._YEAR[1] = 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a date at the end of one line is not "just before 出生" on the next
        ("下单日期：2022-06-30\n出生日期：1952/01/31", [("birth_date", "1952/01/31")]),
        ("电话(010)\n12345678", []),  # an area code in parentheses does not reach over the break
        ("纬度\n39.916527", []),  # nor an axis word
        ("北纬\n39.9165°", []),
        ("护照号E\n12345678", []),
        # the same on one line is still found
        ("他1990年3月7日出生于湖南", [("birth_date", "1990年3月7日")]),
        ("电话(010)12345678", [("phone_landline", "(010)12345678")]),
        ("纬度 39.916527", [("gps", "39.916527")]),
        ("护照号E12345678", [("passport", "E12345678")]),
    ],
)
def test_no_look_behind_reads_across_a_line_break(text: str, expected: list[tuple[str, str]]) -> None:
    """``$`` in a look-behind pattern also matched before a region's trailing newline, so the
    recognisers that read the words just before a value read the previous line's end. That also made
    a batch (texts joined by newlines) differ from one call per text."""
    assert [(f.category, text[f.start : f.end]) for f in detect(text)] == expected


def test_a_batch_finds_what_one_call_per_text_finds_when_the_next_text_starts_with_a_cue() -> None:
    texts = ["生于25 May 1994，下单日期：2022-06-30", "出生日期：1952/01/31，生日快乐！", "(010)", "12345678"]
    assert detect_batch(texts) == [detect(t) for t in texts]
