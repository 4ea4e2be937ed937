"""Results: the table, the ratios, the targets and the markdown file."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import socket
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import chart
from bench.changes import CHANGES
from bench.common import RESULTS_DIR, WORKERS, psql, run
from bench.envs import venv_bin
from bench.load import CASES, CASES_BY_NAME, Point

#: Connections sending valid keys, and wrong keys beside them, in the flood measurement.
FLOOD_VALID, FLOOD_WRONG = 4, 16

SERVERS = ("bare", "trylite", "trylite-sqlite", "trytond")
#: The concurrency the goals are stated at (but keyrequest's p50, at 1).
GOAL_CONNECTIONS = 4
#: The cases whose req/s ratio is a goal, and the server trylite's is divided by.
GOAL_RATIOS = {"nodb": "bare", "transaction": "trytond", "guarded": "trytond",
               "badkey": "trytond"}
PACKAGES = ("werkzeug", "sqlalchemy", "psycopg", "gunicorn", "trylite", "trytond")


@dataclass
class KeySleep:
    """nodb requests and worker states measured while key requests were in flight."""

    nodb: Point
    keys: Point
    asleep: int
    samples: int

    @property
    def nodb_p99_ms(self) -> float:
        """p99 of the nodb requests in ms; infinite when none was answered."""
        return self.nodb.p99_us / 1000 if self.nodb.requests else math.inf


@dataclass
class Flood:
    """Valid-key req/s (answered 200) alone and beside a flood of wrong keys; the flood's
    req/s and status; valid keys refused during it; wrong keys counted during it."""

    alone: float
    beside_flood: float
    flood: float
    flood_status: int
    valid_refused: int = 0
    counted: int | None = None
    cpu_ms: float | None = None  # the server's CPU time per request (valid or not) in the flood

    @property
    def ratio(self) -> float:
        """Valid req/s beside the flood ÷ alone: the share of its rate the flood leaves."""
        return self.beside_flood / self.alone if self.alone else 0.0


@dataclass
class Results:
    """Everything measured in one run."""

    duration: int
    warmup: int
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    points: dict[tuple[str, str, int], Point] = field(default_factory=dict)
    status: dict[tuple[str, str], int] = field(default_factory=dict)
    startup: dict[str, float] = field(default_factory=dict)
    rss: dict[str, list[int]] = field(default_factory=dict)
    key_sleep: dict[str, KeySleep] = field(default_factory=dict)
    scale: dict[int, float] = field(default_factory=dict)
    flood: dict[str, Flood] = field(default_factory=dict)
    #: The goals' ratios (trylite ÷ its peer), by case, one per alternating round.
    rounds: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def connections(self) -> list[int]:
        """The concurrencies measured, in order."""
        return sorted({connections for _, _, connections in self.points})

    def rps(self, server: str, case: str, connections: int) -> float | None:
        """req/s of one point, None when not measured."""
        point = self.points.get((server, case, connections))
        return point.rps if point else None

    def bare_rps(self, case: str, connections: int) -> float | None:
        """Bare Werkzeug's req/s for ``case``, or for ``nodb`` when it does not answer
        ``case``: the ceiling of a request through gunicorn and Werkzeug."""
        return self.rps("bare", case, connections) or self.rps("bare", "nodb", connections)


def _ratio(numerator: float | None, denominator: float | None) -> str:
    """``a/b`` formatted, or n/a."""
    return f"{numerator / denominator:.2f}" if numerator and denominator else "n/a"


def _rps_cell(results: Results, server: str, case: str, connections: int) -> str:
    """req/s of one point (``!`` when some answers were not the expected kind), or n/a."""
    point = results.points.get((server, case, connections))
    if point is None:
        return "n/a"
    flag = "" if point.non_2xx_3xx == 0 or case == "badkey" else " !"
    return f"{point.rps:,.0f}{flag}"


def _latency_cells(results: Results, server: str, case: str, connections: int) -> list[str]:
    """p50 / p99 (ms) and CPU ms per request of one point, or n/a."""
    point = results.points.get((server, case, connections))
    if point is None:
        return ["n/a", "n/a"]
    cpu = point.cpu_ms
    return [f"{point.p50_us / 1000:.2f} / {point.p99_us / 1000:.2f}",
            "n/a" if cpu is None else f"{cpu:.2f}"]


def _rows(results: Results) -> list[tuple[str, int]]:
    """(case, connections) of the tables' rows, in the cases' order."""
    return [(case.name, connections) for case in CASES for connections in results.connections
            if any((server, case.name, connections) in results.points for server in SERVERS)]


def throughput_table(results: Results) -> str:
    """req/s of every server per case and concurrency, with trylite's ratios."""
    head = ["case", "c", *[f"{server} req/s" for server in SERVERS], "trylite ÷ trytond",
            "trylite ÷ bare¹", "trylite-sqlite ÷ bare¹"]
    rows = []
    for case, connections in _rows(results):
        bare = results.bare_rps(case, connections)
        rows.append([case, str(connections),
                     *[_rps_cell(results, server, case, connections) for server in SERVERS],
                     _ratio(results.rps("trylite", case, connections),
                            results.rps("trytond", case, connections)),
                     _ratio(results.rps("trylite", case, connections), bare),
                     _ratio(results.rps("trylite-sqlite", case, connections), bare)])
    return _markdown_table(head, rows)


def latency_table(results: Results) -> str:
    """p50 / p99 and CPU time per request of every server per case and concurrency."""
    head = ["case", "c"]
    for server in SERVERS:
        head += [f"{server} p50 / p99 ms", "CPU ms/req"]
    rows = [[case, str(connections), *[cell for server in SERVERS
                                       for cell in _latency_cells(results, server, case,
                                                                  connections)]]
            for case, connections in _rows(results)]
    return _markdown_table(head, rows)


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def _div(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing or zero."""
    return numerator / denominator if numerator and denominator else None


@dataclass
class Target:
    """A goal: a measured value and the bound it must respect."""

    name: str
    value: float | None
    minimum: float = -math.inf
    maximum: float = math.inf

    @property
    def met(self) -> bool | None:
        """True/False, or None when the value could not be measured."""
        return None if self.value is None else self.minimum <= self.value <= self.maximum


def _ratio_target(results: Results, name: str, case: str, other: str,
                  minimum: float) -> Target:
    """trylite's req/s for ``case`` ÷ ``other``'s (bare: its ceiling) at the goals' c: the
    median of the alternating rounds when they were measured, else the table's point."""
    rounds = results.rounds.get(case)
    if rounds:
        each = ", ".join(f"{ratio:.3g}" for ratio in rounds)
        return Target(f"{name}, median of {len(rounds)} alternating rounds ({each})",
                      statistics.median(rounds), minimum=minimum)
    c = GOAL_CONNECTIONS
    theirs = (results.bare_rps(case, c) if other == "bare" else results.rps(other, case, c))
    return Target(name, _div(results.rps("trylite", case, c), theirs), minimum=minimum)


def _flood_targets(results: Results) -> list[Target]:
    """The failure path: valid keys keep 80 % of their rate in a flood of wrong keys, in both
    throttle configurations; the default throttle answers the flood 429 and writes nothing."""
    named = {"trylite-throttled": "default throttle: 429 past 10 failures from the address",
             "trylite": "every failure counted, as from addresses under their limit"}
    found = [Target(f"valid keys' req/s (guarded, c={FLOOD_VALID}) while {FLOOD_WRONG} "
                    f"connections send wrong keys ÷ alone ≥ 0.80 ({label})",
                    flood.ratio if (flood := results.flood.get(name)) else None, minimum=0.8)
             for name, label in named.items()]
    throttled = results.flood.get("trylite-throttled")
    return [*found,
            Target("throttling still enforced: the default-throttle server answers the flood "
                   "429", throttled.flood_status if throttled else None, 429, 429),
            Target("throttling still enforced: failures it writes during the flood (past its "
                   "limit) = 0", throttled.counted if throttled else None, maximum=0)]


def targets(results: Results) -> list[Target]:
    """The performance issue's goals, evaluated on this run (reported, never asserted)."""
    keyrequest = results.points.get(("trylite", "keyrequest", 1))
    return [
        _ratio_target(results, f"nodb req/s ÷ bare's (c={GOAL_CONNECTIONS}) ≥ 0.95", "nodb",
                      "bare", 0.95),
        _ratio_target(results, f"transaction req/s ÷ trytond's (c={GOAL_CONNECTIONS}) ≥ 1.5",
                      "transaction", "trytond", 1.5),
        _ratio_target(results, f"guarded req/s ÷ trytond's (c={GOAL_CONNECTIONS}) ≥ 4",
                      "guarded", "trytond", 4),
        _ratio_target(results, f"badkey (401) req/s ÷ trytond's (c={GOAL_CONNECTIONS}) ≥ 1",
                      "badkey", "trytond", 1),
        Target("keyrequest p50 at c=1 ≤ 2 ms",
               keyrequest.p50_us / 1000 if keyrequest else None, maximum=2),
        *_flood_targets(results),
    ]


def earlier_targets(results: Results) -> list[Target]:
    """Goals of earlier work, still checked."""
    sleep = results.key_sleep.get("trylite")
    rss = [_mean(results.rss.get(server, [])) for server in ("trylite", "trytond")]
    c = GOAL_CONNECTIONS
    return [
        Target(f"guarded req/s ÷ bare's nodb req/s (c={c}) ≥ 0.5",
               _div(results.rps("trylite", "guarded", c), results.rps("bare", "nodb", c)),
               minimum=0.5),
        Target(f"guarded req/s with 1,000,000 keys ÷ with 100 keys (c={c}) ≥ 0.9",
               _div(results.scale.get(1_000_000), results.scale.get(100)), minimum=0.9),
        Target("RSS per worker ÷ trytond's ≤ 1", _div(*rss), maximum=1),
        Target("a key request never makes a worker sleep: worker samples found in a sleep "
               "syscall while 4 key requests are in flight = 0",
               sleep.asleep if sleep else None, maximum=0),
    ]


def _target_lines(found: list[Target]) -> str:
    """Targets as a markdown list with met / not met and the measured figure."""
    words = {True: "**met**", False: "**not met**", None: "not measured"}
    return "\n".join(
        f"- {target.name}: {words[target.met]}"
        + (f" ({target.value:.3g})" if target.value is not None else "")
        for target in found)


def targets_section(results: Results) -> str:
    """The issue's goals, then the earlier ones."""
    return (f"{_target_lines(targets(results))}\n\nEarlier goals, still checked:\n\n"
            f"{_target_lines(earlier_targets(results))}")


def _markdown_table(head: list[str], rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(row) + " |" for row in [head, ["---"] * len(head), *rows])


def _server_row(results: Results, server: str) -> list[str]:
    """RSS per worker and start-up time of one server."""
    rss = ", ".join(f"{kib / 1024:.1f}" for kib in results.rss.get(server, [])) or "n/a"
    start = results.startup.get(server)
    return [server, rss, f"{start:.2f}" if start else "n/a"]


def _key_row(results: Results, server: str) -> list[str]:
    """What 4 key requests in flight did to one server's workers and nodb latency."""
    sleep = results.key_sleep[server]
    base = results.points.get((server, "nodb", 1))
    share = 100 * sleep.asleep / sleep.samples if sleep.samples else 0.0
    return [server, f"{sleep.keys.rps:.1f}", f"{sleep.keys.p50_us / 1000:.1f}",
            f"{sleep.asleep:,} / {sleep.samples:,} ({share:.0f} %)",
            f"{base.p99_us / 1000:.2f}" if base else "n/a", f"{sleep.nodb_p99_ms:.2f}"]


def extras_section(results: Results) -> str:
    """RSS, start-up time, key requests vs sleeping workers, the failure path, key-table
    scale."""
    parts = [_markdown_table(
        ["server", "RSS per worker after warm-up (MiB)", "start → first answer (s)"],
        [_server_row(results, server) for server in SERVERS])]
    if results.key_sleep:
        parts += [
            "While 4 key requests are always in flight (with 1 nodb connection beside them):",
            _markdown_table(
                ["server", "key req/s", "key p50 ms", "worker samples in a sleep syscall",
                 "nodb p99 ms alone (c=1)", "nodb p99 ms during key requests"],
                [_key_row(results, server) for server in SERVERS
                 if server in results.key_sleep])]
        if "trylite-sqlite" in results.key_sleep:
            parts.append("On SQLite, a key request's writer waits for another's write lock "
                         "in SQLite's busy handler, which sleeps (`nanosleep`) between tries: "
                         "those samples are lock waits, not a delay of trylite's.")
    if results.flood:
        parts += [_flood_section(results)]
    if results.scale:
        parts.append("trylite guarded route, c=4, median of 3 alternating rounds: " + ", ".join(
            f"{total:,} keys → {rate:,.0f} req/s" for total, rate in results.scale.items()))
    return "\n\n".join(parts)


def _flood_section(results: Results) -> str:
    """The failure path: what a flood of wrong keys leaves of the valid keys' rate."""
    return (f"The failure path: valid keys (`guarded`, {FLOOD_VALID} connections) alone, then "
            f"while {FLOOD_WRONG} more connections send wrong keys (`badkey`), all from this "
            "machine's one address (127.0.0.1), brought to its limit before the rounds: the "
            "default throttle then answers it 429 without writes, while a server with "
            "`max_failures` raised counts and writes every wrong key, as it would for a flood "
            "spread over addresses still under their limit. Median of 3 alternating rounds; "
            "valid req/s count 200 answers only; failures written: the address's count in "
            "`trylite_throttle` after the rounds less before; CPU: the server's, per request "
            "answered (valid or wrong) in the flood rounds.\n\n" + _markdown_table(
                ["trylite", "valid req/s alone", "valid req/s in the flood", "ratio (≥ 0.80)",
                 "valid keys refused", "wrong keys req/s", "wrong keys answered",
                 "failures written during the rounds", "CPU ms/req in the flood"],
                [_flood_row(name, flood) for name, flood in results.flood.items()]))


def _flood_row(name: str, flood: Flood) -> list[str]:
    """One server's valid-key throughput alone and during a flood of wrong keys."""
    label = {"trylite": "every failure counted (`max_failures` raised)",
             "trylite-throttled": "default throttle (429 past 10 failures)"}.get(name, name)
    return [label, f"{flood.alone:,.0f}", f"{flood.beside_flood:,.0f}", f"{flood.ratio:.2f}",
            f"{flood.valid_refused:,}", f"{flood.flood:,.0f}", str(flood.flood_status),
            "n/a" if flood.counted is None else f"{flood.counted:,}",
            "n/a" if flood.cpu_ms is None else f"{flood.cpu_ms:.2f}"]


def changes_section() -> str:
    """The changes recorded in bench/changes.py, with their in-process cost before → after."""
    if not CHANGES:
        return "No change recorded yet (add them to `bench/changes.py`)."
    return _markdown_table(
        ["change", "before µs", "after µs", "after ÷ before", "what was timed"],
        [[change.change, f"{change.before_us:,.0f}", f"{change.after_us:,.0f}",
          _ratio(change.after_us, change.before_us), change.note] for change in CHANGES])


def _venv_versions(venv: str) -> dict[str, str]:
    """Versions of the interesting packages (and Python) installed in a bench venv."""
    code = ("import importlib.metadata as m, json, platform\n"
            f"names = {list(PACKAGES)!r}\n"
            "found = {'python': platform.python_version()}\n"
            "for n in names:\n"
            "    try: found[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(found))")
    try:
        return json.loads(run([venv_bin(venv, "python"), "-I", "-c", code]).stdout)
    except (OSError, RuntimeError, ValueError):
        return {}


def versions_section() -> str:
    """Versions per venv and PostgreSQL's."""
    lines = []
    for venv in ("trylite", "trytond"):
        found = _venv_versions(venv)
        lines.append(f"- venv {venv}: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    lines.append(f"- PostgreSQL {psql('SHOW server_version')}")
    return "\n".join(lines)


def machine_section(results: Results) -> str:
    """nproc, memory and CPU model of this machine, and its load around the run."""
    meminfo = Path("/proc/meminfo").read_text().split()
    memory = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 / 1024
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return (f"- host {socket.gethostname()}, nproc {os.cpu_count()}, memory {memory:.1f} GiB, "
            f"CPU {model}, {platform.platform()}\n"
            f"- load average (1, 5, 15 min) before the run {_load(results.load_before)}, "
            f"after {_load(results.load_after)} (other work on the machine skews the numbers)")


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def notes_section(results: Results) -> str:
    """Probes whose status differed from the expected one, and failures."""
    notes = [f"- probe of `{case}` on {server} answered {status}, expected "
             f"{CASES_BY_NAME[case].expect}"
             for (server, case), status in results.status.items()
             if status != CASES_BY_NAME[case].expect]
    notes += [f"- {name} failed: `{text}`" for name, text in results.errors.items()]
    return "\n".join(notes) or "- every probe answered the expected status; no failures"


def chart_figures(results: Results) -> dict[str, Any] | None:
    """What the chart draws: req/s per case and server at the goals' concurrency, and the
    guarded case's p99 per concurrency per server (bare's nodb beside it); None when there is
    nothing to draw."""
    c = GOAL_CONNECTIONS
    rps = {server: {case.name: rate for case in CASES
                    if (rate := results.rps(server, case.name, c)) is not None}
           for server in SERVERS}
    lines = {server: "nodb" if server == "bare" else "guarded" for server in SERVERS}
    p99 = {server: {connections: point.p99_us / 1000 for connections in results.connections
                    if (point := results.points.get((server, case, connections)))}
           for server, case in lines.items()}
    if not any(rps.values()):
        return None
    return {"title": f"trylite vs trytond 8.2.1 vs bare Werkzeug — {_day()}",
            "cases": [case.name for case in CASES if any(case.name in rates
                                                         for rates in rps.values())],
            "connections": c,
            "rps": {server: rates for server, rates in rps.items() if rates},
            "case": "guarded", "p99": {server: lines for server, lines in p99.items() if lines}}


def _day() -> str:
    """Today as YYYY-MM-DD."""
    return f"{datetime.date.today():%Y-%m-%d}"


def results_section(results: Results, chart_name: str | None) -> str:
    """The chart's link, then the two tables."""
    picture = (f"![req/s per case and server at c={GOAL_CONNECTIONS}; p99 of the guarded "
               f"route per concurrency]({chart_name})\n\n" if chart_name else "")
    return f"""{picture}Requests per second (`!`: some answers were not 2xx):

{throughput_table(results)}

¹ ÷ bare Werkzeug's req/s for the same case where it answers it (`nodb`, `echo`), else ÷ its
`nodb` req/s at the same concurrency: the ceiling of a request through gunicorn and Werkzeug.

Latency, and CPU time of the server per answered request (user + system time of gunicorn's
master and workers over the measured seconds, from `/proc/<pid>/stat`; PostgreSQL's own
processes are not counted, SQLite runs inside the workers and is):

{latency_table(results)}"""


def render(results: Results, chart_name: str | None = None) -> str:
    """The whole markdown report (``chart_name``: the chart's file, beside the report)."""
    now = datetime.datetime.now().astimezone()
    return f"""# trylite vs trytond 8.2.1 vs bare Werkzeug — {now:%Y-%m-%d %H:%M %Z}

## Machine
{machine_section(results)}

## Versions
{versions_section()}

## Method
gunicorn `--workers {WORKERS} --worker-class sync` with identical flags for every server,
PostgreSQL on the same machine; wrk `-t2` (`-t1` at c=1) at {_connections(results)}
connections, {results.duration} s per point after {results.warmup} s of warm-up per server and
case, every request with `Accept: application/json`. The servers start one at a time, then run
side by side and each point is measured on each in turn.
trytond runs with `TRYTOND_DATABASE_NAMES` (pool preloaded) and `[web] root` pointing
at a missing folder.
trylite runs with its throttle's `max_failures`, `max_requests` and `max_pending` raised so
`badkey` measures the 401 path (every failure counted) and `keyrequest` hands out keys, on
PostgreSQL (`trylite`) and on SQLite files (`trylite-sqlite`, trylite's embedded default); the
flood measurement also runs a trylite with the default throttle. The goals stated as a ratio
at c={GOAL_CONNECTIONS} are judged on 3 more rounds in which trylite and its peer are measured
one right after the other (their median), not on the table's points.
Full run: {results.elapsed:.0f} s.

## Results
{results_section(results, chart_name)}

## Memory, start-up, key requests, failure path
{extras_section(results)}

## Targets
{targets_section(results)}

## Changes
{changes_section()}

## Notes
{notes_section(results)}
"""


def _connections(results: Results) -> str:
    """The concurrencies measured, comma-separated ("no" when none)."""
    return ", ".join(map(str, results.connections)) or "no"


def _chart(results: Results, path: Path) -> str | None:
    """Draw the chart to ``path``; its file name, or None (failures go to the notes)."""
    figures = chart_figures(results)
    if figures is None:
        return None
    try:
        chart.draw(figures, path)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        results.errors["chart"] = [line for line in str(error).splitlines() if line][-1]
        return None
    return path.name


def default_output() -> Path:
    """``bench/results/<date>-<machine>.md``, or ``…-<HHMM>.md`` when a report of that day and
    machine is already there (it is never overwritten)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    stem = f"{_day()}-{socket.gethostname().split('.')[0]}"
    path = RESULTS_DIR / f"{stem}.md"
    return path if not path.exists() else RESULTS_DIR / f"{stem}-{datetime.datetime.now():%H%M}.md"


def write(results: Results, output: Path | None = None, *, with_chart: bool = True) -> str:
    """Write the report to *output* (default: :func:`default_output`) and, when
    ``with_chart``, its chart to the same path ending in ``.png``; return the markdown."""
    output = output or default_output()
    chart_name = _chart(results, output.with_suffix(".png")) if with_chart else None
    text = render(results, chart_name)
    output.write_text(text)
    return text
