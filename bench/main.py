"""Orchestration of ``python -m bench``: install, set up, measure, report.

The three servers are started one after the other (so each start-up is timed alone) and
then kept running together; every point is measured on each server in turn, so load from
elsewhere on the machine drifts over all of them alike instead of over one.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench import bare, envs, peer_trylite, peer_trytond, report
from bench.common import log
from bench.load import (
    CASES,
    CASES_BY_NAME,
    Case,
    Point,
    drain,
    finish_wrk,
    measure,
    probe,
    start_wrk,
    stop_wrk,
)
from bench.servers import (
    Running,
    Server,
    running,
    sample_sleeping,
    wait_until_ok,
    worker_pids,
    worker_rss_kib,
)

EXTRAS = ("rss", "sleep", "scale", "flood")

CONCURRENCIES = (1, 4, 16)
SETUPS: dict[str, Callable[[], Server]] = {
    "bare": bare.server, "trylite": peer_trylite.setup, "trytond": peer_trytond.setup}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (defaults keep a full run well under 10 minutes)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=int, default=4, help="seconds measured per point")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up seconds per point")
    parser.add_argument("--servers", default="bare,trylite,trytond",
                        help="comma-separated subset of bare,trylite,trytond")
    parser.add_argument("--cases", default=",".join(CASES_BY_NAME),
                        help="comma-separated subset of the cases (empty: none)")
    parser.add_argument("--extras", default=",".join(EXTRAS),
                        help=f"comma-separated subset of {','.join(EXTRAS)} (empty: none)")
    parser.add_argument("--no-scale", action="store_true",
                        help="skip trylite's 100 vs 1,000,000 keys measurement")
    parser.add_argument("--output", type=Path,
                        help="report file (default bench/results/<date>-<machine>.md)")
    args = parser.parse_args(argv)
    args.cases = [name for name in args.cases.split(",") if name]
    args.extras = {name for name in args.extras.split(",") if name} - (
        {"scale"} if args.no_scale else set())
    unknown = [*set(args.cases) - set(CASES_BY_NAME), *args.extras - set(EXTRAS)]
    if unknown:
        parser.error(f"unknown case or extra: {', '.join(unknown)}")
    return args


def _record_error(results: report.Results, name: str, error: Exception) -> None:
    log(f"{name} failed: {error}")
    results.errors[name] = "".join(traceback.format_exception_only(error)).strip()


def start_servers(names: list[str], stack: ExitStack, results: report.Results) -> list[Running]:
    """Set up and start each server, one at a time, timing start → first answer."""
    lives = []
    for name in names:
        try:
            live = stack.enter_context(running(SETUPS[name]()))
            results.startup[name] = wait_until_ok(live, live.server.paths["nodb"])
            lives.append(live)
        except Exception as error:
            _record_error(results, name, error)
    return lives


def run_cases(lives: list[Running], results: report.Results, args: argparse.Namespace) -> None:
    """Measure every case at every concurrency, each point on every server in turn."""
    for case in [case for case in CASES if case.name in args.cases]:
        for connections in CONCURRENCIES:
            for live in [live for live in lives if case.name in live.server.paths]:
                name = live.server.name
                log(f"{case.name} c={connections} {name}")
                try:
                    results.status.setdefault((name, case.name), probe(live, case))
                    results.points[name, case.name, connections] = measure(
                        live, case, connections, args.duration, args.warmup)
                except Exception as error:
                    _record_error(results, name, error)
                    lives.remove(live)


def key_sleep_test(live: Running, args: argparse.Namespace) -> report.KeySleep:
    """While 4 key requests are always in flight: are workers asleep, how slow is nodb (c=1)?"""
    log(f"{live.server.name}: workers and nodb latency during key requests")
    seconds = args.duration
    keys = start_wrk(live, CASES_BY_NAME["keyrequest"], 4, seconds)
    nodb = start_wrk(live, CASES_BY_NAME["nodb"], 1, seconds)
    try:
        asleep, samples = sample_sleeping(worker_pids(live.proc.pid), seconds - 0.5)
        result = report.KeySleep(nodb=finish_wrk(nodb, seconds), keys=finish_wrk(keys, seconds),
                                 asleep=asleep, samples=samples)
    finally:
        stop_wrk(nodb)
        stop_wrk(keys)
    drain(live)
    return result


def scale_test(live: Running, args: argparse.Namespace) -> dict[int, float]:
    """trylite's guarded req/s (c=4) with 100 and with 1,000,000 keys in its table.

    The two tables live in two databases served by the same server, so the points can
    alternate (3 rounds, median) instead of drifting apart with the machine's load.
    """
    targets = {100: peer_trylite.with_keys(live, peer_trylite.DATABASE, 100),
               1_000_000: peer_trylite.with_keys(live, peer_trylite.BIG_DATABASE, 1_000_000)}
    rates: dict[int, list[float]] = {total: [] for total in targets}
    for _ in range(3):
        for total, target in targets.items():
            log(f"trylite: guarded route with {total:,} keys")
            rates[total].append(measure(target, CASES_BY_NAME["guarded"], 4, args.duration,
                                        args.warmup).rps)
    return {total: statistics.median(values) for total, values in rates.items()}


def side_by_side(live: Running, cases: tuple[Case, Case], seconds: float) -> list[Point]:
    """Two wrk processes at once, 4 connections each: one per case."""
    procs = [start_wrk(live, case, 4, seconds) for case in cases]
    points = [finish_wrk(proc, seconds) for proc in procs]
    drain(live)
    return points


def flood(live: Running, args: argparse.Namespace) -> report.Flood:
    """Valid-key req/s beside 4 connections of other valid keys, and beside 4 connections
    sending wrong keys (alternating, 3 rounds, medians): equal when a wrong key costs what a
    valid one does."""
    guarded, badkey = CASES_BY_NAME["guarded"], CASES_BY_NAME["badkey"]
    if args.warmup:  # also brings the flooding address to its limit
        side_by_side(live, (guarded, badkey), args.warmup)
    rounds: dict[str, list[list[Point]]] = {"valid": [], "flood": []}
    for _ in range(3):
        for name, other in (("valid", guarded), ("flood", badkey)):
            log(f"{live.server.name}: valid keys beside {name} traffic")
            rounds[name].append(side_by_side(live, (guarded, other), args.duration))
    return report.Flood(
        beside_valid=statistics.median(points[0].rps for points in rounds["valid"]),
        beside_flood=statistics.median(points[0].rps for points in rounds["flood"]),
        flood=statistics.median(points[1].rps for points in rounds["flood"]),
        flood_status=probe(live, badkey))


def flood_test(live: Running, args: argparse.Namespace) -> dict[str, report.Flood]:
    """The flood on the running trylite (every failure counted), then on a second trylite
    with the default throttle (429 without writes past 10 failures)."""
    found = {live.server.name: flood(live, args)}
    with running(peer_trylite.throttled(live)) as throttled:
        wait_until_ok(throttled, throttled.server.paths["nodb"])
        found[throttled.server.name] = flood(throttled, args)
    return found


def run_extras(lives: list[Running], results: report.Results, args: argparse.Namespace) -> None:
    """RSS after warm-up, sleeping workers during key requests, trylite's key-table scale,
    valid keys during a flood of wrong ones."""
    if "rss" in args.extras:
        for live in lives:
            results.rss[live.server.name] = worker_rss_kib(live.proc.pid)
    for live in lives:
        name = live.server.name
        try:
            if "sleep" in args.extras and "keyrequest" in live.server.paths:
                results.key_sleep[name] = key_sleep_test(live, args)
            if name == "trylite" and "flood" in args.extras:
                results.flood = flood_test(live, args)
            if name == "trylite" and "scale" in args.extras:
                results.scale = scale_test(live, args)
        except Exception as error:
            _record_error(results, name, error)


def main(argv: list[str] | None = None) -> int:
    """Run the whole benchmark; servers are stopped on error, Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    results = report.Results(duration=args.duration, warmup=args.warmup,
                             load_before=os.getloadavg())
    try:
        envs.ensure_all()
        with ExitStack() as stack:
            lives = start_servers(args.servers.split(","), stack, results)
            run_cases(lives, results, args)
            run_extras(lives, results, args)
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130
    results.elapsed = time.monotonic() - started
    results.load_after = os.getloadavg()
    print(report.write(results, args.output))
    return 1 if results.errors else 0
