"""Compiled Hyperscan databases kept on disk, so a new process loads them instead of compiling.

Compiling the content-review rules or the PI-discovery keywords takes a few hundred milliseconds
every time a process starts (``piguard sms check``, ``piguard scan``, a new API worker); loading the
serialized database takes about a millisecond. The file is named by a SHA-256 of everything the
database depends on (the expressions, ids and flags, the Hyperscan version, the CPU's
architecture and features), so changed rules or another machine never read a stale one; a file that
does not load (truncated, other platform) is compiled again and rewritten.

Where: ``$PIGUARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/piguard``, else ``~/.cache/piguard``;
``PIGUARD_CACHE_DIR=off`` (or empty) turns the cache off. The directory belongs to the account that
runs piguard (mode 0700): whoever can write there could weaken the content review's pre-filter, as
whoever can write the installed code could, so do not point it at a shared directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "PIGUARD_CACHE_DIR"
_MAGIC = b"piguard-hyperscan-1\n"
_cpu: list[str] = []


def cache_dir() -> Path | None:
    """The cache directory, or None when the cache is turned off."""
    raw = os.environ.get(CACHE_DIR_ENV)
    if raw is not None:
        raw = raw.strip()
        return None if raw.lower() in ("", "0", "off", "none", "false") else Path(raw)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "piguard"


def _cpu_features() -> str:
    if not _cpu:
        flags = ""
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith(("flags", "Features")):
                        flags = line.split(":", 1)[-1].strip()
                        break
        except OSError:
            pass
        _cpu.append(f"{platform.machine()} {flags}")
    return _cpu[0]


def _key(hs: Any, mode: int, parts: Sequence[Any]) -> str:
    h = hashlib.sha256()
    version = getattr(hs, "__version__", "") or getattr(getattr(hs, "_version", None), "__version__", "")
    for piece in (version, _cpu_features(), mode, *parts):
        data = piece if isinstance(piece, bytes) else repr(piece).encode("utf-8")
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def compile_cached(
    hs: Any,
    mode: int,
    parts: Sequence[Any],
    build: Callable[[], tuple[Any, Any]],
) -> tuple[Any, Any]:
    """``build()`` -> ``(database, meta)``, or the same pair loaded from the cache.

    ``parts`` is everything the database depends on (expressions, ids, flags); ``meta`` is a small
    JSON-serialisable value that goes with it (e.g. which patterns compiled). A database that is
    None (nothing to match) is not cached.
    """
    directory = cache_dir()
    if directory is None:
        return build()
    path = directory / f"hs-{_key(hs, mode, parts)}.db"
    loaded = _load(hs, mode, path)
    if loaded is not None:
        return loaded
    db, meta = build()
    if db is not None:
        _store(hs, path, db, meta)
    return db, meta


def _load(hs: Any, mode: int, path: Path) -> tuple[Any, Any] | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        if not raw.startswith(_MAGIC):
            return None
        header, _, blob = raw[len(_MAGIC) :].partition(b"\n")
        info = json.loads(header)
        if hashlib.sha256(blob).hexdigest() != info["sha256"]:
            return None
        return hs.loadb(blob, mode), info["meta"]
    except Exception:  # a damaged or foreign file: compile again and overwrite it
        return None


def _store(hs: Any, path: Path, db: Any, meta: Any) -> None:
    try:
        blob = bytes(hs.dumpb(db))
        header = json.dumps({"sha256": hashlib.sha256(blob).hexdigest(), "meta": meta}).encode("ascii")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hs-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + header + b"\n" + blob)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except Exception:  # a cache that cannot be written only costs the compile next time
        return
