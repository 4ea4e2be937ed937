"""Start, probe, measure and stop the gunicorn servers under test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import HOST, REPO_DIR, WORK_DIR, WORKERS, log
from bench.envs import venv_bin


@dataclass
class Server:
    """One system under test: which venv, which WSGI target, which URL per case."""

    name: str
    venv: str
    target: str
    paths: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    key: str = ""
    bad_key: str = ""


@dataclass
class Running:
    """A started gunicorn master process and where it listens."""

    server: Server
    proc: subprocess.Popen
    port: int
    started: float

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return f"http://{HOST}:{self.port}{path}"


def free_port() -> int:
    """A TCP port on the loopback interface that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def gunicorn_command(server: Server, port: int) -> list[str]:
    """The gunicorn command line; identical flags for every server."""
    return [venv_bin(server.venv, "gunicorn"), "--workers", str(WORKERS),
            "--worker-class", "sync", "--bind", f"{HOST}:{port}", "--chdir", str(REPO_DIR),
            "--timeout", "120", "--log-level", "warning", server.target]


@contextmanager
def running(server: Server) -> Iterator[Running]:
    """Run ``server`` under gunicorn for the duration of the ``with`` block."""
    port = free_port()
    WORK_DIR.mkdir(exist_ok=True)
    log_path = WORK_DIR / f"{server.name}-gunicorn.log"
    log(f"starting {server.name} on port {port} (log: {log_path})")
    with open(log_path, "w") as log_file:
        started = time.monotonic()
        proc = subprocess.Popen(gunicorn_command(server, port), env={**os.environ, **server.env},
                                stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=REPO_DIR)
        try:
            yield Running(server, proc, port, started)
        finally:
            stop(proc, server.name)


def stop(proc: subprocess.Popen, name: str) -> None:
    """Stop a gunicorn master and its workers (quick shutdown, then SIGKILL)."""
    if proc.poll() is None:
        log(f"stopping {name}")
        _signal_group(proc, signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)
    _signal_group(proc, signal.SIGKILL)  # any worker left behind by the master


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to the process group led by ``proc``, ignoring a gone group."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)


def request(url: str, *, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """One HTTP request with the standard library; returns (status, body)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_ok(live: Running, path: str, headers: dict[str, str] | None = None,
                  limit: float = 120) -> float:
    """Poll ``path`` until it answers 200; return seconds since the server was started."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if live.proc.poll() is not None:
            raise RuntimeError(f"{live.server.name} exited with {live.proc.returncode}; "
                               f"see {WORK_DIR / (live.server.name + '-gunicorn.log')}")
        try:
            if request(live.url(path), headers=headers, timeout=2)[0] == 200:
                return time.monotonic() - live.started
        except OSError:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"{live.server.name} did not answer 200 on {path} within {limit} s")


def _status_fields(pid: int) -> dict[str, str]:
    """Fields of /proc/PID/status ({} if the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def worker_pids(master_pid: int) -> list[int]:
    """Process ids of the children (gunicorn workers) of ``master_pid``."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return sorted(pid for pid in pids
                  if _status_fields(pid).get("PPid", "").strip() == str(master_pid))


def _stat_ticks(pid: int) -> list[int]:
    """utime, stime, cutime and cstime of ``pid`` in clock ticks ([] if it is gone).

    /proc/PID/stat's fields 14-17; the command name in field 2 may hold spaces, so the
    fields are counted from its closing parenthesis.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return [int(value) for value in text[text.rindex(")") + 2:].split()[11:15]]


def cpu_ticks(master_pid: int) -> int:
    """CPU time (user + system, clock ticks) used so far by a gunicorn master and its workers.

    The master's ``cutime + cstime`` hold the workers it has already reaped, so a worker
    replaced in the meantime is still counted.
    """
    total = sum(_stat_ticks(master_pid))
    for pid in worker_pids(master_pid):
        total += sum(_stat_ticks(pid)[:2])
    return total


def worker_rss_kib(master_pid: int) -> list[int]:
    """VmRSS (KiB) of each gunicorn worker of ``master_pid``."""
    sizes = (_status_fields(pid).get("VmRSS", "0 kB") for pid in worker_pids(master_pid))
    return [int(size.split()[0]) for size in sizes]


def sample_sleeping(pids: list[int], seconds: float, interval: float = 0.005) -> tuple[int, int]:
    """Sample each worker's kernel wait channel; return (samples asleep, all samples).

    A worker in ``time.sleep`` waits in a ``*nanosleep`` kernel function; waiting for a
    socket or the database shows other channels, running shows ``0``.
    """
    asleep = total = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid in pids:
            try:
                channel = Path(f"/proc/{pid}/wchan").read_text()
            except OSError:
                continue
            total += 1
            asleep += "nanosleep" in channel
        time.sleep(interval)
    return asleep, total
