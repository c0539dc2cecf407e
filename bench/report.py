"""The benchmark's table: rows collected section by section, printed and kept in bench/results/."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import Burst
from bench.memory import Memory
from bench.wrk import Result

RESULTS = Path(__file__).resolve().parent / "results"
Figure = Result | Burst | Memory | str

WRK_HEAD = f"{'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}"
BURST_HEAD = (
    f"{'ok':>5} {'failed':>6} {'late':>5} {'wall s':>7} {'p50 s':>7} {'p95 s':>7}"
    f" {'1st byte p50 s':>15}"
)
MEMORY_HEAD = f"{'opened':>7} {'RSS before MiB':>15} {'RSS after MiB':>14} {'KiB/stream':>11}"


@dataclass
class Section:
    """A titled group of rows sharing columns."""

    title: str
    head: str
    rows: dict[str, Figure] = field(default_factory=dict)


@dataclass
class Report:
    """Every section in print order, a header line and the ratios worked out at the end."""

    header: str
    sections: dict[str, Section]
    ratios: list[str] = field(default_factory=list)

    def add(self, section: str, target: str, figure: Figure) -> None:
        """One row, printed as it comes so a long run shows progress."""
        self.sections[section].rows[target] = figure
        print(f"  {target}: {_cells(figure)}", flush=True)

    def figure(self, section: str, target: str) -> Figure:
        """A row's figure; a string (not measured) when the row is missing."""
        return self.sections[section].rows.get(target, "not measured")

    def text(self) -> str:
        """The whole table as text."""
        lines = [self.header, ""]
        for section in self.sections.values():
            lines += [section.title, f"{'target':44} {section.head}"]
            lines += [f"{target:44} {_cells(f)}" for target, f in section.rows.items()]
            lines.append("")
        return "\n".join([*lines, "Ratios (requests/s; wall time for bursts)", *self.ratios, ""])

    def save(self) -> Path:
        """Write the table to bench/results/bench-<time>.txt; its path."""
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        path.write_text(self.text())
        return path


def ratio_line(
    name: str, numerator: Figure, denominator: Figure, target: str, *, first_byte: bool = False
) -> str:
    """`name: 0.52x (target ≥ 0.6x)` from two wrk rows' throughput, or two bursts' wall time
    (their first byte's p50 with `first_byte`)."""
    if isinstance(numerator, Result) and isinstance(denominator, Result):
        value = numerator.requests_per_second / denominator.requests_per_second
    elif isinstance(numerator, Burst) and isinstance(denominator, Burst) and first_byte:
        value = numerator.first_byte_p50_s / denominator.first_byte_p50_s
    elif isinstance(numerator, Burst) and isinstance(denominator, Burst):
        value = numerator.wall_s / denominator.wall_s
    else:
        return f"{name:44} n/a {f'(target {target})':>20}"
    return f"{name:44} {value:.2f}x {f'(target {target})':>20}"


def _cells(figure: Figure) -> str:
    if isinstance(figure, Result):
        return (
            f"{figure.requests_per_second:10.0f} {figure.p50_ms:8.2f} {figure.p99_ms:8.2f}"
            f" {figure.failures:7d}"
        )
    if isinstance(figure, Burst):
        return (
            f"{figure.ok:5d} {figure.failed:6d} {figure.unfinished:5d} {_s(figure.wall_s):>7}"
            f" {_s(figure.p50_s):>7} {_s(figure.p95_s):>7} {_s(figure.first_byte_p50_s):>15}"
        )
    if isinstance(figure, Memory):
        per_stream = figure.per_stream_kib
        return (
            f"{figure.opened:7d} {figure.before_kib / 1024:15.1f} {figure.after_kib / 1024:14.1f}"
            f" {'n/a' if per_stream is None else f'{per_stream:.1f}':>11}"
        )
    return figure


def _s(seconds: float) -> str:
    """Seconds to two decimals; `late` for a figure made of calls that never finished."""
    if math.isinf(seconds):
        return "late"
    return "n/a" if math.isnan(seconds) else f"{seconds:.2f}"
