"""Sub-commands are mounted from lists and imported only when they run (issue 10, start-up time).

Behaviour, not time: which modules a command imports (``sys.modules`` of a fresh process), that the
listed help is each command's own, and that errors keep the root's one shape. The times themselves
are printed by ``bench/cli_start.py``.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piguard.cli import DOMAIN_COMMANDS, app
from piguard.core.cli_lazy import LazyEntry, LazyTyperGroup, load_command, present
from piguard.messaging.cli import SMS_COMMANDS

HEAVY = ("sqlalchemy", "fastapi", "hyperscan", "alembic", "uvicorn", "starlette", "jinja2")
SRC = Path(__file__).resolve().parents[2] / "src" / "piguard"

_PROBE = """
import json, sys
sys.argv = ["piguard", *json.loads(sys.argv[1])]
from piguard.cli import main
try:
    main()
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
sys.stdout.write("\\n@@modules@@" + json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[str, int, set[str]]:
    """``piguard ARGS`` in a fresh interpreter: its output, exit code and every module it imported."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    out, _, tail = proc.stdout.partition("\n@@modules@@")
    assert tail, proc.stderr
    probe = json.loads(tail)
    return out + proc.stderr, probe["exit"], set(probe["modules"])


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def _norm(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def test_help_lists_every_command_without_importing_any_domain() -> None:
    out, code, modules = _run(["--help"])
    assert code == 0
    for name, _, help in present(DOMAIN_COMMANDS):
        assert name in out
        assert help.split()[0] in out
    assert not _top(modules) & set(HEAVY), _top(modules) & set(HEAVY)
    # no domain's CLI module either: only the root and the lazy-group machinery
    assert not {m for m in modules if m.endswith("cli") and m.startswith("piguard.") and m != "piguard.cli"}


def test_sms_help_lists_the_gateway_commands_without_importing_them() -> None:
    out, code, modules = _run(["sms", "--help"])
    assert code == 0
    for name, _, _ in present(SMS_COMMANDS):
        assert name in out
    assert "piguard.messaging.cli" in modules
    assert (
        not {
            "piguard.messaging.gateway.cli",
            "piguard.messaging.monitor.cli",
            "piguard.messaging.smpp.cli",
        }
        & modules
    )
    assert not _top(modules) & {"sqlalchemy", "fastapi", "alembic", "hyperscan", "uvicorn"}


def test_sms_check_imports_what_check_needs_and_no_web_migration_or_smpp_code(tmp_path: Path) -> None:
    env = {"PIGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    upgrade_out, upgrade_code, _ = _run(["db", "upgrade"], env)
    assert upgrade_code == 0, upgrade_out
    out, code, modules = _run(
        ["sms", "check", "--sender", "10690001", "--to", "13800138000", "--text", "【优品】您好"], env
    )
    assert code == 0, out
    assert "sender_unregistered" in out  # it ran the gateway's decision
    assert "piguard.messaging.gateway.cli" in modules and "sqlalchemy" in _top(modules)
    assert not _top(modules) & {"fastapi", "starlette", "alembic", "uvicorn", "jinja2"}
    # (the smpp package itself is looked at, to know its cli module exists, not its modules)
    assert not {m for m in modules if m.startswith(("piguard.messaging.smpp.", "piguard.web"))}
    assert "piguard.messaging.monitor.cli" not in modules


def test_scan_of_a_file_imports_no_database_or_web_code(tmp_path: Path) -> None:
    one = tmp_path / "one.txt"
    one.write_text("联系人 13800138000\n", encoding="utf-8")
    out, code, modules = _run(["scan", str(one)])
    assert code in (0, 1), out
    assert "piguard.discovery.cli" in modules
    assert not _top(modules) & {"fastapi", "starlette", "alembic", "uvicorn", "sqlalchemy"}


@pytest.mark.parametrize("entry", [*present(DOMAIN_COMMANDS), *present(SMS_COMMANDS)], ids=lambda e: e[0])
def test_listed_help_is_the_commands_own(entry: LazyEntry) -> None:
    name, target, help = entry
    cmd = load_command(name, target)
    assert cmd.name == name
    assert _norm(help) == _norm(cmd.short_help or cmd.help or ""), f"update the help of {name!r} in its list"


@pytest.mark.parametrize("entry", [*DOMAIN_COMMANDS, *SMS_COMMANDS], ids=lambda e: e[0])
def test_listed_help_is_in_chinese_and_english(entry: LazyEntry) -> None:
    """User-facing text is bilingual: ``piguard --help`` is the first thing an operator reads."""
    name, _target, help = entry
    assert re.search(r"[\u4e00-\u9fff]", help), f"{name!r}: add the Chinese help"
    assert re.search(r"[A-Za-z]{3,}", help), f"{name!r}: add the English help"


def test_help_listing_is_the_same_before_and_after_the_commands_are_loaded() -> None:
    from typer.main import get_command

    runner = CliRunner()
    group = get_command(app)
    assert isinstance(group, LazyTyperGroup)
    before = runner.invoke(app, ["--help"], env={"COLUMNS": "300"}).output
    for name in group.list_commands(None):  # type: ignore[arg-type]
        assert group.get_command(None, name) is not None  # type: ignore[arg-type]
    after = runner.invoke(app, ["--help"], env={"COLUMNS": "300"}).output
    assert " ".join(before.split()) == " ".join(after.split())


def test_errors_of_lazily_loaded_commands_keep_the_root_error_shape(tmp_path: Path) -> None:
    # A PiguardError deep in a lazily mounted sub-group (sms registry) comes out in the one shape.
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["sms", "check", "--sender", "10690001"],
        env={"PIGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"},
    )
    assert result.exit_code == 2
    assert "validation_error" in result.output and "--sender, --to and --text" in result.output
    assert "Traceback" not in result.output


def test_a_mistyped_lazy_command_is_suggested() -> None:
    result = CliRunner().invoke(app, ["sms", "chek"])
    assert result.exit_code == 2
    assert "Did you mean 'check'?" in result.output


def test_no_module_registers_onto_the_sms_app_by_importing_it() -> None:
    """The sms commands come from SMS_COMMANDS; a module that imported ``messaging.cli`` to add
    commands to its app would be a cycle, and its commands would never be mounted."""
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "piguard.messaging.cli":
                offenders.append(str(path.relative_to(SRC)))
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "piguard.messaging"
                and any(a.name == "cli" for a in node.names)
            ):
                offenders.append(str(path.relative_to(SRC)))
    assert offenders == [], "mount the commands with an entry in SMS_COMMANDS instead"


def test_the_api_starts_without_compiling_or_importing_what_only_requests_need(tmp_path: Path) -> None:
    """``piguard serve`` answers /healthz sooner: building the app imports no Alembic, Hyperscan,
    phonenumbers or cryptography (rules compile, numbers are checked, records sealed on first use)."""
    code = (
        "import json, sys\n"
        "from piguard.app import create_app\n"
        "create_app()\n"
        "sys.stdout.write(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PIGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert "fastapi" in modules
    assert not _top(modules) & {"alembic", "hyperscan", "phonenumbers", "cryptography"}
