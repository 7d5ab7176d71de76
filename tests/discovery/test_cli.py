"""`piguard scan` and `piguard mask` through the real CLI root (error shape, exit codes, no PI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piguard.cli import app

pytestmark = pytest.mark.obligation("O24-4", "O24-13.3", "O24-10", "CSL-42.1")
runner = CliRunner()


def test_scan_jsonl_contract(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text(
        '{"id": 7, "text": "电话13812345678"}\nnot json\n{"id": "b", "text": "a@b.cn"}\n', encoding="utf-8"
    )
    r = runner.invoke(app, ["scan", "--jsonl", str(f)])
    assert r.exit_code == 1  # a malformed line: the rest is processed, non-zero exit at the end
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert out == [
        {"id": 7, "start": 2, "end": 13, "category": "phone_mobile", "confidence": 1.0},
        {"id": "b", "start": 0, "end": 6, "category": "email", "confidence": 0.95},
    ]
    assert "line 2" in r.stderr and "not json" not in r.stderr


def test_scan_jsonl_stdin_clean_exit() -> None:
    r = runner.invoke(app, ["scan", "--jsonl", "-"], input='{"id": 1, "text": "无"}\n')
    assert r.exit_code == 0 and r.stdout == ""


def test_scan_paths_formats(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("身份证11010519491231002X\n", encoding="utf-8")
    (tmp_path / "t.csv").write_text("姓名,手机\n张伟,13812345678\n李娜,13912345678\n", encoding="utf-8")
    r = runner.invoke(app, ["scan", str(tmp_path), "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["summary"] == {"id_card": 1, "name": 2, "phone_mobile": 2}
    assert "13812345678" not in r.stdout and "张伟" not in r.stdout
    r = runner.invoke(app, ["scan", str(tmp_path), "--format", "jsonl"])
    assert {json.loads(x)["type"] for x in r.stdout.splitlines()} == {"finding", "column"}
    html = tmp_path / "r.html"
    r = runner.invoke(app, ["scan", str(tmp_path / "a.txt"), "-f", "html", "-o", str(html)])
    page = html.read_text(encoding="utf-8")
    assert r.exit_code == 0 and "<table>" in page and "身份证号 / Resident ID number" in page
    assert "11010519491231002X" not in page
    r = runner.invoke(app, ["scan", str(tmp_path), "-f", "table"])
    assert r.exit_code == 0 and "Mobile number" in r.stdout
    r = runner.invoke(app, ["scan", str(tmp_path), "--fail-on-found", "-f", "json"])
    assert r.exit_code == 1


def test_scan_database(tmp_path: Path) -> None:
    import sqlite3

    p = tmp_path / "x.db"
    con = sqlite3.connect(p)
    con.execute("create table u (id integer, phone text, note text)")
    con.executemany("insert into u values (?, ?, ?)", [(i, f"1381234{i:04d}", "ok") for i in range(50)])
    con.commit()
    con.close()
    r = runner.invoke(app, ["scan", "--db", f"sqlite:///{p}", "-f", "json"])
    assert r.exit_code == 0, r.output
    cols = {c["column"]: [x["category"] for x in c["categories"]] for c in json.loads(r.stdout)["columns"]}
    assert cols == {"id": [], "phone": ["phone_mobile"], "note": []}


@pytest.mark.parametrize(
    "args",
    [
        ["scan"],
        ["scan", "--format", "pdf", "x"],
        ["scan", "/no/such/path"],
        ["scan", "-c", "phone", "."],
        ["scan", "--jsonl", "/no/such.jsonl"],
        ["scan", "--db", "nonsense://"],
    ],
)
def test_scan_bad_input_is_a_clear_error(args: list[str]) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code != 0
    assert isinstance(r.exception, SystemExit) or getattr(r.exception, "code", "") in (
        "validation_error",
        "database_unreachable",
    )


def test_mask_commands(tmp_path: Path) -> None:
    r = runner.invoke(app, ["mask", "text", "手机13812345678，姓名：张伟"])
    assert r.exit_code == 0 and r.stdout == "手机138****5678，姓名：张*\n"
    r = runner.invoke(app, ["mask", "text", "-m", "redact", "-"], input="邮箱a@b.cn\n")
    assert r.stdout == "邮箱[email]\n"
    src = tmp_path / "in"
    src.mkdir()
    (src / "log.txt").write_text("user 13812345678 login\n", encoding="utf-8")
    r = runner.invoke(app, ["mask", "file", str(src), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0 and (tmp_path / "out" / "log.txt").read_text() == "user 138****5678 login\n"
    t = tmp_path / "t.csv"
    t.write_text("姓名,手机,城市\n张伟,13812345678,北京\n", encoding="utf-8")
    r = runner.invoke(
        app,
        [
            "mask",
            "table",
            str(t),
            "-o",
            str(tmp_path / "m.csv"),
            "--column",
            "城市=keep",
            "--column",
            "手机=pseudonymise",
        ],
    )
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "m.csv").read_text(encoding="utf-8").splitlines()
    assert (
        lines[0] == "姓名,手机,城市"
        and lines[1].startswith("张*,PSN-phone_mobile-k1-")
        and lines[1].endswith(",北京")
    )
    r = runner.invoke(app, ["mask", "table", str(t), "-o", str(tmp_path / "m.csv"), "--column", "nope=keep"])
    assert r.exit_code != 0


def test_mask_never_writes_over_its_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mask file . --out .`` wrote each de-identified copy over its original (README, lock file):
    the only copy of the data replaced by a masked one. Now refused before anything is written."""
    src = tmp_path / "in"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    original = "user 13812345678 login\n"
    for folder in ("a", "b"):
        (src / folder / "notes.txt").write_text(original, encoding="utf-8")
    (src / "top.txt").write_text(original, encoding="utf-8")
    monkeypatch.chdir(src)
    for args in (
        [".", "--out", "."],  # the input folder itself
        [".", "--out", "masked"],  # inside the input folder: the next run would read its own output
        ["top.txt", "--out", "top.txt"],  # one file onto itself
        ["a/notes.txt", "b/notes.txt", "--out", str(tmp_path / "o")],  # two inputs, one copy
    ):
        r = runner.invoke(app, ["mask", "file", *args])
        assert r.exit_code == 2, (args, r.output)
        assert "Nothing was written" in r.output and "未写入任何内容" in r.output
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()) == [
        "a/notes.txt",
        "b/notes.txt",
        "top.txt",
    ]
    assert all(p.read_text(encoding="utf-8") == original for p in src.rglob("*.txt"))
    assert not (tmp_path / "o").exists()
    # a folder's files keep their place under --out, so the two notes.txt stay two copies
    r = runner.invoke(app, ["mask", "file", str(src), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    masked = "user 138****5678 login\n"
    for rel in ("a/notes.txt", "b/notes.txt", "top.txt"):
        assert (tmp_path / "out" / rel).read_text(encoding="utf-8") == masked
    table = tmp_path / "t.csv"
    table.write_text("手机\n13812345678\n", encoding="utf-8")
    r = runner.invoke(app, ["mask", "table", str(table), "-o", str(table)])
    assert r.exit_code == 2 and table.read_text(encoding="utf-8") == "手机\n13812345678\n"


def test_kcheck(tmp_path: Path) -> None:
    t = tmp_path / "share.csv"
    t.write_text("age,city,sex\n30-39,北京市,F\n30-39,北京市,F\n40-49,上海市,M\n", encoding="utf-8")
    r = runner.invoke(app, ["mask", "kcheck", str(t), "--qi", "age,city,sex", "--k", "2", "-f", "json"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["failing_rows"] == [2] and doc["decision"]["reasons"][0]["obligations"] == ["CSL-42.1"]
    r = runner.invoke(app, ["mask", "kcheck", str(t), "--qi", "sex", "--k", "1"])
    assert r.exit_code != 0
    r = runner.invoke(app, ["mask", "kcheck", str(t), "--qi", "age,city", "--k", "2"])
    assert r.exit_code == 1 and "FAIL" in r.stdout and "上海市" in r.stdout


@pytest.mark.obligation("O24-13.3")
def test_jsonl_survives_lone_surrogates_and_deep_nesting_and_the_dlp_gate_gates(tmp_path: Path) -> None:
    """Issue 14.8: a lone surrogate and JSON nested 100,000 deep crashed `scan --jsonl`, and
    `--fail-on-found` exited 0 while printing findings."""
    deep = "[" * 100_000 + "]" * 100_000
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": "a", "text": "\\ud800 手机13812345678"}\n' + deep + '\n{"id": "b", "text": "nothing"}\n',
        encoding="utf-8",
    )
    r = runner.invoke(app, ["scan", "--jsonl", str(src)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 1  # the malformed line is reported, the rest scanned
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert lines == [{"id": "a", "start": 4, "end": 15, "category": "phone_mobile", "confidence": 1.0}]
    assert "nested too deeply" in r.output
    clean = tmp_path / "clean.jsonl"
    clean.write_text('{"id": "a", "text": "手机13812345678"}\n', encoding="utf-8")
    assert runner.invoke(app, ["scan", "--jsonl", str(clean)]).exit_code == 0
    assert runner.invoke(app, ["scan", "--jsonl", str(clean), "--fail-on-found"]).exit_code == 1
    empty = tmp_path / "none.jsonl"
    empty.write_text('{"id": "a", "text": "nothing here"}\n', encoding="utf-8")
    assert runner.invoke(app, ["scan", "--jsonl", str(empty), "--fail-on-found"]).exit_code == 0


_PROBE = """
import sys
from typer.testing import CliRunner
from piguard.cli import app
r = CliRunner().invoke(app, ["scan", sys.argv[1]])
assert r.exit_code == 0, r.output
print(" ".join(m for m in ("phonenumbers", "jinja2", "sqlalchemy", "openpyxl") if m in sys.modules))
"""


def test_scan_start_up_imports_only_what_it_needs(tmp_path: Path) -> None:
    """`piguard scan` of a small text file (issue 12: start-up): no HTML templating, no database
    layer, no workbook reader, and phonenumbers only until its China patterns are cached."""
    import os
    import subprocess
    import sys

    f = tmp_path / "one.txt"
    f.write_text("手机13812345678\n", encoding="utf-8")
    env = {**os.environ, "PIGUARD_CACHE_DIR": str(tmp_path / "cache")}

    def loaded() -> set[str]:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, str(f)], env=env, capture_output=True, text=True, check=True
        )
        return set(out.stdout.split())

    assert loaded() == {"phonenumbers"}  # the first run reads the metadata and caches it
    assert loaded() == set()  # later runs read the cached patterns


def test_cached_phone_patterns_match_phonenumbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import phonenumbers

    from piguard.discovery import validators

    monkeypatch.setenv("PIGUARD_CACHE_DIR", str(tmp_path))
    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert meta is not None and meta.mobile is not None and meta.fixed_line is not None
    want = (meta.mobile.national_number_pattern, meta.fixed_line.national_number_pattern)
    assert validators._cn_pattern_strings() == want  # computed and stored
    [cached] = list(tmp_path.glob("cn-phone-patterns-*.json"))
    assert validators._cn_pattern_strings() == want  # read back
    cached.write_text("{not json", encoding="utf-8")  # a damaged file: computed again
    assert validators._cn_pattern_strings() == want
