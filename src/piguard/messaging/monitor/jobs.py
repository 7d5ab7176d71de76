"""The early-warning job for ``piguard worker`` (O31-22, O31-23): one evaluation in its own unit of
work. ``piguard.messaging.jobs.run_once`` calls :func:`run_alert_evaluation` each round."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piguard.core.db import unit_of_work
from piguard.messaging.monitor import service as monitor
from piguard.regulations.markers import carries


@carries("O31-22", "O31-23")
def run_alert_evaluation(now: datetime | None = None) -> dict[str, Any]:
    """Evaluate every content provider's early-warning measures once; returns what was raised,
    refreshed and suspended (alert ids and content-provider codes, no personal information)."""
    with unit_of_work() as session:
        return monitor.evaluate_alerts(session, now).to_dict()
