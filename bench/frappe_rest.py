"""The Frappe REST API's cost: a list of 80 records through ``/api/resource`` against a trylite
guarded route reading the same rows with a hand-written query, on PostgreSQL and SQLite.

    python -m bench.frappe_rest [--rounds N] [--calls N]   # from the repository root

Both are whole requests through ``trylite.wsgi.app`` in process (a Werkzeug test client, no
socket, so the machine's other load weighs less): the Frappe list ``GET
/<db>/api/resource/bench.partner?fields=["name","title","age","country_id"]``
``&limit_page_length=80`` with ``Authorization: token <api_key>:<api_secret>`` (a personal
key of a person whose rights come from an access row: the key check, the registry version,
the person's groups and the rules are part of the cost), and a route guarded by
``user_application`` with that person's validated key, answering the same documents from the
query of ``bench.data_layer``. Rounds of the two alternate. The ratio Frappe / guarded is the
figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

from sqlalchemy import select
from werkzeug.test import Client

from bench.data_layer import DATABASE, PG_URI, _hand_written, prepare
from trylite import storage
from trylite.auth import apikeys, keys
from trylite.auth.persons import User
from trylite.auth.tokens import PERSONAL_PREFIX, parse_key
from trylite.pool import Pool
from trylite.transaction import Transaction
from trylite.user_application import register_application
from trylite.web.request import Request
from trylite.wrappers import user_application, with_pool, with_transaction
from trylite.wsgi import app

APPLICATION = 'bench_rest'
FIELDS = '["name","title","age","country_id"]'
LIST = f'/{DATABASE}/api/resource/bench.partner'
GUARDED = f'/{DATABASE}/bench/partners'

register_application(APPLICATION, 'Bench: Frappe REST')


@app.route('/<database_name>/bench/partners', methods=['GET'])
@with_pool
@with_transaction()
@user_application(APPLICATION)
def partners(request: Request, pool: Pool) -> dict[str, Any]:
    """The first 80 partners as the Frappe list answers them, from a hand-written query."""
    return {'data': [{'name': str(row.id), 'title': row.name,
                      'age': row.age if row.age is not None else False,
                      'country_id': [row.country_id, row.country_name] if row.country_id
                      else False}
                     for row in Transaction().session.execute(_hand_written)]}


def credentials(client: Client) -> tuple[dict[str, str], dict[str, str]]:
    """The headers of the Frappe list (a personal key's token) and of the guarded route (a
    validated user-application key), both of the person ``reader``."""
    with Transaction.start(DATABASE) as transaction:
        person = transaction.session.scalars(select(User).where(User.login == 'reader')).one()
        parsed = parse_key(apikeys.create_key(transaction.session, person, 'bench', 'read', 1),
                           PERSONAL_PREFIX)
    assert parsed is not None
    requested = client.post(f'/{DATABASE}/user/application/',
                            json={'user': 'reader', 'application': APPLICATION}).json
    with Transaction.start(DATABASE) as transaction:
        keys.validate(transaction.session, requested.split('_')[1])
    return ({'Authorization': f'token {parsed.public_id}:{parsed.secret}'},
            {'Authorization': f'Bearer {requested}'})


def timed(client: Client, path: str, headers: dict[str, str], query: dict[str, Any],
          calls: int) -> float:
    """Microseconds per request."""
    start = time.perf_counter()
    for _ in range(calls):
        response = client.get(path, headers=headers, query_string=query)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200 and len(response.json['data']) == 80, response.text
    return elapsed / calls * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog='python -m bench.frappe_rest', description=__doc__)
    parser.add_argument('--rounds', type=int, default=7, help='rounds of the two cases')
    parser.add_argument('--calls', type=int, default=100, help='requests per round and case')
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        uris = {'PostgreSQL': PG_URI, 'SQLite': f'sqlite:///{folder}'}
        results = {name: measure(uri, options.rounds, options.calls)
                   for name, uri in uris.items()}
    print('| database | guarded route µs | Frappe list µs | ratio Frappe / guarded |')
    print('|---|---|---|---|')
    for database, figures in results.items():
        print(f'| {database} | {figures["guarded"]:.0f} | {figures["frappe"]:.0f} | '
              f'{figures["frappe"] / figures["guarded"]:.2f} |')


def measure(uri: str, rounds: int, calls: int) -> dict[str, float]:
    prepare(uri)
    client = Client(app)
    frappe, guarded = credentials(client)
    query = {'fields': FIELDS, 'limit_page_length': 80}
    listed = client.get(LIST, headers=frappe, query_string=query).json
    assert listed == client.get(GUARDED, headers=guarded).json  # the same answer
    cases = {'guarded': (GUARDED, guarded, {}), 'frappe': (LIST, frappe, query)}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):  # the cases take turns
        for name, (path, headers, parameters) in cases.items():
            samples[name].append(timed(client, path, headers, parameters, calls))
    storage.backend().drop(DATABASE)
    return {name: statistics.median(values) for name, values in samples.items()}


if __name__ == '__main__':
    main()
