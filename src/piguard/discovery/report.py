"""Scan reports as JSON, JSON lines, a terminal table or an HTML page people can read.

No report ever carries a value: only where (file, line, offsets; table and column), what category,
and how sure.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from piguard.discovery.categories import BY_CODE
from piguard.discovery.scanners import ScanReport

FORMATS = ("json", "jsonl", "table", "html")
STATUS_LABELS = {
    "clear": "clear / 明文",
    "masked": "masked / 已脱敏",
    "partly_masked": "partly masked / 部分脱敏",
    "none": "-",
}


def to_json(report: ScanReport) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


def to_jsonl(report: ScanReport) -> str:
    lines = [json.dumps({"type": "finding", **f.to_dict()}, ensure_ascii=False) for f in report.findings]
    lines += [json.dumps({"type": "column", **c.to_dict()}, ensure_ascii=False) for c in report.columns]
    lines += [json.dumps({"type": "error", **e}, ensure_ascii=False) for e in report.errors]
    lines += [json.dumps({"type": "warning", **w}, ensure_ascii=False) for w in report.warnings]
    return "\n".join(lines) + ("\n" if lines else "")


def _label(code: str) -> str:
    c = BY_CODE.get(code)
    return f"{c.zh} / {c.en}" if c else code


def print_table(report: ScanReport, console: Console) -> None:
    summary = Table(title="PI found / 发现的个人信息")
    summary.add_column("category / 类别")
    summary.add_column("count / 数量", justify="right")
    for cat, n in report.summary().items():
        summary.add_row(_label(cat), str(n))
    console.print(summary)
    shown = [c for c in report.columns if c.categories or c.masked]
    if shown:
        cols = Table(title="Columns / 字段")
        for h in (
            "source",
            "table",
            "column",
            "status / 状态",
            "category / 类别",
            "share / 占比",
            "confidence / 置信度",
            "sampled / 抽样",
            "also / 另有",
        ):
            cols.add_column(h)
        for c in shown:
            top = c.top
            if top is None:
                continue
            others = [(s, "") for s in c.categories if s is not top]
            others += [(s, " (masked)") for s in c.masked if s is not top]
            also = ", ".join(f"{s.category}{how} {s.share:.0%}" for s, how in others)
            cols.add_row(
                c.source,
                c.table,
                c.column,
                STATUS_LABELS[c.status],
                top.category,
                f"{top.share:.0%}",
                f"{top.confidence:.2f}",
                f"{top.cells} of {c.sampled} ({c.rows_seen} rows)",
                also,
            )
        console.print(cols)
    if report.findings:
        per_source: dict[str, dict[str, int]] = {}
        for f in report.findings:
            d = per_source.setdefault(f.source, {})
            d[f.category] = d.get(f.category, 0) + 1
        files = Table(title="Files / 文件")
        files.add_column("source")
        files.add_column("categories")
        for src, d in per_source.items():
            files.add_row(src, ", ".join(f"{k} {v}" for k, v in sorted(d.items())))
        console.print(files)
    for e in report.errors:
        console.print(
            f"[red]skipped / 已跳过[/] {_where(e)}: {e.get('error')} / {e.get('error_zh', '')}",
            highlight=False,
            markup=True,
        )
    for w in report.warnings:
        console.print(
            f"[yellow]note / 提示[/] {_where(w)}: {w.get('warning')} / {w.get('warning_zh', '')}",
            highlight=False,
        )


def _where(e: dict[str, Any]) -> str:
    out = str(e.get("source", ""))
    if e.get("table"):
        out += f" table {e['table']}"
    if e.get("line"):
        out += f" line {e['line']}"
    return out


_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>piguard 个人信息扫描报告 / PI scan report</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:2rem;color:#1d2330;max-width:70rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d5dd;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d5dd;padding:.35rem .6rem;text-align:left;font-size:.9rem}
th{background:#f2f4f7}.num{text-align:right}.bar{display:inline-block;height:.6rem;background:#3b82f6;vertical-align:middle}
.muted{color:#667085;font-size:.85rem}.err{color:#b42318}
</style></head><body>
<h1>个人信息扫描报告 · PI scan report</h1>
<p class="muted">生成时间 Generated {{ generated }} · 来源 Sources: {{ report.sources|length }} ·
依据 Obligations: O24-4, O24-5, O24-13.3 · 报告不含任何个人信息的值 / no value is shown, only where it is.</p>
<h2>汇总 Summary</h2>
{% if summary %}<table><tr><th>类别 Category</th><th class="num">数量 Count</th></tr>
{% for cat, n in summary %}<tr><td>{{ label(cat) }}</td><td class="num">{{ n }}</td></tr>{% endfor %}</table>
{% else %}<p>未发现个人信息。No personal information found.</p>{% endif %}
{% if columns %}<h2>字段 Columns</h2>
<table><tr><th>来源 Source</th><th>表 Table</th><th>字段 Column</th><th>状态 Status</th><th>类别 Categories</th><th class="num">抽样 Sampled</th></tr>
{% for c in columns %}<tr><td>{{ c.source }}</td><td>{{ c.table }}</td><td>{{ c.column }}</td><td>{{ status(c.status) }}</td><td>
{% for s in c.categories %}<div>{{ label(s.category) }} <span class="bar" style="width:{{ (s.share*80)|round|int }}px"></span>
{{ (s.share*100)|round(1) }}% · {{ "%.2f"|format(s.confidence) }}</div>{% endfor %}
{% for s in c.masked %}<div class="muted">{{ label(s.category) }} · 已脱敏 masked {{ (s.share*100)|round(1) }}% · {{ "%.2f"|format(s.confidence) }}</div>{% endfor %}</td>
<td class="num">{{ c.sampled }} / {{ c.rows_seen }}</td></tr>{% endfor %}</table>{% endif %}
{% if files %}<h2>文件 Files</h2>
<table><tr><th>来源 Source</th><th>类别 Categories</th><th>位置（行:列）Where (line:column), first 20</th></tr>
{% for src, cats, where in files %}<tr><td>{{ src }}</td><td>{% for k, v in cats %}{{ label(k) }}: {{ v }}<br>{% endfor %}</td>
<td class="muted">{{ where }}</td></tr>{% endfor %}</table>{% endif %}
{% if report.errors %}<h2>未扫描 Skipped</h2><ul>{% for e in report.errors %}
<li class="err">{{ e.source }} {{ e.table or "" }} {{ e.line or "" }}: {{ e.error_zh }} / {{ e.error }}</li>{% endfor %}</ul>{% endif %}
{% if report.warnings %}<h2>提示 Notes</h2><ul>{% for w in report.warnings %}
<li>{{ w.source }} {{ w.table or "" }}: {{ w.warning_zh }} / {{ w.warning }}</li>{% endfor %}</ul>{% endif %}
</body></html>
"""


def to_html(report: ScanReport) -> str:
    from jinja2 import Environment, select_autoescape  # ~0.1 s: only for the HTML report

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    files: dict[str, dict[str, Any]] = {}
    for f in report.findings:
        d = files.setdefault(f.source, {"cats": {}, "where": []})
        d["cats"][f.category] = d["cats"].get(f.category, 0) + 1
        if len(d["where"]) < 20:
            d["where"].append(f"{f.line}:{f.start}-{f.end} {f.category}")
    return env.from_string(_HTML).render(
        report=report,
        label=_label,
        summary=list(report.summary().items()),
        columns=[c for c in report.columns if c.categories or c.masked],
        status=STATUS_LABELS.__getitem__,
        files=[(src, sorted(d["cats"].items()), ", ".join(d["where"])) for src, d in files.items()],
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
