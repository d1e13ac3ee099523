"""Bar charts drawn on the server, as SVG geometry for a template: no script, no other origin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 300, 60


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # "2026-12-07: 4", a tooltip for each bar


@dataclass(frozen=True)
class BarChart:
    title: str
    total: int
    peak: int
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT


def bar_chart(title: str, days: Sequence[str], values: Sequence[int]) -> BarChart:
    peak = max(values, default=0)
    step = WIDTH / max(1, len(values))
    bars = []
    for n, (day, value) in enumerate(zip(days, values, strict=True)):
        height = 0.0 if peak == 0 else max(1.0, HEIGHT * value / peak) if value else 0.0
        bars.append(Bar(round(n * step + step * 0.1, 2), round(HEIGHT - height, 2), round(step * 0.8, 2), round(height, 2), f"{day}: {value}"))
    return BarChart(title, sum(values), peak, bars)
