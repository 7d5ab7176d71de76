"""`piguard policy lint`: JSON and table output, batch over a folder, errors in the one error shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piguard.cli import app
from piguard.inventory.lint import ITEM_IDS, lint_file

from .test_lint import ZH_POLICY

pytestmark = pytest.mark.obligation("O24-8", "O24-9.2", "O24-12")
runner = CliRunner()


def _policy(tmp_path: Path, name: str = "policy.txt", text: str = ZH_POLICY, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_json_for_one_file(tmp_path: Path) -> None:
    path = _policy(tmp_path, encoding="gbk")
    result = runner.invoke(app, ["policy", "lint", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [i["id"] for i in body["items"]] == list(ITEM_IDS)
    assert all(i["present"] for i in body["items"])
    contact = next(i for i in body["items"] if i["id"] == "contact")
    assert contact["articles"] == ["O24-12", "O24-8"]
    ev = contact["evidence"][0]
    assert ZH_POLICY[ev["start"] : ev["end"]] == ev["text"]


def test_table_names_each_item_and_the_ids(tmp_path: Path) -> None:
    path = _policy(tmp_path, text="如您有任何疑问，请联系我们。")
    result = runner.invoke(app, ["policy", "lint", str(path)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for item_id in ("operator_identity", "complaint_channel", "effective_date"):
        assert item_id in result.stdout
    assert "O24-12" in result.stdout
    assert "0/16 present" in result.stdout


def test_fail_on_absent_is_a_gate(tmp_path: Path) -> None:
    gap = _policy(tmp_path, text=ZH_POLICY.replace("生效日期：2024年3月1日", ""))
    assert runner.invoke(app, ["policy", "lint", str(gap), "--fail-on-absent"]).exit_code == 1
    full = _policy(tmp_path, name="full.txt")
    assert runner.invoke(app, ["policy", "lint", str(full), "--fail-on-absent"]).exit_code == 0


def test_batch_over_a_folder_with_a_summary_and_an_unreadable_file(tmp_path: Path) -> None:
    _policy(tmp_path, "a.txt")
    _policy(tmp_path, "b.md", "## 联系我们\n\n邮箱：privacy@example.cn\n")
    (tmp_path / "c.html").write_bytes(b"\xff\xfe\x00\x00\x81\x30\xff")
    (tmp_path / "ignored.png").write_bytes(b"\x89PNG")
    result = runner.invoke(app, ["policy", "lint", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    files = {f["file"]: f for f in body["files"]}
    assert set(files) == {"a.txt", "b.md", "c.html"}
    assert files["a.txt"]["missing"] == []
    assert "contact" not in files["b.md"]["missing"]
    assert files["c.html"]["error"]["code"] == "policy_undecodable"
    summary = body["summary"]
    assert summary == {
        "files": 3,
        "linted": 2,
        "errors": 1,
        "complete": 1,
        "present": {**{i: 1 for i in ITEM_IDS}, "contact": 2},
    }
    table = runner.invoke(app, ["policy", "lint", str(tmp_path)], env={"COLUMNS": "160"})
    assert table.exit_code == 0
    assert "policy_undecodable" in table.stdout and "1/2 complete" in table.stdout
    assert "Traceback" not in table.output


def test_undecodable_file_is_refused_in_the_error_shape(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\x81\x30\xff\xfe binary \x00")
    result = runner.invoke(app, ["policy", "lint", str(path), "--format", "json"])
    assert result.exit_code == 2
    err = json.loads(result.stderr)["error"]
    assert err["code"] == "policy_undecodable"
    assert "GBK" in err["message"]["en"] and err["message"]["zh"]
    assert "Traceback" not in result.output


def test_missing_path_and_bad_format_are_clear_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["policy", "lint", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "not_found" in missing.stderr
    bad = runner.invoke(app, ["policy", "lint", str(_policy(tmp_path)), "--format", "xml"])
    assert bad.exit_code == 2 and "validation_error" in bad.stderr


def test_real_policies_lint_with_offsets_into_their_text(shared_dir: Path) -> None:
    """A sample of the third-party corpus (read in place): every evidence span is exact."""
    folder = shared_dir / "corpora" / "policies" / "capp-130"
    if not folder.is_dir():
        pytest.skip("policy corpus not present")
    files = sorted(folder.glob("*.txt"))[::10]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        report = lint_file(path)
        assert len(report.items) == len(ITEM_IDS)
        for r in report.items:
            assert r.present == bool(r.evidence)
            for ev in r.evidence:
                assert text[ev.start : ev.end] == ev.text
