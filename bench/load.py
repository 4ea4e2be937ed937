"""Benchmark cases and the wrk runner."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from bench.common import APPLICATION, BENCH_DIR, KEYREQ_LOGIN, REPO_DIR
from bench.servers import Running, cpu_ticks, request, wait_until_ok

#: Clock ticks per second of /proc/PID/stat's CPU times.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Case:
    """One kind of request: body (POST when set), which key to send, expected status."""

    name: str
    body: str = ""
    auth: str = ""  # "", "good" or "bad"
    expect: int = 200


def _echo_body(size: int = 512) -> str:
    """A JSON object of exactly ``size`` bytes."""
    empty = json.dumps({"data": ""})
    return json.dumps({"data": "x" * (size - len(empty))})


CASES = [
    Case("nodb"),
    Case("transaction"),
    Case("guarded", auth="good"),
    Case("badkey", auth="bad", expect=401),
    Case("echo", body=_echo_body()),
    Case("keyrequest", body=json.dumps({"user": KEYREQ_LOGIN, "application": APPLICATION})),
]
CASES_BY_NAME = {case.name: case for case in CASES}


@dataclass
class Point:
    """What wrk measured for one case on one server at one concurrency."""

    requests: int
    duration_us: int
    p50_us: int
    p99_us: int
    non_2xx_3xx: int
    socket_errors: int
    timeouts: int
    cpu_ticks: int | None = None  # the server's CPU time while wrk ran (None: not sampled)

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def ok_rps(self) -> float:
        """Requests per second answered 2xx or 3xx."""
        return self.rps * (1 - self.non_2xx_3xx / self.requests) if self.requests else 0.0

    @property
    def cpu_ms(self) -> float | None:
        """The server's CPU time (user + system, master and workers) per answered request, in
        ms; None when not sampled or nothing was answered."""
        if self.cpu_ticks is None or not self.requests:
            return None
        return self.cpu_ticks * 1000 / CLOCK_TICKS / self.requests


def headers_for(live: Running, case: Case) -> dict[str, str]:
    """HTTP headers of ``case`` on ``live`` (the same Accept header everywhere)."""
    headers = {"Accept": "application/json"}
    key = {"good": live.server.key, "bad": live.server.bad_key}.get(case.auth)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if case.body:
        headers["Content-Type"] = "application/json"
    return headers


def probe(live: Running, case: Case) -> int:
    """Send ``case`` once and return the HTTP status."""
    method = "POST" if case.body else "GET"
    status, _ = request(live.url(live.server.paths[case.name]), method=method,
                        body=case.body.encode() or None, headers=headers_for(live, case))
    return status


def wrk_command(live: Running, case: Case, connections: int, seconds: float) -> list[str]:
    """The wrk command line for one measurement (wrk needs threads <= connections)."""
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{int(seconds)}s",
           "--timeout", "10s", "-s", str(BENCH_DIR / "wrk.lua")]
    for name, value in headers_for(live, case).items():
        if name != "Content-Type":  # wrk.lua sets it for bodies
            cmd += ["-H", f"{name}: {value}"]
    return [*cmd, live.url(live.server.paths[case.name])]


def start_wrk(live: Running, case: Case, connections: int, seconds: float) -> subprocess.Popen:
    """Start wrk in the background for one measurement."""
    return subprocess.Popen(wrk_command(live, case, connections, seconds), cwd=REPO_DIR,
                            env={**os.environ, "BENCH_BODY": case.body},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish_wrk(proc: subprocess.Popen, seconds: float) -> Point:
    """Wait for a wrk started by :func:`start_wrk` and parse its summary line.

    wrk is killed if anything goes wrong meanwhile (time-out, Ctrl-C, SIGTERM).
    """
    try:
        output, _ = proc.communicate(timeout=seconds + 30)
    finally:
        stop_wrk(proc)
    for line in output.splitlines():
        if line.startswith("BENCH_RESULT "):
            return Point(**json.loads(line.removeprefix("BENCH_RESULT ")))
    raise RuntimeError(f"wrk gave no result (exit {proc.returncode}):\n{output}")


def stop_wrk(proc: subprocess.Popen) -> None:
    """Kill a wrk that is still running."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def drain(live: Running) -> None:
    """Wait until requests left queued by a finished wrk are served (one nodb answer).

    wrk closes its connections when time is up, but a sync worker still serves what is
    already queued; with trytond's key route that is seconds of sleeping per request.
    """
    wait_until_ok(live, live.server.paths["nodb"], limit=120)


def measure(live: Running, case: Case, connections: int, seconds: float,
            warmup: float) -> Point:
    """Warm up, then measure ``case`` at ``connections`` for ``seconds``, with the server's CPU
    time over the measured seconds; drain after each."""
    if warmup:
        together(live, [(case, connections)], warmup)
    points, ticks = together(live, [(case, connections)], seconds)
    points[0].cpu_ticks = ticks
    return points[0]


def together(live: Running, loads: list[tuple[Case, int]],
             seconds: float) -> tuple[list[Point], int]:
    """Run one wrk per (case, connections) at once for ``seconds``, then drain; a point each,
    in order, and the server's CPU time (clock ticks) while they ran."""
    before = cpu_ticks(live.proc.pid)
    procs = [start_wrk(live, case, connections, seconds) for case, connections in loads]
    try:
        points = [finish_wrk(proc, seconds) for proc in procs]
    finally:
        for proc in procs:
            stop_wrk(proc)
    ticks = cpu_ticks(live.proc.pid) - before
    drain(live)
    return points, ticks
