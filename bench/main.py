"""Orchestration of ``python -m bench``: install, set up, measure, report."""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from collections.abc import Callable

from bench import bare, envs, peer_trylite, peer_trytond, report
from bench.common import log
from bench.load import CASES, CASES_BY_NAME, finish_wrk, measure, probe, start_wrk
from bench.servers import Running, Server, running, wait_until_ok, worker_rss_kib

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
    parser.add_argument("--no-scale", action="store_true",
                        help="skip trylite's 100 vs 1,000,000 keys measurement")
    return parser.parse_args(argv)


def run_cases(live: Running, results: report.Results, args: argparse.Namespace) -> None:
    """Measure every case the server answers, at every concurrency."""
    name = live.server.name
    for case in CASES:
        if case.name not in live.server.paths:
            continue
        results.status[name, case.name] = probe(live, case)
        for connections in CONCURRENCIES:
            log(f"{name} {case.name} c={connections}")
            results.points[name, case.name, connections] = measure(
                live, case, connections, args.duration, args.warmup)


def key_sleep_test(live: Running, args: argparse.Namespace) -> report.KeySleep:
    """Latency of nodb requests (c=1) while 4 key requests are constantly in flight."""
    log(f"{live.server.name}: nodb latency during key requests")
    keys = start_wrk(live, CASES_BY_NAME["keyrequest"], 4, args.duration + 2)
    time.sleep(1)
    nodb = measure(live, CASES_BY_NAME["nodb"], 1, args.duration, 0)
    return report.KeySleep(nodb=nodb, keys=finish_wrk(keys, args.duration + 2))


def scale_test(live: Running, args: argparse.Namespace) -> dict[int, float]:
    """trylite's guarded req/s (c=4) with 100 and with 1,000,000 keys in its table."""
    rates = {}
    for total in (100, 1_000_000):
        log(f"trylite: guarded route with {total:,} keys")
        peer_trylite.set_key_count(live.server, total)
        rates[total] = measure(live, CASES_BY_NAME["guarded"], 4, args.duration,
                               args.warmup).rps
    return rates


def bench_server(server: Server, results: report.Results, args: argparse.Namespace) -> None:
    """Start ``server``, measure everything about it, stop it."""
    with running(server) as live:
        results.startup[server.name] = wait_until_ok(live, server.paths["nodb"])
        run_cases(live, results, args)
        results.rss[server.name] = worker_rss_kib(live.proc.pid)
        if "keyrequest" in server.paths:
            results.key_sleep[server.name] = key_sleep_test(live, args)
        if server.name == "trylite" and not args.no_scale:
            results.scale = scale_test(live, args)


def main(argv: list[str] | None = None) -> int:
    """Run the whole benchmark; servers are stopped on error, Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    results = report.Results(duration=args.duration, warmup=args.warmup)
    try:
        envs.ensure_all()
        for name in args.servers.split(","):
            try:
                bench_server(SETUPS[name](), results, args)
            except Exception as error:
                log(f"{name} failed: {error}")
                results.errors[name] = "".join(traceback.format_exception_only(error)).strip()
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130
    results.elapsed = time.monotonic() - started
    print(report.write(results))
    return 1 if results.errors else 0
