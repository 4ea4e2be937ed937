"""Routes the test suite serves, beside the key routes (``trylite serve --module tests.routes``)."""

from __future__ import annotations

import os
import time

from sqlalchemy import String, select, text
from sqlalchemy.orm import Mapped, mapped_column

from trylite.data import dispatch
from trylite.exceptions import UserError
from trylite.model import Model
from trylite.pool import Pool
from trylite.transaction import Transaction
from trylite.user_application import register_application
from trylite.wrappers import (
    allow_null_origin,
    set_max_request_size,
    user_application,
    with_pool,
    with_transaction,
)
from trylite.wsgi import app


class Counter(Model):
    """A named counter, for write and contention tests."""

    __model__ = 'test.counter'
    __tablename__ = 'test_counter'

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class Ledger(Model):
    """Rows written in pairs by one transaction: a lone half would be a half-applied write."""

    __model__ = 'test.ledger'
    __tablename__ = 'test_ledger'

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    batch: Mapped[str] = mapped_column(String(100), index=True)


Pool.register(Counter, Ledger, module='tests')
register_application('acme', 'ACME test application')
register_application('other', 'Another application')
acme = user_application('acme')


@app.route('/<database_name>/acme/whoami', methods=['GET'])
@allow_null_origin
@with_pool
@with_transaction()
@acme
def whoami(request, pool):
    User = pool.get('res.user')
    user = Transaction().session.get(User, Transaction().user)
    return {'login': user.login, 'id': user.id}


@app.route('/<database_name>/acme/echo', methods=['POST'])
@set_max_request_size(1024)
@allow_null_origin
@with_pool
@with_transaction()
@acme
def echo(request, pool):
    return {'len': len(request.get_data()), 'user': Transaction().user}


@app.route('/<database_name>/acme/raw', methods=['GET'])
@with_pool
@with_transaction()
@user_application('acme', json=False)
def raw(request, pool):
    return f'raw-{Transaction().user}'


@app.route('/<database_name>/acme/fail', methods=['POST'])
@with_pool
@with_transaction()
@acme
def fail(request, pool):
    Transaction().session.add(Counter(name='should-not-exist', value=1))
    Transaction().session.flush()
    raise UserError('Something is wrong', 'More details here')


@app.route('/<database_name>/counter/<name>', methods=['GET', 'POST'])
@with_pool
@with_transaction()
def counter(request, pool, name):
    """GET reads a counter; POST increments it by reading then writing (a lost-update trap)."""
    session = Transaction().session
    row = session.get(Counter, name)
    if request.method == 'GET':
        return {'name': name, 'value': row.value if row else 0}
    if row is None:
        row = Counter(name=name, value=0)
        session.add(row)
    row.value += 1
    return {'name': name, 'value': row.value}


@app.route('/<database_name>/acme/pair/<batch>', methods=['POST'])
@with_pool
@with_transaction()
@acme
def pair(request, pool, batch):
    """Write two rows of *batch* in one transaction, with a round trip between them."""
    session = Transaction().session
    session.add(Ledger(id=f'{batch}-1', batch=batch))
    session.flush()
    session.execute(text('SELECT 1'))
    session.add(Ledger(id=f'{batch}-2', batch=batch))
    session.flush()
    return {'batch': batch}


@app.route('/<database_name>/counters/<first>/<second>', methods=['POST'])
@with_pool
@with_transaction()
def two_counters(request, pool, first, second):
    """Increment two existing counters in this order, in one transaction (clients taking
    them in opposite orders make deadlocks and serialization failures)."""
    session = Transaction().session
    values = []
    for name in (first, second):
        row = session.get(Counter, name)
        row.value += 1
        session.flush()
        values.append(row.value)
    return values


@app.route('/<database_name>/slow-write/<batch>/<float:seconds>', methods=['POST'])
@with_pool
@with_transaction()
def slow_write(request, pool, batch, seconds):
    """Write one row, then keep the transaction open *seconds* (at most 60) before commit."""
    Transaction().session.add(Ledger(id=f'{batch}-1', batch=batch))
    Transaction().session.flush()
    time.sleep(min(seconds, 60.0))
    return {'batch': batch}


@app.route('/<database_name>/blob/<base64:data>', methods=['GET'])
@with_pool
@with_transaction()
def blob(request, pool, data):
    """Echo the length of a base64 path segment."""
    return {'len': len(data)}


@app.route('/<database_name>/counter/<name>/readonly-write', methods=['GET'])
@with_pool
@with_transaction()
def readonly_write(request, pool, name):
    Transaction().session.add(Counter(name=name, value=1))
    Transaction().session.flush()
    return 'written'


@app.route('/<database_name>/slow/<float:seconds>', methods=['GET'])
@with_pool
@with_transaction(timeout=0.5)
def slow(request, pool, seconds):
    """A statement running *seconds*: beyond the 0.5 s timeout it must answer 504."""
    conn = Transaction().connection
    if conn.dialect.name == 'postgresql':
        conn.execute(text('SELECT pg_sleep(:s)'), {'s': seconds})
    else:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            conn.execute(text(
                'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c '
                'WHERE x < 100000) SELECT count(*) FROM c'))
    return 'done'


@app.route('/<database_name>/users', methods=['GET'])
@with_pool
@with_transaction()
def users(request, pool):
    User = pool.get('res.user')
    return [u.login for u in Transaction().session.scalars(select(User).order_by(User.login))]


@app.route('/test/pid', methods=['GET'])
def pid(request):
    """The id of the worker process answering (lets a test pin connections to workers)."""
    return str(os.getpid())


@app.route('/<database_name>/test/call/<model>/<method>', methods=['POST'])
@with_pool
def call(request, pool, model, method):
    """A data-layer call as the system: ``{"args": [...], "kwargs": {...}}`` → the result."""
    body = request.get_json_object(optional=('args', 'kwargs'),
                                   types={'args': list, 'kwargs': dict})
    return dispatch.execute(pool.database_name, 0, model, method, body.get('args', []),
                            body.get('kwargs', {}))


ORDER_SCHEMA = {
    'type': 'object', 'required': ['item', 'quantity'], 'additionalProperties': False,
    'properties': {'item': {'type': 'string', 'minLength': 1},
                   'quantity': {'type': 'integer', 'minimum': 1},
                   'email': {'type': 'string', 'format': 'email'}},
}
ANSWER_SCHEMA = {'type': 'object', 'required': ['total'],
                 'properties': {'total': {'type': 'integer'}}}


@app.route('/<database_name>/test/order', methods=['POST'], request_schema=ORDER_SCHEMA,
           response_schema=ANSWER_SCHEMA)
@with_pool
def order(request, pool):
    """Take an order.

    The body follows ORDER_SCHEMA; the answer, ANSWER_SCHEMA (unless the item is "broken").
    """
    body = request.get_json()
    if body['item'] == 'broken':
        return {'total': 'not a number'}
    return {'total': body['quantity'] * 2}
