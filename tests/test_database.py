"""trylite.database: backends, the marker, transactions' settings and what errors mean."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from tests.routes import Counter
from trylite import database
from trylite.exceptions import ConfigError, DatabaseError, DatabaseNotFound
from trylite.transaction import Transaction

BUSY_QUERY = ('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c '
              'WHERE x < 100000) SELECT count(*) FROM c')


def only(kind: str, wanted: str) -> None:
    if kind != wanted:
        pytest.skip(f'{wanted} only')


def classify_error(db: str, sql: str, **start) -> str | None:
    with pytest.raises(DBAPIError) as info, Transaction.start(db, **start) as transaction:
        transaction.connection.exec_driver_sql(sql)
    return database.backend().classify(info.value)


# -- administration ------------------------------------------------------------------------
def test_create_list_update_drop(db):
    backend = database.backend()
    name = f'trylite_db_{uuid.uuid4().hex[:8]}'
    backend.create(name)
    try:
        assert backend.exists(name) and name in backend.list()
        with pytest.raises(DatabaseError, match='already exists'):
            backend.create(name)
        backend.update(name)  # nothing new: harmless
        with Transaction.start(name) as transaction:
            transaction.session.add(Counter(name='x', value=1))
    finally:
        backend.drop(name)
    assert not backend.exists(name) and name not in backend.list()
    with pytest.raises(DatabaseNotFound):
        backend.require(name)
    with pytest.raises(DatabaseNotFound):
        backend.update(name)


@pytest.mark.parametrize('name', ['..', '', 'a/b', 'a"b', 'x' * 64, '1a', 'é'])
def test_invalid_names_refused(db, name):
    with pytest.raises(DatabaseError, match='invalid database name'):
        database.backend().create(name)
    assert not database.backend().exists(name)


@pytest.mark.parametrize('uri, message', [
    ('sqlite:///:memory:', 'must name a folder'),
    ('postgresql://postgres@127.0.0.1/', 'must start with postgresql'),
    ('mysql://x/', 'must be sqlite:///DIR or postgresql'),
])
def test_bad_uri(monkeypatch, uri, message):
    monkeypatch.setenv('TRYLITE_DATABASE__URI', uri)
    with pytest.raises(ConfigError, match=message):
        database.backend()


def test_one_backend_per_uri(db):
    assert database.backend() is database.backend()


def test_dropped_behind_our_back_is_not_found(db, kind, client):
    """Another process drops a database this one had served: 404, not 500 or 503."""
    backend = database.backend()
    name = f'trylite_db_{uuid.uuid4().hex[:8]}'
    backend.create(name)
    assert client.get(f'/{name}/users').status_code == 200  # a pooled connection
    backend._drop(name)  # as another process would: our pool and cache stay
    try:
        if kind == 'sqlite':
            assert not backend.exists(name)
        else:  # the pooled connection is dead: the first use says so, a new one is refused
            with pytest.raises(DBAPIError) as info, Transaction.start(name) as transaction:
                transaction.connection.exec_driver_sql('SELECT 1')
            assert database.reconnectable(info.value) or backend.classify(info.value) == 'missing'
        response = client.get(f'/{name}/users')
        assert response.status_code == 404
        assert response.json['status'] == 404
    finally:
        backend.forget(name)


# -- transaction settings ------------------------------------------------------------------
def test_readonly_does_not_stick_to_pooled_connections(db):
    """A read-only transaction must not leave its connection read-only for the next user."""
    backend = database.backend()
    backend.forget(db)  # a fresh pool: one connection, reused
    with backend.engine(db).connect() as conn:
        backend.begin(conn, readonly=True, timeout=None)
        conn.rollback()
    with backend.engine(db).begin() as conn:
        conn.execute(insert(Counter).values(name='after-ro', value=1))
    backend.update(db)


def test_timeout_does_not_stick_after_a_failed_begin(db, kind, monkeypatch):
    only(kind, 'sqlite')
    backend = database.backend()
    holder = sqlite3.connect(backend.path(db), isolation_level=None)
    with monkeypatch.context() as patch:  # a pool that never waits for the writer
        patch.setenv('TRYLITE_DATABASE__SQLITE_BUSY_TIMEOUT', '0')
        backend.forget(db)
        try:
            holder.execute('BEGIN IMMEDIATE')
            with pytest.raises(sqlite3.OperationalError) as info, \
                    Transaction.start(db, timeout=1e-6):
                pass
            assert backend.classify(info.value) == 'retry'
            holder.execute('ROLLBACK')
            with Transaction.start(db) as transaction:  # same connection, no deadline left
                assert transaction.connection.exec_driver_sql(BUSY_QUERY).scalar() == 100000
        finally:
            holder.close()
            backend.forget(db)


def test_exclusive_transactions_release_their_lock(db, kind):
    only(kind, 'postgresql')
    with Transaction.start(db, exclusive=True):
        pass
    with pytest.raises(ZeroDivisionError), Transaction.start(db, exclusive=True):
        1 / 0  # noqa: B018
    with database.backend().engine(db).connect() as conn:
        held = conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            'AND database = (SELECT oid FROM pg_database WHERE datname = current_database())'
        )).scalar()
    assert held == 0


# -- classify ------------------------------------------------------------------------------
def test_classify_readonly(db, kind):
    sql = "INSERT INTO test_counter (name, value) VALUES ('ro', 1)"
    assert classify_error(db, sql, readonly=True) == 'readonly'


def test_classify_timeout(db):
    endless = BUSY_QUERY.replace('100000', '1000000000')
    assert classify_error(db, endless, timeout=0.05) == 'timeout'


def test_classify_postgresql_states(db, kind):
    only(kind, 'postgresql')
    for state, outcome in [('40001', 'retry'), ('40P01', 'retry'), ('23505', 'duplicate'),
                           ('22012', None)]:
        sql = f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{state}'; END $$"
        assert classify_error(db, sql) == outcome, state


def test_classify_unreachable(monkeypatch):
    monkeypatch.setenv('TRYLITE_DATABASE__URI', 'postgresql+psycopg://postgres@127.0.0.1:1/')
    with pytest.raises(DBAPIError) as info:
        database.backend().exists('anything')
    assert database.backend().classify(info.value) == 'unavailable'


def test_classify_other_errors(db):
    assert database.backend().classify(ValueError('x')) is None
    assert classify_error(db, 'SELECT * FROM no_such_table') is None
