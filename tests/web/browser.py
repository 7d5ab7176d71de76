"""Browser-test plumbing shared by the console tests (fixtures in conftest.py): a live uvicorn server on a free loopback port
and a page in Debian's Chromium (/usr/bin/chromium; Playwright cannot download its own here)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from piguard.app import create_app
from piguard.core.config import get_settings
from piguard.serve_cli import uvicorn_options

CHROMIUM = os.environ.get("PIGUARD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

requires_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
    reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving() -> Iterator[str]:
    """The whole app (API and console) on a free loopback port; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, **uvicorn_options(get_settings()))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("console server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
