"""Prepare trylite for the benchmark through its CLI and its key route."""

from __future__ import annotations

import json

from bench.common import (
    APPLICATION,
    GUARDED_LOGIN,
    HOST,
    KEYREQ_LOGIN,
    PG_PORT,
    PG_USER,
    log,
    psql,
    run,
)
from bench.envs import venv_bin
from bench.servers import Server, request, running, wait_until_ok

DATABASE = "bench_trylite"
ENV = {
    "TRYLITE_DATABASE__URI": f"postgresql+psycopg://{PG_USER}@{HOST}:{PG_PORT}/",
    # Measure the 401 path of a wrong key (failures are still counted) rather than the
    # 429 that trylite's throttle answers after 10 failures from one address.
    "TRYLITE_THROTTLE__MAX_FAILURES": "1000000000",
}


def cli(*args: str, stdin: str | None = None) -> str:
    """Run trylite's CLI from the bench venv and return its stdout."""
    return run([venv_bin("trylite", "trylite"), *args], env=ENV, input=stdin).stdout


def server(key: str = "") -> Server:
    """The trylite server description (gunicorn target ``bench.trylite_wsgi:app``)."""
    prefix, public_id, secret = key.split("_", 2) if key else ("trylite", "0" * 12, "0" * 43)
    return Server(
        name="trylite", venv="trylite", target="bench.trylite_wsgi:app", database=DATABASE,
        env=ENV, key=key, bad_key=f"{prefix}_{public_id}_{'0' * len(secret)}",
        paths={"nodb": "/bench/nodb", "echo": "/bench/echo",
               "transaction": f"/{DATABASE}/bench/count",
               "guarded": f"/{DATABASE}/bench/whoami",
               "badkey": f"/{DATABASE}/bench/whoami",
               "keyrequest": f"/{DATABASE}/user/application/"})


def request_key(base: Server, login: str) -> str:
    """Request a key for ``login`` over HTTP (server started just for this)."""
    body = json.dumps({"user": login, "application": APPLICATION}).encode()
    with running(base) as live:
        wait_until_ok(live, base.paths["nodb"])
        status, answer = request(live.url(base.paths["keyrequest"]), method="POST", body=body,
                                 headers={"Content-Type": "application/json"})
    if status != 200:
        raise RuntimeError(f"trylite key request answered {status}: {answer[:500]!r}")
    return json.loads(answer)


def setup() -> Server:
    """Create the database and users, request a key and validate it with the CLI."""
    log("trylite: creating database, users and a validated key")
    psql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    cli("db", "create", DATABASE)
    for login in (GUARDED_LOGIN, KEYREQ_LOGIN):
        cli("user", "create", "-d", DATABASE, login, "--name", login,
            "--password-stdin", stdin="bench-password\n")
    key = request_key(server(), GUARDED_LOGIN)
    cli("application", "validate", "-d", DATABASE, key.split("_", 2)[1])
    return server(key)


def set_key_count(base: Server, total: int) -> None:
    """Leave ``total`` validated keys in trylite's table: the real one plus fake rows.

    Fake rows belong to the key-request user, so the guarded user's lookups stay the same;
    this follows trylite's ``res_user_application`` table (public_id, secret_hash, ...).
    """
    public_id = base.key.split("_", 2)[1]
    psql(f"""
        DELETE FROM res_user_application WHERE public_id <> '{public_id}';
        INSERT INTO res_user_application
            (public_id, secret_hash, user_id, application, state, created, validated)
        SELECT 'f' || lpad(to_hex(g), 11, '0'), md5(g::text) || md5(g::text),
               (SELECT id FROM res_user WHERE login = '{KEYREQ_LOGIN}'),
               '{APPLICATION}', 'validated', now(), now()
        FROM generate_series(1, {total - 1}) AS g
        ON CONFLICT (public_id) DO NOTHING;
        ANALYZE res_user_application;
        """, DATABASE)


def version() -> str:
    """Installed trylite version."""
    return run([venv_bin("trylite", "python"), "-c",
                "import trylite; print(trylite.__version__)"]).stdout.strip()
