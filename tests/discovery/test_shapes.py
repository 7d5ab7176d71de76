"""Checksum and shape classes (issue 12, item 3): every card brand issued in China by prefix, length
and Luhn; landline extensions inside the span; dotted quads after a version marker are versions.
Hand-written positives and negatives, Chinese and English."""

from __future__ import annotations

import pytest

from piguard.discovery.engine import detect
from piguard.discovery.validators import card_brand, luhn_ok

pytestmark = pytest.mark.obligation("O24-4", "GC-111")


def found(text: str, category: str | None = None) -> list[tuple[str, str]]:
    return [
        (f.category, text[f.start : f.end])
        for f in detect(text)
        if category is None or f.category == category
    ]


def luhn(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


# ---- bank cards by brand
@pytest.mark.parametrize(
    ("body", "brand"),
    [
        ("622848001234567", "unionpay"),  # 16
        ("622202001234567890", "unionpay"),  # 19
        ("453201511283036", "visa"),  # 16
        ("453201511283036123", "visa"),  # 19
        ("510510510510510", "mastercard"),
        ("545454545454545", "mastercard"),
        ("222100000000000", "mastercard"),  # 2-series
        ("272099999999999", "mastercard"),
        ("37828224631000", "amex"),  # 15
        ("34000000000000", "amex"),
        ("353011133330000", "jcb"),
        ("358900000000000", "jcb"),
        ("601100000000000", "discover"),
        ("3056930902590", "diners"),  # 14
    ],
)
def test_card_brands_found_with_card_words(body: str, brand: str) -> None:
    card = luhn(body)
    assert card_brand(card) is not None and card_brand(card)[0] == brand  # type: ignore[index]
    assert found(f"信用卡号：{card}，请核对", "bank_card") == [("bank_card", card)]
    assert found(f"Card number {card} expires 08/29", "bank_card") == [("bank_card", card)]


def test_visa_and_mastercard_found_without_context_and_grouped() -> None:
    visa = luhn("453201511283036")
    mc = luhn("552233001122334")
    assert found(f"尾款请转{visa}谢谢", "bank_card") == [("bank_card", visa)]
    grouped = " ".join(mc[i : i + 4] for i in range(0, 16, 4))
    assert found(f"paid with {grouped} yesterday", "bank_card") == [("bank_card", grouped)]


def test_card_shape_negatives() -> None:
    visa = luhn("453201511283036")
    assert found(f"订单号{visa}", "bank_card") == []  # Luhn-valid digits under an order label
    assert found(f"tracking {visa}", "bank_card") == []
    assert found(f"交易流水号：{luhn('510510510510510')}", "bank_card") == []
    bad = visa[:-1] + str((int(visa[-1]) + 1) % 10)
    assert found(f"卡号{bad}", "bank_card") == []  # Luhn fails
    assert found(f"卡号{luhn('561234567890123')}", "bank_card") == []  # 56: no brand
    assert found(f"卡号{luhn('51051051051051012')}", "bank_card") == []  # Mastercard is 16 only
    assert found(f"卡号{luhn('2721000000000000')}", "bank_card") == []  # past the 2-series range
    assert found(f"编号{luhn('3782822463100')}", "bank_card") == []  # 15-digit: needs a card word
    # a 15-digit legacy resident ID in Anhui (34...) is not an Amex card
    assert found("身份证：340104800101123", "bank_card") == []


# ---- landline extensions
@pytest.mark.parametrize(
    "number",
    [
        "010-12345678-8898",
        "0755-26789012转99",
        "0755-26789012 转 99",
        "021-61234567 ext. 12",
        "021-61234567 Ext.12",
        "021-61234567x12",
        "(010)62345678分机 12",
        "（020）83456789分机号：301",
        "+86 21 61234567 ext 305",
    ],
)
def test_landline_extension_inside_span(number: str) -> None:
    assert found(f"办公电话{number}，工作日可拨。", "phone_landline") == [("phone_landline", number)]
    assert found(f"Office {number}; thanks", "phone_landline") == [("phone_landline", number)]


def test_landline_without_extension_unchanged() -> None:
    assert found("电话010-12345678，", "phone_landline") == [("phone_landline", "010-12345678")]
    assert found("电话010-12345678转人工", "phone_landline") == [("phone_landline", "010-12345678")]
    assert found("客服热线400-123-4567转2", "phone_landline") == []


# ---- versions are not IP addresses
@pytest.mark.parametrize(
    "text",
    [
        "v1.2.3.4",
        "V10.0.19041.1",
        '{"appVersion":"1.2.3.4"}',
        '{"app_version": "10.2.3.4"}',
        "版本号：1.2.3.4",
        "版本 2.0.1.3 已发布",
        "固件1.0.0.12",
        "version=1.2.3.4",
        "Version: 4.4.2.1",
        "build 10.2.3.4",
        "osVersion=13.1.0.2",
    ],
)
def test_dotted_quads_after_version_markers_are_not_ips(text: str) -> None:
    assert found(text, "ip_address") == []


@pytest.mark.parametrize(
    ("text", "ip"),
    [
        ("server: 10.0.0.1", "10.0.0.1"),
        ('{"appVersion":"1.2.3.4","ip":"10.1.2.3"}', "10.1.2.3"),
        ("登录IP 192.168.1.10，版本号1.2.3", "192.168.1.10"),
        ("reverse proxy 172.16.0.5", "172.16.0.5"),
        ("客户端版本3.2，来源地址 8.8.8.8", "8.8.8.8"),
    ],
)
def test_ips_near_but_not_after_version_markers(text: str, ip: str) -> None:
    assert found(text, "ip_address") == [("ip_address", ip)]


def test_luhn_valid_ids_in_json_and_logs_are_not_cards() -> None:
    visa = luhn("453201511283036")
    assert found(f'{{"order_no":"{visa}","ts":"2024-05-01 10:00:00"}}', "bank_card") == []
    assert found(f'{{"traceId":"{visa}"}}', "bank_card") == []
    assert found(f"request_id={visa} status=200", "bank_card") == []
    assert found(f"设备号{luhn('622848001234567')}", "bank_card") == []
    assert found(f'{{"card_no":"{visa}"}}', "bank_card") == [("bank_card", visa)]


def test_firewall_is_no_version_marker() -> None:
    assert found("fw: 10.0.0.1 blocked", "ip_address") == [("ip_address", "10.0.0.1")]
