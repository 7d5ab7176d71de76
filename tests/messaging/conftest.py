"""Messaging tests never read the developer's extra SMS rules."""

from __future__ import annotations

import pytest

from piguard.messaging.review.rules import RULES_DIR_ENV


@pytest.fixture(autouse=True)
def _no_extra_sms_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RULES_DIR_ENV, raising=False)
