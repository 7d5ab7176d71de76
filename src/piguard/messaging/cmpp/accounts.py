"""CMPP logins of content providers (O31-12: every connect names one registered content provider
with a verified identity), by the shared account functions (``ismg.accounts``)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from piguard.identity.principal import Principal
from piguard.messaging.cmpp.models import CmppAccount
from piguard.messaging.ismg import accounts as shared
from piguard.regulations.markers import carries

RULES = shared.LoginRules(
    protocol="cmpp",
    label="CMPP",
    login_field="source_addr",
    login_re=re.compile(r"^[0-9A-Za-z]{1,6}$"),
    login_en="1-6 letters or digits (SP_Id)",
    login_zh="须为 1-6 位字母或数字（企业代码）",
    secret_field="secret",
    secret_re=re.compile(r"^[\x21-\x7e]{6,32}$"),
    secret_en="6-32 printable ASCII characters",
    secret_zh="须为 6-32 位可打印 ASCII 字符",
    secret_len=16,
    model=CmppAccount,
    login_attr="source_addr",
)


def generate_secret() -> str:
    return shared.generate_secret(RULES.secret_len)


@carries("O31-12")
def create_account(session: Session, *, source_addr: str, **kwargs: Any) -> CmppAccount:
    """``shared.create_account`` with CMPP's rules: secret, content_provider, default_message_type,
    max_rate, window, principal as there."""
    acc: CmppAccount = shared.create_account(session, RULES, login=source_addr, **kwargs)
    return acc


def list_accounts(session: Session) -> list[CmppAccount]:
    return shared.list_accounts(session, RULES)


def set_active(
    session: Session, source_addr: str, active: bool, *, principal: Principal | None = None
) -> CmppAccount:
    acc: CmppAccount = shared.set_active(session, RULES, source_addr, active, principal=principal)
    return acc
