"""Scanners: text, JSONL, CSV/TSV/Excel, JSON documents, SQL databases; column verdicts; bounded
memory on a 100k-row, 20-column table."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from piguard.core import db
from piguard.core.errors import PiguardError
from piguard.discovery.scanners import RecordError, scan_database, scan_jsonl_records, scan_paths
from piguard.discovery.synth import Synth

pytestmark = pytest.mark.obligation("O24-4", "O24-5", "O24-13.3")


def verdicts(report: object) -> dict[str, set[str]]:
    return {c.column: {s.category for s in c.categories} for c in report.columns}  # type: ignore[attr-defined]


def test_text_file_findings_have_lines_not_values(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("启动完成\n用户手机13812345678登录\n身份证11010519491231002X\n", encoding="utf-8")
    r = scan_paths([tmp_path])
    assert [(x.line, x.category, x.start, x.end) for x in r.findings] == [
        (2, "phone_mobile", 4, 15),
        (3, "id_card", 3, 21),
    ]
    dumped = json.dumps(r.to_dict(), ensure_ascii=False)
    assert "13812345678" not in dumped and "1949" not in dumped


def test_gb18030_text_and_binary_files(tmp_path: Path) -> None:
    (tmp_path / "gbk.txt").write_bytes("联系电话13812345678".encode("gb18030"))
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    r = scan_paths([tmp_path])
    assert [x.category for x in r.findings] == ["phone_mobile"]
    assert r.errors == [
        {
            "source": str(tmp_path / "blob.bin"),
            "error": "binary file (NUL bytes): not scanned",
            "error_zh": "二进制文件（含 NUL 字节）：未扫描",
            "skipped": "file",
        }
    ]


def test_csv_tsv_columns(tmp_path: Path) -> None:
    s = Synth(1)
    rows = [["姓名", "mobile", "email", "amount", "备注"]]
    for i in range(200):
        rows.append([s.name(), s.mobile_digits(), s.email(), f"{i * 3.5:.2f}", "无"])
    (tmp_path / "users.csv").write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    (tmp_path / "users.tsv").write_text("\n".join("\t".join(r) for r in rows), encoding="utf-8")
    r = scan_paths([tmp_path], sample=100)
    for source in ("users.csv", "users.tsv"):
        v = {c.column: {s.category for s in c.categories} for c in r.columns if c.source.endswith(source)}
        assert v == {
            "姓名": {"name"},
            "mobile": {"phone_mobile"},
            "email": {"email"},
            "amount": set(),
            "备注": set(),
        }
    col = next(c for c in r.columns if c.column == "mobile")
    assert col.sampled == 100 and col.rows_seen == 200 and col.categories[0].confidence > 0.9


def test_excel_columns(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "客户"
    ws.append(["id", "身份证号", "phone"])
    s = Synth(2)
    for i in range(50):
        ws.append([i, s.id_card(), int(s.mobile_digits())])
    wb.save(tmp_path / "c.xlsx")
    r = scan_paths([tmp_path / "c.xlsx"])
    assert verdicts(r) == {"id": set(), "身份证号": {"id_card"}, "phone": {"phone_mobile"}}
    assert {c.table for c in r.columns} == {"客户"}


def test_json_document_paths(tmp_path: Path) -> None:
    doc = {
        "users": [
            {"name": "张伟", "contact": {"mobile": "13812345678"}, "age": 30},
            {"name": "李娜", "contact": {"mobile": "13912345678"}, "age": 31},
        ]
    }
    (tmp_path / "d.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "bad.json").write_text("{nope", encoding="utf-8")
    r = scan_paths([tmp_path])
    assert verdicts(r) == {"$.users[*].name": {"name"}, "$.users[*].contact.mobile": {"phone_mobile"}}
    assert r.errors and r.errors[0]["source"].endswith("bad.json")


def test_jsonl_contract_offsets_and_errors() -> None:
    lines = [
        json.dumps({"id": 1, "text": "手机１３８１２３４５６７８"}),
        "{broken",
        json.dumps({"id": "x"}),
        json.dumps({"id": 2, "text": 5}),
        json.dumps({"id": 3, "text": "邮箱a@b.cn和身份证11010519491231002X"}, ensure_ascii=False),
    ]
    out = list(scan_jsonl_records(lines))
    errors = [o for o in out if isinstance(o, RecordError)]
    assert [e.line for e in errors] == [2, 3, 4]
    found = [o for o in out if not isinstance(o, RecordError)]
    assert found == [
        {"id": 1, "start": 2, "end": 13, "category": "phone_mobile", "confidence": 1.0},
        {"id": 3, "start": 2, "end": 8, "category": "email", "confidence": 1.0},
        {"id": 3, "start": 12, "end": 30, "category": "id_card", "confidence": 1.0},
    ]


def test_missing_path() -> None:
    with pytest.raises(PiguardError):
        scan_paths([Path("/nonexistent/really")])


def _make_wide_table(url: str, rows: int) -> None:
    """20 columns: 6 hold PI, 14 do not (ids, amounts, codes, free text without PI)."""
    engine = db.make_engine(url)
    md = MetaData()
    cols = [Column("id", Integer, primary_key=True)]
    pi = {
        "cust_name": "name",
        "mobile": "phone_mobile",
        "id_card": "id_card",
        "email": "email",
        "card_no": "bank_card",
        "home_addr": "address",
    }
    plain = [
        "amount",
        "status",
        "sku",
        "created",
        "qty",
        "memo",
        "region_code",
        "score",
        "channel",
        "version",
        "order_no",
        "batch",
        "flag",
    ]
    for name in list(pi) + plain:
        cols.append(Column(name, String(200)))
    t = Table("customers", md, *cols)
    md.create_all(engine)
    s = Synth(11)
    rng = random.Random(4)
    with engine.begin() as conn:
        batch = []
        for _i in range(rows):
            batch.append(
                {
                    "cust_name": s.name(),
                    "mobile": s.mobile_digits(),
                    "id_card": s.id_card(),
                    "email": s.email(),
                    "card_no": s.bank_card(),
                    "home_addr": s.address(),
                    "amount": f"{rng.random() * 1000:.2f}",
                    "status": rng.choice(["new", "paid", "done"]),
                    "sku": f"SKU-{rng.randrange(10**6):06d}",
                    "created": "2024-05-01 12:00:00",
                    "qty": str(rng.randrange(100)),
                    "memo": rng.choice(["加急", "普通件", "请尽快发货"]),
                    "region_code": str(rng.randrange(100, 999)),
                    "score": f"{rng.random():.3f}",
                    "channel": rng.choice(["app", "web"]),
                    "version": f"v1.{rng.randrange(9)}.{rng.randrange(9)}",
                    "order_no": f"2024{rng.randrange(10**14):014d}",
                    "batch": f"B{rng.randrange(10**5)}",
                    "flag": rng.choice(["Y", "N"]),
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(t), batch)
                batch = []
        if batch:
            conn.execute(insert(t), batch)
    engine.dispose()


@pytest.mark.slow
def test_100k_rows_20_columns_right_columns_bounded_memory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wide.db'}"
    _make_wide_table(url, 100_000)
    ticks: list[tuple[str, int | None]] = []
    advanced = [0]

    def progress(name: str, total: int | None):  # type: ignore[no-untyped-def]
        ticks.append((name, total))

        def advance(n: int) -> None:
            advanced[0] += n

        return advance

    report = scan_database(url, sample=500, progress=progress)
    v = {c.column: {s.category for s in c.categories} for c in report.columns}
    assert {k for k, cats in v.items() if cats} == {
        "cust_name",
        "mobile",
        "id_card",
        "email",
        "card_no",
        "home_addr",
    }
    assert v["mobile"] == {"phone_mobile"} and v["card_no"] == {"bank_card"} and v["home_addr"] == {"address"}
    assert v["id_card"] == {"id_card"} and v["cust_name"] == {"name"} and v["email"] == {"email"}
    assert ticks == [("customers", 100_000)] and advanced[0] == 100_000
    assert all(c.rows_seen == 100_000 and c.sampled == 500 for c in report.columns if c.column != "id")
    assert "sqlite:///" in report.sources[0]
    # streamed: never the whole table. Measured in a process of its own: tracemalloc counts every
    # thread's allocations, and a thread another test left behind once made this 460 MiB here
    probe = (
        "import sys, tracemalloc\n"
        "from piguard.discovery.scanners import scan_database\n"
        "scan_database(sys.argv[1], sample=10)\n"  # caches built before measuring, as in a server
        "tracemalloc.start()\n"
        "scan_database(sys.argv[1], sample=500)\n"
        "print(tracemalloc.get_traced_memory()[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    peak = int(done.stdout.strip().splitlines()[-1])
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_database_errors(tmp_path: Path) -> None:
    with pytest.raises(PiguardError) as e:
        scan_database("notadb://x")
    assert e.value.code == "database_unreachable"
    url = f"sqlite:///{tmp_path / 'small.db'}"
    _make_wide_table(url, 10)
    with pytest.raises(PiguardError):
        scan_database(url, tables=["nope"])
    r = scan_database(url, tables=["customers"], sample=0)
    assert any(c.column == "mobile" and c.categories for c in r.columns)
