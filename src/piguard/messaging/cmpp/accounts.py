"""CMPP logins of content providers (O31-12: every connect names one registered content provider
with a verified identity)."""

from __future__ import annotations

import re
import secrets
import string

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.errors import FieldError, PiguardError, not_found, validation_error
from piguard.identity.principal import Principal
from piguard.messaging.cmpp.models import CmppAccount
from piguard.messaging.registry.service import actor_of, get_content_provider
from piguard.regulations.markers import carries

_SOURCE_ADDR = re.compile(r"^[0-9A-Za-z]{1,6}$")
_SECRET = re.compile(r"^[\x21-\x7e]{6,32}$")


def _invalid(field: str, en: str, zh: str) -> PiguardError:
    return validation_error(
        [FieldError(field, f"{en} / {zh}")], f"Invalid {field}: {en}", f"{field} 无效：{zh}"
    )


def generate_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16))


@carries("O31-12")
def create_account(
    session: Session,
    *,
    source_addr: str,
    secret: str,
    content_provider: str,
    default_message_type: str | None = None,
    max_rate: int = 0,
    window: int = 16,
    principal: Principal | None = None,
) -> CmppAccount:
    if not isinstance(source_addr, str) or not _SOURCE_ADDR.match(source_addr):
        raise _invalid("source_addr", "1-6 letters or digits (SP_Id)", "须为 1-6 位字母或数字（企业代码）")
    if not isinstance(secret, str) or not _SECRET.match(secret):
        raise _invalid("secret", "6-32 printable ASCII characters", "须为 6-32 位可打印 ASCII 字符")
    if default_message_type is not None and not (0 < len(default_message_type.strip()) <= 64):
        raise _invalid("default_message_type", "1-64 characters", "须为 1-64 个字符")
    if not 0 <= max_rate <= 100_000:
        raise _invalid("max_rate", "0-100000 per second", "须为每秒 0-100000 条")
    if not 1 <= window <= 1000:
        raise _invalid("window", "1-1000", "须为 1-1000")
    cp = get_content_provider(session, content_provider)
    if session.scalar(select(CmppAccount.id).where(CmppAccount.source_addr == source_addr)):
        raise PiguardError(
            "conflict",
            f"CMPP account {source_addr} already exists.",
            f"CMPP 账号 {source_addr} 已存在。",
            http_status=409,
        )
    acc = CmppAccount(
        source_addr=source_addr,
        secret=secret,
        content_provider_id=cp.id,
        default_message_type=default_message_type.strip() if default_message_type else None,
        max_rate=max_rate,
        window=window,
    )
    session.add(acc)
    session.flush()
    record(
        session,
        action="sms.cmpp.account_created",
        actor=actor_of(principal),
        obligations=("O31-12",),
        client_ip=principal.client_ip if principal else None,
        detail={"source_addr": source_addr, "content_provider": cp.code},
    )
    return acc


def list_accounts(session: Session) -> list[CmppAccount]:
    return list(session.scalars(select(CmppAccount).order_by(CmppAccount.id)))


def set_active(
    session: Session, source_addr: str, active: bool, *, principal: Principal | None = None
) -> CmppAccount:
    acc = session.scalar(select(CmppAccount).where(CmppAccount.source_addr == source_addr))
    if acc is None:
        raise not_found("CMPP account", "CMPP 账号", source_addr)
    acc.active = active
    record(
        session,
        action="sms.cmpp.account_" + ("enabled" if active else "disabled"),
        actor=actor_of(principal),
        obligations=("O31-23",),
        detail={"source_addr": source_addr},
    )
    return acc
