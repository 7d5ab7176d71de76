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


# ---- birth dates in birth context (issue 12: dates in several shapes)
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("出生日期：1990年3月7日，性别女", "1990年3月7日"),
        ("生日 1990/03/07", "1990/03/07"),
        ("DOB: 07-Mar-1990", "07-Mar-1990"),
        ("D.O.B. 7 March 1990.", "7 March 1990"),
        ('{"birthday":"19900307","createdAt":"20240101"}', "19900307"),
        ('{"birth_date": "1990-03-07"}', "1990-03-07"),
        ("birthDate=1990.03.07 uid=7", "1990.03.07"),
        ('"出生日期":"1990-03-07"', "1990-03-07"),
        ("他1990年3月7日出生于湖南", "1990年3月7日"),
        ("Date of birth: March 7, 1990", "March 7, 1990"),
    ],
)
def test_birth_dates_in_birth_context(text: str, value: str) -> None:
    assert found(text, "birth_date") == [("birth_date", value)]


def test_birth_date_column_in_csv_text() -> None:
    text = "姓名,出生日期,城市\n张伟,1990-03-07,深圳\n李娜,1988/12/01,北京\n王芳,未知,上海\n"
    assert [v for _, v in found(text, "birth_date")] == ["1990-03-07", "1988/12/01"]


@pytest.mark.parametrize(
    "text",
    [
        "下单日期：2024-03-07",
        '{"createdAt":"20240307","orderDate":"2024-03-07"}',
        "生日快乐！2024-05-01 见",
        "生日蛋糕订购日期 2024-05-01",
        "birthday party on 2024-05-01",
        "rebirth 2020-01-01",
        "出生日期：1990年2月30日",  # no such day
        "有效期至 2030-01-01",
    ],
)
def test_dates_that_are_not_birth_dates(text: str) -> None:
    assert found(text, "birth_date") == []


# ---- QQ and WeChat cue variants
@pytest.mark.parametrize(
    ("text", "category", "value"),
    [
        ("QQ号123456789", "qq", "123456789"),
        ("扣扣：123456789", "qq", "123456789"),
        ("qq:123456789", "qq", "123456789"),
        ("企鹅号 123456789 常在线", "qq", "123456789"),
        ("有事加我Q 12345678", "qq", "12345678"),
        ('{"qq":"123456789"}', "qq", "123456789"),
        ("qq_number=123456789", "qq", "123456789"),
        ("微信号zhangwei_88", "wechat", "zhangwei_88"),
        ("威信：zhangwei_88", "wechat", "zhangwei_88"),
        ("vx: zhangwei_88", "wechat", "zhangwei_88"),
        ("wx：zhangwei_88", "wechat", "zhangwei_88"),
        ("WeChat ID: Tom_Zhao99", "wechat", "Tom_Zhao99"),
        ("wechat_id=Tom_Zhao99", "wechat", "Tom_Zhao99"),
        ("加v：xiaoyu1990", "wechat", "xiaoyu1990"),
    ],
)
def test_qq_and_wechat_cues(text: str, category: str, value: str) -> None:
    assert found(text, category) == [(category, value)]


@pytest.mark.parametrize(
    "text",
    [
        "QQ群：123456789",
        "QQ音乐版本 8.9.1",
        "wx.version=8.0.1",
        "微信公众号：科技日报",
        "qqmusic=123456789",  # another key
        "wechat_id Tom_Zhao99",  # a key needs its separator
        "微信支付单号 4200001234567890",
    ],
)
def test_qq_wechat_negatives(text: str) -> None:
    assert found(text, "qq") == [] and found(text, "wechat") == []


# ---- GPS coordinate pairs
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("位置：116.397128,39.916527", "116.397128,39.916527"),  # lon,lat as map APIs give it
        ("坐标 39.916527, 116.397128", "39.916527, 116.397128"),
        ("""GPS 39°54'27"N 116°23'17"E""", """39°54'27"N 116°23'17"E"""),
        ("定位 N39°54′27″ E116°23′17.5″，速度 0", "N39°54′27″ E116°23′17.5″"),
        ("北纬39.9165°，东经116.3971°", "北纬39.9165°，东经116.3971°"),
        ("东经116.3971 北纬39.9165", "东经116.3971 北纬39.9165"),
        ("北纬39度54分27秒 东经116度23分17秒", "北纬39度54分27秒 东经116度23分17秒"),
        ("拍摄于 22°32'N, 114°3'E", "22°32'N, 114°3'E"),
    ],
)
def test_gps_pairs(text: str, value: str) -> None:
    assert found(text, "gps") == [("gps", value)]


@pytest.mark.parametrize(
    "text",
    [
        "准确率 0.9123，召回率 0.8812",
        "precision,recall\n0.9123,0.8812",  # two decimals side by side outside China: scores
        "单价 39.9000元，116.3900元",
        "气温 36.6°，湿度 80%",
        "转角 45°30' 顺时针",  # an angle: no hemisphere
        "版本 39.9165.116",
        "北纬95°，东经116°",  # no latitude beyond 90
    ],
)
def test_gps_negatives(text: str) -> None:
    assert found(text, "gps") == []


# ---- address spans
@pytest.mark.parametrize(
    ("text", "value"),
    [
        (
            "收货地址：广东省深圳市南山区粤海街道科技南十二路18号长虹科技大厦5楼501室，电话",
            "广东省深圳市南山区粤海街道科技南十二路18号长虹科技大厦5楼501室",
        ),
        ("寄到深圳市南山区科技园路18号送货上门", "深圳市南山区科技园路18号"),
        ("家住朝阳区建国路88号现代城5号楼2单元", "朝阳区建国路88号现代城5号楼2单元"),
        (
            "新疆维吾尔自治区阿克苏地区乌什县中山北路113号翠湖花园27栋，谢谢",
            "新疆维吾尔自治区阿克苏地区乌什县中山北路113号翠湖花园27栋",
        ),
        (
            "地址：西湖区文三路100号3栋2单元1203室请尽快发货，客服385号为您服务",
            "西湖区文三路100号3栋2单元1203室",
        ),
        ("住址:义乌市佛堂镇塔下洲村15号附近的快递柜", "义乌市佛堂镇塔下洲村15号"),
    ],
)
def test_address_spans(text: str, value: str) -> None:
    assert found(text, "address") == [("address", value)]


@pytest.mark.parametrize(
    "text",
    ["深圳市气象台发布暴雨预警", "上海市第一人民医院通知", "北京时间10点整", "杭州西湖区教育局发布公告"],
)
def test_places_that_are_no_address(text: str) -> None:
    assert found(text, "address") == []


# ---- addresses that start at the road: no division name or address word before them
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("快递放朝阳路88号3单元门口", "朝阳路88号3单元"),
        ("我在中关村大街27号，到了打电话", "中关村大街27号"),
        ("长乐路123弄5号", "长乐路123弄5号"),
        ('{"note":"体育西路１９１号","qty":2}', "体育西路１９１号"),  # full-width digits
        ("就在建国门外大街1号国贸大厦2座", "建国门外大街1号国贸大厦2座"),  # 座: a building, as 栋
        ("和平路62号卖羊奶的", "和平路62号"),  # 和 belongs to the name
        ("专卖店洪德路72弄55号，另有特价", "洪德路72弄55号"),  # the place given for it is not
        ("送到迎宾东胡同324号楼下", "迎宾东胡同324号"),  # downstairs, not a building
        ("店在莲花西路592号华府22号楼1377，谢谢", "莲花西路592号华府22号楼1377"),  # bare room number
        ("人民路十八号2栋", "人民路十八号2栋"),
        ("寄到中山西路100号3单元", "中山西路100号3单元"),  # not 山西 (a province) onwards
    ],
)
def test_addresses_from_the_road(text: str, value: str) -> None:
    assert found(text, "address") == [("address", value)]


@pytest.mark.parametrize(
    "text",
    [
        "坐地铁2号线到站",
        "5月8号见",
        "线路55号故障",
        "乘89路公交车",
        "座位7排4号",
        "马路上堵了16分钟",
        "一路顺风，3月4号回来",
        "电路3号板坏了",
        "逛街2号那天",
    ],
)
def test_road_words_that_are_no_address(text: str) -> None:
    assert found(text, "address") == []


def test_a_division_led_address_is_one_finding() -> None:
    assert found("北京市朝阳区建国路88号3单元") == [("address", "北京市朝阳区建国路88号3单元")]
    assert found("电话13812345678，朝阳路88号") == [
        ("phone_mobile", "13812345678"),
        ("address", "朝阳路88号"),
    ]
