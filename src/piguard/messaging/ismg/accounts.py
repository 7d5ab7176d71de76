"""Content providers' logins to the CMPP, SMGP and SGIP servers (O31-12: every login names one
registered content provider with a verified identity): SMGP and SGIP in one table
(``msg_ismg_accounts``, by protocol), CMPP in its own of the same columns; a protocol's
:class:`LoginRules` say what its login and secret may be."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import record
from piguard.core.errors import PiguardError, invalid_field, not_found
from piguard.identity.principal import Principal
from piguard.messaging.ismg.models import IsmgAccount
from piguard.messaging.ismg.transport import Account
from piguard.messaging.registry.service import actor_of, get_content_provider
from piguard.regulations.markers import carries


@dataclass(frozen=True, slots=True)
class LoginRules:
    """How one protocol names a login and its secret, and what it allows in them."""

    protocol: str  #: "smgp" / "sgip"
    label: str  #: "SMGP" / "SGIP"
    login_field: str  #: the name in the protocol ("client_id", "login_name")
    login_re: re.Pattern[str]
    login_en: str
    login_zh: str
    secret_field: str
    secret_re: re.Pattern[str]
    secret_en: str
    secret_zh: str
    secret_len: int  #: generated secrets' length
    model: Any = IsmgAccount  #: the table (CMPP: ``CmppAccount``)
    login_attr: str = "login"  #: its login column


def generate_secret(length: int = 15) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def account_of(acc: Any, login: str, cp: Any) -> Account:
    """The logged-in account the servers and the decider see (as an SMPP bind's)."""
    return Account(
        system_id=login,
        content_provider_id=cp.id,
        content_provider=cp.code,
        default_message_type=acc.default_message_type,
        max_rate=acc.max_rate,
        window=acc.window,
    )


def check_limits(default_message_type: str | None, max_rate: int, window: int) -> None:
    """The limits every login has: a consent type of 1-64 characters, a rate of 0-100000 a second,
    a window of 1-1000."""
    if default_message_type is not None and not (0 < len(default_message_type.strip()) <= 64):
        raise invalid_field("default_message_type", "1-64 characters", "须为 1-64 个字符")
    if not 0 <= max_rate <= 100_000:
        raise invalid_field("max_rate", "0-100000 per second", "须为每秒 0-100000 条")
    if not 1 <= window <= 1000:
        raise invalid_field("window", "1-1000", "须为 1-1000")


def _login_col(rules: LoginRules) -> Any:
    return getattr(rules.model, rules.login_attr)


def _query(rules: LoginRules) -> Any:
    q = select(rules.model)
    if rules.model is IsmgAccount:
        q = q.where(IsmgAccount.protocol == rules.protocol)
    return q


def find_account(session: Session, rules: LoginRules, login: str) -> Any:
    return session.scalar(_query(rules).where(_login_col(rules) == login))


@carries("O31-12")
def create_account(
    session: Session,
    rules: LoginRules,
    *,
    login: str,
    secret: str,
    content_provider: str,
    default_message_type: str | None = None,
    max_rate: int = 0,
    window: int = 16,
    principal: Principal | None = None,
) -> Any:
    """A login for a registered content provider (O31-12); bad input is a validation error naming
    the field, an existing login a conflict, an unknown content provider not found."""
    if not isinstance(login, str) or not rules.login_re.match(login):
        raise invalid_field(rules.login_field, rules.login_en, rules.login_zh)
    if not isinstance(secret, str) or not rules.secret_re.match(secret):
        raise invalid_field(rules.secret_field, rules.secret_en, rules.secret_zh)
    check_limits(default_message_type, max_rate, window)
    cp = get_content_provider(session, content_provider)
    refuse_existing(session, rules, login)
    extra = {"protocol": rules.protocol} if rules.model is IsmgAccount else {}
    acc = rules.model(
        **extra,
        **{rules.login_attr: login},
        secret=secret,
        content_provider_id=cp.id,
        default_message_type=default_message_type.strip() if default_message_type else None,
        max_rate=max_rate,
        window=window,
    )
    session.add(acc)
    session.flush()
    audit_created(session, rules, principal, {rules.login_field: login, "content_provider": cp.code})
    return acc


def refuse_existing(session: Session, rules: LoginRules, login: str) -> None:
    """A conflict (409) when the login exists."""
    if find_account(session, rules, login) is not None:
        raise PiguardError(
            "conflict",
            f"{rules.label} account {login} already exists.",
            f"{rules.label} 账号 {login} 已存在。",
            http_status=409,
        )


def audit_created(
    session: Session, rules: LoginRules, principal: Principal | None, detail: dict[str, Any]
) -> None:
    record(
        session,
        action=f"sms.{rules.protocol}.account_created",
        actor=actor_of(principal),
        obligations=("O31-12",),
        client_ip=principal.client_ip if principal else None,
        detail=detail,
    )


_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):(?P<port>[0-9]{1,5})$")


def parse_host_port(value: str, field: str = "callback") -> tuple[str, int]:
    """``host:port`` (an IPv6 address in brackets) -> (host, port); else a clear validation error."""
    m = _HOST_PORT.match(value.strip()) if isinstance(value, str) else None
    if m is None or not 1 <= int(m["port"]) <= 65535:
        raise invalid_field(field, "host:port, port 1-65535", "须为 主机:端口，端口 1-65535")
    return m["host"].strip("[]"), int(m["port"])


def set_callback(
    session: Session,
    rules: LoginRules,
    login: str,
    callback: str | None,
    *,
    principal: Principal | None = None,
) -> IsmgAccount:
    """Where the gateway connects to deliver to this login (SGIP's SMG-to-SP link), or None."""
    if callback is not None:
        host, port = parse_host_port(callback)
        callback = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    acc = find_account(session, rules, login)
    if acc is None:
        raise not_found(f"{rules.label} account", f"{rules.label} 账号", login)
    acc.callback = callback
    record(
        session,
        action=f"sms.{rules.protocol}.account_callback",
        actor=actor_of(principal),
        obligations=("O31-11",),
        detail={rules.login_field: login, "callback": callback},
    )
    return acc  # type: ignore[no-any-return]


def with_callback(session: Session, rules: LoginRules, content_provider_id: int | None = None) -> list[Any]:
    """Active accounts that have a callback address (of one content provider, or all)."""
    q = _query(rules).where(rules.model.callback.is_not(None), rules.model.active.is_(True))
    if content_provider_id is not None:
        q = q.where(rules.model.content_provider_id == content_provider_id)
    return list(session.scalars(q.order_by(rules.model.id)))


def list_accounts(session: Session, rules: LoginRules) -> list[Any]:
    return list(session.scalars(_query(rules).order_by(rules.model.id)))


def set_active(
    session: Session, rules: LoginRules, login: str, active: bool, *, principal: Principal | None = None
) -> Any:
    acc = find_account(session, rules, login)
    if acc is None:
        raise not_found(f"{rules.label} account", f"{rules.label} 账号", login)
    acc.active = active
    record(
        session,
        action=f"sms.{rules.protocol}.account_" + ("enabled" if active else "disabled"),
        actor=actor_of(principal),
        obligations=("O31-23",),
        detail={rules.login_field: login},
    )
    return acc
