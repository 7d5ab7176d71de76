"""Production refuses demo and short keys at every entry point, with one clear error (issue 14.7)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from piguard.cli import app as cli_app
from piguard.core.config import get_settings, reset_settings
from piguard.core.errors import PiguardError

pytestmark = pytest.mark.obligation("O24-13.6", "O24-13.3")

KEYS = ("PIGUARD_SECRET_KEY", "PIGUARD_AUDIT_HMAC_KEY", "PIGUARD_FIELD_KEY", "PIGUARD_PSEUDONYM_KEY")


@pytest.fixture()
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("PIGUARD_ENV", "production")
    for k in KEYS:
        monkeypatch.delenv(k, raising=False)
    reset_settings()
    yield monkeypatch
    monkeypatch.delenv("PIGUARD_ENV")
    reset_settings()


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "checkpoint"],
        ["audit", "verify"],
        ["worker", "--once"],
        ["serve", "--port", "0"],
        ["sms", "smpp-serve", "--port", "0", "--max-seconds", "1"],
    ],
    ids=lambda a: " ".join(a),
)
def test_every_entry_point_refuses_demo_keys(production: pytest.MonkeyPatch, argv: list[str]) -> None:
    out = CliRunner().invoke(cli_app, argv)
    assert out.exit_code == 2, out.output
    assert "insecure_configuration" in out.output and "Traceback" not in out.output
    for k in KEYS:
        assert k in out.output  # one error names every key to set


def test_short_keys_are_refused_and_strong_ones_accepted(production: pytest.MonkeyPatch) -> None:
    for k in KEYS:
        production.setenv(k, "x")
    reset_settings()
    with pytest.raises(PiguardError) as err:
        get_settings()
    assert err.value.code == "insecure_configuration"
    assert {f.field for f in err.value.fields} == set(KEYS)
    for k in KEYS:
        production.setenv(k, secrets.token_hex(32))
    reset_settings()
    assert get_settings().env == "production"


def test_development_keeps_its_demo_keys() -> None:
    reset_settings()
    assert get_settings().secret_key.startswith("dev-")
