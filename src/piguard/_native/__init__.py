"""piguard's optional compiled kernels and the one way to load them.

A kernel is a C file here (``NAME.c``) that ``hatch_build.py`` compiles at install into the module
``piguard._native.NAME``. Each one does, faster, what a pure-Python function elsewhere already
does, with the same results (a test runs both on the same inputs), so a machine without a C
compiler loses speed, never behaviour.

``load(NAME)`` returns the compiled module, or ``None`` when it is absent, fails to import, was
built from another version of its source (the build embeds the source's SHA-256), or
``PIGUARD_PURE_PYTHON=1`` asks for the Python originals (as the tests do to compare both).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from functools import cache
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def pure_python() -> bool:
    return os.environ.get("PIGUARD_PURE_PYTHON", "") not in ("", "0")


@cache
def _compiled(name: str) -> ModuleType | None:
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ImportError:
        return None
    if not built_from(module, _HERE / f"{name}.c"):
        return None  # built from an older source: `uv sync --reinstall-package piguard` rebuilds it
    return module


def built_from(module: ModuleType, source: Path) -> bool:
    """Whether ``module`` was compiled from ``source`` as it is now (true where the source was not
    installed, as in a wheel without sources)."""
    if not source.exists():
        return True
    return getattr(module, "SOURCE_HASH", None) == hashlib.sha256(source.read_bytes()).hexdigest()


def load(name: str) -> ModuleType | None:
    """The compiled kernel ``name``, or ``None`` to use the pure-Python original."""
    if pure_python():
        return None
    return _compiled(name)


def status() -> dict[str, str]:
    """Each kernel source here and whether its compiled module is in use (for `piguard doctor`-like
    reports and the tests): ``compiled``, ``pure-python (asked)``, ``missing`` or ``stale``."""
    out = {}
    for source in sorted(_HERE.glob("*.c")):
        name = source.stem
        if pure_python():
            out[name] = "pure-python (asked)"
        elif _compiled(name) is not None:
            out[name] = "compiled"
        else:
            try:
                importlib.import_module(f"{__name__}.{name}")
                out[name] = "stale"
            except ImportError:
                out[name] = "missing"
    return out
