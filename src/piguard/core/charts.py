"""Server-side SVG charts for the console: no JavaScript, no build step, readable at a glance.

Each chart is an accessible ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (the numbers in
words, for screen readers), clean axes with "nice" ticks, labelled bars, a legend, and a tooltip
``<title>`` on every bar. All text is escaped; callers pass already translated labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), then greys.
PALETTE = ("#0072B2", "#E69F00", "#D55E00", "#CC79A7", "#56B4E9", "#009E73", "#F0E442", "#7f7f7f", "#b0b0b0")
ALLOW_COLOUR = "#9cc9a4"
OTHER_COLOUR = "#b0b0b0"
FONT = 12


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    href: str | None = None
    note: str = ""  # shown after the value label, e.g. "(12.5%)"


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and evenly spaced round ticks (1, 2, 2.5, 5 x 10^k) reaching at least ``top``."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def fmt_count(v: float) -> str:
    if v >= 10_000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k".replace(".0k", "k")
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def fmt_percent(v: float) -> str:
    p = v * 100
    if p == 0:
        return "0%"
    if p < 0.1:
        return f"{p:.2f}%"
    return f"{p:.1f}%".replace(".0%", "%")


def _t(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart" id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'style="max-width:{width}px">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]


def _empty(parts: list[str], width: int, height: int, text: str) -> Markup:
    parts.append(
        f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" font-size="{FONT + 1}">{escape(text)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(parts: list[str], items: Sequence[tuple[str, str]], x0: float, y: float, width: float) -> float:
    """Swatches and labels, wrapping to new lines; returns the y below the legend."""
    x = x0
    for label, colour in items:
        w = 18 + _text_width(label) + 16
        if x + w > width and x > x0:
            x, y = x0, y + 18
        parts.append(
            f'<g class="legend-item"><rect x="{_t(x)}" y="{_t(y - 10)}" width="12" height="12" rx="2" fill="{colour}"/>'
            f'<text x="{_t(x + 17)}" y="{_t(y)}" font-size="{FONT}">{escape(label)}</text></g>'
        )
        x += w
    return y + 18


def _text_width(s: str) -> float:
    """Rough rendered width: CJK characters are about twice as wide as Latin ones."""
    return sum(FONT if ord(ch) > 0x2E80 else FONT * 0.6 for ch in s)


def _clip(s: str, max_px: float) -> str:
    if _text_width(s) <= max_px:
        return s
    out = ""
    for ch in s:
        if _text_width(out + ch + "…") > max_px:
            break
        out += ch
    return out + "…"


def stacked_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    title: str,
    desc: str,
    y_label: str = "",
    empty_text: str = "No data",
    width: int = 860,
    height: int = 320,
) -> Markup:
    """Vertical bars over ``categories`` (e.g. hours or days), one stacked segment per series."""
    parts = _open(chart_id, width, height, title, desc)
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    if not categories or not any(totals):
        return _empty(parts, width, height, empty_text)
    legend_items = [(s.label, s.colour) for s in series if any(s.values)]
    left, right, top = 56, 12, 16
    legend_rows = 1 + int(sum(18 + _text_width(lbl) + 16 for lbl, _ in legend_items) // (width - left))
    bottom = 40 + legend_rows * 18
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max(totals))
    y_max = ticks[-1]

    def y(v: float) -> float:
        return top + plot_h - (v / y_max) * plot_h

    parts.append('<g class="axis y">')
    for tv in ticks:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{_t(y(tv))}" y2="{_t(y(tv))}" stroke="#e3e7ee"/>'
            f'<text x="{left - 6}" y="{_t(y(tv) + 4)}" text-anchor="end" font-size="{FONT - 1}">{fmt_count(tv)}</text>'
        )
    if y_label:
        parts.append(
            f'<text x="12" y="{_t(top + plot_h / 2)}" transform="rotate(-90 12 {_t(top + plot_h / 2)})" '
            f'text-anchor="middle" font-size="{FONT - 1}" fill="#5b6577">{escape(y_label)}</text>'
        )
    parts.append("</g>")
    n = len(categories)
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.72)
    label_every = max(1, math.ceil(n / max(1, plot_w // 56)))
    parts.append('<g class="bars">')
    for i, cat in enumerate(categories):
        x = left + i * slot + (slot - bar_w) / 2
        acc = 0.0
        for s in series:
            v = s.values[i]
            if v <= 0:
                continue
            y0, y1 = y(acc + v), y(acc)
            parts.append(
                f'<rect class="bar" x="{_t(x)}" y="{_t(y0)}" width="{_t(bar_w)}" height="{_t(max(0.5, y1 - y0))}" '
                f'fill="{s.colour}"><title>{escape(cat)} · {escape(s.label)}: {fmt_count(v)}</title></rect>'
            )
            acc += v
        if i % label_every == 0:
            parts.append(
                f'<text class="x-label" x="{_t(left + i * slot + slot / 2)}" y="{_t(top + plot_h + 16)}" '
                f'text-anchor="middle" font-size="{FONT - 1}">{escape(cat)}</text>'
            )
    parts.append("</g>")
    parts.append(
        f'<line class="axis x" x1="{left}" x2="{width - right}" y1="{_t(top + plot_h)}" y2="{_t(top + plot_h)}" stroke="#5b6577"/>'
    )
    _legend(parts, legend_items, left, top + plot_h + 38, width - right)
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    desc: str,
    value_format: Callable[[float], str] = fmt_count,
    colour: str = PALETTE[2],
    threshold: float | None = None,
    threshold_label: str = "",
    empty_text: str = "No data",
    width: int = 380,
    label_width: int = 110,
) -> Markup:
    """One labelled horizontal bar per item (largest first as given), values at the bar ends, and an
    optional dashed threshold line (e.g. the alert threshold of a rate)."""
    row_h, top = 26, 10
    height = top + max(1, len(bars)) * row_h + (44 if threshold is not None else 28)
    parts = _open(chart_id, width, height, title, desc)
    if not bars:
        return _empty(parts, width, height, empty_text)
    left, right = label_width, 64
    plot_w = width - left - right
    top_value = max([b.value for b in bars] + ([threshold] if threshold else []))
    ticks = nice_ticks(top_value, 4)
    x_max = ticks[-1]

    def x(v: float) -> float:
        return left + (v / x_max) * plot_w

    plot_bottom = top + len(bars) * row_h
    for tv in ticks:
        parts.append(
            f'<line x1="{_t(x(tv))}" x2="{_t(x(tv))}" y1="{top}" y2="{plot_bottom}" stroke="#e3e7ee"/>'
            f'<text class="tick" x="{_t(x(tv))}" y="{plot_bottom + 14}" text-anchor="middle" font-size="{FONT - 2}">{escape(value_format(tv))}</text>'
        )
    parts.append('<g class="bars">')
    for i, b in enumerate(bars):
        yy = top + i * row_h
        label = escape(_clip(b.label, left - 10))
        text = f'<text class="y-label" x="{left - 6}" y="{yy + 17}" text-anchor="end" font-size="{FONT}">{label}</text>'
        if b.href:
            text = f'<a href="{escape(b.href)}">{text}</a>'
        value = f"{value_format(b.value)}{(' ' + b.note) if b.note else ''}"
        over = threshold is not None and b.value >= threshold
        parts.append(
            text
            + f'<rect class="bar{" over" if over else ""}" x="{left}" y="{yy + 5}" width="{_t(max(1.0, x(b.value) - left))}" '
            f'height="{row_h - 10}" rx="2" fill="{colour}"><title>{escape(b.label)}: {escape(value)}</title></rect>'
            f'<text class="value" x="{_t(x(b.value) + 4)}" y="{yy + 17}" font-size="{FONT - 1}">{escape(value)}</text>'
        )
    parts.append("</g>")
    parts.append(
        f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{plot_bottom}" stroke="#5b6577"/>'
    )
    if threshold is not None:
        tx = x(threshold)
        parts.append(
            f'<g class="threshold"><line x1="{_t(tx)}" x2="{_t(tx)}" y1="{top - 4}" y2="{plot_bottom}" '
            f'stroke="#cf222e" stroke-dasharray="4 3" stroke-width="1.5"/>'
            f'<text x="{_t(min(tx, width - right))}" y="{plot_bottom + 30}" text-anchor="middle" font-size="{FONT - 1}" fill="#cf222e">'
            f"{escape(threshold_label)} {escape(value_format(threshold))}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
