"""SMGP logins of content providers (O31-12): ClientID (up to 8 characters) and the shared secret
(up to 15, spec 6.2.1), in the shared accounts table (``ismg.accounts``)."""

from __future__ import annotations

import re

from piguard.messaging.ismg.accounts import LoginRules

RULES = LoginRules(
    protocol="smgp",
    label="SMGP",
    login_field="client_id",
    login_re=re.compile(r"^[0-9A-Za-z]{1,8}$"),
    login_en="1-8 letters or digits (ClientID)",
    login_zh="须为 1-8 位字母或数字（ClientID）",
    secret_field="secret",
    secret_re=re.compile(r"^[\x21-\x7e]{6,15}$"),
    secret_en="6-15 printable ASCII characters (SMGP 3.0 limit)",
    secret_zh="须为 6-15 位可打印 ASCII 字符（SMGP 3.0 限制）",
    secret_len=15,
)
