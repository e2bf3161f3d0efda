"""Server-rendered SVG charts — small pure functions (no Django) returning escaped SVG markup.

Every chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>``; the page shows the same numbers
as a table and a CSV download, so the picture is never the only way to read them. All text that reaches
the markup goes through :func:`html.escape`; numbers are formatted by the caller's ``fmt``. The return
value is an :class:`Svg` — a ``str`` with ``__html__``, so Django templates insert it without escaping it
twice (and without this module importing Django).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

Fmt = Callable[[float], str]

INK, MUTED, LINE, BRAND, OK, BAD, WARN = "#1d2330", "#5b6475", "#d9dee7", "#22577a", "#2d7d46", "#b42318", "#b7791f"
FONT = 'font-family="system-ui, sans-serif"'


class Svg(str):
    """Markup that is already safe (everything in it was escaped when it was built)."""

    def __html__(self) -> str:
        return self


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate with one decimal (keeps the markup short)."""
    return f"{value:.1f}"


def _plain(value: float) -> str:
    return f"{value:,.2f}"


def _open(chart_id: str, width: int, height: int, title: str, desc: str, css: str = "") -> list[str]:
    cid = _e(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" class="{_e(css)}" {FONT} font-size="12">',
        f'<title id="{cid}-title">{_e(title)}</title><desc id="{cid}-desc">{_e(desc)}</desc>',
    ]


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 × a power of ten apart)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high == low:
        high, low = high + 1, low - 1 if low != 0 else 0
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


# --- line chart ---------------------------------------------------------------------------------------------


def line_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    chart_id: str,
    title: str,
    fmt: Fmt = _plain,
    target: float | None = None,
    benchmark: float | None = None,
    width: int = 640,
    height: int = 220,
    compact: bool = False,
) -> Svg:
    """A monthly trend: one line (gaps where a value is missing), the last point marked, an optional dashed
    target line and dotted benchmark line. ``compact`` draws a sparkline for KPI cards (no axes)."""
    points = [(i, float(v)) for i, v in enumerate(values) if v is not None and math.isfinite(float(v))]
    desc_parts = [f"{label}: {fmt(float(v))}" for label, v in zip(labels, values, strict=True) if v is not None]
    extra = []
    if target is not None:
        extra.append(f"target {fmt(target)}")
    if benchmark is not None:
        extra.append(f"benchmark {fmt(benchmark)}")
    desc = "; ".join(desc_parts[-24:]) + (f" ({', '.join(extra)})" if extra else "")
    out = _open(chart_id, width, height, title, desc or "No data yet.", "line-chart" + (" compact" if compact else ""))
    if not points:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">No data yet</text>')
        return Svg("".join(out) + "</svg>")
    ys = [v for _, v in points] + [x for x in (target, benchmark) if x is not None]
    ticks = nice_ticks(min(ys), max(ys))
    low, high = ticks[0], ticks[-1]
    left, right, top, bottom = (6, 6, 6, 6) if compact else (64, 12, 12, 28)
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(values) - 1, 1)

    def x(i: float) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low or 1))

    if not compact:
        for tick in ticks:
            out.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y(tick))}" y2="{_n(y(tick))}" '
                       f'stroke="{LINE}" stroke-width="1"/>')
            out.append(f'<text x="{left - 6}" y="{_n(y(tick) + 4)}" text-anchor="end" fill="{MUTED}">'
                       f'{_e(fmt(tick))}</text>')
        step = max(len(labels) // 6, 1)
        for i in range(0, len(labels), step):
            out.append(f'<text x="{_n(x(i))}" y="{height - 8}" text-anchor="middle" fill="{MUTED}">'
                       f'{_e(labels[i])}</text>')
    for value, colour, dash, name in ((target, OK, "6 4", "Target"), (benchmark, MUTED, "2 3", "Benchmark")):
        if value is not None:
            out.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y(value))}" y2="{_n(y(value))}" '
                       f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="{dash}"><title>{name} '
                       f'{_e(fmt(value))}</title></line>')
    segments, current, previous = [], [], None
    for i, v in points:
        if previous is not None and i != previous + 1:
            segments.append(current)
            current = []
        current.append(f"{_n(x(i))},{_n(y(v))}")
        previous = i
    segments.append(current)
    for index, segment in enumerate(segments):
        if len(segment) == 1:
            if index < len(segments) - 1:  # a lone last point gets the last-point marker below
                cx, cy = segment[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{BRAND}"/>')
        else:
            out.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{BRAND}" stroke-width="2" '
                       'stroke-linejoin="round"/>')
    last_i, last_v = points[-1]
    out.append(f'<circle cx="{_n(x(last_i))}" cy="{_n(y(last_v))}" r="{3.5 if compact else 4}" fill="{BRAND}">'
               f'<title>{_e(labels[last_i])}: {_e(fmt(last_v))}</title></circle>')
    out.append("</svg>")
    return Svg("".join(out))


# --- horizontal bar chart ---------------------------------------------------------------------------------------


def bar_chart(
    items: Sequence[tuple[str, float | None]],
    *,
    chart_id: str,
    title: str,
    fmt: Fmt = _plain,
    reference: float | None = None,
    reference_label: str = "",
    width: int = 640,
    bar_height: int = 22,
) -> Svg:
    """Horizontal bars, one per item, from a zero line (losses to the left in red, gains in green); an
    optional vertical reference line (e.g. CLV/CAC = 3)."""
    rows = [(label, float(v)) for label, v in items if v is not None and math.isfinite(float(v))]
    desc = "; ".join(f"{label}: {fmt(v)}" for label, v in rows[:40]) or "No data yet."
    height = max(len(rows), 1) * (bar_height + 6) + 34
    out = _open(chart_id, width, height, title, desc, "bar-chart")
    if not rows:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">No data yet</text>')
        return Svg("".join(out) + "</svg>")
    label_w, value_w = 170, 90
    extremes = [0.0, *(v for _, v in rows), *([reference] if reference is not None else [])]
    low, high = min(extremes), max(extremes)
    span = high - low or 1.0
    plot_left, plot_w = label_w, width - label_w - value_w

    def x(v: float) -> float:
        return plot_left + plot_w * (v - low) / span

    zero = x(0.0)
    for index, (label, value) in enumerate(rows):
        top = 10 + index * (bar_height + 6)
        short = label if len(label) <= 24 else label[:23] + "…"
        out.append(f'<text x="{label_w - 8}" y="{_n(top + bar_height * 0.7)}" text-anchor="end" fill="{INK}">'
                   f'{_e(short)}<title>{_e(label)}</title></text>')
        start, end = sorted((zero, x(value)))
        colour = BAD if value < 0 else OK
        out.append(f'<rect x="{_n(start)}" y="{top}" width="{_n(max(end - start, 1))}" height="{bar_height}" '
                   f'fill="{colour}" rx="2"><title>{_e(label)}: {_e(fmt(value))}</title></rect>')
        out.append(f'<text x="{_n(max(end, zero) + 6)}" y="{_n(top + bar_height * 0.7)}" fill="{MUTED}">'
                   f'{_e(fmt(value))}</text>')
    bottom = 10 + len(rows) * (bar_height + 6)
    out.append(f'<line x1="{_n(zero)}" x2="{_n(zero)}" y1="4" y2="{bottom}" stroke="{INK}" stroke-width="1"/>')
    if reference is not None:
        rx = x(reference)
        out.append(f'<line x1="{_n(rx)}" x2="{_n(rx)}" y1="4" y2="{bottom}" stroke="{WARN}" stroke-width="1.5" '
                   f'stroke-dasharray="5 3"/>')
        out.append(f'<text x="{_n(rx)}" y="{bottom + 16}" text-anchor="middle" fill="{WARN}">'
                   f'{_e(reference_label or fmt(reference))}</text>')
    out.append("</svg>")
    return Svg("".join(out))


# --- whale curve --------------------------------------------------------------------------------------------------


def whale_chart(
    customer_pct: Sequence[float],
    cumulative_profit_pct: Sequence[float],
    *,
    chart_id: str,
    title: str,
    peak: tuple[float, float] | None,
    top20: float | None,
    break_even: float | None,
    width: int = 720,
    height: int = 320,
) -> Svg:
    """Cumulative net profit (% of total) against accounts ranked most → least profitable (% of accounts),
    with the 100 % line, the top 20 % marked, the peak, and the break-even point: where the curve first
    reaches 100 % (the accounts after it add up to nothing)."""
    pairs = [(float(a), float(b)) for a, b in zip(customer_pct, cumulative_profit_pct, strict=True)]
    marks = []
    if top20 is not None:
        marks.append(f"the top 20 % of accounts earn {top20:.0f} % of total profit")
    if peak is not None:
        marks.append(f"the curve peaks at {peak[1]:.0f} % after {peak[0]:.0f} % of accounts")
    if break_even is not None:
        marks.append(f"the top {break_even:.0f} % of accounts earn all of it; the rest together break even")
    desc = ("; ".join(marks) + ".") if marks else "No ranked accounts yet."
    out = _open(chart_id, width, height, title, desc, "whale-chart")
    if len(pairs) < 2:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">No data yet</text>')
        return Svg("".join(out) + "</svg>")
    ticks = nice_ticks(min(0.0, *(b for _, b in pairs)), max(100.0, *(b for _, b in pairs)), 5)
    low, high = ticks[0], ticks[-1]
    left, right, top, bottom = 56, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + plot_w * v / 100

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low or 1))

    for tick in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y(tick))}" y2="{_n(y(tick))}" stroke="{LINE}"/>')
        out.append(f'<text x="{left - 6}" y="{_n(y(tick) + 4)}" text-anchor="end" fill="{MUTED}">{tick:.0f} %</text>')
    for tick in range(0, 101, 20):
        out.append(f'<text x="{_n(x(tick))}" y="{height - 22}" text-anchor="middle" fill="{MUTED}">{tick} %</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 5}" text-anchor="middle" fill="{MUTED}">'
               'Accounts, most to least profitable</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y(100))}" y2="{_n(y(100))}" stroke="{INK}" '
               'stroke-dasharray="6 4"><title>100 % of total net profit</title></line>')
    if top20 is not None:
        out.append(f'<rect x="{left}" y="{top}" width="{_n(x(20) - left)}" height="{plot_h}" fill="{BRAND}" '
                   'opacity="0.07"/>')
        out.append(f'<line x1="{_n(x(20))}" x2="{_n(x(20))}" y1="{top}" y2="{top + plot_h}" stroke="{BRAND}" '
                   'stroke-dasharray="3 3"/>')
        out.append(f'<text x="{_n(x(20) - 4)}" y="{top + 14}" text-anchor="end" fill="{BRAND}">'
                   f'Top 20 %: {top20:.0f} % of profit</text>')
    points = " ".join(f"{_n(x(a))},{_n(y(b))}" for a, b in pairs)
    out.append(f'<polyline points="{points}" fill="none" stroke="{BRAND}" stroke-width="2.5" '
               'stroke-linejoin="round"/>')
    if peak is not None:
        px, py = x(peak[0]), y(peak[1])
        out.append(f'<circle cx="{_n(px)}" cy="{_n(py)}" r="5" fill="{OK}"><title>Peak: {peak[1]:.1f} % at '
                   f'{peak[0]:.1f} % of accounts</title></circle>')
        anchor = "end" if peak[0] > 70 else "start"
        offset = -8 if anchor == "end" else 8
        out.append(f'<text x="{_n(px + offset)}" y="{_n(max(py - 8, top + 10))}" text-anchor="{anchor}" '
                   f'fill="{OK}">Peak {peak[1]:.0f} % at {peak[0]:.0f} %</text>')
    if break_even is not None:
        bx = x(break_even)
        out.append(f'<circle cx="{_n(bx)}" cy="{_n(y(100))}" r="5" fill="{BAD}"><title>Break-even: the top '
                   f'{break_even:.1f} % of accounts earn 100 % of the profit</title></circle>')
        out.append(f'<text x="{_n(bx + 8)}" y="{_n(y(100) + 18)}" text-anchor="start" fill="{BAD}">'
                   f'Break-even: top {break_even:.0f} % earn 100 %</text>')
    out.append("</svg>")
    return Svg("".join(out))


# --- funnel -------------------------------------------------------------------------------------------------------


def funnel_chart(
    stages: Sequence[tuple[str, int]], *, chart_id: str, title: str, width: int = 640, bar_height: int = 34
) -> Svg:
    """Stages as centred bars whose widths are proportional to their counts, with the step conversion."""
    desc_parts = []
    for index, (label, count) in enumerate(stages):
        part = f"{label}: {count:,}"
        if index and stages[index - 1][1]:
            part += f" ({count / stages[index - 1][1] * 100:.0f} % of the stage before)"
        desc_parts.append(part)
    height = len(stages) * (bar_height + 10) + 10
    out = _open(chart_id, width, height, title, "; ".join(desc_parts) or "No leads yet.", "funnel-chart")
    largest = max((count for _, count in stages), default=0)
    if largest == 0:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">No leads yet</text>')
        return Svg("".join(out) + "</svg>")
    label_w, plot_w = 150, width - 150 - 120
    colours = (BRAND, "#3a7ca5", OK, BAD)
    for index, (label, count) in enumerate(stages):
        top = 10 + index * (bar_height + 10)
        bar_w = max(plot_w * count / largest, 2)
        left = label_w + (plot_w - bar_w) / 2
        out.append(f'<text x="{label_w - 10}" y="{_n(top + bar_height * 0.62)}" text-anchor="end" fill="{INK}">'
                   f'{_e(label)}</text>')
        out.append(f'<rect x="{_n(left)}" y="{top}" width="{_n(bar_w)}" height="{bar_height}" rx="3" '
                   f'fill="{colours[index % len(colours)]}"><title>{_e(label)}: {count:,}</title></rect>')
        note = f"{count:,}"
        if index and stages[index - 1][1]:
            note += f" · {count / stages[index - 1][1] * 100:.0f} %"
        out.append(f'<text x="{label_w + plot_w + 10}" y="{_n(top + bar_height * 0.62)}" fill="{MUTED}">'
                   f'{_e(note)}</text>')
    out.append("</svg>")
    return Svg("".join(out))
