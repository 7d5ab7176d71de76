"""Every instant the HTTP API accepts carries an offset (``AwareDatetime``), in bodies and queries.

The console and the CLI read what a person types as China time (``calendar.parse_local_instant``);
a machine client's bare ``2026-12-07T09:30`` is ambiguous, and before this some routes read it as
UTC, some refused it, and one passed it to the database layer, which answered 500.
"""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from tests.web.routes import api_routes

from piguard.app import create_app


def _bare_datetimes(annotation: Any, path: str, seen: set[type]) -> list[str]:
    if annotation is datetime:
        return [path]
    found: list[str] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            found += _bare_datetimes(field.annotation, f"{path}.{name}", seen)
    for arg in typing.get_args(annotation):
        found += _bare_datetimes(arg, path, seen)
    return found


def test_no_route_accepts_a_time_without_an_offset() -> None:
    routes = api_routes(create_app().routes)
    assert len(routes) > 100  # the walk reached the domain routers, not only /healthz
    bare = [
        f"{sorted(route.methods)} {route.path} {where}"
        for route in routes
        for param in route.dependant.query_params + route.dependant.body_params
        for where in _bare_datetimes(param.field_info.annotation, param.name, set())
    ]
    assert bare == []


def test_the_walk_finds_a_bare_datetime() -> None:
    class Inner(BaseModel):
        at: datetime | None = None

    class Outer(BaseModel):
        items: list[Inner]

    assert _bare_datetimes(Outer, "body", set()) == ["body.items.at"]
