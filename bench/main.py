"""Orchestration of ``python -m bench``: install, set up, measure, report.

The servers are started one after the other (so each start-up is timed alone) and then kept
running together; every point is measured on each server in turn, so load from elsewhere on
the machine drifts over all of them alike instead of over one.
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
    CLOCK_TICKS,
    Point,
    drain,
    finish_wrk,
    measure,
    probe,
    start_wrk,
    stop_wrk,
    together,
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

EXTRAS = ("rss", "sleep", "scale", "flood", "rounds")

CONCURRENCIES = (1, 4, 16, 64)
SETUPS: dict[str, Callable[[], Server]] = {
    "bare": bare.server, "trylite": peer_trylite.setup,
    "trylite-sqlite": peer_trylite.setup_sqlite, "trytond": peer_trytond.setup}


def _names(text: str) -> list[str]:
    """The names of a comma-separated option (empty: none)."""
    return [name for name in text.split(",") if name]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (defaults keep a full run at about 7 minutes on 2 cores)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=int, default=2, help="seconds measured per point")
    parser.add_argument("--warmup", type=int, default=1,
                        help="warm-up seconds per server and case (before its first point)")
    parser.add_argument("--servers", default=",".join(SETUPS),
                        help=f"comma-separated subset of {','.join(SETUPS)}")
    parser.add_argument("--concurrencies", default=",".join(map(str, CONCURRENCIES)),
                        help="comma-separated connection counts per case")
    parser.add_argument("--cases", default=",".join(CASES_BY_NAME),
                        help="comma-separated subset of the cases (empty: none)")
    parser.add_argument("--extras", default=",".join(EXTRAS),
                        help=f"comma-separated subset of {','.join(EXTRAS)} (empty: none)")
    parser.add_argument("--no-scale", action="store_true",
                        help="skip trylite's 100 vs 1,000,000 keys measurement")
    parser.add_argument("--no-chart", action="store_true",
                        help="write no chart beside the report")
    parser.add_argument("--output", type=Path,
                        help="report file (default bench/results/<date>-<machine>.md, "
                             "-<HHMM> added if that exists; the chart is the same path "
                             "ending in .png)")
    args = parser.parse_args(argv)
    args.cases = _names(args.cases)
    args.servers = _names(args.servers)
    args.extras = set(_names(args.extras)) - ({"scale"} if args.no_scale else set())
    unknown = [*set(args.cases) - set(CASES_BY_NAME), *args.extras - set(EXTRAS),
               *set(args.servers) - set(SETUPS)]
    if unknown:
        parser.error(f"unknown case, extra or server: {', '.join(unknown)}")
    try:
        args.concurrencies = sorted({int(number) for number in _names(args.concurrencies)})
    except ValueError:
        parser.error("--concurrencies takes whole numbers")
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
    """Measure every case at every concurrency, each point on every server in turn; each
    server warms up on a case before its first point of that case."""
    for case in [case for case in CASES if case.name in args.cases]:
        for connections in args.concurrencies:
            warmup = args.warmup if connections == args.concurrencies[0] else 0
            for live in [live for live in lives if case.name in live.server.paths]:
                name = live.server.name
                log(f"{case.name} c={connections} {name}")
                try:
                    results.status.setdefault((name, case.name), probe(live, case))
                    results.points[name, case.name, connections] = measure(
                        live, case, connections, args.duration, warmup)
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


def flood(live: Running, args: argparse.Namespace) -> report.Flood:
    """Valid-key req/s alone, and while more connections send wrong keys from the same
    address (alternating, 3 rounds, medians); the failures written and the server's CPU time
    per request during the flood rounds."""
    guarded, badkey = CASES_BY_NAME["guarded"], CASES_BY_NAME["badkey"]
    alone = [(guarded, report.FLOOD_VALID)]
    beside = [*alone, (badkey, report.FLOOD_WRONG)]
    peer_trylite.forget_failures()
    if args.warmup:
        together(live, beside, args.warmup)
    to_the_limit(live)
    counted_before = peer_trylite.failures_counted()
    rounds: dict[str, list[tuple[list[Point], int]]] = {"alone": [], "beside wrong keys": []}
    for _ in range(3):
        for name, loads in (("alone", alone), ("beside wrong keys", beside)):
            log(f"{live.server.name}: valid keys {name}")
            rounds[name].append(together(live, loads, args.duration))
    counted_after = peer_trylite.failures_counted()
    flooded = [points for points, _ in rounds["beside wrong keys"]]
    ticks = sum(ticks for _, ticks in rounds["beside wrong keys"])
    return report.Flood(
        alone=statistics.median(points[0].ok_rps for points, _ in rounds["alone"]),
        beside_flood=statistics.median(valid.ok_rps for valid, _ in flooded),
        flood=statistics.median(wrong.rps for _, wrong in flooded),
        flood_status=probe(live, badkey),
        valid_refused=sum(valid.non_2xx_3xx for valid, _ in flooded),
        counted=_counted(counted_before, counted_after),
        cpu_ms=ticks * 1000 / CLOCK_TICKS / max(1, sum(
            point.requests for points in flooded for point in points)))


def to_the_limit(live: Running, tries: int = 50) -> None:
    """Send wrong keys one at a time until the server answers 429 (at most ``tries``): a
    throttle at its limit before the rounds, whatever the warm-up."""
    badkey = CASES_BY_NAME["badkey"]
    for _ in range(tries):
        if probe(live, badkey) == 429:
            return


def _counted(before: int | None, after: int | None) -> int | None:
    """Failures written between two readings of the count (a new window restarts it)."""
    if before is None or after is None:
        return None
    return after - before if after >= before else after


def flood_test(live: Running, args: argparse.Namespace) -> dict[str, report.Flood]:
    """The flood on the running trylite (every failure counted), then on a second trylite
    with the default throttle (429 without writes past 10 failures)."""
    found = {live.server.name: flood(live, args)}
    with running(peer_trylite.throttled(live)) as throttled:
        wait_until_ok(throttled, throttled.server.paths["nodb"])
        found[throttled.server.name] = flood(throttled, args)
    return found


def goal_rounds(lives: list[Running], args: argparse.Namespace) -> dict[str, list[float]]:
    """trylite's req/s ÷ its peer's for each case whose ratio is a goal, at the goals'
    concurrency, in 3 rounds; in each, the two servers are measured one right after the other
    (trylite first, then the peer first, then trylite first), so that a verdict does not hang
    on two points measured a minute apart on a machine whose load drifts."""
    by_name = {live.server.name: live for live in lives}
    ratios: dict[str, list[float]] = {}
    for number in range(3):
        for case_name, peer in report.GOAL_RATIOS.items():
            if "trylite" not in by_name or peer not in by_name:
                continue
            case, pair = CASES_BY_NAME[case_name], ["trylite", peer]
            rates = {}
            for name in pair if number % 2 == 0 else reversed(pair):
                log(f"goals, round {number + 1}: {case_name} c={report.GOAL_CONNECTIONS} {name}")
                rates[name] = measure(by_name[name], case, report.GOAL_CONNECTIONS,
                                      args.duration, 0).rps
            if rates[peer]:
                ratios.setdefault(case_name, []).append(rates["trylite"] / rates[peer])
    return ratios


def run_extras(lives: list[Running], results: report.Results, args: argparse.Namespace) -> None:
    """RSS after warm-up, the goals' ratios in alternating rounds, sleeping workers during key
    requests, trylite's key-table scale, valid keys during a flood of wrong ones."""
    if "rss" in args.extras:
        for live in lives:
            results.rss[live.server.name] = worker_rss_kib(live.proc.pid)
    if "rounds" in args.extras:
        try:
            results.rounds = goal_rounds(lives, args)
        except Exception as error:
            _record_error(results, "rounds", error)
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
        envs.ensure_all(chart=not args.no_chart)
        with ExitStack() as stack:
            lives = start_servers(args.servers, stack, results)
            run_cases(lives, results, args)
            run_extras(lives, results, args)
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130
    results.elapsed = time.monotonic() - started
    results.load_after = os.getloadavg()
    print(report.write(results, args.output, with_chart=not args.no_chart))
    return 1 if results.errors else 0
