"""Routes exercising the core (app, wrappers, transactions), called through the ``client`` fixture.

``CALLS`` records which handlers ran (and how many times), so that tests can prove that a
request was refused before its handler, or count the retries of a transaction.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import inspect

from sqlalchemy import create_engine, text
from werkzeug.exceptions import TooManyRequests, abort
from werkzeug.wrappers import Response

import tests.routes
from trylite import storage
from trylite.exceptions import UserError
from trylite.transaction import Transaction
from trylite.wrappers import allow_null_origin, set_max_request_size, with_pool, with_transaction
from trylite.wsgi import app

#: handler name -> how many times it ran
CALLS: collections.Counter[str] = collections.Counter()

VALUES = {
    'str': 'héllo',
    'bytes': b'\x00\x01\xff',
    'dict': {'a': 1, 'b': [True, None]},
    'list': [1, 'two', 3.5],
    'int': 42,
    'float': 2.5,
    'bool': False,
    'none': None,
    'date': datetime.date(2026, 11, 22),
    'datetime': datetime.datetime(2026, 11, 22, 12, 50, 36, tzinfo=datetime.UTC),
    'decimal': decimal.Decimal('12.30'),
    'blob': {'data': b'\x00\x01'},
    'response': Response('custom', 201, content_type='text/x-custom'),
}


@app.route('/_core/value/<kind>', methods=['GET'])
def value(request, kind):
    return VALUES[kind]


@app.route('/_core/error/<int:code>', methods=['GET'])
def error(request, code):
    if code == 429:
        raise TooManyRequests(retry_after=7)
    if code == 500:
        raise RuntimeError('internal secret detail: SELECT password_hash FROM res_user')
    abort(code)


@app.route('/_core/user-error', methods=['GET', 'POST'])
def user_error(request):
    raise UserError('Something is wrong', 'More details here')


@app.route('/_core/json', methods=['POST'])
def json_object(request):
    return request.get_json_object(required=['name'], types={'name': str})


@app.route('/_core/slash/', methods=['GET'])
def slash(request):
    return 'slash'


@app.route('/_core/page/', methods=['GET'], defaults={'page': 1})
@app.route('/_core/page/<int:page>', methods=['GET'])
def page(request, page):
    return {'page': page}


@app.route('/_core/any')
def any_method(request):
    return request.method


@app.route('/_core/b64/<base64:data>', methods=['GET'])
def b64(request, data):
    return {'type': type(data).__name__, 'data': data}


@app.route('/_core/null', methods=['GET', 'POST'])
@allow_null_origin
def null_ok(request):
    return 'null ok'


@app.route('/_core/plain', methods=['GET', 'POST', 'PUT'])
def plain(request):
    return 'plain'


@app.route('/_core/limited', methods=['POST'])
@set_max_request_size(100)
def limited(request):
    CALLS['limited'] += 1
    return {'len': len(request.get_data())}


@app.route('/_core/unlimited', methods=['POST'])
def unlimited(request):
    CALLS['unlimited'] += 1
    return {'len': len(request.get_data())}


@app.route('/<database_name>/_core/conflict', methods=['POST'])
@with_pool
@with_transaction()
def conflict(request, pool):
    """Meets a real serialization failure (PostgreSQL) or busy database (SQLite) every time."""
    CALLS['conflict'] += 1
    conn = Transaction().connection
    if conn.dialect.name == 'postgresql':
        conn.exec_driver_sql(
            "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
    path = storage.backend().path(pool.database_name)
    other = create_engine(f'sqlite:///{path}', connect_args={'timeout': 0})
    try:
        with other.connect() as second:
            second.exec_driver_sql('BEGIN IMMEDIATE')  # we hold the write lock: busy
    finally:
        other.dispose()


@app.route('/<database_name>/_core/slow-write/<float:seconds>', methods=['POST'])
@with_pool
@with_transaction(timeout=0.3)
def slow_write(request, pool, seconds):
    CALLS['slow_write'] += 1
    return inspect.unwrap(tests.routes.slow)(request, pool, seconds)


@app.route('/<database_name>/_core/as-request-user', methods=['GET'])
@with_pool
@with_transaction(user='request')
def as_request_user(request, pool):
    return Transaction().user


@app.route('/<database_name>/_core/transaction', methods=['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
@with_pool
@with_transaction(user=7, context={'lang': 'fr'})
def transaction_info(request, pool):
    transaction = Transaction()
    is_ro = text('SHOW transaction_read_only') if transaction.connection.dialect.name == \
        'postgresql' else text('PRAGMA query_only')
    return {'database': transaction.database_name, 'user': transaction.user,
            'readonly': transaction.readonly, 'context': transaction.context,
            'db_readonly': str(transaction.connection.execute(is_ro).scalar())}
