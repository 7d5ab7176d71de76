"""Optional domain modules: the mounting lists name every domain; the ones not written yet are skipped."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


def module_exists(name: str) -> bool:
    """Whether module ``name`` can be imported, without importing it (only its parent packages)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package is not there
        return False


def import_if_present(name: str) -> ModuleType | None:
    """Import ``name`` if it exists; a module that exists but fails to import raises."""
    return importlib.import_module(name) if module_exists(name) else None
