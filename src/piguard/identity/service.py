"""Identity service, the one entry point other rooms use: accounts, login, tokens, sessions, access.

Plain functions over a SQLAlchemy session; none of them commits (the caller owns the unit of
work). One exception to keep in mind: :func:`authenticate` writes the failed-login record and its
audit entry and *then* raises; a caller that wants the lockout to count the attempt must commit
even though the call raised (``piguard.identity.deps.login`` does).

Every login (failed, locked, successful), logout, account change and token issue/revoke is recorded
in the audit log (O24-13.6). Passwords and tokens are never logged nor audited.

The pieces live in :mod:`.accounts`, :mod:`.passwords`, :mod:`.auth`, :mod:`.tokens`,
:mod:`.sessions`, :mod:`.access` and :mod:`.principal`; this module gathers them.
"""

from __future__ import annotations

from piguard.identity.access import (
    ACCESS_CHECKS,
    ACTION_ROLES,
    AGENT_ROLES,
    ALL_ROLES,
    ROLES,
    AccessCheck,
    AccessRequest,
    CheckResult,
    Hold,
    Satisfied,
    actions_for_roles,
    allowed_scopes,
    decide_access,
    known_scopes,
    register_access_check,
    register_action,
)
from piguard.identity.accounts import (
    KINDS,
    USERNAME_RE,
    check_username,
    create_staff,
    deactivate,
    ensure_staff,
    get_staff,
    get_staff_by_username,
    list_staff,
    normalise_username,
    principal_for_staff,
    reactivate,
    require_staff,
    safe_text,
    set_password,
    set_roles,
    typed_username_hint,
    update_staff,
)
from piguard.identity.auth import (
    authenticate,
    login_failed,
    prune_login_failures,
    rate_limited,
    retry_after_seconds,
)
from piguard.identity.models import ApiToken, Staff, StaffSession
from piguard.identity.passwords import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    check_password_policy,
    hash_password,
    use_password_hasher,
    verify_password,
)
from piguard.identity.principal import Principal, scope_covers, scope_for_action, system_principal
from piguard.identity.sessions import end_session, principal_from_session, prune_sessions, start_session
from piguard.identity.tokens import (
    TOKEN_MAX_LIFETIME,
    TOKEN_PREFIX,
    get_token,
    issue_token,
    list_tokens,
    principal_from_token,
    revoke_token,
)

__all__ = [
    "ACCESS_CHECKS",
    "ACTION_ROLES",
    "AGENT_ROLES",
    "ALL_ROLES",
    "KINDS",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH",
    "ROLES",
    "TOKEN_MAX_LIFETIME",
    "TOKEN_PREFIX",
    "USERNAME_RE",
    "AccessCheck",
    "AccessRequest",
    "ApiToken",
    "CheckResult",
    "Hold",
    "Principal",
    "Satisfied",
    "Staff",
    "StaffSession",
    "actions_for_roles",
    "allowed_scopes",
    "authenticate",
    "check_password_policy",
    "check_username",
    "create_staff",
    "deactivate",
    "decide_access",
    "end_session",
    "ensure_staff",
    "get_staff",
    "get_staff_by_username",
    "get_token",
    "hash_password",
    "issue_token",
    "known_scopes",
    "list_staff",
    "list_tokens",
    "login_failed",
    "normalise_username",
    "principal_for_staff",
    "principal_from_session",
    "principal_from_token",
    "prune_login_failures",
    "prune_sessions",
    "rate_limited",
    "reactivate",
    "register_access_check",
    "register_action",
    "require_staff",
    "retry_after_seconds",
    "revoke_token",
    "safe_text",
    "scope_covers",
    "scope_for_action",
    "set_password",
    "set_roles",
    "start_session",
    "system_principal",
    "typed_username_hint",
    "update_staff",
    "use_password_hasher",
    "verify_password",
]
