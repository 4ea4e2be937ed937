"""with_transaction over HTTP (in process; on gunicorn for parallel writers), and the
Transaction API, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from tests.client import assert_json_error, make_client
from tests.core_routes import CALLS
from tests.helpers import bearer, create_user, validated_key
from tests.routes import Counter
from trylite.transaction import Transaction

WRITERS = 16


def counter_value(db: str, name: str) -> int | None:
    with Transaction.start(db, readonly=True) as transaction:
        row = transaction.session.get(Counter, name)
        return row.value if row else None


# -- with_transaction ----------------------------------------------------------------------
@pytest.mark.parametrize('method, readonly', [
    ('GET', True), ('POST', False), ('PUT', False), ('PATCH', False), ('DELETE', False)])
def test_readonly_follows_the_method(db, client, method, readonly):
    body = client.open(f'/{db}/_core/transaction', method=method).json
    assert body['readonly'] is readonly
    assert body['db_readonly'] in (('on', '1') if readonly else ('off', '0'))
    assert (body['database'], body['user']) == (db, 7)
    assert body['context']['lang'] == 'fr'
    assert body['context']['_request']['remote_addr'] == '127.0.0.1'


def test_write_in_readonly_transaction_fails_loudly(db, client, caplog):
    with caplog.at_level(logging.ERROR, logger='trylite.wsgi'):
        assert_json_error(client.get(f'/{db}/counter/ro/readonly-write'), 500)
    assert any('read-only' in r.getMessage() for r in caplog.records)
    assert any(r.exc_info for r in caplog.records)
    assert counter_value(db, 'ro') is None


def test_commit_on_success(db, client):
    for expected in (1, 2):
        assert client.post(f'/{db}/counter/c').json['value'] == expected
    assert client.get(f'/{db}/counter/c').json['value'] == 2
    assert counter_value(db, 'c') == 2


def test_rollback_on_exception(db, client):
    create_user(db, 'alice')
    key = validated_key(client, db, 'alice')
    response = client.post(f'/{db}/acme/fail', headers=bearer(key))
    assert assert_json_error(response, 400)['description'] == 'More details here'
    assert counter_value(db, 'should-not-exist') is None


def in_parallel(post: Callable[[], int]) -> list[int]:
    """Run *post* (one request, its status) from WRITERS threads at once."""
    with ThreadPoolExecutor(WRITERS) as executor:
        return list(executor.map(lambda _: post(), range(WRITERS)))


def test_parallel_writers_all_counted(db):
    statuses = in_parallel(lambda: make_client().post(f'/{db}/counter/race').status_code)
    assert statuses == [200] * WRITERS
    assert counter_value(db, 'race') == WRITERS


def test_parallel_writers_all_counted_on_gunicorn(db, start_server):
    base = start_server(workers=2)
    statuses = in_parallel(
        lambda: requests.post(f'{base}/{db}/counter/race', timeout=60).status_code)
    assert statuses == [200] * WRITERS
    assert counter_value(db, 'race') == WRITERS


def test_conflicts_retried_then_503(db, client, monkeypatch, settings):
    settings(database={'retry': '2'})
    before = CALLS['conflict']
    response = client.post(f'/{db}/_core/conflict')
    assert_json_error(response, 503)
    assert response.headers['Retry-After'] == '1'
    assert CALLS['conflict'] - before == 3  # the first run and two retries


@pytest.mark.parametrize('method, path', [
    ('GET', '/slow/3.0'),  # tests/routes.py: timeout=0.5
    ('POST', '/_core/slow-write/3.0'),  # timeout=0.3, a write: still not retried
])
def test_timeout_504_not_retried(db, client, method, path):
    before = CALLS['slow_write']
    assert_json_error(client.open(f'/{db}{path}', method=method), 504)
    assert CALLS['slow_write'] - before == (method == 'POST')
    assert client.get(f'/{db}/slow/0.01').text == 'done'  # the connection is fine


def test_user_request_unauthenticated_401(db, client):
    response = client.get(f'/{db}/_core/as-request-user')
    assert_json_error(response, 401)
    assert response.headers['WWW-Authenticate'].startswith('Bearer')


# -- the Transaction API -------------------------------------------------------------------
def test_no_transaction_outside():
    with pytest.raises(RuntimeError, match='no transaction is active'):
        Transaction()


def test_start_commits_rolls_back_and_restores(db):
    with Transaction.start(db, 3, context={'a': 1}) as outer:
        assert Transaction() is outer
        assert (outer.database_name, outer.user, outer.context, outer.readonly) == (
            db, 3, {'a': 1}, False)
        outer.session.add(Counter(name='kept', value=1))
        # SQLite has one writer at a time: the inner transaction only reads
        with pytest.raises(ZeroDivisionError), Transaction.start(db, readonly=True) as inner:
            assert Transaction() is inner
            1 / 0  # noqa: B018
        assert Transaction() is outer
    with pytest.raises(RuntimeError):
        Transaction()
    assert counter_value(db, 'kept') == 1


def test_readonly_start_refuses_writes(db):
    with pytest.raises(Exception, match='(?i)read.?only'), \
            Transaction.start(db, readonly=True) as transaction:
        transaction.session.add(Counter(name='x', value=1))
        transaction.session.flush()
    assert counter_value(db, 'x') is None


def test_set_user_and_set_context(db):
    with Transaction.start(db, 1, context={'a': 1}) as transaction:
        with transaction.set_user(2), transaction.set_context({'b': 2}, c=3):
            assert transaction.user == 2
            assert transaction.context == {'a': 1, 'b': 2, 'c': 3}
        assert (transaction.user, transaction.context) == (1, {'a': 1})
        with pytest.raises(KeyError), transaction.set_user(5):
            raise KeyError
        assert transaction.user == 1


@pytest.mark.parametrize('fail', [False, True])
def test_atexit_runs_after_the_transaction(db, fail, caplog):
    seen = []

    def after(label, *, active):
        with pytest.raises(RuntimeError):
            Transaction()
        seen.append((label, active, counter_value(db, 'a')))

    expected = pytest.raises(ZeroDivisionError) if fail else contextlib.nullcontext()
    with expected, Transaction.start(db) as transaction:
        transaction.atexit(after, 'first', active=True)
        transaction.atexit(lambda: 1 / 0)  # logged, does not stop the others
        transaction.atexit(after, 'second', active=False)
        transaction.session.add(Counter(name='a', value=1))
        transaction.session.flush()
        assert seen == []
        if fail:
            1 / 0  # noqa: B018
    value = None if fail else 1
    assert seen == [('first', True, value), ('second', False, value)]
    assert 'atexit callback' in caplog.text


def test_session_sees_the_connection(db):
    with Transaction.start(db) as transaction:
        transaction.session.add(Counter(name='s', value=4))
        transaction.session.flush()
        rows = transaction.connection.execute(select(Counter.value)).scalars().all()
        assert rows == [4]
