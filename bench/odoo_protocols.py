"""The Odoo protocols' cost: ``search_read`` of 80 records with a many2one through JSON-2,
XML-RPC and JSON-RPC against a guarded trylite route reading the same rows, on PostgreSQL and
SQLite.

    python -m bench.odoo_protocols [--requests N]   # from the repository root

Each request is handed to the WSGI application in process, as a server would hand it over
(the same prepared bytes every time; no socket, so the figures are the application's own
work): routing, reading the body, checking the credentials, one read-only transaction, the
data layer, writing the answer. The guarded route is what an application would write for
the same rows: ``with_pool``, ``with_transaction(readonly=True)``, ``user_application`` and
``search_read``. JSON-2 carries the same user-application key (its application declares the
model), and, as a second case, a personal API key; XML-RPC and JSON-RPC a uid and password
(verified once, then remembered, as their servers do). The cases take turns request by
request, so load from elsewhere on the machine falls on all alike, and each figure is a
median. The figure is protocol / guarded route; the goal is at most 1.3.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable, Iterable
from typing import Any

from bench.data_layer import DATABASE, FIELDS, PG_URI, Partner, prepare
from trylite import storage
from trylite.auth import keys
from trylite.auth.apikeys import create_key
from trylite.auth.persons import User
from trylite.pool import Pool
from trylite.transaction import Transaction
from trylite.web.app import TryliteWSGI
from trylite.web.request import Request
from trylite.wrappers import user_application, with_pool, with_transaction
from trylite.wsgi import install_builtins

GOAL = 1.3
PASSWORD = 'bench password 123'
keys.register_application('odoo-bench', 'Odoo protocols benchmark',
                          scopes={'bench.partner': 'r', 'bench.country': 'r'})
app = install_builtins(TryliteWSGI())


@app.route('/<database_name>/bench/partners', methods=['POST'])
@with_pool
@with_transaction(readonly=True)
@user_application('odoo-bench')
def partners(request: Request, pool: Pool) -> Any:
    """The rows, as an application's own route would read them."""
    return Partner.search_read([], FIELDS, limit=80)


def credentials(person: int) -> tuple[str, str]:
    """A password for *person*; their personal key and a validated user-application key."""
    with Transaction.start(DATABASE) as transaction:
        user = transaction.session.get(User, person)
        assert user is not None
        user.set_password(PASSWORD)
        personal = create_key(transaction.session, user, 'bench', 'read', days=1)
        application = keys.request_key(user.login, 'odoo-bench', '127.0.0.1')
    with Transaction.start(DATABASE) as transaction:
        keys.validate(transaction.session, application.split('_')[1])
    return personal, application


def environ(path: str, body: bytes, content_type: str, **headers: str) -> dict[str, Any]:
    """What a server hands the application for one request (without the body stream)."""
    found = {'REQUEST_METHOD': 'POST', 'PATH_INFO': path, 'SCRIPT_NAME': '', 'QUERY_STRING': '',
             'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '8000', 'SERVER_PROTOCOL': 'HTTP/1.1',
             'REMOTE_ADDR': '127.0.0.1', 'CONTENT_TYPE': content_type,
             'CONTENT_LENGTH': str(len(body)), 'HTTP_HOST': '127.0.0.1:8000',
             'wsgi.url_scheme': 'http', 'wsgi.errors': io.StringIO(), 'wsgi.multithread': True,
             'wsgi.multiprocess': False, 'wsgi.run_once': False, 'wsgi.version': (1, 0)}
    found.update({'HTTP_' + k.upper().replace('-', '_'): v for k, v in headers.items()})
    return found


def cases(person: int) -> dict[str, tuple[dict[str, Any], bytes, Callable[[bytes], Any]]]:
    """Per case: the request's environ, its body, and how to read the answer's rows."""
    personal, application = credentials(person)
    domain: list[Any] = []
    kwargs = {'fields': FIELDS, 'limit': 80}
    rpc_args = (DATABASE, person, PASSWORD, 'bench.partner', 'search_read', [domain], kwargs)
    json2 = json.dumps({'domain': domain, **kwargs}).encode()
    guarded = b'{}'
    xml = xmlrpc.client.dumps(rpc_args, 'execute_kw').encode()
    jsonrpc = json.dumps({'jsonrpc': '2.0', 'method': 'call', 'id': 1, 'params': {
        'service': 'object', 'method': 'execute_kw', 'args': list(rpc_args)}}).encode()
    return {
        'guarded route': (environ(f'/{DATABASE}/bench/partners', guarded, 'application/json',
                                  Authorization=f'Bearer {application}'), guarded, json.loads),
        'JSON-2': (environ('/json/2/bench.partner/search_read', json2, 'application/json',
                           Authorization=f'Bearer {application}', X_Odoo_Database=DATABASE),
                   json2, json.loads),
        'JSON-2, personal key': (environ('/json/2/bench.partner/search_read', json2,
                                         'application/json', Authorization=f'Bearer {personal}',
                                         X_Odoo_Database=DATABASE), json2, json.loads),
        'XML-RPC': (environ('/xmlrpc/2/object', xml, 'text/xml'), xml,
                    lambda data: xmlrpc.client.loads(data)[0][0]),
        'JSON-RPC': (environ('/jsonrpc', jsonrpc, 'application/json'), jsonrpc,
                     lambda data: json.loads(data)['result']),
    }


def call(template: dict[str, Any], body: bytes) -> bytes:
    """One request through the application; the answer's body."""
    statuses: list[str] = []
    answer: Iterable[bytes] = app({**template, 'wsgi.input': io.BytesIO(body)},
                                  lambda status, headers, exc_info=None: statuses.append(status))
    data = b''.join(answer)
    assert statuses == ['200 OK'], (statuses, data[:300])
    return data


def timed(template: dict[str, Any], body: bytes) -> float:
    """Microseconds of one request."""
    start = time.perf_counter()
    call(template, body)
    return (time.perf_counter() - start) * 1e6


def measure(uri: str, requests: int) -> dict[str, float]:
    person = prepare(uri)
    prepared = cases(person)
    expected = None
    for name, (template, body, rows) in prepared.items():  # the same rows through each
        found = rows(call(template, body))
        assert len(found) == 80 and (expected is None or found == expected), name
        expected = found
    runs: dict[str, list[float]] = {name: [] for name in prepared}
    for _ in range(requests):  # the cases take turns, request by request
        for name, (template, body, _rows) in prepared.items():
            runs[name].append(timed(template, body))
    storage.backend().drop(DATABASE)
    return {name: statistics.median(values) for name, values in runs.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog='python -m bench.odoo_protocols', description=__doc__)
    parser.add_argument('--requests', type=int, default=1400, help='requests per case')
    requests = parser.parse_args(argv).requests
    with tempfile.TemporaryDirectory() as folder:
        results = {name: measure(uri, requests) for name, uri in (
            ('PostgreSQL', PG_URI), ('SQLite', f'sqlite:///{folder}'))}
    print(f'search_read of 80 records: median µs per request of {requests} requests per case '
          f'(taking turns), and the ratio to the guarded route; goal ≤ {GOAL}\n')
    names = [name for name in results['SQLite'] if name != 'guarded route']
    print(f'| database | guarded route µs | {" | ".join(f"{n} µs | ratio" for n in names)} |')
    print('|---|---|' + '---|---|' * len(names))
    for database, figures in results.items():
        base = figures['guarded route']
        cells = [f'{figures[name]:.0f} | {figures[name] / base:.2f}' for name in names]
        print(f'| {database} | {base:.0f} | {" | ".join(cells)} |')
    print(f'\nload average after: {" / ".join(f"{x:.2f}" for x in os.getloadavg())}')


if __name__ == '__main__':
    main()
