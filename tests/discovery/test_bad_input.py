"""Bad input never crashes a scan and never loses data silently (issue 12, "Bad input"): binary
files, GBK/GB18030, UTF-16 and UTF-32 files, mixed encodings, CSV with ragged rows and unparsable
rows, a file of tens of MB with a very long line read in bounded memory, JSON that is broken or
too large, a database that refuses the connection or does not exist. Each gives a clear
bilingual error or note, and the report says what was skipped."""

from __future__ import annotations

import json
import socket
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core.errors import PiguardError
from piguard.discovery import textio
from piguard.discovery.scanners import EXTRA_COLUMN, scan_database, scan_paths

pytestmark = pytest.mark.obligation("O24-4", "O24-5", "O24-13.3")
runner = CliRunner()
TEXT = "客户王芳，手机13812345678，邮箱wang@example.cn\n第二行无个人信息\n身份证11010519491231002X\n"


def where(report: object) -> list[tuple[int, str]]:
    return [(f.line, f.category) for f in report.findings]  # type: ignore[attr-defined]


EXPECTED = [(1, "phone_mobile"), (1, "email"), (3, "id_card")]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("gbk.txt", TEXT.encode("gbk")),
        ("gb18030.log", TEXT.encode("gb18030")),
        ("utf16le-bom.txt", TEXT.encode("utf-16")),  # BOM + little endian
        ("utf16be-bom.txt", b"\xfe\xff" + TEXT.encode("utf-16-be")),
        ("utf16le-nobom.txt", TEXT.encode("utf-16-le")),
        ("utf32.txt", TEXT.encode("utf-32")),
        ("utf8-bom.txt", b"\xef\xbb\xbf" + TEXT.encode("utf-8")),
        ("crlf.txt", TEXT.replace("\n", "\r\n").encode("utf-8")),
    ],
)
def test_encodings_are_read_not_refused(tmp_path: Path, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    r = scan_paths([tmp_path / name])
    assert sorted(where(r)) == sorted(EXPECTED)
    assert r.errors == [] and r.warnings == []
    # offsets are characters in the decoded line: the phone number is where it is in the text
    f = next(x for x in r.findings if x.category == "phone_mobile")
    assert TEXT.splitlines()[0][f.start : f.end] == "13812345678"


def test_utf8_file_with_gbk_lines_later_on(tmp_path: Path) -> None:
    """Logs concatenated from two systems: ASCII first, GBK further down. The GBK line is read as
    GBK (not turned into U+FFFD) and the report says so."""
    head = ("INFO start ok\n" * 8000).encode("ascii")  # more than the 64 KiB sniffed
    (tmp_path / "mixed.log").write_bytes(head + "联系人张伟手机13912345678\n".encode("gbk"))
    r = scan_paths([tmp_path / "mixed.log"])
    assert where(r) == [(8001, "name"), (8001, "phone_mobile")]
    assert len(r.warnings) == 1 and "GB18030" in r.warnings[0]["warning"]
    assert "GB18030" in r.warnings[0]["warning_zh"]


def test_undecodable_bytes_are_counted(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"phone 13812345678 \xff\xff\xff end\n" * 3)
    r = scan_paths([tmp_path / "bad.txt"])
    assert [c for _, c in where(r)] == ["phone_mobile"] * 3
    assert [w["warning"].split(" ")[0] for w in r.warnings] == ["9"]
    assert "U+FFFD" in r.warnings[0]["warning_zh"]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "NUL"),
        (bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16]) * 100, "control"),
        (b"\x00\x01\x02", "NUL"),  # NULs in every other byte, yet no UTF-16 text
        (bytes(range(0, 256, 2)) * 8, "NUL"),
    ],
)
def test_binary_files_are_skipped_with_a_reason(tmp_path: Path, data: bytes, why: str) -> None:
    (tmp_path / "image.png").write_bytes(data)
    (tmp_path / "ok.txt").write_text("手机13812345678\n", encoding="utf-8")
    r = scan_paths([tmp_path])
    assert where(r) == [(1, "phone_mobile")]  # the other file is still scanned
    [e] = r.errors
    assert e["source"].endswith("image.png") and e["skipped"] == "file"
    assert why in e["error"] and "二进制文件" in e["error_zh"]


def test_csv_with_ragged_and_unparsable_rows(tmp_path: Path) -> None:
    rows = ["姓名,手机,备注"]
    for i in range(60):
        if i % 10 == 0:
            rows.append(f"张伟,1381234{i:04d},备注,多出的列 13912345678")  # one cell too many
        elif i % 10 == 1:
            rows.append("李娜")  # too few cells
        else:
            rows.append(f"王芳,1381234{i:04d},无")
    rows.append('"' + "x" * 200_000 + '",1,2')  # over the csv module's field limit
    rows.append("赵敏,13812349999,无")
    (tmp_path / "ragged.csv").write_text("\n".join(rows) + "\n", encoding="gbk")
    r = scan_paths([tmp_path / "ragged.csv"], sample=0)
    cols = {c.column: c for c in r.columns}
    assert {s.category for s in cols["手机"].categories} == {"phone_mobile"}
    assert cols["手机"].rows_seen == 61  # every parsable row, the one after the bad row too
    # the cells beyond the header are not dropped: they are scanned as one more column
    extra = cols[EXTRA_COLUMN]
    assert extra.sampled == 6 and extra.categories and extra.categories[0].category == "phone_mobile"
    counts = {
        ("long" if "more cells" in w["warning"] else "short"): int(w["warning"].split(" ")[0])
        for w in r.warnings
    }
    assert counts == {"long": 6, "short": 6}
    assert all("表头" in w["warning_zh"] for w in r.warnings)
    [e] = r.errors
    assert e["skipped"] == "rows" and e["rows"] == 1 and "跳过" in e["error_zh"]


@pytest.mark.slow
def test_large_file_with_huge_lines_in_bounded_memory(tmp_path: Path) -> None:
    """~40 MB: 20 MB of ordinary lines with a phone number every 5,000 lines, then two 10 MB lines
    without a break, each holding an ID near its end. Read in pieces and scanned in batches of
    bounded size, memory stays far below the file's size (tracemalloc peak), and the IDs in the
    long lines are found at their columns."""
    path = tmp_path / "big.log"
    filler = "2024-05-01 12:00:00 INFO request handled in 12 ms status=200 path=/api/v1/items\n"
    blocks = 20 * 2**20 // (len(filler) * 5000)
    long_line = "a" * (10 * 2**20) + " 身份证11010519491231002X end"
    with path.open("w", encoding="utf-8") as fh:
        block = filler * 4999 + "2024-05-01 12:00:01 INFO user phone 13812345678 logged in\n"
        for _ in range(blocks):
            fh.write(block)
        fh.write(long_line + "\n" + long_line + "\n")
    size = path.stat().st_size
    assert size > 39 * 2**20
    tracemalloc.start()
    r = scan_paths([path])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    phones = [f for f in r.findings if f.category == "phone_mobile"]
    assert len(phones) == blocks and phones[0].line == 5000
    ids = [(f.line, f.start) for f in r.findings if f.category == "id_card"]
    assert ids == [(blocks * 5000 + 1, 10 * 2**20 + 4), (blocks * 5000 + 2, 10 * 2**20 + 4)]
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB file"
    assert any("in pieces" in w["warning"] for w in r.warnings)
    assert r.errors == []


def test_pieces_of_a_long_line_keep_their_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textio, "PIECE", 100)
    line = "x" * 250 + " 手机13812345678"
    (tmp_path / "long.txt").write_text(line + "\nnext\n", encoding="utf-8")
    pieces = list(textio.read_pieces(tmp_path / "long.txt"))
    assert [(n, c) for n, c, _ in pieces] == [(1, 0), (1, 100), (1, 200), (2, 0)]
    assert "".join(t for n, _, t in pieces if n == 1) == line
    r = scan_paths([tmp_path / "long.txt"])
    [f] = r.findings
    assert line[f.start : f.end] == "13812345678"


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "utf-16"])
def test_a_last_line_without_a_line_end_is_not_a_long_line(tmp_path: Path, encoding: str) -> None:
    """Most files written by hand or by ``printf`` end without a newline: nothing to warn about."""
    path = tmp_path / "short.txt"
    path.write_bytes("联系人：王小明 电话13812345678\n手机13912345678".encode(encoding))
    notes = textio.ReadNotes()
    assert [(n, c) for n, c, _ in textio.read_pieces(path, notes)] == [(1, 0), (2, 0)]
    assert notes.long_lines == 0
    r = scan_paths([path])
    assert r.warnings == [] and len([f for f in r.findings if f.category == "phone_mobile"]) == 2


def test_a_long_line_is_counted_once_however_many_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textio, "PIECE", 100)
    (tmp_path / "long.txt").write_text("x" * 450 + "\nshort\n" + "y" * 150, encoding="utf-8")
    notes = textio.ReadNotes()
    list(textio.read_pieces(tmp_path / "long.txt", notes))
    assert notes.long_lines == 2


def test_broken_json_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"name": "张伟", "mobile": ', encoding="utf-8")
    lines = [json.dumps({"id": i, "text": f"手机1381234{i:04d}"}) for i in range(5)]
    lines.insert(2, "{not json")
    lines.append(json.dumps({"user": {"mobile": "13912345678"}}))
    (tmp_path / "recs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-16")
    r = scan_paths([tmp_path])
    assert len([f for f in r.findings if f.category == "phone_mobile"]) == 5
    assert [c.column for c in r.columns] == ["$.user.mobile"]
    errors = {Path(e["source"]).name: e for e in r.errors}
    assert errors["broken.json"]["skipped"] == "file" and "JSON" in errors["broken.json"]["error_zh"]
    assert errors["recs.jsonl"]["line"] == 3 and errors["recs.jsonl"]["skipped"] == "line"


def test_cli_reports_what_was_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"\x00" * 64)
    (tmp_path / "b.txt").write_text("手机13812345678\n", encoding="gbk")
    r = runner.invoke(app, ["scan", str(tmp_path)], env={"COLUMNS": "200"})
    assert r.exit_code == 1  # something was skipped: the run says so, and the rest is reported
    assert "a.bin" in r.stdout and "skipped / 已跳过" in r.stdout and "二进制文件" in r.stdout
    assert "手机号码" in r.stdout
    r = runner.invoke(app, ["scan", str(tmp_path), "--format", "json"])
    body = json.loads(r.stdout)
    assert body["errors"][0]["skipped"] == "file" and body["summary"] == {"phone_mobile": 1}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_database_that_refuses_or_does_not_exist(tmp_path: Path) -> None:
    port = _closed_port()  # bound then closed: nothing listens there
    with pytest.raises(PiguardError) as e:
        scan_database(f"postgresql+psycopg://piguard:s3cret@127.0.0.1:{port}/crm")
    assert e.value.code == "database_unreachable"
    assert "refused" in e.value.message_en and "拒绝" in e.value.message_zh
    assert "s3cret" not in str(e.value.to_dict())
    missing = tmp_path / "nope" / "crm.db"
    with pytest.raises(PiguardError) as e:
        scan_database(f"sqlite:///{missing}")
    assert "no such SQLite file" in e.value.message_en and "不存在" in e.value.message_zh
    assert not missing.exists() and not missing.parent.exists()  # refused, not created
    (tmp_path / "fake.db").write_text("not a database", encoding="utf-8")
    with pytest.raises(PiguardError) as e:
        scan_database(f"sqlite:///{tmp_path / 'fake.db'}")
    assert "not a SQLite" in e.value.message_en
    r = runner.invoke(app, ["scan", "--db", f"postgresql+psycopg://u:pw@127.0.0.1:{port}/x"])
    assert r.exit_code == 2 and "database_unreachable" in r.stderr and "pw@" not in r.stderr


def test_a_table_that_fails_is_skipped_and_named(tmp_path: Path) -> None:
    """A table whose rows cannot be read (a TEXT cell holding bytes that are no UTF-8, as a legacy
    GBK application leaves them) is reported as skipped; the other tables are scanned."""
    path = tmp_path / "crm.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, mobile TEXT)")
    con.executemany("INSERT INTO customers (mobile) VALUES (?)", [(f"1381234{i:04d}",) for i in range(20)])
    con.execute("CREATE TABLE legacy (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO legacy (name) VALUES (CAST(? AS TEXT))", ("张伟".encode("gbk"),))
    con.execute("CREATE TABLE zz_after (id INTEGER PRIMARY KEY, email TEXT)")
    con.execute("INSERT INTO zz_after (email) VALUES ('wang@example.cn')")
    con.commit()
    con.close()
    r = scan_database(f"sqlite:///{path}")
    assert [(c.table, c.column) for c in r.columns if c.categories] == [
        ("customers", "mobile"),
        ("zz_after", "email"),
    ]
    [e] = r.errors
    assert e["table"] == "legacy" and e["skipped"] == "table" and "表未扫描" in e["error_zh"]
    r2 = runner.invoke(app, ["scan", "--db", f"sqlite:///{path}"], env={"COLUMNS": "200"})
    assert r2.exit_code == 1 and "table legacy" in r2.stdout


def test_mask_file_skips_binary_files(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "dump.bin").write_bytes(b"\x00\x01\x02" * 50)
    (tmp_path / "in" / "notes.txt").write_text("手机13812345678\n", encoding="gbk")
    r = runner.invoke(app, ["mask", "file", str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 1 and "dump.bin" in r.stderr and "二进制文件" in r.stderr
    assert not (tmp_path / "out" / "dump.bin").exists()  # no "masked" copy of a file that is no text
    assert (tmp_path / "out" / "notes.txt").read_text(encoding="utf-8") == "手机138****5678\n"


def test_corrupt_workbook_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 this is no workbook")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "ok.csv").write_text("手机\n13812345678\n", encoding="utf-8")
    r = scan_paths([tmp_path])
    assert [c.column for c in r.columns if c.categories] == ["手机"]
    [e] = r.errors
    assert e["source"].endswith("broken.xlsx") and e["skipped"] == "file"
    assert "cannot read" in e["error"] and "无法读取" in e["error_zh"]
    assert len(r.sources) == 4 and r.warnings == []
