"""Server-rendered SVG bar charts: no JavaScript, no chart library, nothing to vendor.

Colours and sizes are presentation attributes rather than `style`, so the page needs
no inline-style exception in its Content Security Policy.
"""

import math
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from usage.models import Category

COLOURS = {
    Category.PSTN_OUTBOUND: "#2457d6",
    Category.PSTN_INBOUND: "#18a0a0",
    Category.VOIP: "#8a4fd1",
    Category.RECORDING: "#e08a1e",
    Category.TTS: "#c2406e",
}
WIDTH = 720
HEIGHT = 240
LEFT = 56  # room for the axis labels
BOTTOM = 24
TOP = 22  # room for the unit above the axis


def stacked_bars(
    periods: Sequence[tuple[object, dict[str, object]]],
    value: Callable[[object], Decimal | float | int],
    *,
    title: str,
    unit: str,
    label: Callable[[object], str] = str,
) -> SafeString:
    """One bar per period, stacked by category. `value` reads a category's figures;
    `label` names a period on the x axis (every few bars when there are many)."""
    totals = [sum(float(value(f)) for f in cats.values()) for _, cats in periods]
    top = nice_ceiling(max(totals, default=0.0))
    plot_w = WIDTH - LEFT - 8
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(periods), 1)
    bar = max(slot * 0.7, 1.0)
    every = max(1, round(len(periods) / 10))  # at most about ten x labels
    parts = [
        format_html(
            '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>',
            WIDTH,
            HEIGHT,
            title,
            title,
        ),
        _axis(top, unit, plot_h),
    ]
    for index, (period, categories) in enumerate(periods):
        x = LEFT + index * slot + (slot - bar) / 2
        y = TOP + plot_h
        for category in Category.values:
            if category not in categories:
                continue
            amount = float(value(categories[category]))
            h = amount / top * plot_h
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{} · {}: {} {}</title></rect>",
                    _f(x),
                    _f(y),
                    _f(bar),
                    _f(h),
                    COLOURS[category],
                    label(period),
                    Category(category).label,
                    _number(amount),
                    unit,
                )
            )
        if index % every == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="11" text-anchor="middle" '
                    'fill="#5b6475">{}</text>',
                    _f(x + bar / 2),
                    HEIGHT - 6,
                    label(period),
                )
            )
    parts.append(mark_safe("</svg>"))
    # Every part came from format_html, which escaped what it interpolated.
    return mark_safe("".join(str(p) for p in parts))


def legend() -> SafeString:
    items = (
        format_html(
            '<li><svg width="10" height="10" aria-hidden="true">'
            '<rect width="10" height="10" fill="{}"/></svg> {}</li>',
            COLOURS[value],
            label,
        )
        for value, label in Category.choices
    )
    return format_html('<ul class="legend">{}</ul>', mark_safe("".join(items)))


def _axis(top: float, unit: str, plot_h: float) -> SafeString:
    lines = []
    for step in range(5):
        amount = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        lines.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d9dee7"/>'
                '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#5b6475">'
                "{}</text>",
                LEFT,
                WIDTH - 8,
                _f(y),
                _f(y),
                LEFT - 4,
                _f(y + 4),
                _number(amount),
            )
        )
    lines.append(
        format_html('<text x="4" y="{}" font-size="11" fill="#5b6475">{}</text>', TOP + 8, unit)
    )
    return mark_safe("".join(str(line) for line in lines))


def nice_ceiling(amount: float) -> float:
    """The smallest of 1, 2, 4, 5, 8 times a power of ten that is at least `amount`: its
    quarters (the grid lines) are round numbers too."""
    if amount <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(amount))
    return next(step * power for step in (1, 2, 4, 5, 8, 10) if step * power >= amount * 0.999999)


def _f(number: float) -> str:
    return f"{number:.1f}"


def _number(amount: float) -> str:
    if amount >= 100:
        return f"{amount:,.0f}"
    return f"{amount:,.4f}".rstrip("0").rstrip(".") or "0"
