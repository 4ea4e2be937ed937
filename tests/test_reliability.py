"""Reliability of ``trylite serve`` (gunicorn, 2 gthread workers) under faults and load.

* a PostgreSQL outage mid-load (its backends terminated; the cluster itself is never touched):
  503 JSON meanwhile, recovery without restart, no acknowledged write lost, none half-applied;
* a worker SIGKILLed during a write: rolled back, replaced, other requests answered;
* 16 clients incrementing one counter: no 500, no lost update;
* slow clients (stalled headers, trickled bodies) do not stop other requests, and stalled
  ones are dropped after ``[web] client_timeout``;
* what is not HTTP is refused by gunicorn without harm.

Every loop is bounded in count and time; the servers stop with the test.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from tests.conftest import PG_URI
from tests.helpers import bearer, create_user, validated_key
from tests.routes import Counter, Ledger
from trylite import storage
from trylite.transaction import Transaction

pytestmark = pytest.mark.slow


# -- helpers ---------------------------------------------------------------------------------
def port_of(base: str) -> int:
    return urlsplit(base).port  # type: ignore[return-value]


def server_pids(base: str) -> tuple[int, set[int]]:
    """The gunicorn master serving *base* and its worker processes."""
    flag = f'\0--port\0{port_of(base)}\0'.encode()
    pids = {}
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if flag in (entry / 'cmdline').read_bytes():
                pids[int(entry.name)] = int((entry / 'stat').read_text().rsplit(')', 1)[1]
                                            .split()[1])
        except OSError:
            continue
    masters = [pid for pid, ppid in pids.items() if ppid not in pids]
    assert len(masters) == 1, pids
    return masters[0], {pid for pid, ppid in pids.items() if ppid == masters[0]}


def socket_owner(server_port: int, client_port: int, pids: set[int]) -> int:
    """Which of *pids* holds the server side of the TCP connection from *client_port*."""
    inode = None
    for line in Path('/proc/net/tcp').read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(':')[1], fields[2].split(':')[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            inode = fields[9]
    assert inode is not None, 'connection not found'
    for pid in pids:
        for fd in Path(f'/proc/{pid}/fd').iterdir():
            try:
                if os.readlink(fd) == f'socket:[{inode}]':
                    return pid
            except OSError:
                continue
    raise AssertionError('no worker holds the connection')


def wait_until(condition: Callable[[], object], timeout: float = 20.0,
               message: str = 'condition') -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f'{message} not reached within {timeout} s')


def ledger_batches(db: str) -> dict[str, int]:
    """Rows per batch in ``test_ledger``."""
    with Transaction.start(db, readonly=True) as transaction:
        rows = transaction.connection.execute(
            select(Ledger.batch, func.count()).group_by(Ledger.batch))
        return dict(rows.all())


def counter_value(db: str, name: str) -> int | None:
    with Transaction.start(db, readonly=True) as transaction:
        return transaction.connection.execute(
            select(Counter.value).where(Counter.name == name)).scalar()


def assert_json_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers['Content-Type'] == 'application/json'
    assert response.json()['status'] == status


@pytest.fixture
def pg_only(backend_uri: str) -> None:
    if not backend_uri.startswith('postgresql'):
        pytest.skip('PostgreSQL only: an outage of the database server')


@pytest.fixture
def pg_admin(pg_only: None) -> Iterator[Callable[[str, str], list]]:
    """Run SQL on the maintenance database (autocommit), outside trylite's pools."""
    engine = create_engine(PG_URI.rstrip('/') + '/postgres', isolation_level='AUTOCOMMIT')

    def run(sql: str, db: str) -> list:
        with engine.connect() as conn:
            return conn.execute(text(sql), {'db': db}).all()
    yield run
    engine.dispose()


@pytest.fixture
def serve(start_server: Callable[..., str]) -> Iterator[Callable[..., str]]:
    """``start_server``, stopped at once afterwards (SIGQUIT: no graceful linger)."""
    started: list[str] = []

    def start(*args: str, **kwargs: object) -> str:
        started.append(start_server(*args, **kwargs))
        return started[-1]
    yield start
    for base in started:
        with contextlib.suppress(AssertionError, ProcessLookupError):
            os.kill(server_pids(base)[0], signal.SIGQUIT)


@pytest.fixture
def sqlite_only(backend_uri: str) -> None:
    if backend_uri.startswith('postgresql'):
        pytest.skip('HTTP-level behaviour: one backend is enough')


TERMINATE = ('SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
             'WHERE datname = :db AND pid <> pg_backend_pid()')


# -- 2. PostgreSQL outage under load ---------------------------------------------------------
@dataclass
class Load:
    """Bounded load of guarded pair writes from a few client threads."""

    base: str
    db: str
    key: str
    results: list[tuple[str, int, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self) -> None:
        with requests.Session() as session:
            for _ in range(2000):
                if self.stop.is_set():
                    return
                batch = uuid.uuid4().hex
                try:
                    response = session.post(f'{self.base}/{self.db}/acme/pair/{batch}',
                                            headers=bearer(self.key), timeout=15)
                    outcome = (batch, response.status_code, response.headers['Content-Type'])
                except requests.RequestException as exc:
                    outcome = (batch, 0, type(exc).__name__)
                self.results.append(outcome)


def test_postgresql_outage_under_load(db, pg_admin, serve):
    base = serve(env={'TRYLITE_DATABASE__CONNECT_TIMEOUT': '3',
                             'TRYLITE_DATABASE__POOL_TIMEOUT': '3'})
    create_user(db, 'alice')
    key = validated_key(base, db, 'alice')
    load = Load(base, db, key)
    with ThreadPoolExecutor(4) as pool:
        clients = [pool.submit(load.client) for _ in range(4)]
        wait_until(lambda: len(load.results) >= 40, message='load running')
        before = len(load.results)
        outage_end = time.monotonic() + 1.5
        while time.monotonic() < outage_end:  # an outage: every backend killed, repeatedly
            pg_admin(TERMINATE, db)
            time.sleep(0.02)
        during = len(load.results)
        wait_until(lambda: len(load.results) >= during + 100, message='load after outage')
        load.stop.set()
        for client in clients:
            client.result()
    storage.backend().engine(db).dispose()  # this process's pool was terminated too

    statuses = [status for _, status, _ in load.results]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))  # no 500, no hang, no reset
    assert all(kind == 'application/json' for _, _, kind in load.results)
    assert 503 in statuses[before:], 'the outage was not felt'
    # Recovered by itself: the last answers are all successes.
    assert statuses[-20:] == [200] * 20, statuses[-40:]
    for _ in range(3):  # and an error answer on the wire is the JSON object
        response = requests.post(f'{base}/{db}/acme/pair/{uuid.uuid4().hex}',
                                 headers=bearer(key), timeout=15)
        assert response.status_code == 200

    rows = ledger_batches(db)
    assert set(rows.values()) <= {2}, 'a write was half-applied'
    acknowledged = {batch for batch, status, _ in load.results if status == 200}
    assert acknowledged <= set(rows), 'an acknowledged write was lost'


def test_connection_lost_mid_transaction(db, backend_uri, pg_admin, serve):
    """The backend of a transaction in flight is killed: 503 JSON, nothing written, and the
    next request is served."""
    base = serve(workers=1)
    for attempt in range(3):
        batch = uuid.uuid4().hex
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(requests.post, f'{base}/{db}/slow-write/{batch}/1.5',
                                  timeout=15)
            wait_until(lambda: write_in_flight(backend_uri, db, pg_admin),
                       message='write in flight')
            pg_admin(TERMINATE, db)
            response = pending.result()
        assert_json_error(response, 503)
        assert response.headers['Retry-After'] == '1'
        storage.backend().engine(db).dispose()
        assert batch not in ledger_batches(db), attempt
        assert requests.post(f'{base}/{db}/counter/healed', timeout=15).status_code == 200


# -- 3. killed worker ------------------------------------------------------------------------
def write_in_flight(backend_uri: str, db: str, pg_admin_run: Callable | None) -> bool:
    """Whether the slow write holds its transaction open (after its INSERT)."""
    if pg_admin_run is not None:
        return bool(pg_admin_run(
            "SELECT 1 FROM pg_stat_activity WHERE datname = :db "
            "AND state = 'idle in transaction' AND query ILIKE 'INSERT INTO test_ledger%'", db))
    import sqlite3
    path = storage.backend().path(db)  # type: ignore[attr-defined]
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute('BEGIN IMMEDIATE')
        conn.execute('ROLLBACK')
        return False
    except sqlite3.OperationalError:  # locked: the slow write has begun
        return True
    finally:
        conn.close()


def test_killed_worker(db, backend_uri, serve, request):
    pg = request.getfixturevalue('pg_admin') if backend_uri.startswith('postgresql') else None
    base = serve()
    wait_until(lambda: len(server_pids(base)[1]) == 2, message='two workers')
    master, workers = server_pids(base)
    reads = [f'{base}/{db}/counter/x'] * 10

    batch = uuid.uuid4().hex
    conn = http.client.HTTPConnection('127.0.0.1', port_of(base), timeout=30)
    conn.request('POST', f'/{db}/slow-write/{batch}/30.0')
    client_port = conn.sock.getsockname()[1]
    wait_until(lambda: write_in_flight(backend_uri, db, pg), message='slow write started')
    if pg is None:
        time.sleep(0.3)  # the INSERT follows BEGIN IMMEDIATE at once
    victim = socket_owner(port_of(base), client_port, workers)
    assert all(requests.get(url, timeout=10).status_code == 200 for url in reads)

    os.kill(victim, signal.SIGKILL)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    conn.close()

    def replaced() -> bool:
        current = server_pids(base)[1]
        return len(current) == 2 and victim not in current
    wait_until(replaced, message='worker replaced')
    assert server_pids(base)[0] == master
    assert all(requests.get(url, timeout=10).status_code == 200 for url in reads)
    # Writes go on (SQLite's write lock was released with the process) ...
    response = requests.post(f'{base}/{db}/counter/after-kill', timeout=10)
    assert response.status_code == 200, response.text
    # ... and the killed write was rolled back, not left pending.
    if pg is not None:
        wait_until(lambda: not write_in_flight(backend_uri, db, pg), message='backend gone')
    assert batch not in ledger_batches(db)


# -- 4. contention ---------------------------------------------------------------------------
CLIENTS, INCREMENTS = 16, 5


@pytest.fixture
def quick_deadlocks(db: str, backend_uri: str) -> Iterator[None]:
    """PostgreSQL detects deadlocks after ``deadlock_timeout`` (1 s by default): 100 ms on
    this test database, so that many of them stay quick."""
    if not backend_uri.startswith('postgresql'):
        yield
        return
    engine = create_engine(PG_URI.rstrip('/') + '/postgres', isolation_level='AUTOCOMMIT')
    with engine.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{db}" SET deadlock_timeout = 100')
    try:
        yield
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{db}" RESET deadlock_timeout')
        engine.dispose()


def test_contention_no_lost_update(db, quick_deadlocks, serve):
    """16 clients, through 2 workers, each increment the same two counters 5 times, half of
    them in the opposite order (deadlocks): no error, no lost update, both counters end at
    81. (tests/test_transaction.py covers one burst of single increments.)"""
    base = serve()
    for name in ('a', 'b'):
        assert requests.post(f'{base}/{db}/counter/{name}', timeout=10).status_code == 200

    def client(index: int) -> list[int]:
        url = f'{base}/{db}/counters/' + ('a/b' if index % 2 else 'b/a')
        with requests.Session() as session:
            return [session.post(url, timeout=30).status_code for _ in range(INCREMENTS)]

    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = [s for batch in pool.map(client, range(CLIENTS)) for s in batch]
    assert statuses == [200] * CLIENTS * INCREMENTS, sorted(set(statuses))
    assert counter_value(db, 'a') == counter_value(db, 'b') == 1 + CLIENTS * INCREMENTS


# -- 5. slow clients -------------------------------------------------------------------------
SLOW_CLIENTS = 3  # fewer than a worker's threads ([web] threads = 4)


def open_slow(base: str, head: bytes) -> socket.socket:
    sock = socket.create_connection(('127.0.0.1', port_of(base)), timeout=30)
    sock.sendall(head)
    return sock


@pytest.mark.parametrize('kind', ['stalled headers', 'trickled body'])
def test_slow_clients_do_not_block_others(db, serve, kind):
    base = serve()
    create_user(db, 'alice')
    body = json.dumps({'user': 'alice', 'application': 'acme'}).encode()
    if kind == 'stalled headers':
        head = f'POST /{db}/counter/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '.encode()
    else:
        head = (f'POST /{db}/user/application/ HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                f'Content-Type: application/json\r\nContent-Length: {len(body)}\r\n'
                'Connection: close\r\n\r\n').encode()
    slow = [open_slow(base, head) for _ in range(SLOW_CLIENTS)]
    trickled = 0
    try:
        # While the slow clients hold their connections, reads and writes are served.
        for index in range(10):
            if kind == 'trickled body' and trickled < len(body) - 1:
                for sock in slow:
                    sock.sendall(body[trickled:trickled + 1])
                trickled += 1
            assert requests.get(f'{base}/{db}/counter/x', timeout=10).status_code == 200
            response = requests.post(f'{base}/{db}/counter/c{index}', timeout=10)
            assert response.status_code == 200, response.text
        assert counter_value(db, 'c9') == 1
        if kind == 'trickled body':  # the slow requests themselves complete normally
            for sock in slow:
                sock.sendall(body[trickled:])
                answer = b''
                while chunk := sock.recv(65536):
                    answer += chunk
                assert answer.startswith(b'HTTP/1.1 200 '), answer[:200]
    finally:
        for sock in slow:
            sock.close()


def test_stalled_clients_are_dropped(db, sqlite_only, serve):
    """As many stalled clients as there are threads: each is cut off after
    ``[web] client_timeout`` seconds of silence, and the server serves again."""
    base = serve('--threads', '2', env={'TRYLITE_WEB__CLIENT_TIMEOUT': '1'}, workers=1)
    head = f'GET /{db}/counter/x HTTP/1.1\r\nHost: 127.0.0.1\r\n'.encode()
    stalled = [open_slow(base, head) for _ in range(2)]
    try:
        response = requests.get(f'{base}/{db}/counter/x', timeout=15)
        assert response.status_code == 200
        for sock in stalled:  # closed by the server, without an answer
            assert sock.recv(65536) == b''
    finally:
        for sock in stalled:
            sock.close()


NOT_HTTP = [
    b'GARBAGE\r\n\r\n',
    b'\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03' + bytes(range(32)) + b'\r\n\r\n',  # TLS
    b'GET /' + b'a' * 10_000 + b' HTTP/1.1\r\nHost: x\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'b' * 10_000 + b'\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: x\r\n' + b''.join(b'X-%d: 1\r\n' % i for i in range(200)) + b'\r\n',
    b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
    b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
    b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    b'GET / HTTP/1.1\r\nHost: x\r\nBad Header\x00: 1\r\n\r\n',
]


def test_not_http_is_refused_by_gunicorn(db, sqlite_only, serve):
    """What is not valid HTTP never reaches trylite: gunicorn answers 400, 414 or 431 itself
    (an HTML body, not JSON), and serves the next client as usual."""
    base = serve(workers=1)
    for request in NOT_HTTP:
        with socket.create_connection(('127.0.0.1', port_of(base)), timeout=15) as sock:
            sock.sendall(request)
            answer = b''
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    answer += chunk
        assert answer.split(b' ', 2)[1].startswith(b'4'), answer[:200]
        assert requests.get(f'{base}/{db}/counter/x', timeout=10).status_code == 200
