"""In-process cost of each bench case: requests handed straight to trylite's WSGI app.

``.venv/bin/python -m bench.inprocess [--backend postgresql|sqlite] [--cases a,b]
[--requests N] [--profile CASE]`` prints the median and p90 CPU time (µs, process CPU clock)
of N requests per case, after a warm-up, with no HTTP server and no client in the way: what
:mod:`bench.changes` records before and after each change to the hot path. ``--profile CASE``
prints cProfile's top functions for one case instead.

It makes its own database (``bench_inprocess`` on the local PostgreSQL, or a SQLite folder
under ``bench/.work``) with the bench's person and a validated key, through trylite's API.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from werkzeug.test import EnvironBuilder

import bench.trylite_routes  # noqa: F401  (declares the bench routes on trylite's app)
from bench.common import APPLICATION, GUARDED_LOGIN, HOST, KEYREQ_LOGIN, PG_PORT, PG_USER, WORK_DIR
from bench.peer_trylite import RAISED_LIMITS
from trylite import settings, storage
from trylite.auth import keys
from trylite.auth.persons import User
from trylite.auth.tokens import KEY_PREFIX, checksum
from trylite.pool import create_database
from trylite.transaction import Transaction
from trylite.wsgi import app

DATABASE = "bench_inprocess"
URIS = {"postgresql": f"postgresql+psycopg://{PG_USER}@{HOST}:{PG_PORT}/",
        "sqlite": f"sqlite:///{WORK_DIR / 'inprocess-sqlite'}"}


def configure(backend: str) -> None:
    """trylite's settings for the bench: the backend's URI and the bench's raised limits."""
    limits = {name.removeprefix("TRYLITE_").lower(): value
              for name, value in RAISED_LIMITS.items()}
    sections: dict[str, dict[str, Any]] = {"database": {"uri": URIS[backend]}}
    for name, value in limits.items():
        section, key = name.split("__")
        sections.setdefault(section, {})[key] = int(value)
    settings.configure(settings.Settings().replace(**sections))


def prepare() -> tuple[str, str]:
    """A fresh database with the bench's two persons; a validated key and a wrong one."""
    backend = storage.backend()
    if backend.exists(DATABASE) or DATABASE in backend._candidates():
        backend.drop(DATABASE)
    create_database(DATABASE)
    with Transaction.start(DATABASE) as transaction:
        for login in (GUARDED_LOGIN, KEYREQ_LOGIN):
            transaction.session.add(User(login=login, name=login))
    with Transaction.start(DATABASE) as transaction:
        key = keys.request_key(GUARDED_LOGIN, APPLICATION, HOST)
        keys.act("validate", key.split("_", 2)[1])
    wrong = f"{KEY_PREFIX}_{key.split('_')[1]}_{'0' * 43}"
    return key, wrong + checksum(wrong)


def environs(key: str, wrong: str) -> dict[str, Callable[[], dict[str, Any]]]:
    """Each case's WSGI environ, made fresh for every request."""
    def make(path: str, method: str = "GET", body: Any = None, bearer: str | None = None
             ) -> Callable[[], dict[str, Any]]:
        headers = {"Accept": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        data = json.dumps(body) if body is not None else None
        builder = EnvironBuilder(path=path, method=method, headers=headers, data=data,
                                 content_type="application/json" if data else None,
                                 environ_base={"REMOTE_ADDR": HOST})
        environ = builder.get_environ()
        raw = data.encode() if data else b""
        return lambda: {**environ, "wsgi.input": io.BytesIO(raw)}
    return {
        "nodb": make("/bench/nodb"),
        "echo": make("/bench/echo", "POST", {"data": "x" * 500}),
        "transaction": make(f"/{DATABASE}/bench/count"),
        "guarded": make(f"/{DATABASE}/bench/whoami", bearer=key),
        "badkey": make(f"/{DATABASE}/bench/whoami", bearer=wrong),
        "keyrequest": make(f"/{DATABASE}/user/application/", "POST",
                           {"user": KEYREQ_LOGIN, "application": APPLICATION}),
    }


def call(environ: dict[str, Any]) -> str:
    """One request through the WSGI app; its status line."""
    status: list[str] = []
    body = app(environ, lambda s, h, e=None: status.append(s))
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return status[0]


def measure(make: Callable[[], dict[str, Any]], requests: int) -> tuple[float, float, str]:
    """Median and p90 CPU µs of *requests* requests, after as many warm-up requests."""
    for _ in range(min(requests, 200)):
        status = call(make())
    times = []
    for _ in range(requests):
        environ = make()
        start = time.process_time_ns()
        call(environ)
        times.append((time.process_time_ns() - start) / 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], status


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(URIS), default="postgresql")
    parser.add_argument("--cases", default="nodb,echo,transaction,guarded,badkey,keyrequest")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--profile", metavar="CASE")
    args = parser.parse_args(argv)
    configure(args.backend)
    made = environs(*prepare())
    if args.profile:
        for _ in range(200):
            call(made[args.profile]())
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.requests):
            call(made[args.profile]())
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(40)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(60)
        return
    print(f"{args.backend}, {args.requests} requests per case (CPU µs)")
    for case in args.cases.split(","):
        median, p90, status = measure(made[case], args.requests)
        print(f"{case:12} median {median:8.1f}  p90 {p90:8.1f}  {status}")


if __name__ == "__main__":
    main()
