"""Who is acting: the principal every access decision and audit entry starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piguard.audit.service import Actor

ACTOR_TYPES = ("staff", "agent", "end_user", "system")
VIA = ("session", "token", "cli", "system")


def scope_for_action(action: str) -> str:
    """The token scope an action needs: ``"audit.read"`` -> ``"audit:read"``."""
    domain, _, verb = action.partition(".")
    return f"{domain}:{verb}" if verb else domain


def scope_covers(held: frozenset[str] | set[str], wanted: str) -> bool:
    """``"*"`` covers everything, ``"audit:*"`` covers ``"audit:read"``, otherwise exact match."""
    if "*" in held or wanted in held:
        return True
    domain = wanted.partition(":")[0]
    return f"{domain}:*" in held


@dataclass(frozen=True)
class Principal:
    """An authenticated actor.

    ``scopes`` limits what a token may do (a console session has ``{"*"}``: its roles alone
    decide). ``via`` tells how the principal was established: ``"session"``, ``"token"``, or
    ``"cli"``/``"system"`` for local commands and jobs.
    """

    actor_type: str
    actor_id: str | None
    username: str | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset({"*"})
    client_ip: str | None = None
    terminal: str | None = None
    via: str = "session"
    display_name: str | None = None
    agent_org: str | None = None
    access_expires_at: datetime | None = None
    staff_id: int | None = None
    token_id: int | None = None
    session_id: int | None = None
    #: a token bound to one content provider (``ApiToken.content_provider_id``): it sends only as it
    content_provider_id: int | None = None

    def as_actor(self) -> Actor:
        return Actor(type=self.actor_type, id=self.actor_id)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def has_scope(self, scope: str) -> bool:
        return scope_covers(self.scopes, scope)

    def summary(self) -> dict[str, Any]:
        """What ``/api/auth/me`` shows (no secrets)."""
        return {
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "username": self.username,
            "display_name": self.display_name,
            "roles": sorted(self.roles),
            "scopes": sorted(self.scopes),
            "via": self.via,
            "agent_org": self.agent_org,
            "access_expires_at": self.access_expires_at,
            "content_provider_id": self.content_provider_id,
        }


def system_principal(name: str = "piguard", roles: frozenset[str] = frozenset()) -> Principal:
    """A principal for jobs and local commands (the audit names them as ``system``)."""
    return Principal(actor_type="system", actor_id=name, username=None, roles=roles, via="system")
