"""Prepare trylite for the benchmark through its CLI and its key route."""

from __future__ import annotations

import json
from dataclasses import replace

from bench.common import (
    APPLICATION,
    DATABASE_PREFIX,
    GUARDED_LOGIN,
    HOST,
    KEYREQ_LOGIN,
    PG_PORT,
    PG_USER,
    WORK_DIR,
    log,
    psql,
    run,
)
from bench.envs import venv_bin
from bench.servers import Running, Server, request, running, wait_until_ok
from trylite.auth.tokens import KEY_PREFIX, checksum

DATABASE = f"{DATABASE_PREFIX}_trylite"
BIG_DATABASE = f"{DATABASE_PREFIX}_trylite_1m"
SQLITE_DIR = WORK_DIR / "trylite-sqlite"
#: Measure the 401 path of a wrong key, every failure counted, rather than the 429 that
#: trylite's throttle answers after 10 failures from one address; and key requests rather
#: than their refusal past 10 per address and login, or past 5 pending ones.
RAISED_LIMITS = {
    "TRYLITE_THROTTLE__MAX_FAILURES": "1000000000",
    "TRYLITE_THROTTLE__MAX_REQUESTS": "1000000000",
    "TRYLITE_USER_APPLICATION__MAX_PENDING": "1000000000",
}
ENV = {"TRYLITE_DATABASE__URI": f"postgresql+psycopg://{PG_USER}@{HOST}:{PG_PORT}/",
       **RAISED_LIMITS}
#: The same server on SQLite, trylite's embedded default (one file per database in a folder).
SQLITE_ENV = {**ENV, "TRYLITE_DATABASE__URI": f"sqlite:///{SQLITE_DIR}"}
#: What trylite counts a wrong key against: the client's address (the bench's is 127.0.0.1).
KEY_SUBJECT = f"key:{HOST}"


def cli(*args: str, stdin: str | None = None, env: dict[str, str] = ENV,
        check: bool = True) -> str:
    """Run trylite's CLI from the bench venv with ``env`` and return its stdout."""
    return run([venv_bin("trylite", "trylite"), *args], env=env, input=stdin,
               check=check).stdout


def server(key: str = "", database: str = DATABASE, name: str = "trylite",
           env: dict[str, str] = ENV) -> Server:
    """The trylite server description (gunicorn target ``bench.trylite_wsgi:app``)."""
    public_id = key.split("_")[1] if key else "0" * 12
    wrong = f"{KEY_PREFIX}_{public_id}_{'0' * 43}"  # well formed: looked up, then refused
    return Server(
        name=name, venv="trylite", target="bench.trylite_wsgi:app", env=env, key=key,
        bad_key=wrong + checksum(wrong),
        paths={"nodb": "/bench/nodb", "echo": "/bench/echo",
               "transaction": f"/{database}/bench/count",
               "guarded": f"/{database}/bench/whoami",
               "badkey": f"/{database}/bench/whoami",
               "keyrequest": f"/{database}/user/application/"})


def create_database(database: str, env: dict[str, str] = ENV) -> None:
    """(Re)create a trylite database with the two bench users, through the CLI."""
    cli("db", "drop", database, "--yes", env=env, check=False)  # fails when there is none
    cli("db", "create", database, env=env)
    for login in (GUARDED_LOGIN, KEYREQ_LOGIN):
        cli("user", "create", "-d", database, login, "--name", login,
            "--password-stdin", stdin="bench-password\n", env=env)


def issue_key(live: Running, database: str) -> str:
    """Request a key for the guarded user over HTTP and validate it with the CLI."""
    body = json.dumps({"user": GUARDED_LOGIN, "application": APPLICATION}).encode()
    status, answer = request(live.url(f"/{database}/user/application/"), method="POST",
                             body=body, headers={"Content-Type": "application/json"})
    if status != 200:
        raise RuntimeError(f"trylite key request answered {status}: {answer[:500]!r}")
    key = json.loads(answer)
    cli("application", "validate", "-d", database, key.split("_", 2)[1], env=live.server.env)
    return key


def throttled(live: Running) -> Server:
    """The server of ``live`` with trylite's default throttle."""
    env = {name: value for name, value in live.server.env.items()
           if name not in RAISED_LIMITS}
    return replace(live.server, name=f"{live.server.name}-throttled", env=env)


def _setup(name: str, env: dict[str, str]) -> Server:
    """Create the database and users, request a key and validate it with the CLI."""
    log(f"{name}: creating database, users and a validated key")
    create_database(DATABASE, env)
    with running(server(name=name, env=env)) as live:  # started only to request the key
        wait_until_ok(live, live.server.paths["nodb"])
        return server(issue_key(live, DATABASE), name=name, env=env)


def setup() -> Server:
    """trylite on the local PostgreSQL, ready to measure."""
    return _setup("trylite", ENV)


def setup_sqlite() -> Server:
    """trylite on SQLite files in ``bench/.work/trylite-sqlite``, ready to measure."""
    return _setup("trylite-sqlite", SQLITE_ENV)


def _on_key_failures(sql: str, database: str) -> str | None:
    """Run ``sql`` on trylite's ``trylite_throttle`` rows of the bench's address (``{rows}`` in
    ``sql``) on PostgreSQL; its output, or None when the table cannot be read."""
    try:
        return psql(sql.format(rows=f"trylite_throttle WHERE subject = '{KEY_SUBJECT}'"),
                    database)
    except RuntimeError:
        return None


def failures_counted(database: str = DATABASE) -> int | None:
    """The wrong keys trylite has counted against the bench's address in its current window;
    None if they cannot be read."""
    found = _on_key_failures(
        "SELECT failures FROM {rows} AND window_end > extract(epoch FROM now())", database)
    return None if found is None else int(found or 0)


def forget_failures(database: str = DATABASE) -> None:
    """Delete the wrong keys counted against the bench's address, so that a measurement starts
    from none whatever ran before it."""
    _on_key_failures("DELETE FROM {rows}", database)


def with_keys(live: Running, database: str, total: int) -> Running:
    """``live`` pointed at ``database`` holding ``total`` validated keys, one of them real."""
    log(f"trylite: {database} with {total:,} keys")
    if database != DATABASE:
        create_database(database)
        live = replace(live, server=server(issue_key(live, database), database))
    fill_keys(database, live.server.key.split("_", 2)[1], total)
    return live


def fill_keys(database: str, real_public_id: str, total: int) -> None:
    """Leave ``total`` validated keys in trylite's table: the real one plus fake rows.

    Fake rows belong to the key-request user, so the guarded user's lookups stay the same;
    this follows trylite's ``res_user_application`` table (public_id, secret_hash, login, ...).
    """
    psql(f"""
        DELETE FROM res_user_application WHERE public_id <> '{real_public_id}';
        INSERT INTO res_user_application
            (public_id, secret_hash, user_id, login, application, state, created, validated)
        SELECT 'f' || lpad(to_hex(g), 11, '0'), md5(g::text) || md5(g::text),
               (SELECT id FROM res_user WHERE login = '{KEYREQ_LOGIN}'), '{KEYREQ_LOGIN}',
               '{APPLICATION}', 'validated', now(), now()
        FROM generate_series(1, {total - 1}) AS g
        ON CONFLICT (public_id) DO NOTHING;
        """, database)
    psql("VACUUM ANALYZE res_user_application", database)  # not inside a transaction
    psql("CHECKPOINT", database)  # so the insert's writes do not land inside the measurement
