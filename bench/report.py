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
from bench.load import CASES, Point

SERVERS = ("bare", "trylite", "trytond")
PACKAGES = ("werkzeug", "sqlalchemy", "psycopg", "gunicorn", "trylite", "trytond")
SLEEP_LIMIT_MS = 100


@dataclass
class KeySleep:
    """nodb requests measured while key requests were in flight."""

    nodb: Point
    keys: Point

    @property
    def nodb_p99_ms(self) -> float:
        """p99 of the nodb requests in ms; infinite when none was answered."""
        return self.nodb.p99_us / 1000 if self.nodb.requests else math.inf


@dataclass
class Results:
    """Everything measured in one run."""

    duration: int
    warmup: int
    points: dict[tuple[str, str, int], Point] = field(default_factory=dict)
    status: dict[tuple[str, str], int] = field(default_factory=dict)
    startup: dict[str, float] = field(default_factory=dict)
    rss: dict[str, list[int]] = field(default_factory=dict)
    key_sleep: dict[str, KeySleep] = field(default_factory=dict)
    scale: dict[int, float] = field(default_factory=dict)
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
    rows = [head, ["---"] * len(head)]
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
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def targets(results: Results) -> list[tuple[str, bool | None, str]]:
    """(target, met?, measured values); met is None when it could not be measured."""
    guarded = results.rps("trylite", "guarded", 4)
    peer_guarded = results.rps("trytond", "guarded", 4)
    bare_nodb = results.rps("bare", "nodb", 4)
    nodb = results.rps("trylite", "nodb", 4)
    scale_lo, scale_hi = results.scale.get(100), results.scale.get(1_000_000)
    rss, peer_rss = results.rss.get("trylite"), results.rss.get("trytond")
    sleep = results.key_sleep.get("trylite")

    def check(ok: bool, ready: object, detail: str) -> tuple[bool | None, str]:
        return (ok if ready else None), (detail if ready else "not measured")

    return [
        ("guarded ≥ 4× trytond's req/s (c=4)",
         *check(bool(guarded and peer_guarded and guarded >= 4 * peer_guarded),
                guarded and peer_guarded, f"{_ratio(guarded, peer_guarded)}×")),
        ("guarded ≥ 50 % of bare's req/s (c=4, bare = nodb)",
         *check(bool(guarded and bare_nodb and guarded >= 0.5 * bare_nodb),
                guarded and bare_nodb, f"{_ratio(guarded, bare_nodb)}")),
        ("nodb ≥ 90 % of bare's req/s (c=4)",
         *check(bool(nodb and bare_nodb and nodb >= 0.9 * bare_nodb), nodb and bare_nodb,
                f"{_ratio(nodb, bare_nodb)}")),
        ("guarded with 1,000,000 keys within 10 % of 100 keys (c=4)",
         *check(bool(scale_lo and scale_hi and scale_hi >= 0.9 * scale_lo),
                scale_lo and scale_hi, f"{_ratio(scale_hi, scale_lo)}")),
        ("RSS per worker ≤ trytond's",
         *check(bool(rss and peer_rss and _mean(rss) <= _mean(peer_rss)), rss and peer_rss,
                f"{_mean(rss or []) / 1024:.1f} MiB vs {_mean(peer_rss or []) / 1024:.1f} MiB")),
        (f"a key request never makes a worker sleep (nodb p99 ≤ {SLEEP_LIMIT_MS} ms "
         "while 4 key requests are in flight)",
         *check(bool(sleep and sleep.nodb_p99_ms <= SLEEP_LIMIT_MS), sleep,
                f"p99 {sleep.nodb_p99_ms:.1f} ms" if sleep else "")),
    ]


def targets_section(results: Results) -> str:
    """Targets as a markdown list with met / not met."""
    words = {True: "**met**", False: "**not met**", None: "not measured"}
    return "\n".join(f"- {name}: {words[met]} ({detail})"
                     for name, met, detail in targets(results))


def extras_section(results: Results) -> str:
    """RSS, start-up time, key requests vs sleeping workers, key-table scale."""
    lines = ["| server | RSS per worker (MiB) | start → first answer (s) | "
             "nodb c=1 p99 ms / during key requests | key requests during that (req/s, p50 ms) |",
             "| --- | --- | --- | --- | --- |"]
    for server in SERVERS:
        rss = ", ".join(f"{kib / 1024:.1f}" for kib in results.rss.get(server, [])) or "n/a"
        start = results.startup.get(server)
        base = results.points.get((server, "nodb", 1))
        sleep = results.key_sleep.get(server)
        during = f"{base.p99_us / 1000:.2f} / " if base else ""
        during += f"{sleep.nodb_p99_ms:.2f}" if sleep else "n/a"
        keys = f"{sleep.keys.rps:.1f}, {sleep.keys.p50_us / 1000:.1f}" if sleep else "n/a"
        lines.append(f"| {server} | {rss} | {f'{start:.2f}' if start else 'n/a'} | "
                     f"{during} | {keys} |")
    if results.scale:
        lines.append("\ntrylite guarded route, c=4: " + ", ".join(
            f"{total:,} keys → {rate:,.0f} req/s" for total, rate in results.scale.items()))
    return "\n".join(lines)


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


def machine_section() -> str:
    """nproc, memory and CPU model of this machine."""
    meminfo = Path("/proc/meminfo").read_text().split()
    memory = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 / 1024
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return (f"- host {socket.gethostname()}, nproc {os.cpu_count()}, memory {memory:.1f} GiB, "
            f"CPU {model}, {platform.platform()}")


def render(results: Results) -> str:
    """The whole markdown report."""
    now = datetime.datetime.now().astimezone()
    errors = "\n".join(f"- {name}: `{text}`" for name, text in results.errors.items())
    return f"""# trylite vs trytond 8.2.1 vs bare Werkzeug — {now:%Y-%m-%d %H:%M %Z}

## Machine
{machine_section()}

## Versions
{versions_section()}

## Method
gunicorn `--workers {WORKERS} --worker-class sync` with identical flags for all three servers,
PostgreSQL on the same machine; wrk `-t2` (`-t1` at c=1), {results.warmup} s warm-up then
{results.duration} s per point, every request with `Accept: application/json`.
trytond runs with `TRYTOND_DATABASE_NAMES` (pool preloaded) and `[web] root` unset.
trylite runs with its throttle's `max_failures` raised so `badkey` measures the 401 path.
`!` after req/s: some answers were not 2xx. Full run: {results.elapsed:.0f} s.

## Results
{table(results)}

## Memory, start-up, key requests
{extras_section(results)}

## Targets
{targets_section(results)}
{f"{chr(10)}## Failures{chr(10)}{errors}{chr(10)}" if errors else ""}"""


def write(results: Results) -> str:
    """Write ``bench/results/<date>-<machine>.md`` and return the markdown."""
    text = render(results)
    RESULTS_DIR.mkdir(exist_ok=True)
    name = f"{datetime.date.today():%Y-%m-%d}-{socket.gethostname().split('.')[0]}.md"
    (RESULTS_DIR / name).write_text(text)
    return text
