"""`piguard serve`: the API and console with uvicorn."""

from __future__ import annotations

from typing import Any

import typer

from piguard.core.config import Settings, get_settings


def command(
    host: str = typer.Option(None, help="Address to bind (default PIGUARD_HOST, 127.0.0.1) / 监听地址"),
    port: int = typer.Option(None, help="Port (default PIGUARD_PORT, 8000) / 端口"),
    workers: int = typer.Option(1, min=1, help="Worker processes / 工作进程数"),
) -> None:
    """Serve the REST API (/docs) and the console (/console). / 启动 REST API 与控制台。"""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "piguard.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port if port is not None else settings.port,
        workers=workers,
        **uvicorn_options(settings),
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Options every server start uses (also the tests' live servers)."""
    trusted = settings.trusted_proxies.strip()
    return {
        "log_config": None,  # piguard's own JSON logging (PI redacted) handles uvicorn's records
        "access_log": False,  # access lines would carry query strings, which may hold PI
        # X-Forwarded-For only from the configured proxies: uvicorn's default trusts any loopback
        # caller, which let a local client forge the address the login throttle and audit see.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
    }
