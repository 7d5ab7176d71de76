"""SMPP accounts: the system_id/password a content provider's ESME binds with (O31-12: every bind
names one registered content provider with a verified identity)."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Sequence

from sqlalchemy.orm import Session

from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.identity.passwords import hash_password
from piguard.identity.principal import Principal
from piguard.messaging.ismg import accounts as shared
from piguard.messaging.registry.service import get_content_provider
from piguard.messaging.smpp.models import BIND_TYPES, SmppAccount
from piguard.regulations.markers import carries

_SYSTEM_ID = re.compile(r"^[A-Za-z0-9_\-]{1,15}$")
_PASSWORD = re.compile(r"^[\x21-\x7e]{6,8}$")


def _invalid(field: str, en: str, zh: str) -> PiguardError:
    return validation_error(
        [FieldError(field, f"{en} / {zh}")], f"Invalid {field}: {en}", f"{field} 无效：{zh}"
    )


def generate_password() -> str:
    """8 random printable characters (SMPP 3.4 allows at most 8)."""
    alphabet = string.ascii_letters + string.digits + "!#%+-=?@"
    return "".join(secrets.choice(alphabet) for _ in range(8))


@carries("O31-12")
def create_account(
    session: Session,
    *,
    system_id: str,
    password: str,
    content_provider: str,
    bind_types: Sequence[str] = BIND_TYPES,
    default_message_type: str | None = None,
    max_rate: int = 0,
    window: int = 20,
    principal: Principal | None = None,
) -> SmppAccount:
    if not isinstance(system_id, str) or not _SYSTEM_ID.match(system_id):
        raise _invalid("system_id", "1-15 letters, digits, _ or -", "须为 1-15 位字母、数字、_ 或 -")
    if not isinstance(password, str) or not _PASSWORD.match(password):
        raise _invalid(
            "password",
            "6-8 printable ASCII characters (SMPP 3.4 limit)",
            "须为 6-8 位可打印 ASCII 字符（SMPP 3.4 限制）",
        )
    types = list(dict.fromkeys(bind_types))
    if not types or any(t not in BIND_TYPES for t in types):
        raise _invalid("bind_types", "tx, rx and/or trx", "须为 tx、rx 或 trx")
    if default_message_type is not None and not (0 < len(default_message_type.strip()) <= 64):
        raise _invalid("default_message_type", "1-64 characters", "须为 1-64 个字符")
    if not 0 <= max_rate <= 100_000:
        raise _invalid("max_rate", "0-100000 per second", "须为每秒 0-100000 条")
    if not 1 <= window <= 1000:
        raise _invalid("window", "1-1000", "须为 1-1000")
    cp = get_content_provider(session, content_provider)
    shared.refuse_existing(session, RULES, system_id)
    acc = SmppAccount(
        system_id=system_id,
        password_hash=hash_password(password),
        content_provider_id=cp.id,
        bind_types=types,
        default_message_type=default_message_type.strip() if default_message_type else None,
        max_rate=max_rate,
        window=window,
    )
    session.add(acc)
    session.flush()
    detail = {"system_id": system_id, "content_provider": cp.code, "bind_types": types}
    shared.audit_created(session, RULES, principal, detail)
    return acc


#: SMPP's logins in the shared account functions' terms (``ismg.accounts``: listing, enabling)
RULES = shared.LoginRules(
    protocol="smpp",
    label="SMPP",
    login_field="system_id",
    login_re=_SYSTEM_ID,
    login_en="1-15 letters, digits, _ or -",
    login_zh="须为 1-15 位字母、数字、_ 或 -",
    secret_field="password",
    secret_re=_PASSWORD,
    secret_en="6-8 printable ASCII characters (SMPP 3.4 limit)",
    secret_zh="须为 6-8 位可打印 ASCII 字符（SMPP 3.4 限制）",
    secret_len=8,
    model=SmppAccount,
    login_attr="system_id",
)


def list_accounts(session: Session) -> list[SmppAccount]:
    return shared.list_accounts(session, RULES)


def set_active(
    session: Session, system_id: str, active: bool, *, principal: Principal | None = None
) -> SmppAccount:
    acc: SmppAccount = shared.set_active(session, RULES, system_id, active, principal=principal)
    return acc
