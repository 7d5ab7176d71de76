"""`piguard staff …`: create, list, token (printed once), deactivate; errors in the one shape."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from piguard.core import db
from piguard.core.errors import PiguardError
from piguard.identity import service
from piguard.identity.cli import app

pytestmark = pytest.mark.obligation("O24-13.3", "O24-13.6")

runner = CliRunner()
PASSWORD = "a long cli password"


@pytest.fixture()
def cli_db(db_engine) -> None:  # type: ignore[no-untyped-def]
    """The commands open their own unit of work on the process engine (set by db_engine)."""


def _ok(args: list[str], stdin: str | None = None) -> str:
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_create_list_token_deactivate(cli_db: None, audit_entries) -> None:  # type: ignore[no-untyped-def]
    _ok(["create", "root", "--role", "admin", "--password-stdin"], PASSWORD + "\n")
    out = _ok(
        [
            "create",
            "olga",
            "-r",
            "compliance_officer",
            "-r",
            "auditor",
            "--display-name",
            "Olga",
            "--password-stdin",
        ],
        PASSWORD + "\n",
    )
    assert "olga" in out and PASSWORD not in out

    listed = json.loads(_ok(["list", "--format", "json"]))
    assert [s["username"] for s in listed] == ["olga", "root"]
    assert listed[0]["roles"] == ["auditor", "compliance_officer"]
    assert "olga" in _ok(["list"])

    result = runner.invoke(app, ["token", "olga", "--scope", "audit:read", "--expires-days", "30"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("pgt_") and "\n" not in token
    with db.unit_of_work() as s:
        p = service.principal_from_token(s, token)
        assert p.username == "olga" and p.scopes == {"audit:read"}
        stored = " ".join(str(v) for row in s.execute(text("SELECT * FROM api_token")).all() for v in row)
        assert token not in stored
    assert "audit:read" in _ok(["tokens", "olga"])

    _ok(["roles", "olga", "--role", "auditor"])
    _ok(["deactivate", "olga", "--reason", "left"])
    with db.unit_of_work() as s, pytest.raises(PiguardError):
        service.principal_from_token(s, token)
    created = audit_entries("identity.staff.created")
    assert created[0].actor_type == "system" and created[0].actor_id.startswith("cli:")
    assert [e.action for e in audit_entries() if e.subject_ref == "staff:olga"] == [
        "identity.staff.created",
        "identity.token.issued",
        "identity.staff.roles_changed",
        "identity.staff.deactivated",
    ]


def test_set_password_and_revoke_token(cli_db: None) -> None:
    _ok(["create", "otto", "--role", "operator", "--password-stdin"], PASSWORD + "\n")
    _ok(["set-password", "otto", "--password-stdin"], "another long password\n")
    with db.unit_of_work() as s:
        assert service.authenticate(s, "otto", "another long password").username == "otto"
    runner.invoke(app, ["token", "otto", "--scope", "sms:submit"])
    _ok(["revoke-token", "1"])
    assert "revoked" in _ok(["revoke-token", "1"])  # idempotent


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [
        (["create", "otto", "--role", "operator", "--password-stdin"], "short\n", "validation_error"),
        (["create", "otto", "--role", "wizard", "--password-stdin"], PASSWORD + "\n", "validation_error"),
        (["create", "otto", "--role", "operator"], None, "validation_error"),  # no terminal to prompt on
        (
            ["create", "agent1", "--role", "agent", "--kind", "agent", "--password-stdin"],
            PASSWORD + "\n",
            "validation_error",
        ),  # an agent needs an organisation and an access period (O24-11)
        (["token", "nobody", "--scope", "audit:read"], None, "not_found"),
        (["deactivate", "nobody"], None, "not_found"),
    ],
)
def test_bad_input_raises_the_one_error_shape(
    cli_db: None, args: list[str], stdin: str | None, code: str
) -> None:
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code != 0
    assert isinstance(result.exception, PiguardError) and result.exception.code == code


@pytest.mark.obligation("O24-11")
def test_create_agent_with_access_period(cli_db: None) -> None:
    _ok(
        [
            "create",
            "agent1",
            "--role",
            "agent",
            "--kind",
            "agent",
            "--agent-org",
            "Outsourcer Ltd",
            "--access-days",
            "90",
            "--password-stdin",
        ],
        PASSWORD + "\n",
    )
    [row] = json.loads(_ok(["list", "--format", "json"]))
    assert row["kind"] == "agent" and row["agent_org"] == "Outsourcer Ltd" and row["access_expires_at"]


def test_root_cli_renders_errors_without_traceback(
    cli_db: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from piguard import cli as root

    monkeypatch.setattr("sys.argv", ["piguard", "staff", "deactivate", "nobody"])
    with pytest.raises(SystemExit) as exit_:
        root.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "not_found" in err and "Traceback" not in err


def test_roles_info_lists_every_role(cli_db: None) -> None:
    out = _ok(["roles-info"])
    for role in service.ROLES:
        assert role in out
