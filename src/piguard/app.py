"""FastAPI factory: mounts each domain's router and the console pages over the same services."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from piguard import __version__
from piguard.core.config import get_settings
from piguard.core.errors import FieldError, PiguardError, database_unavailable, validation_error
from piguard.core.logging import configure_logging, get_logger
from piguard.core.modules import import_if_present
from piguard.core.observability import metrics_middleware
from piguard.core.observability import router as health_router

# Domain routers, bottom-up. A module that does not exist yet is skipped; one that fails to import
# is an error.
DOMAIN_ROUTERS = [
    "piguard.regulations.views",
    "piguard.core.calendar_views",
    "piguard.identity.views",
    "piguard.oversight.audit_views",
    "piguard.discovery.views",
    "piguard.consent.views",
    "piguard.inventory.views",
    "piguard.messaging.views",
    "piguard.rights.views",
    "piguard.cases.views",
    "piguard.cases.incident_views",
    "piguard.oversight.views",
    "piguard.oversight.bulk_views",
    "piguard.oversight.reviews_views",
    "piguard.oversight.inspection_views",
    "piguard.web.views",
    "piguard.web.messaging_views",
    "piguard.web.inventory_views",
    "piguard.web.consent_views",
    "piguard.web.cases_views",
    "piguard.web.incident_views",
    "piguard.web.oversight_views",
    "piguard.web.portal_views",
    "piguard.web.unsubscribe_views",
    "piguard.web.rights_views",
    "piguard.web.bulk_views",
    "piguard.web.reviews_views",
    "piguard.web.inspection_views",
]


def _routers() -> list[Any]:
    found = []
    for name in DOMAIN_ROUTERS:
        module = import_if_present(name)
        if module is not None:
            found.append(module.router)
    return found


class BodyLimit:
    """ASGI middleware: a request body larger than ``limit`` bytes (declared in Content-Length or
    streamed) is answered 413 in the error shape before the application parses any of it."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, raw in scope.get("headers", ()):
            if key == b"content-length":
                declared = int(raw) if raw.isdigit() else None
                if declared is None or declared > self.limit:
                    await self._too_large(send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Any) -> None:
        err = PiguardError(
            "payload_too_large",
            f"The request body is larger than {self.limit} bytes (PIGUARD_MAX_BODY_BYTES).",
            f"请求体超过 {self.limit} 字节（PIGUARD_MAX_BODY_BYTES）。",
            http_status=413,
        )
        body = json.dumps(err.to_dict(), ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _error_response(err: PiguardError) -> JSONResponse:
    return JSONResponse(err.to_dict(), status_code=err.http_status)


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Everything loaded at start-up (rules, recognisers, keyword sets) lives for the process:
    # move it out of the collector's reach so full collections stay short on the gateway's path.
    gc.collect()
    gc.freeze()
    yield


#: Pydantic's English messages that people meet most often, said in both languages. An instant
#: without an offset is refused everywhere in the API: the console and the CLI read what a person
#: types as China time, but a machine client's bare "09:30" is ambiguous (UTC or +08:00?).
_INSTANT_HINT = "e.g. 2026-12-07T09:30:00+08:00 or 2026-12-07T01:30:00Z"
_FIELD_MESSAGES = {
    "timezone_aware": f"needs a time-zone offset, {_INSTANT_HINT} / 须带时区偏移，例如 2026-12-07T09:30:00+08:00",
    "datetime_parsing": f"not an ISO 8601 date-time, {_INSTANT_HINT} / 不是 ISO 8601 日期时间",
    "datetime_from_date_parsing": f"not an ISO 8601 date-time, {_INSTANT_HINT} / 不是 ISO 8601 日期时间",
    "datetime_type": f"not an ISO 8601 date-time, {_INSTANT_HINT} / 不是 ISO 8601 日期时间",
}


def create_app() -> FastAPI:
    settings = get_settings()
    settings.check_production()
    configure_logging(settings.log_level)
    log = get_logger("piguard.app")
    app = FastAPI(
        lifespan=_lifespan,
        title="piguard",
        version=__version__,
        description="User personal-information protection (MIIT Orders 24 and 31, Cybersecurity Law). "
        "Every refusal names the obligation ids it rests on.",
    )
    app.middleware("http")(metrics_middleware)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.exception_handler(PiguardError)
    async def _piguard_error(_request: Request, exc: PiguardError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            FieldError(
                ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
                _FIELD_MESSAGES.get(str(e.get("type", "")), str(e.get("msg", ""))),
            )
            for e in exc.errors()
        ]
        return _error_response(validation_error(fields))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: ("not_found", "Not found.", "未找到。"),
            405: ("method_not_allowed", "Method not allowed.", "不支持该方法。"),
        }
        code, en, zh = codes.get(exc.status_code, ("http_error", str(exc.detail), str(exc.detail)))
        return _error_response(PiguardError(code, en, zh, http_status=exc.status_code))

    @app.exception_handler(OverflowError)
    async def _overflow_error(_request: Request, exc: OverflowError) -> JSONResponse:
        # A number larger than the database's integers (an offset of 2**63, say) is bad input.
        return _error_response(
            validation_error(
                [FieldError("input", "a number is too large")],
                "A number in the input is too large.",
                "输入中的数值过大。",
            )
        )

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
        # e.g. a NUL character, which PostgreSQL text cannot hold: the input's fault, said plainly.
        return _error_response(
            validation_error(
                [FieldError("input", "contains characters or values the database cannot store")],
                "The input contains characters or values that cannot be stored.",
                "输入包含无法存储的字符或数值。",
            )
        )

    @app.exception_handler(OperationalError)
    async def _database_error(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database_unavailable", error_type=type(exc).__name__)
        return _error_response(database_unavailable(exc))

    @app.exception_handler(Exception)
    async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
        # No stack trace to the client; the log line carries only the exception type.
        log.error("internal_error", error_type=type(exc).__name__)
        return _error_response(
            PiguardError("internal_error", "Internal error.", "内部错误。", http_status=500)
        )

    app.include_router(health_router)
    for router in _routers():
        app.include_router(router)
    web = import_if_present("piguard.web.views")
    if web is not None:
        web.install_handlers(app)
        app.mount(
            "/static", StaticFiles(directory=str(Path(str(web.__file__)).parent / "static")), name="static"
        )
    return app
