"""Markers that tie code to the obligations it carries.

``@carries("O24-13.6")`` on a function or class, and ``@pytest.mark.obligation("O24-13.6")`` on a
test, are read statically by ``piguard rules matrix``; nothing here runs at import cost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", bound=Callable[..., object] | type)


def carries(*obligation_ids: str) -> Callable[[T], T]:
    """Declare that the decorated function or class carries these obligations (REQUIREMENTS.md ids)."""

    def mark(obj: T) -> T:
        existing = getattr(obj, "__obligations__", ())
        # builtins and slots refuse attributes: the static scan still sees the decorator
        with contextlib.suppress(AttributeError, TypeError):
            obj.__obligations__ = tuple(existing) + tuple(obligation_ids)  # type: ignore[union-attr]
        return obj

    return mark
