"""The evidence bundle (O24-17, O24-19, O31-30, O31-31): one zip with the rules and their history,
the self-inspection, an audit extract whose chain proof the bundled stand-alone script checks
offline (and catches a tampered row), statistics, the agent register and a SHA-256 manifest."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piguard.audit import chain
from piguard.audit.models import AuditEntry
from piguard.audit.service import Actor
from piguard.inventory import rules
from piguard.oversight import evidence, evidence_verify
from piguard.oversight.models import AgentFirm

pytestmark = pytest.mark.obligation("O24-17", "O24-19", "O31-30", "O31-31", "O24-13.6")
ACTOR = Actor.system("test-evidence")


@pytest.fixture()
def demo(session: Session) -> Session:
    from piguard.demo import load_demo

    load_demo(session)
    session.commit()
    return session


def _unpack(data: bytes, into: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(into)
        return {n: zf.read(n) for n in zf.namelist()}


def _check(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the bundled script as an inspector would: its own interpreter, no piguard on the path."""
    return subprocess.run(
        [sys.executable, "-I", str(folder / "audit" / "verify_audit.py"), *extra],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )


def _reseal(folder: Path) -> None:
    """Rewrite MANIFEST.json after a change, as a tamperer who knows the format would."""
    path = folder / "MANIFEST.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for item in manifest["files"]:
        item["sha256"] = hashlib.sha256((folder / item["path"]).read_bytes()).hexdigest()
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_the_bundle_holds_every_part_with_a_manifest_and_checks_offline(
    demo_in_midyear: Session, tmp_path: Path
) -> None:
    demo = demo_in_midyear  # the year's figures hold all of the demo
    bundle = evidence.build_evidence_bundle(demo, actor=ACTOR)
    demo.commit()
    files = _unpack(bundle.data, tmp_path)
    versions = rules.versions(demo)
    assert versions, "the demo publishes its rules"
    expected = {
        "MANIFEST.json",
        "MANIFEST.sha256",
        "README.md",
        "rules/versions.json",
        "inspection/self-inspection.json",
        "inspection/self-inspection-zh.html",
        "inspection/self-inspection-en.html",
        "inspection/self-inspection-zh.pdf",
        "inspection/self-inspection-en.pdf",
        "audit/extract.jsonl",
        "audit/proof.json",
        "audit/verify_audit.py",
        "audit/VERIFY.md",
        "statistics/complaints.json",
        "statistics/incidents.json",
        "statistics/consents.json",
        "agents/register.json",
        "exposure/exposure.json",
    } | {f"rules/v{v.number}-{lang}.md" for v in versions for lang in ("zh", "en")}
    assert set(files) == expected
    manifest = json.loads(files["MANIFEST.json"])
    assert {i["path"] for i in manifest["files"]} == expected - {"MANIFEST.json", "MANIFEST.sha256"}
    for item in manifest["files"]:
        assert hashlib.sha256(files[item["path"]]).hexdigest() == item["sha256"]
    assert json.loads(files["rules/versions.json"])["versions"][0]["number"] == versions[0].number
    assert files[f"rules/v{versions[0].number}-zh.md"].decode() == versions[0].text_zh
    register = json.loads(files["agents/register.json"])["agents"]
    assert len(register) == demo.scalar(select(func.count()).select_from(AgentFirm))
    rep = json.loads(files["inspection/self-inspection.json"])
    pdf = "\n".join(
        p.extract_text()
        for p in pypdf.PdfReader(io.BytesIO(files["inspection/self-inspection-en.pdf"])).pages
    )
    assert f"Run {rep['run']}" in pdf or f"Run: {rep['run']}" in pdf
    incidents = json.loads(files["statistics/incidents.json"])["incidents"]
    assert incidents["total"] == rep["figures"]["incidents"]["total"] >= 1
    # no end user's personal information: the demo's phone numbers appear nowhere
    blob = b"".join(v for k, v in files.items() if not k.endswith(".pdf"))
    for phone in (b"13800138000", b"13900139000", b"13800138011"):
        assert phone not in blob
    # the audit extract runs to the signed head and checks out offline
    proof = json.loads(files["audit/proof.json"])
    last = demo.scalar(select(func.max(AuditEntry.seq)))
    assert proof["head"]["seq"] == proof["last_seq"] and last is not None and proof["last_seq"] <= last
    done = _check(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Manifest: ") and "OK:" in done.stdout
    done = _check(tmp_path, "--expect-head", proof["head"]["head_line"])
    assert done.returncode == 0, done.stdout
    exported = demo.scalars(
        select(AuditEntry).where(AuditEntry.action == "oversight.evidence.exported")
    ).all()
    assert len(exported) == 1 and exported[0].detail["sha256"] == bundle.sha256


def test_the_offline_check_names_a_tampered_deleted_or_moved_row(demo: Session, tmp_path: Path) -> None:
    bundle = evidence.build_evidence_bundle(demo, actor=ACTOR)
    demo.commit()
    extract = tmp_path / "audit" / "extract.jsonl"

    def fresh() -> list[dict[str, object]]:
        _unpack(bundle.data, tmp_path)
        return [json.loads(line) for line in extract.read_text(encoding="utf-8").splitlines()]

    def write(rows: list[dict[str, object]]) -> None:
        extract.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    rows = fresh()
    assert len(rows) >= 5
    victim = rows[3]
    # 1. a changed row, even with the manifest left alone, is caught by the manifest
    victim["outcome"] = "ok" if victim["outcome"] != "ok" else "refused"
    write(rows)
    done = _check(tmp_path)
    assert done.returncode == 1 and "audit/extract.jsonl" in done.stdout and "MANIFEST" in done.stdout
    # 2. … and with the manifest rewritten, by its own hash: the row is named
    _reseal(tmp_path)
    done = _check(tmp_path)
    assert done.returncode == 1 and f"entry seq {victim['seq']}" in done.stdout and "altered" in done.stdout
    # 3. a row whose hash was recomputed too no longer links to the next one
    rows = fresh()
    rows[3]["detail"] = {**rows[3]["detail"], "note": "x"}  # type: ignore[dict-item]
    rows[3]["hash"] = evidence_verify.entry_hash(str(rows[3]["prev_hash"]), rows[3])
    write(rows)
    _reseal(tmp_path)
    done = _check(tmp_path)
    assert done.returncode == 1 and f"entry seq {rows[4]['seq']}" in done.stdout
    # 4. a deleted row
    rows = fresh()
    gone = rows.pop(2)
    write(rows)
    _reseal(tmp_path)
    done = _check(tmp_path)
    assert done.returncode == 1 and f"entry seq {gone['seq']}" in done.stdout and "deleted" in done.stdout
    # 5. a head line that is not this chain's
    fresh()
    head = json.loads((tmp_path / "audit" / "proof.json").read_text())["head"]
    forged = head["head_line"].replace(head["hash"], "0" * 64)
    done = _check(tmp_path, "--expect-head", forged)
    assert done.returncode == 1 and f"entry seq {head['seq']}" in done.stdout
    # 6. files missing
    (tmp_path / "audit" / "proof.json").unlink()
    assert _check(tmp_path).returncode == 2


def test_the_script_is_standard_library_only_and_hashes_as_piguard_does(demo: Session) -> None:
    tree = ast.parse(evidence.SCRIPT.read_text(encoding="utf-8"))
    imported = {
        (a.name if isinstance(n, ast.Import) else n.module or "").split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported
    assert evidence_verify.HASHED_FIELDS == chain.HASHED_FIELDS
    assert evidence_verify.FORMAT_VERSION == chain.FORMAT_VERSION and evidence_verify.GENESIS == chain.GENESIS
    for row in demo.scalars(select(AuditEntry).order_by(AuditEntry.seq).limit(50)):
        doc = {name: getattr(row, name) for name in chain.HASHED_FIELDS}
        offline = {**doc, "time": chain.iso_utc(row.time)}
        assert (
            evidence_verify.entry_hash(row.prev_hash, offline)
            == row.hash
            == chain.entry_hash(row.prev_hash, doc)
        )


def test_an_empty_database_gives_a_bundle_that_says_so(session: Session, tmp_path: Path) -> None:
    bundle = evidence.build_evidence_bundle(session, actor=ACTOR)
    session.commit()
    files = _unpack(bundle.data, tmp_path)
    assert json.loads(files["inspection/self-inspection.json"])["has_data"] is False
    assert json.loads(files["rules/versions.json"]) == {"versions": []}
    done = _check(tmp_path)  # the inspection run's own audit entries make a chain of their own
    assert done.returncode == 0, done.stdout


def test_the_discovery_engine_finds_no_personal_information_in_the_bundle(
    demo: Session, tmp_path: Path
) -> None:
    from piguard.discovery.engine import detect

    files = _unpack(evidence.build_evidence_bundle(demo, actor=ACTOR).data, tmp_path)
    for name, data in files.items():
        if name.endswith(".pdf") or name.startswith("rules/v"):
            continue  # PDFs carry the JSON's text; the published rules name the operator's own contacts
        found = {f.category for f in detect(data.decode("utf-8"))}
        if name == "audit/extract.jsonl":
            # the operation record keeps the client address of each operation and names whose data
            # it touched by the service's own user id (`subject_ref: user:10001`), under the hash (O24-13.6)
            assert found <= {"ip_address", "account"}, found
        else:
            assert found == set(), (name, found)
