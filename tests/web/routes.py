"""The app's routes for the tests that walk every endpoint (auth, access matrix, instants)."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside the routers FastAPI includes lazily (none of ours has a prefix)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes))
    return found
