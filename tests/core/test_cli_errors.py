"""Bad states give clear errors: a database that is not migrated is named, with what to do."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from piguard.app import create_app
from piguard.cli import app


def test_cli_on_a_database_without_tables_says_run_db_upgrade() -> None:
    result = CliRunner().invoke(app, ["staff", "list"])
    assert result.exit_code == 2
    out = result.output
    assert "database_unavailable" in out and "piguard db upgrade" in out
    assert "SELECT" not in out and "Traceback" not in out


def test_api_on_a_database_without_tables_answers_503_in_the_error_shape() -> None:
    client = TestClient(create_app(), raise_server_exceptions=False)
    r = client.post("/api/auth/login", json={"username": "someone", "password": "long-enough-password"})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "database_unavailable"
    assert "SELECT" not in r.text


def test_brackets_in_an_error_are_shown_not_read_as_markup(capsys) -> None:  # type: ignore[no-untyped-def]
    from piguard.core.cli_render import render_error
    from piguard.core.errors import FieldError, validation_error

    render_error(validation_error([FieldError("text", "holds [redacted] and [bold]x[/bold]")]))
    err = capsys.readouterr().err
    assert "[redacted]" in err and "[bold]x[/bold]" in err
