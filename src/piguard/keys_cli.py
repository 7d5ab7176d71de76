"""Field-encryption keys (O24-10): status, rotate (resumable re-encryption). / 字段加密密钥：状态、轮换。

``status`` shows the configured keys (id, where from, fingerprint, which is current), how many
values each encrypted column holds under each key, and the last rotation. ``rotate`` re-encrypts
every encrypted column under the current key (``PIGUARD_FIELD_KEY_ID``), one batch per transaction,
the progress kept in the database: killed, run it again and it resumes. Secrets are never printed.
The start and the end of a rotation are audited (``crypto.rotation_started``/``…_finished``).
"""

from __future__ import annotations

import json
import time
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from piguard.core.db import unit_of_work
from piguard.regulations.markers import carries

app = typer.Typer(
    help="Field-encryption keys (O24-10): status, rotate (resumable re-encryption). / 字段加密密钥：状态、轮换。",
    no_args_is_help=True,
)

OBLIGATIONS = ("O24-10", "CSL-40")
PURPOSE = "security.key_rotation"


class Format(StrEnum):
    table = "table"
    json = "json"


def _load_models() -> None:
    import piguard.models  # noqa: F401  every domain's tables, so every encrypted column is known


@app.command()
def status(fmt: Format = typer.Option(Format.table, "--format", help="table or json / 输出格式")) -> None:
    """Keys, values per key in each encrypted column, the last rotation. / 密钥、各加密列按密钥统计、最近一次轮换。"""
    from piguard.core.crypto import rotation

    _load_models()
    with unit_of_work() as session:
        st = rotation.status(session)
    console = Console(highlight=False)
    if fmt is Format.json:
        console.print_json(json.dumps(st.to_dict(), ensure_ascii=False))
        return
    keys = Table("key / 密钥", "source / 来源", "fingerprint / 指纹", "current / 当前", "recorded / 记录")
    for col in keys.columns:
        col.overflow = "fold"
    for k in [*st.keys, st.blind_index]:
        rec = "-" if k.recorded is None else ("ok" if k.matches else "[bold red]DIFFERS / 不符[/]")
        keys.add_row(k.id, k.source, k.fingerprint, "*" if k.current else "", rec)
    console.print(keys)
    cols = Table("column / 列", "category / 类别", "values per key / 各密钥数据量")
    for col in cols.columns:
        col.overflow = "fold"
    for c in st.columns:
        per = ", ".join(f"{k}: {n}" for k, n in sorted(c.by_key.items())) or "-"
        cols.add_row(f"{c.table}.{c.column}", c.category, per)
    console.print(cols)
    if st.rotation:
        r = st.rotation
        console.print(
            f"last rotation / 最近轮换: {r.ref} → {r.target} {r.status}, {r.rows_done} values re-encrypted / 已重新加密"
        )


@carries("O24-10")
@app.command()
def rotate(
    to: str | None = typer.Option(
        None,
        "--to",
        help="Key id to rotate to (default: the current key). / 轮换至的密钥编号（默认当前密钥）。",
    ),
    batch_size: int = typer.Option(
        500, "--batch-size", min=1, max=100_000, help="Values per transaction. / 每个事务处理的值数。"
    ),
    max_batches: int | None = typer.Option(
        None,
        "--max-batches",
        min=1,
        help="Stop after this many batches (run again to continue). / 处理这么多批后停止（再次运行即继续）。",
    ),
    pause: float = typer.Option(
        0.0, "--pause", min=0.0, max=60.0, help="Seconds to wait between batches. / 批次间等待秒数。"
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json / 输出格式"),
) -> None:
    """Re-encrypt every encrypted column under the current key; resumable. / 以当前密钥重新加密所有加密列，可断点续做。"""
    from piguard.audit.service import Actor, record
    from piguard.core.crypto import encrypted_columns, rotation

    _load_models()
    actor = Actor.system("cli.keys")
    categories = sorted({c.category for c in encrypted_columns()})
    with unit_of_work() as session:
        info, resumed = rotation.start(session, target=to, started_by="cli.keys")
        record(
            session,
            action="crypto.rotation_resumed" if resumed else "crypto.rotation_started",
            actor=actor,
            subject_ref=f"rotation:{info.ref}",
            data_categories=categories,
            purpose=PURPOSE,
            obligations=OBLIGATIONS,
            detail={"target_key": info.target, "rows_done": info.rows_done},
        )
    console = Console(highlight=False, stderr=fmt is Format.json)
    console.print(
        f"{'resuming' if resumed else 'starting'} rotation / {'继续' if resumed else '开始'}轮换 {info.ref} → {info.target}"
    )
    batches, finished = 0, False
    while max_batches is None or batches < max_batches:
        with unit_of_work() as session:
            res = rotation.step(session, info.ref, batch_size=batch_size)
            if res.finished:
                done = rotation.info(session, info.ref)
                record(
                    session,
                    action="crypto.rotation_finished",
                    actor=actor,
                    subject_ref=f"rotation:{info.ref}",
                    data_categories=categories,
                    purpose=PURPOSE,
                    obligations=OBLIGATIONS,
                    detail={"target_key": done.target, "rows_done": done.rows_done, "sweeps": done.sweeps},
                )
        batches += 1
        if res.finished:
            finished = True
            break
        if res.column:
            console.print(f"  {res.column}: +{res.rows} (total / 合计 {res.rows_done})")
        if pause:
            time.sleep(pause)
    with unit_of_work() as session:
        final = rotation.info(session, info.ref)
    if fmt is Format.json:
        Console(highlight=False).print_json(json.dumps(final.to_dict(), ensure_ascii=False))
    elif finished:
        console.print(
            f"[green]done / 完成[/]: {final.rows_done} values under {final.target} / 个值已改用 {final.target} 加密"
        )
    else:
        console.print(
            f"paused after {batches} batches / 已暂停（{batches} 批）: run `piguard keys rotate` again to continue "
            "/ 再次运行以继续"
        )
