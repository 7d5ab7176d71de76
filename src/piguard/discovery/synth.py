"""Seeded synthetic Chinese/English corpus with gold PI spans and hard negatives.

Everything here is made up: numbers are generated to be valid where they are PI (check digits,
Luhn, allocated mobile ranges, real division codes) and to be near misses where they are not (IDs
with a wrong check digit, Luhn-valid random digits under order-number labels, 18-digit order numbers,
tracking numbers, timestamps, amounts, versions, verification codes). Used by the tests and by
``bench/discovery.py``; ``bench/corpus_gen.py`` writes it as JSONL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from piguard.discovery import validators as v
from piguard.discovery.areas import area_table
from piguard.discovery.recognizers import surnames

GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国志斌宇浩然子轩欣怡梓涵俊杰思远嘉怡雨桐晨曦博文佳琪一鸣天佑雅婷晓东海燕春梅"
EN_FIRST = [
    "John",
    "Mary",
    "David",
    "Linda",
    "Michael",
    "Sarah",
    "James",
    "Emily",
    "Robert",
    "Anna",
    "Wei",
    "Li",
]
EN_LAST = [
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Chen",
    "Wang",
    "Zhang",
    "Miller",
]
ROADS = [
    "中山路",
    "人民路",
    "解放路",
    "建设路",
    "科技园路",
    "长江路",
    "和平街",
    "新华街",
    "东风大道",
    "学府路",
    "滨江大道",
    "文化巷",
]
PLACES = ["阳光小区", "幸福花园", "锦绣苑", "世纪大厦", "金茂公寓", "翠湖花园", "万科城"]
EN_STREETS = ["Baker", "Oxford", "King", "Queen", "Park", "Church", "High", "Elm"]
EN_CITIES = ["London", "Manchester", "Sydney", "Toronto", "Boston", "Singapore"]
DOMAINS = [
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "sina.com",
    "example.com.cn",
    "corp-mail.cn",
    "outlook.com",
]
PLATE_HEADS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
AREA_CODES = [
    "10",
    "20",
    "21",
    "22",
    "23",
    "24",
    "25",
    "27",
    "28",
    "29",
    "311",
    "371",
    "431",
    "451",
    "512",
    "531",
    "571",
    "574",
    "591",
    "592",
    "731",
    "755",
    "757",
    "769",
    "871",
    "898",
]
FILLER_ZH = [
    "您好，我们已收到您的申请",
    "请在工作日联系客服",
    "本次活动截止到月底",
    "感谢您的耐心等待",
    "系统将在今晚升级维护",
    "会议改到下午三点在三楼举行",
    "请核对以下信息是否正确",
    "如有疑问请回复本短信",
    "天气转凉请注意保暖",
    "我们会尽快为您处理",
    "资料已经提交审核",
    "今天的快递比较多可能会延迟",
    "这个方案还需要再讨论一下",
    "北京今天有小雨，出门记得带伞",
    "上海的项目进展顺利",
    "广州分公司下周搬家",
    "新版本修复了若干问题",
]
FILLER_EN = [
    "Thanks for your order",
    "Please review the details below",
    "The meeting moved to Friday",
    "Your request has been received",
    "Contact support if anything looks wrong",
    "See you next week",
]


@dataclass
class Doc:
    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def to_dict(self, ident: int | str) -> dict[str, object]:
        return {"id": ident, "text": self.text, "spans": [list(s) for s in self.spans]}


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, str]] = []
        self.n = 0

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.n += len(s)

    def pi(self, value: str, category: str) -> None:
        self.spans.append((self.n, self.n + len(value), category))
        self.add(value)

    def doc(self) -> Doc:
        return Doc("".join(self.parts), self.spans)


class Synth:
    """Value makers and sentence templates, all driven by one seeded ``random.Random``."""

    def __init__(self, seed: int = 7) -> None:
        self.r = random.Random(seed)
        table = area_table()
        self.counties = sorted(
            c
            for c, eras in table.eras.items()
            if not c.endswith("00") and eras[-1].end is None and not c[4:].startswith("0")
        )
        self.table = table
        single, compound = surnames()
        self.single = sorted(single)[:200]
        self.compound = sorted(compound)

    # ---- values
    def digits(self, n: int) -> str:
        return "".join(self.r.choice("0123456789") for _ in range(n))

    def fullwidth(self, s: str) -> str:
        return "".join(chr(ord(c) - 48 + 0xFF10) if c.isdigit() else c for c in s)

    def name(self) -> str:
        sur = self.r.choice(self.compound) if self.r.random() < 0.05 else self.r.choice(self.single)
        return sur + "".join(self.r.choice(GIVEN) for _ in range(self.r.choice((1, 2, 2))))

    def en_name(self) -> str:
        return f"{self.r.choice(EN_FIRST)} {self.r.choice(EN_LAST)}"

    def birth(self) -> date:
        return date(1950, 1, 1) + timedelta(days=self.r.randrange(0, 365 * 58))

    def id_card(self, valid: bool = True) -> str:
        b = self.birth()
        body = self.r.choice(self.counties) + b.strftime("%Y%m%d") + self.digits(3)
        check = v.id_check_digit(body)
        if not valid:
            check = self.r.choice([c for c in "0123456789X" if c != check])
        return body + check

    def id15(self) -> str:
        b = date(1940, 1, 1) + timedelta(days=self.r.randrange(0, 365 * 45))
        return self.r.choice(self.counties) + b.strftime("%y%m%d") + self.digits(3)

    def mobile_digits(self) -> str:
        while True:
            n = self.r.choice(["13", "15", "18", "17", "19", "14", "16"]) + self.digits(9)
            if v.mobile_ok(n):
                return n

    def mobile(self) -> str:
        n = self.mobile_digits()
        style = self.r.random()
        if style < 0.45:
            return n
        if style < 0.6:
            return f"{n[:3]}-{n[3:7]}-{n[7:]}"
        if style < 0.72:
            return f"{n[:3]} {n[3:7]} {n[7:]}"
        if style < 0.84:
            return "+86" + self.r.choice(["", " ", "-"]) + n
        return self.fullwidth(n)

    def landline(self) -> str:
        while True:
            area = self.r.choice(AREA_CODES)
            sub = self.r.choice("2345678") + self.digits(7 if len(area) == 2 or self.r.random() < 0.7 else 6)
            if v.landline_ok(area + sub):
                break
        style = self.r.random()
        if style < 0.45:
            return f"0{area}-{sub}"
        if style < 0.6:
            return f"(0{area}){sub}"
        if style < 0.7:
            return f"（0{area}）{sub}"
        if style < 0.82:
            return f"+86 {area} {sub}"
        if style < 0.9:
            return self.fullwidth(f"0{area}-{sub}")
        return f"0{area}{sub}"

    def email(self) -> str:
        user = self.r.choice(["zhang", "li.wei", "wang_fang", "service", "chen88", "hr", "lucy.liu", "a1b2"])
        if self.r.random() < 0.5:
            user += self.digits(self.r.randint(1, 4))
        return f"{user}@{self.r.choice(DOMAINS)}"

    def luhn_fix(self, body: str) -> str:
        for d in "0123456789":
            if v.luhn_ok(body + d):
                return body + d
        raise AssertionError

    def bank_card(self) -> str:
        if self.r.random() < 0.8:
            n = self.luhn_fix(
                "62"
                + self.r.choice(["2202", "2848", "1700", "2588", "1483", "2575"])
                + self.digits(self.r.choice((9, 12, 12, 11)))
            )
        else:
            n = self.luhn_fix("4" + self.digits(14))
        if self.r.random() < 0.35:
            return " ".join(n[i : i + 4] for i in range(0, len(n), 4))
        return n

    def passport(self) -> str:
        r = self.r.random()
        if r < 0.6:
            return "E" + self.digits(8)
        if r < 0.85:
            return "E" + self.r.choice(PLATE_LETTERS) + self.digits(7)
        return "G" + self.digits(8)

    def plate(self) -> str:
        """Plates as people write them: 7 characters, 8 for new-energy cars (D/F first for small
        ones, last for large ones), 学/警/港/澳/挂 suffixes, a middle dot or space after the city
        letter, and typed in lower case now and then."""
        head = self.r.choice(PLATE_HEADS) + self.r.choice(PLATE_LETTERS)
        k = self.r.random()
        if k < 0.2:
            body = self.r.choice("DF") + self.r.choice(PLATE_LETTERS + "0123456789") + self.digits(4)
        elif k < 0.3:
            body = self.digits(5) + self.r.choice("DF")
        elif k < 0.42:
            body = self.digits(4) + self.r.choice("学警港澳挂")
        else:
            chars = [self.r.choice("0123456789") for _ in range(5)]
            if self.r.random() < 0.4:
                chars[self.r.randrange(5)] = self.r.choice(PLATE_LETTERS)
            body = "".join(chars)
        sep = self.r.choice(["·", " "]) if self.r.random() < 0.15 else ""
        plate = head + sep + body
        return plate.lower() if self.r.random() < 0.08 else plate

    def ipv4(self) -> str:
        return ".".join(str(self.r.randint(1 if i == 0 else 0, 254)) for i in range(4))

    def ipv6(self) -> str:
        groups = [f"{self.r.randrange(0, 65536):x}" for _ in range(8)]
        if self.r.random() < 0.5:
            return "2001:db8::" + ":".join(groups[:2])
        return ":".join(groups)

    def gps(self) -> tuple[str, str]:
        lat = f"{self.r.uniform(18, 50):.{self.r.choice((4, 5, 6))}f}"
        lon = f"{self.r.uniform(75, 134):.{self.r.choice((4, 5, 6))}f}"
        return lat, lon

    def address(self) -> str:
        code = self.r.choice(self.counties)
        prov = self.table.province(code) or ""
        pref = self.table.prefecture(code) or ""
        county = self.table.eras[code][-1].name
        head = prov + ("" if pref in ("市辖区", "县", prov) or "直辖" in pref else pref) + county
        tail = self.r.choice(ROADS) + f"{self.r.randint(1, 300)}号"
        if self.r.random() < 0.5:
            tail += self.r.choice(PLACES) + f"{self.r.randint(1, 30)}栋{self.r.randint(101, 2505)}室"
        return head + tail

    def en_address(self) -> str:
        return (
            f"{self.r.randint(1, 999)} {self.r.choice(EN_STREETS)} {self.r.choice(['Street', 'Road', 'Avenue'])}, "
            f"{self.r.choice(EN_CITIES)}"
        )

    def timestamp(self) -> str:
        d = date(2022, 1, 1) + timedelta(days=self.r.randrange(0, 900))
        return f"{d.isoformat()} {self.r.randint(0, 23):02d}:{self.r.randint(0, 59):02d}:{self.r.randint(0, 59):02d}"

    # ---- hard negatives (no gold span)
    def negative(self, b: _Builder) -> None:
        k = self.r.randrange(17)
        if k == 0:
            b.add(f"订单号：{self.r.choice('12')}{self.digits(17)}")
        elif k == 1:
            b.add(
                f"运单号{self.r.choice(['SF', 'YT', 'JD', 'ZTO'])}{self.digits(self.r.choice((11, 12, 13)))}"
            )
        elif k == 2:
            b.add(
                f"交易流水号 {self.luhn_fix(self.r.choice('123456789') + self.digits(self.r.choice((14, 15, 16, 17))))}"
            )
        elif k == 3:
            b.add(f"编号{self.id_card(valid=False)}")
        elif k == 4:
            b.add(f"金额￥{self.r.randint(1, 99999)}.{self.digits(2)}元")
        elif k == 5:
            b.add(f"时间戳{self.r.choice(['16', '17'])}{self.digits(self.r.choice((8, 11)))}")
        elif k == 6:
            b.add(f"验证码{self.digits(6)}，5分钟内有效")
        elif k == 7:
            b.add(
                f"版本v{self.r.randint(1, 9)}.{self.r.randint(0, 20)}.{self.r.randint(0, 9)}.{self.r.randint(0, 99)}"
            )
        elif k == 8:
            b.add(f"Order No. {self.digits(18)}")
        elif k == 9:
            b.add(f"会议时间{self.timestamp()}")
        elif k == 10:
            b.add(f"身份证号{self.id_card(valid=False)}（校验位错误）")
        elif k == 11:
            b.add(f"商品条码{self.luhn_fix('69' + self.digits(10))}")
        elif k == 12:
            b.add(f"车架型号{self.plate()}{self.digits(3)}")  # a plate-shaped head inside a longer code
        elif k == 13:
            b.add(f"会员编号G{self.digits(8)}")  # G-series passports expired by 2022: bare G+8 is a code
        elif k == 15:
            b.add(  # plate-like codes with no province character: models, flights, trains
                self.r.choice(["产品型号", "航班", "车次", "型号"])
                + self.r.choice(["A", "CA", "CZ", "MU", "G", "D", "SA"])
                + self.digits(self.r.choice((4, 5)))
            )
        elif k == 16:
            b.add(
                f"订单号{self.r.randint(10**4, 10**10)}"
            )  # a bare 5-11 digit number: no QQ without its word
        else:
            b.add(
                f"{self.r.choice(['QQ群', 'QQ群号：', 'qq群 '])}{self.r.randint(10**7, 10**9)}"
            )  # a group, not a person

    # ---- templates
    def sentence(self, b: _Builder) -> None:
        r = self.r
        k = r.randrange(22)
        if k == 0:
            b.add(r.choice(["您的手机号", "联系电话：", "手机", "请拨打", "Tel: "]))
            b.pi(self.mobile(), "phone_mobile")
        elif k == 1:
            b.add(r.choice(["身份证号：", "证件号码", "身份证", "公民身份号码 "]))
            b.pi(self.id_card() if r.random() < 0.9 else self.id15(), "id_card")
        elif k == 2:
            b.add(r.choice(["邮箱", "电子邮件：", "Email: ", "请发送至"]))
            b.pi(self.email(), "email")
            b.add(r.choice(["联系我", "，谢谢", ". Thanks", ""]))
        elif k == 3:
            b.add(r.choice(["银行卡号", "卡号：", "转账至", "Card number "]))
            b.pi(self.bank_card(), "bank_card")
        elif k == 4:
            b.add(r.choice(["办公电话", "座机：", "联系电话", "Tel "]))
            b.pi(self.landline(), "phone_landline")
        elif k == 5:
            b.add(r.choice(["登录IP ", "来源地址", "IP:", "访问IP"]))
            b.pi(self.ipv4() if r.random() < 0.75 else self.ipv6(), "ip_address")
        elif k == 6:
            ts = self.timestamp()
            b.pi(ts, "location_time")
            b.add(r.choice([" 用户登录，IP ", " login from ", " 定位 "]))
            if r.random() < 0.6:
                b.pi(self.ipv4(), "ip_address")
            else:
                lat, lon = self.gps()
                b.pi(f"{lat},{lon}", "gps")
        elif k == 7:
            lat, lon = self.gps()
            b.add(r.choice(["当前位置经纬度", "坐标：", "GPS "]))
            b.pi(f"{lat}{r.choice([',', ', ', '，'])}{lon}", "gps")
        elif k == 8:
            b.add(
                r.choice(["车牌号", "车辆", "您的爱车", "plate ", "车牌：", "停车场入场车辆", "车主开", ""])
            )
            b.pi(self.plate(), "license_plate")
            b.add(r.choice(["违章一次", "已进场", "", "的车主请挪车", "在小区门口"]))
        elif k == 9:
            b.add(r.choice(["护照号码：", "护照", "Passport No. "]))
            b.pi(self.passport(), "passport")
        elif k == 10:
            b.add(r.choice(["姓名：", "收件人", "联系人：", "持卡人"]))
            b.pi(self.name(), "name")
        elif k == 11:
            nm = self.name()
            b.add(r.choice(["尊敬的", "致", ""]))
            b.pi(nm, "name")
            b.add(r.choice(["先生", "女士"]))
        elif k == 12:
            b.add(r.choice(["Name: ", "Dear ", "Contact: "]))
            b.pi(self.en_name(), "name")
        elif k == 13:
            b.add(r.choice(["收货地址：", "地址：", "家住", "户籍地址"]))
            b.pi(self.address(), "address")
        elif k == 14:
            b.add("Address: ")
            b.pi(self.en_address(), "address")
        elif k == 15:
            b.add(r.choice(["出生日期：", "生日", "出生于", "DOB: "]))
            d = self.birth()
            b.pi(
                r.choice([d.isoformat(), f"{d.year}年{d.month}月{d.day}日", d.strftime("%Y/%m/%d")]),
                "birth_date",
            )
        elif k == 16:
            qq = str(r.randint(10000, 3999999999))
            if r.random() < 0.15:
                b.add(
                    r.choice(["我的QQ邮箱是", "QQ邮箱"])
                )  # the number is the mailbox here, not a QQ finding
                b.pi(f"{qq}@qq.com", "email")
            else:
                b.add(
                    r.choice(["QQ：", "QQ号", "qq ", "QQ号码：", "我的QQ是", "扣扣", "QQ: ", "加QQ", "qq号 "])
                )
                b.pi(self.fullwidth(qq) if r.random() < 0.1 else qq, "qq")
                b.add(r.choice(["", "咨询", "（备注来意）", "，验证消息写姓名"]))
        elif k == 17:
            b.add(r.choice(["微信：", "微信号", "加我vx "]))
            b.pi(
                r.choice(["zhang", "wx_li", "Lucy", "happy", "ming"])
                + r.choice(["_", "-", ""])
                + self.digits(4),
                "wechat",
            )
        elif k == 18:
            b.add(r.choice(["账号：", "用户名", "username="]))
            b.pi(r.choice(["user", "admin", "zhang", "test"]) + "_" + self.digits(4), "account")
        elif k == 19:
            b.add(r.choice(["密码：", "初始密码为", "password="]))
            b.pi(r.choice(["Abc", "pass", "Qw", "xY"]) + "@" + self.digits(6), "password")
        elif k == 20:
            b.add("mobile ")
            b.pi(self.mobile(), "phone_mobile")
            b.add(" / email ")
            b.pi(self.email(), "email")
        else:
            self.negative(b)

    def doc(self) -> Doc:
        b = _Builder()
        for _ in range(self.r.randint(1, 4)):
            if self.r.random() < 0.75:
                b.add(self.r.choice(FILLER_ZH) + "，")
            else:
                b.add(self.r.choice(FILLER_EN) + ". ")
            if self.r.random() < 0.3:
                self.negative(b)
                b.add("，")
            self.sentence(b)
            b.add(self.r.choice(["。", "，", "；", " ", "\n"]))
        return b.doc()


def generate(n: int, seed: int = 7) -> list[Doc]:
    s = Synth(seed)
    return [s.doc() for _ in range(n)]


Span = tuple[int, int, str]


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(
    gold: list[Span], predicted: list[Span], tallies: dict[str, Tally], categories: set[str] | None = None
) -> list[tuple[str, Span]]:
    """Count one document: a prediction matches a gold span of the same category that it overlaps
    (each gold span at most once). Returns the errors as ("fp"|"fn", span) for inspection."""
    errors: list[tuple[str, Span]] = []
    used: set[int] = set()
    for p in predicted:
        if categories is not None and p[2] not in categories:
            continue
        t = tallies.setdefault(p[2], Tally())
        hit = next(
            (i for i, g in enumerate(gold) if i not in used and g[2] == p[2] and g[0] < p[1] and p[0] < g[1]),
            None,
        )
        if hit is None:
            t.fp += 1
            errors.append(("fp", p))
        else:
            used.add(hit)
            t.tp += 1
    for i, g in enumerate(gold):
        if i not in used and (categories is None or g[2] in categories):
            tallies.setdefault(g[2], Tally()).fn += 1
            errors.append(("fn", g))
    return errors
