"""SGIP logins of content providers (O31-12): Login Name and Login Password (up to 16 characters
each, spec 4.2.1), in the shared accounts table (``ismg.accounts``); the password is compared as
sent in Bind, so it is stored encrypted, not hashed."""

from __future__ import annotations

import re

from piguard.messaging.ismg.accounts import LoginRules

RULES = LoginRules(
    protocol="sgip",
    label="SGIP",
    login_field="login_name",
    login_re=re.compile(r"^[0-9A-Za-z_\-]{1,16}$"),
    login_en="1-16 letters, digits, _ or - (Login Name)",
    login_zh="须为 1-16 位字母、数字、_ 或 -（Login Name）",
    secret_field="password",
    secret_re=re.compile(r"^[\x21-\x7e]{6,16}$"),
    secret_en="6-16 printable ASCII characters (SGIP 1.2 limit)",
    secret_zh="须为 6-16 位可打印 ASCII 字符（SGIP 1.2 限制）",
    secret_len=16,
)
