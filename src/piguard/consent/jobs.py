"""Scheduled consent jobs (for ``piguard worker``; the integrator adds them to the worker round)."""

from __future__ import annotations

from datetime import datetime

from piguard.consent import service
from piguard.core import db


def expire_consents(now: datetime | None = None) -> int:
    """Write ``expire`` events for grants past their period, in batches; returns how many."""
    total = 0
    while True:
        with db.unit_of_work() as session:
            n = service.expire_due(session, now=now)
        total += n
        if n < 1000:
            return total
