"""Fixtures for the console's browser tests (helpers in browser.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture()
def open_page() -> Iterator[Callable[..., Any]]:
    """``open_page(base_url, **context_options)`` -> a Playwright page in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )

        def open_(base_url: str, purpose: str | None = "service_provision", **options: Any) -> Any:
            context = browser.new_context(base_url=base_url, locale="zh-CN", **options)
            if purpose:  # as if picked on the console's purpose picker (O24-13.3)
                context.add_cookies([{"name": "piguard_purpose", "value": purpose, "url": base_url}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            return page

        try:
            yield open_
        finally:
            browser.close()
