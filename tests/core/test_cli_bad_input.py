"""Bad input on the command line is the one error shape with exit 2, never a traceback.

Found by a sweep that gave every command's arguments and options odd values (a 20-digit number, a
5,000-character path, an empty string, a directory where a file is wanted, a non-UTF-8 file, NUL):
these escaped as OverflowError, OSError, UnicodeDecodeError, pydantic's ValidationError and
alembic's CommandError."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from piguard.cli import app

runner = CliRunner()
HUGE = "9" * 20


def _refused(args: list[str], needle: str) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, (args, r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert needle in r.output, r.output
    return r.output


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "search", "--offset", HUGE],
        ["staff", "revoke-token", HUGE],
        ["sms", "alerts", "ack", HUGE],
        ["rights", "retry", HUGE],
    ],
)
def test_a_number_too_large_for_the_database(db_engine, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    out = _refused(args, "too large")
    assert "过大" in out


def test_paths_the_system_refuses(tmp_path: Path) -> None:
    long_name = str(tmp_path / ("x" * 5000))
    _refused(["scan", long_name], "File name too long")
    _refused(["sms", "rules", "--rules-dir", long_name], "File name too long")
    _refused(["sms", "check", "--file", str(tmp_path)], "Is a directory")
    latin1 = tmp_path / "msgs.jsonl"
    latin1.write_bytes('{"text": "caf\xe9"}\n'.encode("latin-1"))
    _refused(["sms", "check", "--file", str(latin1)], "UTF-8")
    existing = tmp_path / "plain"
    existing.write_text("手机13812345678\n", encoding="utf-8")
    _refused(["mask", "file", str(existing), "--out", str(existing)], "would overwrite")


def test_a_migration_that_does_not_exist_changes_nothing(db_engine) -> None:  # type: ignore[no-untyped-def]
    for revision in ("no-such-revision", "", "\x00"):
        out = _refused(["db", "upgrade", revision], "No migration")
        assert "未做任何更改" in out
    _refused(["db", "downgrade", "abc"], "No migration")


def test_a_settings_value_out_of_range_names_the_field() -> None:
    _refused(["sms", "cmpp-serve", "--port", "-1"], "port")
