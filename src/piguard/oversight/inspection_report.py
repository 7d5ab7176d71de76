"""The self-inspection report as a document (O24-16): HTML (with SVG charts) and PDF, zh and en.

Both render the same :func:`piguard.oversight.inspection.report` dict, so the figures in the PDF are
the figures in the JSON. The PDF uses ReportLab's built-in CID font ``STSong-Light`` (Adobe's
Chinese font pack, which every PDF reader has), so Chinese text needs no font file; charts are
drawn with ReportLab's own graphics. The HTML's charts come from :mod:`piguard.web.charts` (a leaf
module of pure SVG functions; nothing of the web application is imported).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from piguard.core import charts
from piguard.core.errors import FieldError, validation_error
from piguard.regulations.markers import carries

LANGS = ("zh", "en")

#: key -> (zh, en)
TEXT: dict[str, tuple[str, str]] = {
    "title": ("个人信息保护自查报告", "Personal-information protection self-inspection"),
    "period": ("自查期间", "Period"),
    "partial": ("（截至生成时）", "(to date)"),
    "generated": ("生成时间", "Generated"),
    "by": ("生成人", "By"),
    "run": ("自查编号", "Run"),
    "no_data": (
        "数据库中尚无可度量的数据（无同意、案件、事件、审计记录等）：以下数字均为零，仅落实矩阵有内容。",
        "No data: the database holds nothing to measure yet (no consents, cases, incidents, audit "
        "entries …); the figures below are zero and only the rules matrix has content.",
    ),
    "summary": ("概要", "Summary"),
    "built": ("已落实", "Built"),
    "partial_rows": ("部分落实", "Partial"),
    "not_yet": ("尚未落实", "Not yet"),
    "findings_open": ("未关闭问题", "Open findings"),
    "figures": ("实测数据", "Measured figures"),
    "charts": ("图表", "Charts"),
    "obligations": ("逐项义务", "Obligation by obligation"),
    "findings": ("发现的问题", "Findings"),
    "id": ("编号", "Id"),
    "obligation": ("义务", "Obligation"),
    "status": ("状态", "Status"),
    "missing": ("缺少", "Missing"),
    "evidence": ("实测依据", "Measured"),
    "severity": ("严重程度", "Severity"),
    "owner": ("负责人", "Owner"),
    "due": ("整改期限", "Due"),
    "closing": ("关闭说明与证据", "Closing note and evidence"),
    "none": ("无", "None"),
    "not_seen": ("（本次自查未再发现：请附证据关闭）", "(not found by this run: close it with evidence)"),
    "open": ("未关闭", "open"),
    "closed": ("已关闭", "closed"),
    "low": ("低", "low"),
    "medium": ("中", "medium"),
    "high": ("高", "high"),
    "status.built": ("已落实", "built"),
    "status.partial": ("部分落实", "partial"),
    "status.not yet": ("尚未落实", "not yet"),
    "chart.complaints": ("投诉处理时效（按受理月份）", "Complaint timeliness (by month received)"),
    "chart.consents": ("同意变化趋势（按月）", "Consent trend (by month)"),
    "chart.refusals": ("拒绝操作所依据的条款", "Refusals by article"),
    "chart.no_data": ("暂无数据", "No data"),
    "on_time": ("按期答复", "answered on time"),
    "late": ("逾期答复", "answered late"),
    "open_cases": ("期限内未结", "open, within period"),
    "overdue": ("超期未结", "open, overdue"),
    "grant": ("同意", "granted"),
    "withdraw": ("撤回", "withdrawn"),
    "refuse": ("拒绝", "refused"),
    "expire": ("到期", "expired"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "never": ("从未", "never"),
    # figure labels
    "g.consents": ("同意记录", "Consents"),
    "f.consent_subjects": ("登记用户数", "People in the ledger"),
    "f.consent_granted": ("现行有效同意", "Consents in force"),
    "f.consent_withdrawn": ("已撤回同意（现状）", "Consents withdrawn (current)"),
    "f.consent_grants": ("期间内新增同意", "Consents given in the period"),
    "f.consent_withdrawals": ("期间内撤回", "Withdrawals in the period"),
    "g.complaints": ("投诉", "Complaints"),
    "g.requests": ("用户请求", "End users' requests"),
    "f.received": ("受理", "received"),
    "f.on_time": ("按期答复", "answered on time"),
    "f.late": ("逾期答复", "answered late"),
    "f.open": ("期限内未结", "open within period"),
    "f.overdue": ("超期未结", "open past period"),
    "f.overdue_now": ("当前超期未结案件（全部）", "Cases overdue now (all)"),
    "g.audit": ("审计日志", "Audit log"),
    "f.audit_last": ("最近校验", "Last verified"),
    "f.audit_ok": ("校验结果完整", "Verification intact"),
    "f.audit_head": ("签名链头序号", "Signed head seq"),
    "f.audit_head_ok": ("链头签名有效", "Head signature valid"),
    "g.training": ("培训", "Training"),
    "f.training_staff": ("在用账号", "Active accounts"),
    "f.training_current": ("培训有效", "Training current"),
    "f.training_coverage": ("覆盖率", "Coverage"),
    "g.agents": ("代理机构", "Agent firms"),
    "f.agents_firms": ("登记机构", "Registered firms"),
    "f.agents_current": ("合同有效", "Under a current contract"),
    "f.agents_expired": ("合同已到期", "Contract ended"),
    "f.agents_expired_active": ("到期仍在用", "Ended but still active"),
    "g.bulk": ("批量操作", "Bulk operations"),
    "f.bulk_total": ("申请", "Requests"),
    "f.bulk_approved": ("批准", "Approved"),
    "f.bulk_rejected": ("驳回", "Rejected"),
    "f.bulk_expired": ("过期未审", "Expired undecided"),
    "f.bulk_destroyed": ("已销毁", "Destroyed"),
    "f.bulk_pending": ("待审批", "Pending"),
    "f.bulk_downloads": ("下载次数", "Downloads"),
    "g.incidents": ("安全事件", "Incidents"),
    "f.incidents_total": ("事件", "Incidents"),
    "f.incidents_serious": ("重大", "Serious"),
    "f.incidents_reported": ("已报告主管部门", "Reported to the authority"),
    "f.incidents_unreported": ("重大未报告", "Serious, not reported"),
    "f.incidents_open": ("处理中", "Open"),
    "m.consents": ("同意", "consents"),
    "m.complaints": ("投诉时效", "complaint timeliness"),
    "m.requests": ("请求时效", "request timeliness"),
    "m.overdue": ("超期案件", "overdue cases"),
    "m.audit": ("审计链校验", "audit chain verified"),
    "m.training": ("培训覆盖", "training coverage"),
    "m.agents": ("代理机构", "agent firms"),
    "m.bulk": ("批量操作审批", "bulk approvals"),
    "m.incidents": ("事件", "incidents"),
    "m.access_reviews": ("权限复核", "access reviews"),
    "m.responsibilities": ("职责登记", "responsibilities"),
    "g.access_reviews": ("访问权限复核", "Access reviews"),
    "f.ar_campaigns": ("本期复核批次", "Campaigns in the period"),
    "f.ar_items": ("复核项", "Accesses reviewed or to review"),
    "f.ar_confirmed": ("确认保留", "Confirmed"),
    "f.ar_revoked": ("撤销", "Revoked"),
    "f.ar_pending": ("待复核", "Pending"),
    "f.ar_overdue": ("逾期未复核", "Unreviewed past due"),
    "f.ar_standing": ("复核是否按期", "Reviews up to date"),
    "g.responsibilities": ("职责登记", "Responsibilities"),
    "f.resp_gaps": ("未登记负责人的事项", "Without a responsible person"),
    "m.findings": ("本报告", "this report"),
}


def check_lang(lang: object) -> str:
    if lang not in LANGS:
        raise validation_error(
            [FieldError("lang", f"one of zh, en / 须为 zh 或 en (got {str(lang)[:8]!r})")],
            "Unknown language.",
            "未知的语言。",
        )
    return str(lang)


def translator(lang: str) -> Callable[[str], str]:
    idx = 0 if lang == "zh" else 1
    return lambda key: TEXT[key][idx] if key in TEXT else key


def _yes(t: Callable[[str], str], v: object) -> str:
    return "—" if v is None else t("yes") if v else t("no")


def figure_groups(rep: dict[str, Any], lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The measured figures as (group, [(label, value)]) in the report's language."""
    t = translator(lang)
    f = rep["figures"]
    c = f["consents"]
    groups: list[tuple[str, list[tuple[str, str]]]] = [
        (
            t("g.consents"),
            [
                (t("f.consent_subjects"), str(c["subjects"])),
                (t("f.consent_granted"), str(c["states"].get("granted", 0))),
                (t("f.consent_withdrawn"), str(c["states"].get("withdrawn", 0))),
                (t("f.consent_grants"), str(c["events"].get("grant", 0))),
                (t("f.consent_withdrawals"), str(c["events"].get("withdraw", 0))),
            ],
        )
    ]
    for key in ("complaints", "requests"):
        tot = f[key]["total"]
        groups.append(
            (
                t(f"g.{key}"),
                [
                    (f"{t(f'g.{key}')} {t('f.' + k)}", str(tot.get(k, 0)))
                    for k in ("received", "on_time", "late", "open", "overdue")
                ],
            )
        )
    groups[-1][1].append((t("f.overdue_now"), str(f["overdue"]["count"])))
    a = f["audit"]
    groups.append(
        (
            t("g.audit"),
            [
                (t("f.audit_last"), (a["last_verified_at"] or t("never"))[:19].replace("T", " ")),
                (t("f.audit_ok"), _yes(t, a["last_ok"])),
                (t("f.audit_head"), str(a["head_seq"] or 0)),
                (t("f.audit_head_ok"), _yes(t, a["head_signature_ok"])),
            ],
        )
    )
    tr = f["training"]
    cov = tr["coverage"]
    groups.append(
        (
            t("g.training"),
            [
                (t("f.training_staff"), str(tr["staff"])),
                (t("f.training_current"), str(tr["current"])),
                (t("f.training_coverage"), "—" if cov is None else f"{cov * 100:.0f}%"),
            ],
        )
    )
    g = f["agents"]
    groups.append(
        (
            t("g.agents"),
            [
                (t("f.agents_firms"), str(g["firms"])),
                (t("f.agents_current"), str(g["current"])),
                (t("f.agents_expired"), str(g["expired"])),
                (t("f.agents_expired_active"), str(len(g["expired_still_active"]))),
            ],
        )
    )
    b = f["bulk"]
    st = b["by_status"]
    groups.append(
        (
            t("g.bulk"),
            [
                (t("f.bulk_total"), str(b["total"])),
                (t("f.bulk_approved"), str(st.get("approved", 0))),
                (t("f.bulk_rejected"), str(st.get("rejected", 0))),
                (t("f.bulk_expired"), str(st.get("expired", 0))),
                (t("f.bulk_destroyed"), str(st.get("destroyed", 0))),
                (t("f.bulk_pending"), str(st.get("pending", 0))),
                (t("f.bulk_downloads"), str(b["downloads"])),
            ],
        )
    )
    i = f["incidents"]
    groups.append(
        (
            t("g.incidents"),
            [
                (t("f.incidents_total"), str(i["total"])),
                (t("f.incidents_serious"), str(i["serious"])),
                (t("f.incidents_reported"), str(i["reported"])),
                (t("f.incidents_unreported"), str(i["serious_not_reported"])),
                (t("f.incidents_open"), str(i["open"])),
            ],
        )
    )
    ar = f["access_reviews"]
    ar_st = ar["by_status"]
    groups.append(
        (
            t("g.access_reviews"),
            [
                (t("f.ar_campaigns"), str(ar["campaigns"])),
                (t("f.ar_items"), str(ar["items"])),
                (t("f.ar_confirmed"), str(ar_st.get("confirmed", 0))),
                (t("f.ar_revoked"), str(ar_st.get("revoked", 0))),
                (t("f.ar_pending"), str(ar_st.get("pending", 0))),
                (t("f.ar_overdue"), str(ar["overdue"])),
                (t("f.ar_standing"), _yes(t, ar["standing"] == "allow")),
            ],
        )
    )
    groups.append((t("g.responsibilities"), [(t("f.resp_gaps"), str(f["responsibilities"]["gaps"]))]))
    return groups


def _complaint_series(rep: dict[str, Any]) -> tuple[list[str], dict[str, list[int]]]:
    months = rep["figures"]["complaints"]["by_month"]
    cats = [m["month"] for m in months]
    return cats, {k: [int(m.get(k, 0)) for m in months] for k in ("on_time", "late", "open", "overdue")}


def _consent_series(rep: dict[str, Any]) -> tuple[list[str], dict[str, list[int]]]:
    months = rep["figures"]["consents"]["by_month"]
    cats = [m["month"] for m in months]
    return cats, {k: [int(m.get(k, 0)) for m in months] for k in ("grant", "withdraw", "refuse", "expire")}


def _refusals(rep: dict[str, Any], limit: int = 12) -> list[tuple[str, int]]:
    return list(rep["figures"]["refusals"].items())[:limit]


_SERIES_LABEL = {"on_time": "on_time", "late": "late", "open": "open_cases", "overdue": "overdue"}
_COLOURS = {
    "on_time": charts.PALETTE[5],
    "late": charts.PALETTE[2],
    "open": charts.PALETTE[4],
    "overdue": charts.PALETTE[3],
    "grant": charts.PALETTE[0],
    "withdraw": charts.PALETTE[1],
    "refuse": charts.PALETTE[2],
    "expire": charts.PALETTE[7],
}


def svg_charts(rep: dict[str, Any], lang: str) -> list[Any]:
    t = translator(lang)
    cats, series = _complaint_series(rep)
    complaint = charts.stacked_bars(
        cats,
        [charts.Series(t(_SERIES_LABEL[k]), v, _COLOURS[k]) for k, v in series.items()],
        chart_id="chart-complaints",
        title=t("chart.complaints"),
        desc="; ".join(
            f"{c}: " + ", ".join(f"{t(_SERIES_LABEL[k])} {v[i]}" for k, v in series.items())
            for i, c in enumerate(cats)
        ),
        empty_text=t("chart.no_data"),
        width=720,
        height=280,
    )
    cats, series = _consent_series(rep)
    consent = charts.stacked_bars(
        cats,
        [charts.Series(t(k), v, _COLOURS[k]) for k, v in series.items()],
        chart_id="chart-consents",
        title=t("chart.consents"),
        desc="; ".join(
            f"{c}: " + ", ".join(f"{t(k)} {v[i]}" for k, v in series.items()) for i, c in enumerate(cats)
        ),
        empty_text=t("chart.no_data"),
        width=720,
        height=280,
    )
    refusals = _refusals(rep)
    refusal = charts.horizontal_bars(
        [charts.Bar(oid, n) for oid, n in refusals],
        chart_id="chart-refusals",
        title=t("chart.refusals"),
        desc="; ".join(f"{oid}: {n}" for oid, n in refusals),
        empty_text=t("chart.no_data"),
        width=520,
    )
    return [
        (t("chart.complaints"), complaint),
        (t("chart.consents"), consent),
        (t("chart.refusals"), refusal),
    ]


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def context(rep: dict[str, Any], lang: str) -> dict[str, Any]:
    lang = check_lang(lang)
    return {
        "r": rep,
        "lang": lang,
        "t": translator(lang),
        "groups": figure_groups(rep, lang),
        "charts": svg_charts(rep, lang),
    }


@carries("O24-16")
def inspection_html(rep: dict[str, Any], lang: str, *, standalone: bool = True) -> str:
    """The report as HTML: a whole document (``standalone``) or the body for the console page."""
    ctx = context(rep, lang)
    ctx["standalone"] = standalone
    return _env().get_template("inspection_report.html").render(**ctx)


# ------------------------------------------------------------------------------------- PDF

FONT = "STSong-Light"


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _pdf_bars(cats: list[str], series: dict[str, list[int]], labels: dict[str, str], no_data: str) -> Any:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    d = Drawing(460, 190)
    keys = [k for k, v in series.items() if any(v)]
    if not cats or not keys:
        d.add(String(230, 95, no_data, fontName=FONT, fontSize=10, textAnchor="middle"))
        return d
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 40, 300, 130
    chart.data = [series[k] for k in keys]
    chart.categoryAxis.categoryNames = cats
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.dy = -8
    chart.categoryAxis.style = "stacked"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    top = max(sum(series[k][i] for k in keys) for i in range(len(cats)))
    chart.valueAxis.valueMax = max(1, top)
    chart.valueAxis.valueStep = max(1, -(-top // 4))
    for i, k in enumerate(keys):
        chart.bars[i].fillColor = colors.HexColor(_COLOURS[k])
        chart.bars[i].strokeColor = None
    d.add(chart)
    legend = Legend()
    legend.x, legend.y = 355, 160
    legend.fontName, legend.fontSize = FONT, 8
    legend.colorNamePairs = [(colors.HexColor(_COLOURS[k]), labels[k]) for k in keys]
    d.add(legend)
    return d


def _pdf_hbars(items: list[tuple[str, int]], no_data: str) -> Any:
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    height = 40 + 18 * max(1, len(items))
    d = Drawing(460, height)
    if not items:
        d.add(String(230, height / 2, no_data, fontName=FONT, fontSize=10, textAnchor="middle"))
        return d
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 80, 20, 330, 18 * len(items)
    rev = list(reversed(items))
    chart.data = [[n for _, n in rev]]
    chart.categoryAxis.categoryNames = [oid for oid, _ in rev]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0
    top = max(n for _, n in items)
    chart.valueAxis.valueMax = max(1, top)
    chart.valueAxis.valueStep = max(1, -(-top // 4))
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor(charts.PALETTE[2])
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.dx = 8
    d.add(chart)
    return d


@carries("O24-16")
def inspection_pdf(rep: dict[str, Any], lang: str) -> bytes:
    """The report as a PDF (A4), Chinese or English, with the same figures as the JSON."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    lang = check_lang(lang)
    t = translator(lang)
    _register_font()
    wrap = "CJK" if lang == "zh" else None
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12, wordWrap=wrap)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10)
    h1 = ParagraphStyle("h1", parent=base, fontSize=16, leading=20, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4)
    warn = ParagraphStyle(
        "warn",
        parent=base,
        textColor=colors.HexColor("#8a4b00"),
        backColor=colors.HexColor("#fff4e0"),
        borderPadding=4,
    )

    def p(text: object, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c8ced8")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story: list[Any] = [p(t("title"), h1)]
    per = rep.get("period") or {}
    story.append(
        p(
            f"{t('period')}: {per.get('from')} – {per.get('to')} {t('partial') if per.get('partial_year') else ''}"
            f"   {t('run')}: {rep['run']}   {t('generated')}: {rep['generated_at'][:19].replace('T', ' ')} UTC"
            f"   {t('by')}: {rep['generated_by']}"
        )
    )
    if not rep.get("has_data"):
        story += [Spacer(1, 4), p(t("no_data"), warn)]
    counts = rep.get("matrix_counts") or {}
    story += [
        p(t("summary"), h2),
        Table(
            [
                [t("built"), t("partial_rows"), t("not_yet"), t("findings_open")],
                [
                    str(counts.get("built", 0)),
                    str(counts.get("partial", 0)),
                    str(counts.get("not_yet", 0)),
                    str(rep["findings_open"]),
                ],
            ],
            style=grid,
            hAlign="LEFT",
        ),
        p(t("figures"), h2),
    ]
    for group, items in figure_groups(rep, lang):
        rows = [[p(group, small), ""]] + [[p(label, small), p(value, small)] for label, value in items]
        story.append(
            KeepTogether([Table(rows, colWidths=[95 * mm, 60 * mm], style=grid, hAlign="LEFT"), Spacer(1, 4)])
        )
    story.append(p(t("charts"), h2))
    cats, series = _complaint_series(rep)
    labels = {k: t(_SERIES_LABEL[k]) for k in series}
    story.append(
        KeepTogether([p(t("chart.complaints")), _pdf_bars(cats, series, labels, t("chart.no_data"))])
    )
    cats, series = _consent_series(rep)
    labels = {k: t(k) for k in series}
    story.append(KeepTogether([p(t("chart.consents")), _pdf_bars(cats, series, labels, t("chart.no_data"))]))
    story.append(KeepTogether([p(t("chart.refusals")), _pdf_hbars(_refusals(rep), t("chart.no_data"))]))
    story.append(p(t("findings"), h2))
    if rep["findings"]:
        rows = [[t("id"), t("severity"), t("obligation"), t("findings"), t("owner"), t("due"), t("status")]]
        for f in rep["findings"]:
            title = f["title"][lang]
            if not f.get("seen", True):
                title += " " + t("not_seen")
            if f["status"] == "closed":
                title += f" — {t('closing')}: {f['close_note'] or ''} {f['close_evidence'] or ''}"
            rows.append(
                [
                    str(f["id"]),
                    t(f["severity"]),
                    p(", ".join(f["obligations"]), small),
                    p(title, small),
                    p(f["owner"], small),
                    f["due_date"],
                    t(f["status"]),
                ]
            )
        story.append(
            Table(
                rows,
                colWidths=[10 * mm, 14 * mm, 22 * mm, 74 * mm, 26 * mm, 20 * mm, 14 * mm],
                style=grid,
                repeatRows=1,
            )
        )
    else:
        story.append(p(t("none")))
    story.append(p(t("obligations"), h2))
    rows = [[t("id"), t("obligation"), t("status"), t("missing"), t("evidence")]]
    for row in rep["obligations"]:
        missing = ("；" if lang == "zh" else "; ").join(m[lang] for m in row["missing"])
        rows.append(
            [
                row["id"],
                p(row["title"][lang], small),
                t(f"status.{row['status']}"),
                p(missing or "—", small),
                p(", ".join(t(f"m.{m}") for m in row["measures"]) or "—", small),
            ]
        )
    story.append(
        Table(rows, colWidths=[18 * mm, 62 * mm, 18 * mm, 52 * mm, 30 * mm], style=grid, repeatRows=1)
    )

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(
            15 * mm, 10 * mm, f"piguard | {t('title')} | {rep['year']} | {t('run')} {rep['run']}"
        )
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, str(doc.page))
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=f"{t('title')} {rep['year']}",
        author="piguard",
        creator="piguard",
        invariant=1,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def filename(rep: dict[str, Any], lang: str, ext: str) -> str:
    return f"self-inspection-{rep['year']}-run{rep['run']}-{lang}.{ext}"
