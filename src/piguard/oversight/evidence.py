"""The evidence bundle for inspectors (O24-17, O24-19, O31-30, O31-31): one zip with what a
supervision inspection or the annual licence review asks to see.

=============================  ==================================================================
``MANIFEST.json``              every other file with its SHA-256 and size; ``MANIFEST.sha256`` the
                               same for ``sha256sum -c``
``README.md``                  what is inside and how to check it (zh/en)
``rules/``                     the published collection-and-use rules, every version (zh, en) and
                               ``versions.json`` (effective dates, material changes)
``inspection/``                the self-inspection of the year: JSON, HTML and PDF, zh and en
``audit/``                     ``extract.jsonl`` (a contiguous run of the hash chain up to the
                               signed head), ``proof.json`` (head, checkpoints), ``verify_audit.py``
                               (stand-alone, standard library) and ``VERIFY.md``
``statistics/``                complaints and requests against their clocks, incidents, consents
                               (counts only)
``agents/register.json``       the register of outsourced firms: contract, scope, assessments
``exposure/exposure.json``     open gaps by penalty article with fine ranges
=============================  ==================================================================

No personal information goes in: counts, case references, pseudonymous subject references of the
audit log, staff account ids and firm records. Building a bundle is audited.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from piguard.audit import service as audit
from piguard.audit.service import Actor, record
from piguard.cases import incidents
from piguard.cases import service as cases
from piguard.cases.models import COMPLAINT_KINDS, REQUEST_KINDS
from piguard.consent import service as consent
from piguard.core.db import utcnow
from piguard.inventory import rules
from piguard.oversight import agents, exposure, inspection, inspection_report
from piguard.regulations.markers import carries
from piguard.regulations.matrix import build_matrix

OBLIGATIONS = ("O24-17", "O24-19", "O31-30", "O31-31", "O24-13.6")
MAX_AUDIT_ENTRIES = 200_000
SCRIPT = Path(__file__).with_name("evidence_verify.py")


def _json(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n").encode(
        "utf-8"
    )


VERIFY_MD = """# Checking the audit extract / 审计摘录核验

**English.** `extract.jsonl` holds the audit entries from seq `{first}` to `{last}`, one JSON object a
line; `proof.json` holds the signed head of the chain at the moment the bundle was built (seq
`{head_seq}`), the signed checkpoints inside the range and `first_prev_hash`, the hash the first entry
chains from.

1. Unzip the bundle and run, with any Python 3.8 or later and nothing else installed:
   `python3 audit/verify_audit.py` — it prints `OK: …` and exits 0, or names the first entry that
   fails and exits 1. It also checks every file against `MANIFEST.json`.
2. The script recomputes, for each entry, `SHA-256(prev_hash || canonical JSON of the entry)` and
   checks that each entry links to the one before; a changed, removed, inserted or moved entry is
   named by its seq.
3. The head and checkpoints are signed with the operator's HMAC key, which stays with the operator:
   ask the operator to run `piguard audit verify --expect-head "{head_line}"` in front of you, or
   compare the head line with one the operator handed over earlier (`piguard audit checkpoint`) using
   `python3 audit/verify_audit.py --expect-head "LINE"`.

**中文。** `extract.jsonl` 按行保存序号 `{first}` 至 `{last}` 的审计记录；`proof.json` 保存生成证据包时
审计链的签名头部（序号 `{head_seq}`）、范围内的签名检查点，以及第一条记录所接续的哈希 `first_prev_hash`。

1. 解压后使用任意 Python 3.8 及以上版本（无需安装其他软件）运行 `python3 audit/verify_audit.py`：
   通过时输出 `OK: …` 并返回 0；否则指出第一条不符的记录并返回 1。脚本同时按 `MANIFEST.json` 核对每个文件。
2. 脚本对每条记录重新计算 `SHA-256(prev_hash || 记录的规范 JSON)`，并核对每条记录与前一条相接；
   记录被修改、删除、插入或移动时，输出其序号。
3. 头部与检查点由运营者的 HMAC 密钥签名，密钥不随证据包提供：请运营者当面运行
   `piguard audit verify --expect-head "{head_line}"`，或以运营者此前提供的头部行
   （`piguard audit checkpoint`）运行 `python3 audit/verify_audit.py --expect-head "LINE"` 进行比对。
"""

README_MD = """# piguard evidence bundle / 证据包

Generated {generated} by {by} for the inspection period {period_from} – {period_to}
(self-inspection run {run}). / 生成时间 {generated}，生成人 {by}，自查期间 {period_from} 至 {period_to}
（自查编号 {run}）。

| folder / 目录 | what / 内容 | obligations / 义务 |
|---|---|---|
| `rules/` | published collection-and-use rules, every version, zh/en; `versions.json` / 已公布的收集使用规则及全部历史版本 | O24-8 |
| `inspection/` | self-inspection (JSON, HTML, PDF; zh/en) with findings / 自查报告及发现的问题 | O24-16 |
| `audit/` | audit extract, chain proof, offline checker (`VERIFY.md`) / 审计摘录、链证明、离线核验脚本 | O24-13.6 |
| `statistics/` | complaints, requests, incidents, consents (counts) / 投诉、请求、事件、同意统计 | O24-12, O31-27, O24-14.1, O24-9.1 |
| `agents/register.json` | agent firms: contract, scope, assessments / 代理机构登记 | O24-11 |
| `exposure/exposure.json` | open gaps by penalty article and fine range / 未落实项对应罚则与罚款幅度 | O24-22, O24-23, O31-34 |

Every file's SHA-256 is in `MANIFEST.json` (and `MANIFEST.sha256` for `sha256sum -c MANIFEST.sha256`).
每个文件的 SHA-256 见 `MANIFEST.json`（亦可用 `sha256sum -c MANIFEST.sha256` 核对）。
No personal information of end users is included: counts, case references and pseudonymous
references only. / 不含用户个人信息：仅统计数字、案件编号与假名化标识。
"""


@dataclass(frozen=True)
class Bundle:
    data: bytes
    manifest: dict[str, Any]
    filename: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@carries("O24-17", "O24-19", "O31-30", "O31-31")
def build_evidence_bundle(
    session: Session,
    *,
    year: object = None,
    actor: Actor,
    run_id: object = None,
    max_audit_entries: int = MAX_AUDIT_ENTRIES,
    now: datetime | None = None,
) -> Bundle:
    """Build the bundle for ``year`` (default: this year). The self-inspection is run ``run_id``, or
    the latest run of the year, or a new run when the year has none. Audited; nothing else changes."""
    now = now or utcnow()
    p = inspection.period(year, now)
    matrix = build_matrix()
    if run_id is not None:
        run = inspection.get_run(session, run_id)
    else:
        run = inspection.latest_run(session, p.year) or inspection.inspect(
            session, year=p.year, actor=actor, now=now, matrix=matrix
        )
    rep = inspection.report(session, run)
    files: dict[str, bytes] = {}

    versions = rules.versions(session)
    files["rules/versions.json"] = _json({"versions": [rules.version_dict(v) for v in versions]})
    for v in versions:
        for lang in ("zh", "en"):
            files[f"rules/v{v.number}-{lang}.md"] = rules.text_of(v, lang).encode("utf-8")

    files["inspection/self-inspection.json"] = _json(rep)
    for lang in ("zh", "en"):
        files[f"inspection/self-inspection-{lang}.html"] = inspection_report.inspection_html(
            rep, lang
        ).encode("utf-8")
        files[f"inspection/self-inspection-{lang}.pdf"] = inspection_report.inspection_pdf(rep, lang)

    extract = audit.extract(session, since=p.since, max_entries=max_audit_entries)
    entries = extract["entries"]
    files["audit/extract.jsonl"] = "".join(
        json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries
    ).encode("utf-8")
    head = extract["head"]
    proof = {
        "format": 1,
        "first_seq": extract["first_seq"],
        "last_seq": extract["last_seq"],
        "first_prev_hash": entries[0]["prev_hash"] if entries else None,
        "truncated": extract["truncated"],
        "since": p.since.isoformat(),
        "head": head,
        "checkpoints": extract["checkpoints"],
        "hash": "SHA-256(prev_hash || canonical JSON of the entry); see VERIFY.md",
    }
    files["audit/proof.json"] = _json(proof)
    files["audit/verify_audit.py"] = SCRIPT.read_bytes()
    files["audit/VERIFY.md"] = VERIFY_MD.format(
        first=extract["first_seq"],
        last=extract["last_seq"],
        head_seq=head["seq"] if head else None,
        head_line=head["head_line"] if head else "",
    ).encode("utf-8")

    files["statistics/complaints.json"] = _json(
        {
            "period": p.to_dict(),
            "complaints": cases.statistics(session, p.since, p.until, kinds=COMPLAINT_KINDS, now=now),
            "requests": cases.statistics(session, p.since, p.until, kinds=REQUEST_KINDS, now=now),
            "overdue_now": rep["figures"]["overdue"],
        }
    )
    files["statistics/incidents.json"] = _json(
        {"period": p.to_dict(), "incidents": incidents.statistics(session, p.since, p.until)}
    )
    files["statistics/consents.json"] = _json(
        {"period": p.to_dict(), "consents": consent.statistics(session, p.since, p.until)}
    )
    files["agents/register.json"] = _json(
        {"agents": [agents.firm_to_dict(f, now) for f in agents.list_firms(session)]}
    )
    files["exposure/exposure.json"] = _json(exposure.exposure(session, on=now, matrix=matrix))
    files["README.md"] = README_MD.format(
        generated=now.strftime("%Y-%m-%d %H:%M UTC"),
        by=f"{actor.type}:{actor.id}" if actor.id else actor.type,
        period_from=p.start.isoformat(),
        period_to=p.end.isoformat(),
        run=run.id,
    ).encode("utf-8")

    listing = [
        {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for name, data in sorted(files.items())
    ]
    manifest = {
        "piguard_evidence_bundle": 1,
        "generated_at": now.isoformat(),
        "year": p.year,
        "period": p.to_dict(),
        "inspection_run": run.id,
        "audit": {"first_seq": extract["first_seq"], "last_seq": extract["last_seq"], "head": head},
        "obligations": list(OBLIGATIONS[:4]),
        "files": listing,
    }
    manifest_bytes = _json(manifest)
    sums = "".join(f"{item['sha256']}  {item['path']}\n" for item in listing).encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
        zf.writestr("MANIFEST.json", manifest_bytes)
        zf.writestr("MANIFEST.sha256", sums)
    data = buf.getvalue()
    record(
        session,
        action="oversight.evidence.exported",
        actor=actor,
        subject_ref=f"inspection:{run.id}",
        obligations=OBLIGATIONS,
        detail={
            "year": p.year,
            "run": run.id,
            "files": len(listing) + 2,
            "audit_first_seq": extract["first_seq"],
            "audit_last_seq": extract["last_seq"],
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    return Bundle(data, manifest, f"piguard-evidence-{p.year}-run{run.id}.zip")
