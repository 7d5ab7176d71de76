"""Pydantic request and response bodies for the identity API (unknown fields are refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from piguard.identity.access import ALL_ROLES
from piguard.identity.accounts import USERNAME_RE, normalise_username
from piguard.identity.models import ApiToken, Staff
from piguard.identity.passwords import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from piguard.identity.principal import Principal

Role = Literal["admin", "compliance_officer", "operator", "agent", "auditor"]
if set(get_args(Role)) != ALL_ROLES:  # pragma: no cover - kept in step with access.ROLES
    raise RuntimeError("schemas.Role and access.ROLES disagree")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def _username(value: str) -> str:
    name = normalise_username(value)
    if not USERNAME_RE.match(name):
        raise ValueError(
            "3-64 characters: lowercase letters, digits, '.', '_', '-' / 3-64 个字符：小写字母、数字、'.'、'_'、'-'"
        )
    return name


class LoginIn(_In):
    # the login form does not validate the username's shape: any mismatch is just a failed login
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class PrincipalOut(BaseModel):
    actor_type: str
    actor_id: str | None
    username: str | None
    display_name: str | None
    roles: list[str]
    scopes: list[str]
    via: str
    agent_org: str | None = None
    access_expires_at: datetime | None = None

    @classmethod
    def of(cls, p: Principal) -> PrincipalOut:
        return cls.model_validate(p.summary())


class TokenIn(_In):
    scopes: list[str] = Field(min_length=1, max_length=50)
    expires_in_days: int = Field(default=30, ge=1, le=366)
    name: str = Field(default="", max_length=100)
    content_provider: str | None = Field(
        default=None, max_length=64, description="Bind the token to this content provider's code (SMS)"
    )


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked: bool
    last_used_at: datetime | None
    content_provider_id: int | None = None

    @classmethod
    def of(cls, row: ApiToken) -> TokenOut:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            scopes=sorted(row.scopes),
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked=row.revoked,
            last_used_at=row.last_used_at,
            content_provider_id=row.content_provider_id,
        )


class TokenCreatedOut(TokenOut):
    token: str = Field(
        description="The token itself: shown this once, never again. / 令牌明文，仅显示这一次。"
    )


class StaffIn(_In):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)
    roles: list[Role] = Field(min_length=1)
    display_name: str = Field(default="", max_length=128)
    kind: Literal["staff", "agent"] = "staff"
    agent_org: str | None = Field(default=None, min_length=1, max_length=200)
    access_expires_at: AwareDatetime | None = None

    @field_validator("username")
    @classmethod
    def _check_username(cls, value: str) -> str:
        return _username(value)


class StaffPatch(_In):
    roles: list[Role] | None = Field(default=None, min_length=1)
    active: bool | None = None
    display_name: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)
    agent_org: str | None = Field(default=None, min_length=1, max_length=200)
    access_expires_at: AwareDatetime | None = None


class StaffOut(BaseModel):
    id: int
    username: str
    display_name: str
    kind: str
    roles: list[str]
    active: bool
    agent_org: str | None
    access_expires_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Staff) -> StaffOut:
        return cls(
            id=s.id,
            username=s.username,
            display_name=s.display_name,
            kind=s.kind,
            roles=sorted(s.roles),
            active=s.active,
            agent_org=s.agent_org,
            access_expires_at=s.access_expires_at,
            last_login_at=s.last_login_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )
