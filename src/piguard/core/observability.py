"""Prometheus metrics and the health check shared by the API and the console."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text

from piguard import __version__
from piguard.core import db

HTTP_REQUESTS = Counter("piguard_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("piguard_http_request_seconds", "HTTP request latency", ["method", "route"])
DECISIONS = Counter("piguard_decisions_total", "Decisions by domain and outcome", ["domain", "outcome"])

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database check (public)")
def healthz() -> dict[str, object]:
    try:
        with db.get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # health must answer, not raise
        database = "unavailable"
    return {"status": "ok" if database == "ok" else "degraded", "database": database, "version": __version__}


@router.get("/metrics", summary="Prometheus metrics (public, no PI)", response_class=Response)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def metrics_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    # The route template, never the raw path: paths may hold ids.
    label = getattr(route, "path", "unmatched")
    HTTP_REQUESTS.labels(request.method, label, str(response.status_code)).inc()
    HTTP_LATENCY.labels(request.method, label).observe(time.perf_counter() - start)
    return response
