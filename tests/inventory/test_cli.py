"""``piguard inventory …`` end to end on a real database (O24-4, O24-5, O24-8)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from piguard.cli import app

from .conftest import dump, field

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["inventory", *args])
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.obligation("O24-5", "O24-8")
def test_import_export_check_publish(db_engine, tmp_path: Path, demo_yaml: str, demo_data) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "inventory.yaml"
    src.write_text(demo_yaml, encoding="utf-8")
    code, out, _ = _run("import", str(src))
    assert code == 0 and json.loads(out)["fields"] == 8
    code, out, _ = _run("export")
    assert code == 0 and yaml.safe_load(out)["operator"]["contact"] == "privacy@example.cn"
    code, out, _ = _run("check")
    assert code == 0 and "no findings" in out
    code, out, _ = _run("publish", "--effective", "2026-09-01")
    assert code == 0 and json.loads(out)["number"] == 1
    code, out, _ = _run("rules", "--lang", "en")
    assert code == 0 and "Version 1 · effective 2026-09-01" in out

    # A bad file: named with its line, nothing applied, exit 2.
    field(demo_data, "crm", "customers", "mobile")["purposes"] = ["service_provision", "adverts"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(dump(demo_data), encoding="utf-8")
    code, _, err = _run("import", str(bad))
    assert code == 2 and "bad.yaml, line" in err and "unknown purpose 'adverts'" in err
    code, out, _ = _run("export")
    assert "adverts" not in out

    # The check of a file with findings exits 1 and cites the ids.
    field(demo_data, "crm", "customers", "mobile")["purposes"] = []
    bad.write_text(dump(demo_data), encoding="utf-8")
    code, out, _ = _run("check", str(bad), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["findings"][0]["code"] == "field_without_purpose"
    assert "O24-5" in report["findings"][0]["obligations"]

    code, _, err = _run("import", str(tmp_path / "missing.yaml"))
    assert code == 2 and "missing.yaml" in err


@pytest.mark.obligation("O24-8")
def test_versions_and_diff(db_engine, tmp_path: Path, demo_yaml: str) -> None:  # type: ignore[no-untyped-def]
    from piguard.core import db
    from piguard.inventory.demo import load_demo_inventory

    with db.unit_of_work() as session:
        load_demo_inventory(session)
    code, out, _ = _run("versions")
    assert [json.loads(line)["number"] for line in out.splitlines()] == [2, 1]
    code, out, _ = _run("diff", "1", "2", "--lang", "en")
    assert code == 0 and "+### 6. Marketing (optional" in out
    code, _, err = _run("publish")
    assert code == 1 and "rules_unchanged" in err
    code, _, err = _run("publish", "--effective", "tomorrow")
    assert code == 2 and "effective" in err


def test_export_without_inventory(db_engine) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _run("export")
    assert code == 2 and "piguard inventory import" in err


@pytest.mark.obligation("O24-4", "O24-5")
def test_propose_from_a_real_database(db_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "crm.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, mobile TEXT, mail TEXT, note TEXT)")
    con.executemany(
        "INSERT INTO customers (mobile, mail, note) VALUES (?, ?, ?)",
        [(f"1391234{i:04d}", f"user{i}@example.cn", "会员") for i in range(50)],
    )
    con.commit()
    con.close()
    code, out, err = _run("propose", "--db", f"sqlite:///{path}", "--system", "crm")
    assert code == 0, err
    assert out.startswith("# Proposed by")
    assert "13912340001" not in out  # categories, never values
    proposal = yaml.safe_load(out)
    [system] = proposal["systems"]
    assert system["id"] == "crm" and system["connector"]["kind"] == "sql"
    fields = {f["column"]: f for f in system["tables"][0]["fields"]}
    assert fields["mobile"]["categories"][0] == "phone_mobile"
    assert fields["mail"]["categories"][0] == "email"
    assert "note" not in fields and "id" not in fields
    assert system["tables"][0]["subject_keys"]["phone"] == "mobile"
    code, _, err = _run("propose", "--db", "nosuchdriver://x")
    assert code == 2 and "database" in err.lower()
