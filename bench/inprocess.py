"""In-process cost of each bench case: requests handed straight to trylite's WSGI app.

``.venv/bin/python -m bench.inprocess [--backend postgresql|sqlite] [--cases a,b]
[--requests N] [--profile CASE] [--bounds]`` prints the median and p90 CPU time (µs, process
CPU clock) of N requests per case, after a warm-up, with no HTTP server and no client in the
way: what :mod:`bench.changes` records before and after each change to the hot path.
On PostgreSQL it also gives the CPU time the local server's processes spent per request.
``--profile CASE`` prints cProfile's top functions for one case instead; ``--bounds`` the
parts the ``guarded`` and ``transaction`` cases are made of, and what ``guarded`` would cost
with no key round trip at all (the key's row served from memory, as a worker-local copy of
the keys would at best): what bounds their goals (the results' "What bounds" section).

It makes its own database (``bench_inprocess`` on the local PostgreSQL, or a SQLite folder
under ``bench/.work``) with the bench's person and a validated key, through trylite's API.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
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
from trylite.wrappers import with_pool, with_transaction
from trylite.wsgi import app

DATABASE = "bench_inprocess"
#: Clock ticks per second of /proc/PID/stat's CPU times.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
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


def postgres_cpu_us() -> float:
    """The CPU time (µs, user + system) the local PostgreSQL's processes have used so far."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition("(")[2].partition(")")
        if name.startswith("postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total * 1e6 / CLOCK_TICKS


def measure(make: Callable[[], dict[str, Any]], requests: int
            ) -> tuple[float, float, float, str]:
    """Median and p90 CPU µs of *requests* requests, after as many warm-up requests, and the
    mean CPU µs of the local PostgreSQL's processes per request (0 on SQLite)."""
    for _ in range(min(requests, 200)):
        status = call(make())
    times = []
    before = postgres_cpu_us()
    for _ in range(requests):
        environ = make()
        start = time.process_time_ns()
        call(environ)
        times.append((time.process_time_ns() - start) / 1000)
    postgres = (postgres_cpu_us() - before) / requests
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], postgres, status


@app.route("/<database_name>/bench/inprocess/empty", methods=["GET"])
@with_pool
@with_transaction()
def empty(request, pool):
    """A transaction that runs nothing: what the wrappers cost."""
    return {"users": 0}


def cpu_us(func: Callable[[], Any], times: int = 3000) -> float:
    """Median CPU µs of ``func()`` after a warm-up."""
    for _ in range(300):
        func()
    spent = []
    for _ in range(times):
        start = time.process_time_ns()
        func()
        spent.append((time.process_time_ns() - start) / 1000)
    return statistics.median(spent)


def bounds(made: dict[str, Callable[[], dict[str, Any]]], key: str, requests: int) -> None:
    """The parts of ``guarded`` and ``transaction``, and ``guarded`` without a key round
    trip."""
    count = select(func.count()).select_from(User)
    raw_select = b"SELECT count(*) FROM res_user"

    def in_transaction(part: Callable[[Transaction], Any]) -> Callable[[], None]:
        def run() -> None:
            with Transaction.start(DATABASE, readonly=True) as transaction:
                transaction.session.scalar(count)  # BEGIN sent: what follows is measured
                start = time.process_time_ns()
                part(transaction)
                parts.append((time.process_time_ns() - start) / 1000)
        return run

    lines = []
    for name, part in [
            ("the route's statement built (select(func.count())...)",
             lambda t: select(func.count()).select_from(User)),
            ("the statement through the ORM session (session.scalar)",
             lambda t: t.session.scalar(count)),
            ("the statement through SQLAlchemy Core (connection.scalar)",
             lambda t: t.connection.scalar(count)),
            ("the statement on the driver (one round trip)",
             lambda t: t.connection.connection.dbapi_connection.pgconn.exec_(raw_select)
             if t.backend.__class__.__name__ == "PostgreSQLBackend"
             else t.connection.exec_driver_sql(raw_select.decode()).scalar())]:
        parts: list[float] = []
        cpu_us(in_transaction(part), requests)
        lines.append((name, statistics.median(parts)))
    environ = made["guarded"]
    call(environ())  # the key's use recorded: its row says so
    with Transaction.start(DATABASE, readonly=True):
        found = keys.find(key)
    real_find = keys.find
    try:
        keys.find = lambda token: found if token == key else real_find(token)  # type: ignore[assignment]
        from_memory = cpu_us(lambda: call(environ()), requests)
    finally:
        keys.find = real_find  # type: ignore[assignment]
    print("request parts (CPU µs, median):")
    for case in ("nodb", "transaction", "guarded"):
        print(f"  {case:60} {cpu_us(lambda: call(made[case]()), requests):8.1f}")
    empty_route = EnvironBuilder(path=f"/{DATABASE}/bench/inprocess/empty",
                                 headers={"Accept": "application/json"},
                                 environ_base={"REMOTE_ADDR": HOST}).get_environ()
    print(f"  {'a with_pool + with_transaction route that runs nothing':60} "
          f"{cpu_us(lambda: call({**empty_route, 'wsgi.input': io.BytesIO()}), requests):8.1f}")
    print(f"  {'guarded, its key row served from memory (no round trip)':60} {from_memory:8.1f}")
    print("inside a begun read-only transaction:")
    for name, spent in lines:
        print(f"  {name:60} {spent:8.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(URIS), default="postgresql")
    parser.add_argument("--cases", default="nodb,echo,transaction,guarded,badkey,keyrequest")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--profile", metavar="CASE")
    parser.add_argument("--bounds", action="store_true")
    args = parser.parse_args(argv)
    configure(args.backend)
    key, wrong = prepare()
    made = environs(key, wrong)
    if args.bounds:
        bounds(made, key, args.requests)
        return
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
    print(f"{args.backend}, {args.requests} requests per case (CPU µs; PostgreSQL's "
          "processes: mean per request)")
    for case in args.cases.split(","):
        median, p90, postgres, status = measure(made[case], args.requests)
        print(f"{case:12} median {median:8.1f}  p90 {p90:8.1f}  PostgreSQL {postgres:7.1f}"
              f"  {status}")


if __name__ == "__main__":
    main()
