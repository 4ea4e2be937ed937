"""Paths, constants and small process helpers shared by the bench modules."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
RESULTS_DIR = BENCH_DIR / "results"

HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
WORKERS = 2
APPLICATION = "bench"
GUARDED_LOGIN = "bench"
KEYREQ_LOGIN = "benchkeys"
#: Prefix of the PostgreSQL databases the bench (re)creates: another checkout's bench can run
#: on the same PostgreSQL without dropping this one's (``BENCH_DATABASE_PREFIX=mine``).
DATABASE_PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "bench")


_STARTED = time.monotonic()


def log(message: str) -> None:
    """Print a progress line, with the seconds since the bench started, to stderr so stdout
    stays for the results."""
    print(f"[bench {time.monotonic() - _STARTED:4.0f} s] {message}", file=sys.stderr,
          flush=True)


def run(cmd: list[str], *, env: dict | None = None, input: str | None = None,
        timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` capturing text output; raise with its output on failure."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, env=full_env, input=input, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_DIR)
    if check and proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                           f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def psql(sql: str, database: str = "postgres") -> str:
    """Run SQL on the local PostgreSQL through psql and return its unaligned output."""
    cmd = ["psql", "-h", HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", database,
           "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql]
    return run(cmd, timeout=900).stdout.strip()


def recreate_database(name: str) -> None:
    """Drop (if present) and create an empty PostgreSQL database."""
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"')
