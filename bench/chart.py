"""The chart beside a results file: req/s per case and server, p99 per concurrency.

The bench's own Python hands the figures to :func:`draw`, which runs this module in the
``bench/.venv-chart`` environment (matplotlib, Agg backend), so neither the repository's
``.venv`` nor the servers' environments need matplotlib::

    bench/.venv-chart/bin/python -m bench.chart FIGURES.json OUT.png
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import run
from bench.envs import venv_bin

#: One colour per server, the same in both panels.
COLOURS = {"bare": "#9e9e9e", "trylite": "#1f77b4", "trylite-sqlite": "#6baed6",
           "trytond": "#ff7f0e"}


def draw(figures: dict[str, Any], path: Path) -> None:
    """Write the chart of ``figures`` (see :func:`plot`) to ``path`` with the chart venv."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as data:
        json.dump(figures, data)
        data.flush()
        run([venv_bin("chart", "python"), "-m", "bench.chart", data.name, str(path)],
            timeout=120)


def _bars(axes: Any, figures: dict[str, Any]) -> None:
    """Grouped bars: req/s of each case (x) on each server (one bar each), log scale."""
    cases, servers = figures["cases"], list(figures["rps"])
    width = 0.8 / len(servers)
    for index, server in enumerate(servers):
        rates = figures["rps"][server]
        xs = [at + (index - (len(servers) - 1) / 2) * width
              for at, case in enumerate(cases) if case in rates]
        ys = [rates[case] for case in cases if case in rates]
        bars = axes.bar(xs, ys, width, label=server, color=COLOURS.get(server))
        axes.bar_label(bars, labels=[f"{y:,.0f}" for y in ys], rotation=90, padding=2,
                       fontsize=7)
    axes.set_xticks(range(len(cases)), cases)
    axes.set_yscale("log")
    axes.set_ylim(top=axes.get_ylim()[1] * 4)  # room for the labels
    axes.set_ylabel("req/s (log scale)")
    axes.set_title(f"req/s per case, c={figures['connections']}")
    axes.legend(fontsize=8, ncols=len(servers), loc="upper right")


def _lines(axes: Any, figures: dict[str, Any]) -> None:
    """p99 of the guarded case per concurrency, a line per server; bare's nodb dashed."""
    for server, by_connections in figures["p99"].items():
        xs = sorted(by_connections, key=int)
        style = "--" if server == "bare" else "-"
        label = "bare (nodb: the ceiling)" if server == "bare" else server
        axes.plot([int(x) for x in xs], [by_connections[x] for x in xs], style, marker="o",
                  label=label, color=COLOURS.get(server))
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    connections = sorted({int(x) for lines in figures["p99"].values() for x in lines})
    axes.set_xticks(connections, [str(c) for c in connections])
    axes.set_xlabel("connections")
    axes.set_ylabel("p99 latency, ms (log scale)")
    axes.set_title(f"p99 of the {figures['case']} case per concurrency")
    axes.legend(fontsize=8)


def plot(figures: dict[str, Any], path: Path) -> None:
    """Draw both panels into a PNG at ``path``.

    ``figures``: ``title``; ``cases`` (in order); ``connections`` (of the bars); ``rps``
    (server → case → req/s); ``case`` (of the lines); ``p99`` (server → connections → ms).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import FuncFormatter

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(13, 5),
                                           gridspec_kw={"width_ratios": [3, 2]})
    _bars(left, figures)
    _lines(right, figures)
    for axes in (left, right):
        axes.grid(axis="y", alpha=0.3)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,g}"))
        axes.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    figure.suptitle(figures["title"])
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


if __name__ == "__main__":
    plot(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
