"""The copy of a person's information as a PDF (O24-9.2): the same content as ``export.html``, for a
user who wants a document to keep or print. Chinese renders with reportlab's built-in CID font
(``STSong-Light``), so no font file ships or is downloaded."""

from __future__ import annotations

from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

FONT = "STSong-Light"
#: one cell's text in the PDF; a longer value is cut with an ellipsis (the JSON keeps it whole)
_CELL_MAX = 400


def export_pdf(doc: dict[str, Any]) -> bytes:
    """``doc`` is the export's JSON document (request, masked subject, generated_at, systems)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("base", fontName=FONT, fontSize=8, leading=10, wordWrap="CJK")
    h1 = ParagraphStyle("h1", parent=base, fontSize=15, leading=19, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=base, fontSize=11, leading=14, spaceBefore=8, spaceAfter=4)

    def p(text: object, style: ParagraphStyle = base) -> Paragraph:
        s = str(text)
        return Paragraph(escape(s if len(s) <= _CELL_MAX else s[: _CELL_MAX - 1] + "…"), style)

    story: list[Any] = [
        p("个人信息副本 / Your personal information", h1),
        p(f"{doc.get('request', '')} · {doc.get('subject') or ''} · {doc.get('generated_at', '')}"),
        Spacer(1, 4 * mm),
    ]
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c8ced8")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    for part in doc.get("systems") or []:
        story.append(p(f"{part.get('system_name') or part.get('system')} — {part.get('table') or ''}", h2))
        rows = [r for r in part.get("rows") or [] if isinstance(r, dict)]
        if not rows:
            story.append(p("无 / none"))
            continue
        cols = sorted({str(k) for r in rows for k in r})
        cats = part.get("categories") or {}
        head = [p(f"{c}\n{'、'.join(cats.get(c) or [])}".strip()) for c in cols]
        table = Table(
            [head, *[[p("" if r.get(c) is None else r.get(c)) for c in cols] for r in rows]],
            repeatRows=1,
        )
        table.setStyle(grid)
        story.append(table)
    if not doc.get("systems"):
        story.append(
            p("未找到与您的请求相符的个人信息。 / We found no personal information matching your request.")
        )
    out = BytesIO()
    SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title="个人信息副本 / Your personal information",
    ).build(story)
    return out.getvalue()
