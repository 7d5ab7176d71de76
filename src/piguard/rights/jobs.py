"""The worker's rights job: run every due step of end users' requests (``piguard worker`` calls
:func:`run_once` each round)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def run_once(now: datetime | None = None, *, worker: str | None = None, limit: int = 1000) -> dict[str, Any]:
    from piguard.core.db import session_factory
    from piguard.rights import service

    session = session_factory()()
    try:
        return service.run_pending(session, now=now, worker=worker, limit=limit)
    finally:
        session.close()
