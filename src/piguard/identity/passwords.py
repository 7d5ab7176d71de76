"""Passwords: argon2id hashing (argon2-cffi), verification, the policy, a dummy verify for timing."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from piguard.core.errors import (
    FieldError,
    validation_error,
)

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024
# ----------------------------------------------------------------------------------- passwords

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def use_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Swap the argon2 parameters (tests use cheaper ones); returns the previous hasher."""
    global _hasher, _dummy_hash
    previous, _hasher, _dummy_hash = _hasher, hasher, None
    return previous


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_time(password: str) -> None:
    """Spend what a real verification costs, so unknown usernames answer in the same time."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    verify_password(_dummy_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current hasher's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def check_password_policy(password: str, field: str = "password") -> None:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_LENGTH:
        raise validation_error(
            [
                FieldError(
                    field, f"at least {PASSWORD_MIN_LENGTH} characters / 至少 {PASSWORD_MIN_LENGTH} 个字符"
                )
            ]
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise validation_error(
            [
                FieldError(
                    field, f"at most {PASSWORD_MAX_LENGTH} characters / 至多 {PASSWORD_MAX_LENGTH} 个字符"
                )
            ]
        )
    if password.strip() == "" or len(set(password)) < 4:
        raise validation_error([FieldError(field, "too simple / 过于简单")])
