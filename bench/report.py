"""Results: the table, the ratios, the targets and the markdown file."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import socket
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import RESULTS_DIR, WORKERS, psql, run
from bench.envs import venv_bin
from bench.load import CASES, CASES_BY_NAME, Point

SERVERS = ("bare", "trylite", "trytond")
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
    """Valid-key req/s beside as many connections of valid keys, and of wrong keys."""

    beside_valid: float
    beside_flood: float
    flood: float
    flood_status: int

    @property
    def ratio(self) -> float:
        """Valid req/s beside the flood ÷ beside valid traffic: 1 when a wrong key costs what
        a valid one does, more when it costs less."""
        return self.beside_flood / self.beside_valid if self.beside_valid else 0.0


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
    errors: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    def rps(self, server: str, case: str, connections: int) -> float | None:
        """req/s of one point, None when not measured."""
        point = self.points.get((server, case, connections))
        return point.rps if point else None


def _ratio(numerator: float | None, denominator: float | None) -> str:
    """``a/b`` formatted, or n/a."""
    return f"{numerator / denominator:.2f}" if numerator and denominator else "n/a"


def _cells(results: Results, server: str, case: str, connections: int) -> list[str]:
    """req/s, p50 and p99 cells of one server (n/a when it does not answer the case)."""
    point = results.points.get((server, case, connections))
    if point is None:
        return ["n/a"] * 3
    flag = "" if point.non_2xx_3xx == 0 or case == "badkey" else " !"
    return [f"{point.rps:,.0f}{flag}", f"{point.p50_us / 1000:.2f}", f"{point.p99_us / 1000:.2f}"]


def table(results: Results) -> str:
    """The main markdown table: one row per case and concurrency."""
    head = ["case", "c"]
    for server in SERVERS:
        head += [f"{server} req/s", "p50 ms", "p99 ms"]
    head += ["trylite/trytond", "trylite/bare"]
    rows = []
    connections_seen = sorted({c for _, _, c in results.points})
    for case in CASES:
        for connections in connections_seen:
            row = [case.name, str(connections)]
            for server in SERVERS:
                row += _cells(results, server, case.name, connections)
            trylite = results.rps("trylite", case.name, connections)
            row += [_ratio(trylite, results.rps("trytond", case.name, connections)),
                    _ratio(trylite, results.rps("bare", case.name, connections))]
            rows.append(row)
    return _markdown_table(head, rows)


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def _div(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing or zero."""
    return numerator / denominator if numerator and denominator else None


@dataclass
class Target:
    """A target from the issue: a measured value and the bound it must respect."""

    name: str
    value: float | None
    minimum: float = -math.inf
    maximum: float = math.inf

    @property
    def met(self) -> bool | None:
        """True/False, or None when the value could not be measured."""
        return None if self.value is None else self.minimum <= self.value <= self.maximum


def targets(results: Results) -> list[Target]:
    """The issue's targets, evaluated on this run (reported, never asserted)."""
    guarded = results.rps("trylite", "guarded", 4)
    bare_nodb = results.rps("bare", "nodb", 4)
    sleep = results.key_sleep.get("trylite")
    rss = [_mean(results.rss.get(server, [])) for server in ("trylite", "trytond")]
    flood = results.flood.get("trylite-throttled")
    return [
        Target("guarded req/s ÷ trytond's (c=4) ≥ 4",
               _div(guarded, results.rps("trytond", "guarded", 4)), minimum=4),
        Target("guarded req/s ÷ bare's nodb req/s (c=4) ≥ 0.5", _div(guarded, bare_nodb),
               minimum=0.5),
        Target("nodb req/s ÷ bare's (c=4) ≥ 0.9",
               _div(results.rps("trylite", "nodb", 4), bare_nodb), minimum=0.9),
        Target("guarded req/s with 1,000,000 keys ÷ with 100 keys (c=4) ≥ 0.9",
               _div(results.scale.get(1_000_000), results.scale.get(100)), minimum=0.9),
        Target("RSS per worker ÷ trytond's ≤ 1", _div(*rss), maximum=1),
        Target("valid-key req/s beside 4 connections of wrong keys ÷ beside 4 of valid keys "
               "(default throttle) ≥ 0.9: a wrong key costs no more than a valid one",
               flood.ratio if flood else None, minimum=0.9),
        Target("a key request never makes a worker sleep: worker samples found in a sleep "
               "syscall while 4 key requests are in flight = 0",
               sleep.asleep if sleep else None, maximum=0),
    ]


def targets_section(results: Results) -> str:
    """Targets as a markdown list with met / not met."""
    words = {True: "**met**", False: "**not met**", None: "not measured"}
    return "\n".join(
        f"- {target.name}: {words[target.met]}"
        + (f" ({target.value:.3g})" if target.value is not None else "")
        for target in targets(results))


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
    """RSS, start-up time, key requests vs sleeping workers, key-table scale."""
    parts = [_markdown_table(
        ["server", "RSS per worker after warm-up (MiB)", "start → first answer (s)"],
        [_server_row(results, server) for server in SERVERS]),
        "While 4 key requests are always in flight (with 1 nodb connection beside them):",
        _markdown_table(
            ["server", "key req/s", "key p50 ms", "worker samples in a sleep syscall",
             "nodb p99 ms alone (c=1)", "nodb p99 ms during key requests"],
            [_key_row(results, server) for server in SERVERS
             if server in results.key_sleep])]
    if results.flood:
        parts += [
            "Valid keys (`guarded`, 4 connections) beside 4 more connections from the same "
            "address, sending valid keys too or wrong keys (`badkey`); median of 3 "
            "alternating rounds:",
            _markdown_table(
                ["trylite", "valid req/s beside valid", "valid req/s beside the flood",
                 "ratio", "flood req/s", "flood answered"],
                [_flood_row(name, flood) for name, flood in results.flood.items()])]
    if results.scale:
        parts.append("trylite guarded route, c=4, median of 3 alternating rounds: " + ", ".join(
            f"{total:,} keys → {rate:,.0f} req/s" for total, rate in results.scale.items()))
    return "\n\n".join(parts)


def _flood_row(name: str, flood: Flood) -> list[str]:
    """One server's valid-key throughput alone and during a flood of wrong keys."""
    label = {"trylite": "every failure counted (`max_failures` raised)",
             "trylite-throttled": "default throttle (429 past 10 failures)"}.get(name, name)
    return [label, f"{flood.beside_valid:,.0f}", f"{flood.beside_flood:,.0f}",
            f"{flood.ratio:.2f}", f"{flood.flood:,.0f}", str(flood.flood_status)]


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


def render(results: Results) -> str:
    """The whole markdown report."""
    now = datetime.datetime.now().astimezone()
    return f"""# trylite vs trytond 8.2.1 vs bare Werkzeug — {now:%Y-%m-%d %H:%M %Z}

## Machine
{machine_section(results)}

## Versions
{versions_section()}

## Method
gunicorn `--workers {WORKERS} --worker-class sync` with identical flags for all three servers,
PostgreSQL on the same machine; wrk `-t2` (`-t1` at c=1), {results.warmup} s warm-up then
{results.duration} s per point, every request with `Accept: application/json`. The servers
start one at a time, then run side by side and each point is measured on each in turn.
trytond runs with `TRYTOND_DATABASE_NAMES` (pool preloaded) and `[web] root` pointing
at a missing folder.
trylite runs with its throttle's `max_failures`, `max_requests` and `max_pending` raised so
`badkey` measures the 401 path (every failure counted) and `keyrequest` hands out keys; the
flood measurement also runs a second trylite with the default throttle.
`!` after req/s: some answers were not 2xx. Full run: {results.elapsed:.0f} s.

## Results
{table(results)}

## Memory, start-up, key requests
{extras_section(results)}

## Targets
{targets_section(results)}

## Notes
{notes_section(results)}
"""


def write(results: Results, output: Path | None = None) -> str:
    """Write the report to *output* (default ``bench/results/<date>-<machine>.md``) and
    return the markdown."""
    text = render(results)
    if output is None:
        RESULTS_DIR.mkdir(exist_ok=True)
        name = f"{datetime.date.today():%Y-%m-%d}-{socket.gethostname().split('.')[0]}.md"
        output = RESULTS_DIR / name
    output.write_text(text)
    return text
