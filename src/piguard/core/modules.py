"""Optional domain modules: the mounting lists name every domain; the ones not written yet are skipped."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


def import_if_present(name: str) -> ModuleType | None:
    """Import ``name`` if it exists; a module that exists but fails to import raises."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # its parent package is not there
        return None
    return importlib.import_module(name) if spec is not None else None
