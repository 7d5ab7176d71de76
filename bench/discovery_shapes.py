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
from piguard.discovery.synth import Doc, Synth, _Builder

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

    def shape_doc(self) -> Doc:
        b = _Builder()
        self.r.choice(
            [self.json_doc, self.kv_doc, self.csv_doc, self.prose_doc, self.prose_doc, self.en_doc]
        )(b)
        return b.doc()


def generate_shapes(n: int, seed: int = 12) -> list[Doc]:
    s = ShapeSynth(seed)
    return [s.shape_doc() for _ in range(n)]


if __name__ == "__main__":  # a peek at the corpus
    for d in generate_shapes(8):
        print(json.dumps(d.to_dict(0), ensure_ascii=False))
