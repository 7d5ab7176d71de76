"""Pushing due callback events (``piguard worker`` each round; ``piguard sms callback push --loop``
for pushes within seconds): claim in one transaction, post outside any, settle in another."""

from __future__ import annotations

from datetime import datetime

import httpx

from piguard.core.db import unit_of_work, utcnow
from piguard.core.logging import get_logger
from piguard.messaging.callbacks import service
from piguard.messaging.records.service import retention_cutoff
from piguard.regulations.markers import carries

log = get_logger("piguard.callbacks")


def _poster(client: httpx.Client) -> service.Poster:
    def post(push: service.Push, headers: dict[str, str], timeout: float) -> int:
        return client.post(push.url, content=push.body, headers=headers, timeout=timeout).status_code

    return post


@carries("O31-11", "O31-20")
def push_due(now: datetime | None = None, *, rounds: int = 10) -> dict[str, int]:
    """Push what is due, up to ``rounds`` claims of events; returns the counts."""
    total = {"delivered": 0, "retry": 0, "failed": 0, "requests": 0}
    with httpx.Client(follow_redirects=False, trust_env=False) as client:
        post = _poster(client)
        for _ in range(rounds):
            with unit_of_work() as session:
                token, pushes = service.claim_due(session, now=now)
            if not pushes:
                break
            outcomes = [(p, service.deliver(p, post)) for p in pushes]
            with unit_of_work() as session:
                counts = service.settle(session, token, outcomes, now=now)
            for k, v in counts.items():
                total[k] += v
            total["requests"] += len(pushes)
            for p, err in outcomes:
                if err is not None:  # the error code and the provider's id only: never the URL or body
                    log.warning("callbacks.push_failed", content_provider_id=p.content_provider_id, error=err)
    return total


def run_callbacks(now: datetime | None = None) -> dict[str, int]:
    """The worker's job: push what is due, then purge events past the records' retention."""
    out = push_due(now)
    with unit_of_work() as session:
        out["purged"] = service.purge(session, retention_cutoff(now or utcnow()))
    return out
