"""Generators for the shapes issue 12 lists (used by bench/discovery.py beside its synthetic corpus).

Each document is one line or a small block in a genre the gold corpus lacks: JSON records, key=value
log lines, CSV blocks with a header, chat/SMS prose with role words and greetings, card numbers of
every brand issued in China, landlines with extensions, dotted versions. Hard negatives ride along:
version strings, product/host names in name-like fields, Luhn-valid numbers under order and
tracking labels, timestamps, greetings without a name, role words without a name.

Only :class:`piguard.discovery.synth.Synth` value makers are used, so the same generator runs
against an older engine (``--baseline``) for before/after figures.
"""

from __future__ import annotations

import json

from piguard.discovery import validators as v
from piguard.discovery.synth import PLACES, Doc, Synth, _Builder

CARD_PREFIXES = [
    ("62" + "2848", 19),
    ("62" + "2202", 16),
    ("4", 16),
    ("4", 19),
    ("4", 13),
    ("51", 16),
    ("53", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("2500", 16),
    ("34", 15),
    ("37", 15),
    ("3528", 16),
    ("3589", 16),
    ("6011", 16),
    ("65", 16),
    ("36", 14),
]
ROLES = ["快递员", "配送员", "骑手", "收款人", "付款人", "客服专员", "业务员", "医生", "房东", "负责人"]
NAME_KEYS = ["name", "customer.name", "customer_name", "realName", "receiverName", "contact_name", "fullName"]
NOT_NAME_KEYS = ["product_name", "hostname", "filename", "app_name", "nickname_style", "shop_name"]
THINGS = ["iPhone Pro", "Web Server", "Report Final", "Shanghai Branch", "Alpha", "Default"]
ACCOUNTS = ["zhang_wei88", "lily.w", "chenkl2020", "xieyang", "tom_z", "wangfang01", "hr-admin", "u_39281"]
PASSWORDS = ["Abc#1234", "qwe!2345", "P@ssw0rd9", "88aa99bb", "x9!kk2zz", "Lm_2024$"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MONTHS_LONG = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December"]  # fmt: skip
STREETS = ["粤海街道", "西湖街道", "佛堂镇", "城关镇", "南湖街道", "新华街道"]
ESTATES = [*PLACES, "长虹科技大厦", "碧桂园"]
ROADS2 = [
    "科技南十二路",
    "文三路",
    "建国路",
    "中山北路",
    "人民大道",
    "解放西路",
    "滨江大道",
    "光华路",
    "长安街",
]
AFTER_ADDRESS = ["，电话", "，请放快递柜", " 送货上门", "送货上门", "，工作日送", "，谢谢", "附近的快递柜", "旁边便利店",
                 "（张先生收）", "。", " 邮编518000", "请尽快发货"]  # fmt: skip
#: surnames with an apostrophe or a capital inside, as English records print them
EN_LAST_MIXED = ["O'Brien", "McDonald", "D'Angelo", "MacLeod", "O'Neil", "DeVries"]
EN_NEXT_LABELS = ["Tel:", "Phone:", "Mobile ", "Email:", "Add:"]
WECHAT_IDS = ["wxid_k2j9d8s7", "zhangwei_88", "lily-chen2020", "Tom_Zhao99", "xiaoyu1990", "hr_wang01"]


class ShapeSynth(Synth):
    def card(self) -> str:
        prefix, n = self.r.choice(CARD_PREFIXES)
        card = self.luhn_fix(prefix + self.digits(n - len(prefix) - 1))
        if self.r.random() < 0.3 and n == 16:
            return " ".join(card[i : i + 4] for i in range(0, 16, 4))
        return card

    def luhn_noise(self) -> str:
        return self.luhn_fix(self.r.choice(["4", "51", "62", "35"]) + self.digits(14))

    def landline_ext(self) -> str:
        base = self.r.choice(
            [f"0{a}-{s}" for a, s in [self._area_sub()]] + [f"(0{a}){s}" for a, s in [self._area_sub()]]
        )
        ext = self.digits(self.r.randint(2, 4))
        return base + self.r.choice(
            [f"-{ext}", f"转{ext}", f" 转 {ext}", f" ext. {ext}", f"分机 {ext}", f" ext {ext}"]
        )

    def _area_sub(self) -> tuple[str, str]:
        while True:
            area = self.r.choice(["10", "20", "21", "755", "571", "28", "27", "512"])
            sub = self.r.choice("2345678") + self.digits(7 if len(area) == 2 else 6)
            if v.landline_ok(area + sub):
                return area, sub

    def version(self) -> str:
        return ".".join(str(self.r.randint(0, 20)) for _ in range(4))

    def person(self) -> str:
        return self.name() if self.r.random() < 0.7 else self.en_name()

    # ---- values people write in the shapes issue 12 lists
    def birth_value(self) -> str:
        d = self.birth()
        y, m, dd = d.year, d.month, d.day
        return self.r.choice(
            [
                f"{y}年{m}月{dd}日",
                f"{y}-{m:02d}-{dd:02d}",
                f"{y}/{m:02d}/{dd:02d}",
                f"{y}/{m}/{dd}",
                f"{y}.{m:02d}.{dd:02d}",
                f"{y}{m:02d}{dd:02d}",
                f"{dd:02d}-{MONTHS[m - 1]}-{y}",
                f"{dd} {MONTHS[m - 1]} {y}",
                f"{MONTHS_LONG[m - 1]} {dd}, {y}",
                f"{dd:02d}/{m:02d}/{y}",
                f"{y}年{m:02d}月{dd:02d}日",
            ]
        )

    def qq_value(self) -> str:
        return str(self.r.randint(1, 9)) + self.digits(self.r.randint(4, 10))

    def wechat_value(self) -> str:
        # WeChat IDs are 6-20 characters starting with a letter
        ok = [a.replace(".", "_") for a in ACCOUNTS if len(a) >= 6 and a[0].isalpha()]
        return self.r.choice(WECHAT_IDS if self.r.random() < 0.5 else ok)

    def dms(self, value: float, pos: str, neg: str, style: int) -> str:
        hemi = pos if value >= 0 else neg
        value = abs(value)
        d = int(value)
        m = int((value - d) * 60)
        sec = (value - d - m / 60) * 3600
        sec_s = f"{sec:.1f}" if self.r.random() < 0.4 else f"{int(sec)}"
        if style == 0:
            return f"{d}°{m}'{sec_s}\"{hemi}"
        if style == 1:
            return f"{hemi}{d}°{m}′{sec_s}″"
        return f"{d}度{m}分{sec_s}秒"

    def cn_address(self) -> str:
        """Addresses as people write them: with or without province and city, a street or town,
        a road and number, an estate, building, unit and room; ending at 号, 栋, 单元, 室 or 楼."""
        code = self.r.choice(self.counties)
        prov = self.table.province(code) or ""
        pref = self.table.prefecture(code) or ""
        county = self.table.eras[code][-1].name
        city = "" if pref in ("市辖区", "县", prov) or "直辖" in pref else pref
        k = self.r.random()
        head = prov + city + county if k < 0.4 else city + county if k < 0.75 else county
        if not head or len(head) < 3:
            head = prov + city + county
        parts = [head]
        if self.r.random() < 0.3:
            parts.append(self.r.choice(STREETS))
        parts.append(self.r.choice(ROADS2) + f"{self.r.randint(1, 300)}号")
        end = self.r.random()
        if end < 0.25:
            pass  # ends at 号
        elif end < 0.45:
            parts.append(self.r.choice(ESTATES) + f"{self.r.randint(1, 30)}栋")
        elif end < 0.65:
            parts.append(self.r.choice(ESTATES) + f"{self.r.randint(1, 30)}号楼{self.r.randint(1, 6)}单元")
        elif end < 0.9:
            parts.append(
                self.r.choice(ESTATES)
                + f"{self.r.randint(1, 30)}栋{self.r.randint(1, 6)}单元{self.r.randint(101, 2505)}室"
            )
        else:
            parts.append(self.r.choice(ESTATES) + f"{self.r.randint(2, 40)}楼")
        return "".join(parts)

    # ---- genres
    def json_doc(self, b: _Builder) -> None:
        b.add("{")
        key = self.r.choice(NAME_KEYS)
        b.add(f'"{key}":"')
        b.pi(self.person(), "name")
        b.add('","')
        b.add(self.r.choice(["username", "login", "account", "user_name", "账号"]) + '":"')
        b.pi(self.r.choice(ACCOUNTS), "account")
        b.add('","' + self.r.choice(["password", "pwd", "初始密码", "userPassword"]) + '":"')
        b.pi(self.r.choice(PASSWORDS), "password")
        b.add(f'","{self.r.choice(NOT_NAME_KEYS)}":"{self.r.choice(THINGS)}"')
        b.add(f',"{self.r.choice(["appVersion", "app_version", "version", "osVersion"])}":"{self.version()}"')
        if self.r.random() < 0.6:
            b.add(',"ip":"')
            b.pi(self.ipv4(), "ip_address")
            b.add('"')
        b.add(f',"order_no":"{self.luhn_noise()}","ts":"{self.timestamp()}"}}')

    def kv_doc(self, b: _Builder) -> None:
        b.add(f"{self.timestamp()} INFO auth ")
        b.add(self.r.choice(["username=", "login=", "user="]))
        b.pi(self.r.choice(ACCOUNTS), "account")
        b.add(" " + self.r.choice(["pwd=", "password=", "passwd="]))
        b.pi(self.r.choice(PASSWORDS), "password")
        b.add(f" build={self.version()} from=")
        b.pi(self.ipv4(), "ip_address")
        if self.r.random() < 0.5:
            b.add(" real_name=")
            b.pi(self.name(), "name")
        b.add(f" tracking={self.luhn_noise()}")

    def csv_doc(self, b: _Builder) -> None:
        zh = self.r.random() < 0.5
        b.add("姓名,电话,账号,密码\n" if zh else "name,phone,username,pwd\n")
        for _ in range(self.r.randint(2, 4)):
            b.pi(self.person(), "name")
            b.add(",")
            if self.r.random() < 0.5:
                b.pi(self.landline_ext(), "phone_landline")
            else:
                b.pi(self.mobile_digits(), "phone_mobile")
            b.add(",")
            b.pi(self.r.choice(ACCOUNTS), "account")
            b.add(",")
            if self.r.random() < 0.2:
                b.add("******")
            else:
                b.pi(self.r.choice(PASSWORDS), "password")
            b.add("\n")
        b.add(f"\nname,price,sku\n{self.r.choice(THINGS)},{self.r.randint(5, 900)},{self.digits(8)}")

    def prose_doc(self, b: _Builder) -> None:
        k = self.r.random()
        if k < 0.35:
            b.add(self.r.choice(ROLES))
            b.pi(self.name(), "name")
            b.add(self.r.choice(["已到楼下，", "，电话", " 正在处理，", "说明天到，"]))
        elif k < 0.6:
            b.pi(self.name(), "name")
            b.add(self.r.choice(["您好，", "你好，"]))
        else:
            b.add(self.r.choice(["周一您好，", "大家好，", "各位您好，", "快递员已到，", "收款人信息有误，"]))
        b.add(self.r.choice(["您的", "请用", "尾号"]))
        c = self.r.random()
        if c < 0.5:
            b.add("卡号")
            b.pi(self.card(), "bank_card")
        elif c < 0.7:
            b.add("信用卡 ")
            b.pi(self.card(), "bank_card")
        else:
            b.add(f"订单号{self.luhn_noise()}")
        b.add(self.r.choice(["，办公电话", "，座机", "。Tel "]))
        b.pi(self.landline_ext(), "phone_landline")
        b.add(
            f"。客户端版本号：{self.version()}，" + self.r.choice(["v", "固件", "version "]) + self.version()
        )
        b.add("。")

    def en_doc(self, b: _Builder) -> None:
        b.add("Dear customer, card ")
        b.pi(self.card(), "bank_card")
        b.add(f" was charged; ref {self.luhn_noise()}. Call ")
        b.pi(self.landline_ext(), "phone_landline")
        b.add(f". App version {self.version()} released at {self.timestamp()}.")

    def record_doc(self, b: _Builder) -> None:
        """Shapes seen when the scanner was tried on real records (2026-12-08): an address after a
        version on one log line, a password inside a query string, an English name followed by the
        next field's label, a name after a title or an introduction, a name set apart by spaces."""
        k = self.r.random()
        if k < 0.2:
            b.add(f"{self.timestamp()} client appVersion={self.version()} login from ")
            b.pi(self.ipv4(), "ip_address")
        elif k < 0.4:
            b.add("op=login&user=")
            b.pi(self.r.choice(ACCOUNTS), "account")
            b.add("&passwd=")
            b.pi(self.r.choice(PASSWORDS).replace("#", "!"), "password")
            b.add("&ip=")
            b.pi(self.ipv4(), "ip_address")
        elif k < 0.6:
            b.add(self.r.choice(["联系人:", "Name: ", "Contact: "]))
            first, last = self.en_name().split(" ")
            if self.r.random() < 0.4:
                last = self.r.choice(EN_LAST_MIXED)
            b.pi(f"{first} {last}", "name")
            b.add(" " + self.r.choice(EN_NEXT_LABELS))
            b.pi(self.mobile_digits(), "phone_mobile")
        elif k < 0.8:
            b.add(self.r.choice(["Dear Mr. ", "Dear Ms. ", "Hi, this is ", "My name is "]))
            b.pi(self.en_name(), "name")
            b.add(self.r.choice([", thanks for your order.", " from the service desk.", "."]))
            b.add(self.r.choice([" Dear Customer,", " This is China Mobile.", ""]))
        else:
            b.add(self.r.choice(["客户 ", "用户 ", "会员 "]))
            b.pi(self.name(), "name")
            b.add(f" 于{self.timestamp()[:10]} 办理业务。客户满意度调查请回复1。")

    def birth_doc(self, b: _Builder) -> None:
        """Birth dates in birth context, in the shapes forms, JSON, CSV and prose use; dates that
        are not birth dates beside them."""
        k = self.r.random()
        if k < 0.3:
            b.add(
                self.r.choice(
                    ["出生日期：", "出生日期:", "生日 ", "生日：", "出生年月日：", "生于", "出生于"]
                )
            )
            b.pi(self.birth_value(), "birth_date")
            b.add(self.r.choice(["，", "。", " ", "，性别男，"]))
        elif k < 0.5:
            b.add(self.r.choice(["DOB: ", "DOB ", "Date of birth: ", "D.O.B. ", "Born on ", "birthday: "]))
            b.pi(self.birth_value(), "birth_date")
            b.add(self.r.choice(["; ", ". ", ", gender F, "]))
        elif k < 0.75:
            b.add(
                '{"'
                + self.r.choice(["birthday", "birth_date", "birthDate", "dob", "出生日期", "date_of_birth"])
                + '":"'
            )
            d = self.birth()
            b.pi(self.r.choice([d.strftime("%Y%m%d"), d.isoformat(), d.strftime("%Y/%m/%d")]), "birth_date")
            b.add(
                f'","createdAt":"{self.timestamp()}","orderDate":"{self.timestamp()[:10].replace("-", "")}"}}'
            )
        elif k < 0.9:
            b.add(self.r.choice(["姓名,出生日期,城市\n", "name,birthday,city\n", "name,dob,city\n"]))
            for _ in range(self.r.randint(1, 3)):
                b.pi(self.name(), "name")
                b.add(",")
                d = self.birth()
                b.pi(
                    self.r.choice([d.isoformat(), d.strftime("%Y/%m/%d"), d.strftime("%Y%m%d")]), "birth_date"
                )
                b.add(",深圳\n")
        else:
            b.add("他")
            d = self.birth()
            b.pi(f"{d.year}年{d.month}月{d.day}日", "birth_date")
            b.add(self.r.choice(["出生于湖南。", "出生，"]))
        # dates that are not birth dates
        b.add(
            self.r.choice(
                [
                    f"下单日期：{self.timestamp()[:10]}",
                    f"有效期至 {self.birth_value()}",
                    f"注册时间 {self.timestamp()}",
                    "生日快乐！祝你2024年万事如意",
                    f"生日蛋糕订购日期 {self.timestamp()[:10]}",
                    f"issued on {self.timestamp()[:10]}",
                    f'"updatedAt":"{self.timestamp()[:10].replace("-", "")}"',
                ]
            )
        )

    def im_doc(self, b: _Builder) -> None:
        """QQ numbers and WeChat IDs behind the cue words people use; QQ groups, versions, order
        numbers and the WeChat pay order as hard negatives."""
        if self.r.random() < 0.5:
            b.add(self.r.choice(["QQ号", "QQ号：", "扣扣", "扣扣：", "qq:", "QQ:", "企鹅号", "企鹅号：", "加我Q ", "Q号:",
                                 '"qq":"', "qq_number=", "QQ "]))  # fmt: skip
            b.pi(self.qq_value(), "qq")
        else:
            b.add(self.r.choice(["微信号", "微信号：", "威信", "威信：", "vx:", "VX ", "wx:", "wx：", "WeChat ID: ",
                                 "WeChat: ", '"wechat":"', "wechat_id=", "加v：", "微信 "]))  # fmt: skip
            b.pi(self.wechat_value(), "wechat")
        b.add(
            self.r.choice(
                [
                    f"，QQ群：{self.qq_value()}",
                    f"，QQ音乐版本 {self.version()}",
                    f"，微信支付单号 {self.digits(28)}",
                    f"，订单号{self.digits(10)}",
                    "，微信公众号：科技日报",
                    f"，wx.version={self.version()}",
                    "，请勿外传",
                ]
            )
        )

    def gps_doc(self, b: _Builder) -> None:
        """Coordinate pairs in decimal lon,lat and lat,lon, DMS and 北纬/东经 forms."""
        lat, lon = self.r.uniform(18, 50), self.r.uniform(75, 134)
        k = self.r.random()
        b.add(self.r.choice(["位置：", "定位 ", "坐标:", "当前位置 ", "location=", "GPS ", ""]))
        if k < 0.25:
            b.pi(f"{lon:.6f},{lat:.6f}", "gps")  # lon,lat as map APIs give it
        elif k < 0.45:
            b.pi(f"{lat:.{self.r.choice((4, 5, 6))}f}, {lon:.{self.r.choice((4, 5, 6))}f}", "gps")
        elif k < 0.65:
            st = self.r.choice((0, 1))
            pair = (self.dms(lat, "N", "S", st), self.dms(lon, "E", "W", st))
            b.pi(self.r.choice([" ", ", ", ","]).join(pair), "gps")
        elif k < 0.85:
            la, lo = f"{lat:.4f}", f"{lon:.4f}"
            deg = self.r.choice(["°", ""])
            v1, v2 = (f"北纬{la}{deg}", f"东经{lo}{deg}")
            if self.r.random() < 0.3:
                v1, v2 = v2, v1
            b.pi(v1 + self.r.choice(["，", ",", " ", "、"]) + v2, "gps")
        else:
            v1 = "北纬" + self.dms(lat, "", "", 2)
            v2 = "东经" + self.dms(lon, "", "", 2)
            b.pi(v1 + self.r.choice(["，", " "]) + v2, "gps")
        b.add(
            self.r.choice(
                [
                    f"。单价 {self.r.uniform(10, 99):.2f}元，数量 {self.r.randint(1, 9)}",
                    f"，版本 {self.version()}",
                    f"，订单号 {self.digits(12)}",
                    f"，准确率 0.{self.digits(4)}，召回率 0.{self.digits(4)}",
                    f"，气温 {self.r.uniform(10, 39):.1f}°",
                    "",
                ]
            )
        )

    def address_doc(self, b: _Builder) -> None:
        """Addresses (whole and partial) with the words that follow them in real text; places and
        organisations named after divisions as hard negatives."""
        b.add(self.r.choice(["收货地址：", "地址：", "家住", "住址:", "送到", "寄到", "现住", "", "我在"]))
        b.pi(self.cn_address(), "address")
        b.add(self.r.choice(AFTER_ADDRESS))
        b.add(
            self.r.choice(
                [
                    "深圳市气象台发布暴雨预警。",
                    "上海市第一人民医院通知。",
                    "北京时间10点整。",
                    "杭州西湖区教育局发布公告。",
                    f"广州银行客服{self.digits(3)}号为您服务。",
                    "",
                ]
            )
        )

    def shape_doc(self) -> Doc:
        b = _Builder()
        self.r.choice(
            [self.json_doc, self.kv_doc, self.csv_doc, self.prose_doc, self.prose_doc, self.en_doc,
             self.birth_doc, self.im_doc, self.gps_doc, self.address_doc, self.record_doc]
        )(b)  # fmt: skip
        return b.doc()


def generate_shapes(n: int, seed: int = 12) -> list[Doc]:
    s = ShapeSynth(seed)
    return [s.shape_doc() for _ in range(n)]


if __name__ == "__main__":  # a peek at the corpus
    for d in generate_shapes(8):
        print(json.dumps(d.to_dict(0), ensure_ascii=False))
