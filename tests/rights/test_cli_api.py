from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from piguard.cli import app
from piguard.rights import demo

PHONE = "13800138000"


def _setup(session: Session, target: dict[str, object]) -> None:
    demo.make_customer_db(str(target["url"]), [PHONE], schema=target["schema"])  # type: ignore[arg-type]
    demo.add_system(session, demo.system_doc(str(target["url"]), schema=target["schema"]))  # type: ignore[arg-type]
    session.commit()


@pytest.mark.obligation("O24-9.2", "CSL-43")
def test_cli_open_run_show(session: Session, target: dict[str, object], tmp_path: Path) -> None:
    _setup(session, target)
    runner = CliRunner()
    r = runner.invoke(
        app, ["rights", "open", "--kind", "access", "--subject", f"phone:{PHONE}", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    opened = json.loads(r.output)
    assert set(opened) >= {"id", "kind", "status", "received", "due", "estimated", "obligations"}
    r = runner.invoke(app, ["rights", "run", "--id", str(opened["id"])])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["rights", "show", str(opened["id"]), "--format", "json"])
    shown = json.loads(r.output)
    assert shown["status"] == "answered" and shown["export"]
    assert all(set(s) >= {"system", "table", "action", "status", "rows"} for s in shown["steps"])
    r = runner.invoke(
        app,
        [
            "rights",
            "open",
            "--kind",
            "correction",
            "--subject",
            f"phone:{PHONE}",
            "--changes",
            "{bad",
            "--format",
            "json",
        ],
    )
    assert r.exit_code != 0
    assert "changes" in (r.output + (r.stderr if r.stderr_bytes else ""))
    r = runner.invoke(
        app, ["rights", "open", "--kind", "nope", "--subject", f"phone:{PHONE}", "--format", "json"]
    )
    assert r.exit_code != 0
