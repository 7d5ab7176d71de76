"""`piguard serve`: the API and console with uvicorn."""

from __future__ import annotations

import typer

from piguard.core.config import get_settings


def command(
    host: str = typer.Option(None, help="Address to bind (default PIGUARD_HOST, 127.0.0.1)"),
    port: int = typer.Option(None, help="Port (default PIGUARD_PORT, 8000)"),
    workers: int = typer.Option(1, min=1, help="Worker processes"),
) -> None:
    """Serve the REST API (/docs) and the console (/console)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "piguard.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,  # piguard's own JSON logging (PI redacted) handles uvicorn's records
        access_log=False,  # access lines would carry query strings, which may hold PI
    )
