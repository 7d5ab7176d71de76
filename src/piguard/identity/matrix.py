"""The authorisation matrix as data (``data/access_matrix.yaml``, O24-13.3): every endpoint with the
action it needs (or ``public`` / ``authenticated``) and whether it shows personal information."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from piguard.core import yamlfiles
from piguard.identity.access import ACTION_ROLES, ALL_ROLES, PI_VIEWS
from piguard.regulations.markers import carries

PUBLIC, AUTHENTICATED = "public", "authenticated"


@dataclass(frozen=True, slots=True)
class Entry:
    method: str
    path: str
    action: str
    pi: str | None = None
    #: the endpoint serves one content provider's own data: it also needs a token bound to one
    #: (``piguard staff token --content-provider``); an unbound caller of an allowed role gets 403
    #: ``content_provider_token_required``
    bound: bool = False

    def roles(self) -> frozenset[str]:
        """The roles that may call it (``public``/``authenticated``: every role)."""
        if self.action in (PUBLIC, AUTHENTICATED):
            return ALL_ROLES
        return ACTION_ROLES.get(self.action, frozenset())


@cache
@carries("O24-13.3")
def access_matrix() -> dict[tuple[str, str], Entry]:
    raw = yamlfiles.load(
        resources.files("piguard.identity.data").joinpath("access_matrix.yaml").read_text("utf-8")
    )
    out: dict[tuple[str, str], Entry] = {}
    for key, body in (raw.get("endpoints") or {}).items():
        method, _, path = str(key).partition(" ")
        action = str(body["action"])
        if action not in (PUBLIC, AUTHENTICATED) and action not in ACTION_ROLES:
            raise ValueError(f"access_matrix.yaml: {key}: unknown action {action!r}")
        pi = body.get("pi")
        if pi is not None and pi not in PI_VIEWS:
            raise ValueError(f"access_matrix.yaml: {key}: pi must be one of {PI_VIEWS}")
        bound = body.get("bound", False)
        if not isinstance(bound, bool):
            raise ValueError(f"access_matrix.yaml: {key}: bound is true or false")
        out[(method, path)] = Entry(method, path, action, pi, bound)
    return out
