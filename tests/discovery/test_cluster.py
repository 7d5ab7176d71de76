"""``piguard scan --executor dask://HOST:PORT``: a scan fanned out over a dask.distributed cluster
gives the report of the single-process scan (issue 12, item 6).

A real ``LocalCluster`` of two worker processes (tasks and results pickled between processes as
on a remote cluster), listening on TCP, so the CLI connects to it by address as to a remote
scheduler. The test of a worker that fails on one file uses a second cluster of two worker threads
(``processes=False``), so that the failure can be injected where the workers run.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core.errors import PiguardError
from piguard.discovery import cluster, scanners
from piguard.discovery.scanners import scan_database, scan_paths
from piguard.discovery.synth import generate

distributed = pytest.importorskip("distributed")
pytestmark = [
    pytest.mark.obligation("O24-4", "O24-5", "O24-13.3"),
    # dask starts a scheduler's HTTP server even without a dashboard (dask/distributed#7207): a
    # second cluster on the machine warns that the port is taken
    pytest.mark.filterwarnings("ignore:Port .* is already in use"),
]
runner = CliRunner()


def _cluster(processes: bool) -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=processes,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as lc:
        host_port = lc.scheduler_address.removeprefix("tcp://")
        yield f"dask://{host_port}"


@pytest.fixture(scope="module")
def executor() -> Iterator[str]:
    yield from _cluster(processes=True)


@pytest.fixture
def client(executor: str) -> Iterator[Any]:
    with cluster.connect(executor) as c:
        yield c


def _files(root: Path) -> list[Path]:
    """Files of every kind a scan reads, with bad ones among them."""
    docs = [d.text for d in generate(120, seed=7)]
    (root / "notes").mkdir()
    for i in range(6):
        (root / "notes" / f"n{i}.txt").write_text("\n".join(docs[i * 20 : (i + 1) * 20]), encoding="utf-8")
    (root / "notes" / "gbk.log").write_bytes("收件人张伟 电话13812345678\n".encode("gbk"))
    (root / "bin.dat").write_bytes(b"\x00\x01\x02\xff" * 200)
    rows = "\n".join(f"{i},王芳{i},1381234{i:04d}" for i in range(300))
    (root / "people.csv").write_text("id,姓名,手机\n" + rows + "\n1,2,3,4\n", encoding="utf-8")
    (root / "recs.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(docs[:30]))
        + "\nnot json\n",
        encoding="utf-8",
    )
    (root / "doc.json").write_text(
        json.dumps({"users": [{"mobile": f"1391234{i:04d}"} for i in range(50)]}), encoding="utf-8"
    )
    return [root / "notes", root / "bin.dat", root / "people.csv", root / "recs.jsonl", root / "doc.json"]


def test_files_give_the_single_process_report(client: Any, tmp_path: Path) -> None:
    paths = _files(tmp_path)
    local = scan_paths(paths, sample=100).to_dict()
    assert local["findings"] and local["columns"] and local["errors"] and local["warnings"]
    seen: list[int] = []
    spread = cluster.scan_paths(client, paths, sample=100, progress=lambda _d, _t: seen.append)
    assert spread.to_dict() == local
    assert sum(seen) == len(local["sources"])


def _crm(path: Path, rows: int = 3000) -> str:
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, mobile TEXT, masked TEXT, remark TEXT)"
    )
    con.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
        [
            (
                i * 7 + 3,  # keys with gaps
                f"张{'伟芳磊静'[i % 4]}",
                f"1381234{i:04d}" if i % 3 else "",
                f"138****{i:04d}",
                f"订单{i} 收件人王芳电话1391234{i:04d}" if i % 10 == 0 else f"备注{i}",
            )
            for i in range(rows)
        ],
    )
    con.execute("CREATE TABLE codes (code TEXT PRIMARY KEY, email TEXT)")  # a text key
    con.executemany(
        "INSERT INTO codes VALUES (?, ?)", [(f"c{i:05d}", f"u{i}@example.cn") for i in range(900)]
    )
    con.execute("CREATE TABLE log (line TEXT)")  # no primary key: read whole by one task
    con.executemany(
        "INSERT INTO log VALUES (?)", [(f"登录 IP 10.0.{i % 250}.{i % 200}",) for i in range(700)]
    )
    con.execute("CREATE TABLE legacy (id INTEGER PRIMARY KEY, name TEXT)")  # rows that cannot be read
    con.execute("INSERT INTO legacy (name) VALUES (CAST(? AS TEXT))", ("张伟".encode("gbk"),))
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_a_table_split_by_key_ranges_gives_the_single_process_verdicts(client: Any, tmp_path: Path) -> None:
    url = _crm(tmp_path / "crm.db")
    with scanners.open_database(url)[0].connect() as conn:
        ranges = cluster.key_ranges(conn, "customers", 400)
        assert ranges is not None and len(ranges) == 8  # 3,000 rows in parts of ~400
        assert cluster.key_ranges(conn, "log", 400) is None
    for sample in (200, 0):
        local = scan_database(url, sample=sample).to_dict()
        spread = cluster.scan_database(client, url, sample=sample, chunk_rows=400).to_dict()
        assert spread == local
    by_col = {(c["table"], c["column"]): c for c in local["columns"]}
    assert by_col["customers", "mobile"]["category"] == "phone_mobile"
    assert by_col["customers", "masked"]["status"] == "masked"
    assert by_col["codes", "email"]["category"] == "email" and by_col["log", "line"]["category"]
    [e] = local["errors"]
    assert e["table"] == "legacy" and e["skipped"] == "table"
    only = cluster.scan_database(client, url, sample=50, tables=["codes"], chunk_rows=100)
    assert only.to_dict() == scan_database(url, sample=50, tables=["codes"]).to_dict()


def test_a_worker_failing_on_one_file_skips_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _files(tmp_path)
    local = scan_paths(paths, sample=100)
    real = scanners.scan_paths

    def failing(files: list[Path], **kw: Any) -> scanners.ScanReport:
        if files[0].name == "people.csv":
            raise MemoryError  # as a worker that runs out of memory on it
        return real(files, **kw)

    # the workers are threads of this process: the failure is injected where they run the scan
    monkeypatch.setattr(scanners, "scan_paths", failing)
    for executor in _cluster(processes=False):
        with cluster.connect(executor) as client:
            got = cluster.scan_paths(client, paths, sample=100)
    csv = str(tmp_path / "people.csv")
    assert got.sources == local.sources
    assert got.findings == local.findings  # the rest is merged
    assert [c.to_dict() for c in got.columns] == [c.to_dict() for c in local.columns if c.source != csv]
    [failed] = [e for e in got.errors if e["source"] == csv]
    assert (
        failed["skipped"] == "file" and "MemoryError" in failed["error"] and "工作节点" in failed["error_zh"]
    )
    assert [e for e in got.errors if e["source"] != csv] == [e for e in local.errors if e["source"] != csv]


def test_a_file_the_workers_cannot_see_is_skipped(client: Any, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("电话13812345678", encoding="utf-8")
    report = cluster.scan_file_task(str(tmp_path / "gone.txt"), 100, None, None)
    assert report.errors[0]["skipped"] == "file" and "same paths" in report.errors[0]["error"]
    assert [x.category for x in cluster.scan_paths(client, [f]).findings] == ["phone_mobile"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    port = _closed_port()
    with pytest.raises(PiguardError) as e, cluster.connect(f"dask://127.0.0.1:{port}", timeout=1):
        pass
    assert e.value.code == "executor_unreachable" and e.value.exit_code == 2
    assert f"127.0.0.1:{port}" in e.value.message_en and "调度器" in e.value.message_zh
    f = tmp_path / "a.txt"
    f.write_text("电话13812345678", encoding="utf-8")
    r = runner.invoke(
        app, ["scan", str(f), "--executor", f"dask://127.0.0.1:{port}", "--executor-timeout", "1"]
    )
    assert r.exit_code == 2 and "executor_unreachable" in r.output and "Traceback" not in r.output
    for bad in ("dask://host", "spark://host:7077", "127.0.0.1:8786", "dask://:8786"):
        r = runner.invoke(app, ["scan", str(f), "--executor", bad])
        assert r.exit_code == 2 and "executor" in r.output and "Traceback" not in r.output, bad
    r = runner.invoke(app, ["scan", "--jsonl", str(f), "--executor", "dask://127.0.0.1:1"])
    assert r.exit_code == 2 and "--executor" in r.output
    r = runner.invoke(app, ["scan", str(f), "--executor", "dask://127.0.0.1:1", "--chunk-rows", "0"])
    assert r.exit_code == 2 and "chunk_rows" in r.output and "Traceback" not in r.output


def test_a_scheduler_without_workers_is_a_clear_error() -> None:
    with distributed.LocalCluster(
        n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as lc:
        address = lc.scheduler_address.removeprefix("tcp://")
        with pytest.raises(PiguardError) as e, cluster.connect(f"dask://{address}", timeout=1):
            pass
    assert e.value.code == "executor_unreachable" and "no worker joined within 1 s" in e.value.message_en
    assert "没有工作节点" in e.value.message_zh


def test_cli_executor_gives_the_same_report(executor: str, tmp_path: Path) -> None:
    paths = [str(p) for p in _files(tmp_path)]
    url = _crm(tmp_path / "crm.db", rows=500)

    def run(*args: str) -> dict[str, Any]:
        r = runner.invoke(app, ["scan", *args, "--format", "json", "--sample", "100"])
        assert r.exit_code == 1, r.output  # something was skipped (the binary file, the legacy table)
        return json.loads(r.stdout)

    assert run(*paths, "--executor", executor) == run(*paths)
    spread = run("--db", url, "--executor", executor, "--chunk-rows", "100")
    assert spread == run("--db", url)
