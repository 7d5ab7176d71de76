"""The audit log's anchor outside the database (O24-13.6).

Whoever can write to the database can empty the audit tables and start a new, self-consistent log:
nothing left inside the database says an older one existed. The anchor is the remedy an operator
would otherwise keep by hand (`audit checkpoint` prints a line for it): an append-only file of
signed head lines, on storage the database's users cannot rewrite (a WORM share, another host's
mount, object storage with retention). ``PIGUARD_AUDIT_ANCHOR_FILE`` names it; ``audit checkpoint``
and the worker's scheduled verification append to it, and ``audit verify`` checks the log against
its last line, so a laundered log is caught without anyone passing ``--expect-head``.
"""

from __future__ import annotations

import os
from pathlib import Path

from piguard.core.config import get_settings
from piguard.core.errors import PiguardError

OBLIGATION = "O24-13.6"
#: a head line is ~200 characters; the last line is found reading this much from the end
_TAIL = 4096


def anchor_path() -> Path | None:
    path = get_settings().audit_anchor_file
    return Path(path) if path else None


def append(line: str) -> Path | None:
    """Append one signed head line (flushed to disk); None when no anchor is configured."""
    path = anchor_path()
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="ascii") as fh:
            fh.write(line.strip() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise unusable(path, exc.strerror or type(exc).__name__) from None
    return path


def latest() -> tuple[Path, str] | None:
    """The anchor file and its last line, or None when no anchor is configured or none written yet."""
    path = anchor_path()
    if path is None or not path.exists():
        return None
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - _TAIL))
            tail = fh.read()
    except OSError as exc:
        raise unusable(path, exc.strerror or type(exc).__name__) from None
    lines = [x for x in tail.decode("ascii", errors="replace").splitlines() if x.strip()]
    if not lines:
        return None
    return path, lines[-1].strip()


def unusable(path: Path, why: str) -> PiguardError:
    return PiguardError(
        "audit_anchor_unusable",
        f"The audit anchor file {path} cannot be used ({why}); fix PIGUARD_AUDIT_ANCHOR_FILE or its "
        "permissions.",
        f"审计锚定文件 {path} 无法使用（{why}）；请检查 PIGUARD_AUDIT_ANCHOR_FILE 或其权限。",
        obligations=(OBLIGATION,),
        http_status=500,
        exit_code=2,
    )
