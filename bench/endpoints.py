"""The cost of an endpoint call: a public endpoint against a code route doing the same work, in
process (werkzeug's test client), on PostgreSQL and SQLite.

    python -m bench.endpoints [--rounds N]     # from the repository root, with .venv/bin/python

Two pairs: a snippet answering ``{"ok": true}`` against a route returning it, and a snippet
making one data-layer call (``search_read`` of the groups) against a route making the same
call. Both sides are whole requests in a transaction as the same person; the endpoint's side
adds the catalog look-up, a fresh sandbox process and the JSON frames to and from it. The
difference of the medians is the per-call cost of the sandbox; rounds alternate so that load
from elsewhere on the machine drifts over both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

from werkzeug.test import Client

from trylite import storage
from trylite.auth.persons import User
from trylite.data import dispatch
from trylite.endpoints.models import Endpoint
from trylite.pool import Pool, create_database
from trylite.settings import Settings, configure
from trylite.transaction import Transaction
from trylite.wrappers import with_pool, with_transaction
from trylite.wsgi import app

PG_URI = os.environ.get('TRYLITE_TEST_POSTGRESQL_URI',
                        'postgresql+psycopg://postgres@127.0.0.1:5432/')
DATABASE = 'bench_endpoints'
SEARCH = "env['res.group'].search_read([], ['name'])"


@app.route('/<database_name>/bench/ok', methods=['GET'])
@with_pool
@with_transaction()
def ok(request: Any, pool: Pool) -> Any:
    return {'ok': True}


@app.route('/<database_name>/bench/search', methods=['GET'])
@with_pool
@with_transaction()
def search(request: Any, pool: Pool) -> Any:
    with Transaction().set_user(_person()):
        return dispatch.call('res.group', 'search_read', [[], ['name']])


def _person() -> int:
    found = Transaction().session.query(User.id).filter(User.login == 'bench').scalar()
    assert found is not None
    return int(found)


def _prepare() -> None:
    if storage.backend().exists(DATABASE):
        storage.backend().drop(DATABASE)
    create_database(DATABASE)
    with Transaction.start(DATABASE) as transaction:
        person = User(login='bench', name='Bench', active=True)
        transaction.session.add(person)
        transaction.session.flush()
        Endpoint.create([
            {'name': 'ok', 'route': '/ok', 'auth_type': 'public', 'exec_as_user_id': person.id,
             'code': "result = {'payload': {'ok': True}}"},
            {'name': 'search', 'route': '/search', 'auth_type': 'public',
             'exec_as_user_id': person.id, 'code': f"result = {{'payload': {SEARCH}}}"}])


def _time(client: Client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return elapsed


def measure(uri: str, rounds: int) -> list[tuple[str, float, float]]:
    """``(case, code route ms, endpoint ms)`` medians on the backend *uri*."""
    configure(Settings.load(environ={}).replace(database={'uri': uri}))
    _prepare()
    client = Client(app)
    pairs = {'{"ok": true}': (f'/{DATABASE}/bench/ok', f'/{DATABASE}/api/endpoint/ok'),
             'one search_read': (f'/{DATABASE}/bench/search', f'/{DATABASE}/api/endpoint/search')}
    times: dict[str, list[float]] = {path: [] for pair in pairs.values() for path in pair}
    for _ in range(10):  # warm up: pools, caches, the sandbox's zygote
        for path in times:
            _time(client, path)
    for _ in range(rounds):
        for path in times:
            times[path].append(_time(client, path))
    storage.backend().drop(DATABASE)
    return [(case, statistics.median(times[code]) * 1000,
             statistics.median(times[endpoint]) * 1000)
            for case, (code, endpoint) in pairs.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=300)
    rounds = parser.parse_args().rounds
    print('| backend | case | code route (ms) | endpoint (ms) | sandbox cost (ms) |')
    print('|---|---|---|---|---|')
    with tempfile.TemporaryDirectory() as folder:
        for name, uri in (('PostgreSQL', PG_URI), ('SQLite', f'sqlite:///{folder}')):
            for case, code, endpoint in measure(uri, rounds):
                print(f'| {name} | {case} | {code:.2f} | {endpoint:.2f} | '
                      f'{endpoint - code:.2f} |')


if __name__ == '__main__':
    main()
