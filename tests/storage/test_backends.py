"""trylite.storage: backends, the marker, transactions' settings and typed errors."""

from __future__ import annotations

import datetime
import sqlite3
import uuid
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import bindparam, insert, or_, select, text

from tests.routes import Counter
from trylite import storage
from trylite.exceptions import (
    Busy,
    ConfigError,
    Conflict,
    ConnectionLost,
    ConstraintViolation,
    DatabaseError,
    DatabaseNotFound,
    Duplicate,
    ReadOnlyViolation,
    StatementTimeout,
    StorageError,
    Unavailable,
    UnstorableText,
)
from trylite.pool import create_database, update_database
from trylite.storage.backend import READERS
from trylite.transaction import Transaction

BUSY_QUERY = ('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c '
              'WHERE x < 100000) SELECT count(*) FROM c')


def only(kind: str, wanted: str) -> None:
    if kind != wanted:
        pytest.skip(f'{wanted} only')


def error_of(db: str, sql: str, **start) -> Exception:
    """What a transaction running *sql* raises."""
    with pytest.raises(Exception) as info, Transaction.start(db, **start) as transaction:  # noqa: B017
        transaction.connection.exec_driver_sql(sql)
    return info.value


# -- administration ------------------------------------------------------------------------
def test_create_list_update_drop(db):
    backend = storage.backend()
    name = f'trylite_db_{uuid.uuid4().hex[:8]}'
    create_database(name)
    try:
        assert backend.exists(name) and name in backend.databases()
        with pytest.raises(DatabaseError, match='already exists'):
            create_database(name)
        update_database(name)  # nothing new: harmless
        with Transaction.start(name) as transaction:
            transaction.session.add(Counter(name='x', value=1))
    finally:
        backend.drop(name)
    assert not backend.exists(name) and name not in backend.databases()
    with pytest.raises(DatabaseNotFound):
        backend.require(name)
    with pytest.raises(DatabaseNotFound):
        update_database(name)


@pytest.mark.parametrize('name', ['..', '', 'a/b', 'a"b', 'x' * 64, '1a', 'é'])
def test_invalid_names_refused(db, name):
    with pytest.raises(DatabaseError, match='invalid database name'):
        create_database(name)
    assert not storage.backend().exists(name)


@pytest.mark.parametrize('uri, message', [
    ('sqlite:///:memory:', 'must name a folder'),
    ('postgresql://postgres@127.0.0.1/', 'must start with postgresql'),
    ('mysql://x/', 'must be sqlite:///DIR or postgresql'),
    ('postgresql+psycopg://u:secret@host:notaport/', 'not a valid URL'),
])
def test_bad_uri(settings, uri, message):
    settings(database={'uri': uri})
    with pytest.raises(ConfigError, match=message) as info:
        storage.backend()
    assert 'secret' not in str(info.value)


def test_sqlite_files_are_private(backend_uri, settings, tmp_path):
    """The folder trylite creates is 0700, each database file and its -wal and -shm 0600
    (the default folder, ~/.local/share/trylite-data, included)."""
    only('sqlite' if backend_uri.startswith('sqlite') else 'postgresql', 'sqlite')
    folder = tmp_path / 'share' / 'trylite-data'
    settings(database={'uri': f'sqlite:///{folder}'})
    create_database('private')
    try:
        with Transaction.start('private') as transaction:  # a write: -wal and -shm exist
            transaction.session.add(Counter(name='x', value=1))
        # the pooled connection is still open, so -wal and -shm are still there
        modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}
    finally:
        storage.backend().close()
    assert folder.stat().st_mode & 0o777 == 0o700
    assert modes == {'private.sqlite': 0o600, 'private.sqlite-wal': 0o600,
                     'private.sqlite-shm': 0o600}


def test_one_backend_per_settings(db, settings):
    backend = storage.backend()
    assert storage.backend() is backend
    settings(database={'pool_size': 1})
    assert storage.backend() is not backend


def test_dropped_behind_our_back_is_not_found(db, kind, client):
    """Another process drops a database this one had served: 404, not 500 or 503."""
    backend = storage.backend()
    name = f'trylite_db_{uuid.uuid4().hex[:8]}'
    create_database(name)
    assert client.get(f'/{name}/users').status_code == 200  # a pooled connection
    backend._drop(name)  # as another process would: our pool and cache stay
    try:
        if kind == 'sqlite':
            assert not backend.exists(name)
        else:  # the pooled connection is dead: the first use says so, a new one is refused
            with pytest.raises((ConnectionLost, DatabaseNotFound)), \
                    Transaction.start(name) as transaction:
                transaction.connection.exec_driver_sql('SELECT 1')
        response = client.get(f'/{name}/users')
        assert response.status_code == 404
        assert response.json['status'] == 404
    finally:
        backend.forget(name)


# -- transaction settings ------------------------------------------------------------------
def test_readonly_does_not_stick_to_pooled_connections(db):
    """A read-only transaction must not leave its connection read-only for the next user."""
    backend = storage.backend()
    backend.forget(db)  # a fresh pool: one connection, reused
    with backend.transaction(db, readonly=True):
        pass
    with backend.transaction(db) as conn:
        conn.execute(insert(Counter).values(name='after-ro', value=1))


def test_timeout_does_not_stick_after_a_failed_begin(db, kind, settings):
    only(kind, 'sqlite')
    settings(database={'sqlite_busy_timeout': 0})  # a pool that never waits for the writer
    backend = storage.backend()
    holder = sqlite3.connect(backend.path(db), isolation_level=None)  # type: ignore[attr-defined]
    try:
        holder.execute('BEGIN IMMEDIATE')
        with pytest.raises(Busy), Transaction.start(db, timeout=1e-6):
            pass
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
    with storage.backend().transaction(db, readonly=True) as conn:
        held = conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            'AND database = (SELECT oid FROM pg_database WHERE datname = current_database())'
        )).scalar()
    assert held == 0


def test_begin_waits_for_the_first_statement(db, kind):
    """PostgreSQL: BEGIN goes with the transaction's first statement; a read made *alone*
    before it runs on its own, and a transaction that runs nothing sends nothing."""
    only(kind, 'postgresql')
    key = select(Counter.name).where(Counter.name == bindparam('name'))

    def status(transaction: Transaction) -> TransactionStatus:
        raw: Any = transaction.connection.connection.dbapi_connection
        return raw.pgconn.transaction_status  # type: ignore[no-any-return]

    with Transaction.start(db, readonly=True) as transaction:
        assert status(transaction) == TransactionStatus.IDLE
        assert transaction.lookup(key, {'name': 'none'}, alone=True) is None
        assert status(transaction) == TransactionStatus.IDLE  # still not begun
        settings = transaction.connection.exec_driver_sql(
            'SELECT current_setting(\'transaction_isolation\'), '
            'current_setting(\'transaction_read_only\')').one()
        assert status(transaction) == TransactionStatus.INTRANS
        assert tuple(settings) == ('repeatable read', 'on')
    with Transaction.start(db) as transaction:  # not alone: in the transaction
        transaction.lookup(key, {'name': 'none'})
        assert status(transaction) == TransactionStatus.INTRANS
    with Transaction.start(db, readonly=True):  # nothing ran: nothing to end
        pass


@pytest.mark.parametrize('first', ['one', 'many', 'plain', 'streamed'])
def test_a_transaction_may_begin_with_any_kind_of_statement(db, first):
    """PostgreSQL sends BEGIN with the first statement (one with parameters, an
    executemany, one without parameters; before a streamed one, on its own); the transaction
    holds all of what follows."""
    rows = [{'name': f'{first}-{n}', 'value': n} for n in range(3)]
    with Transaction.start(db) as transaction:
        conn = transaction.connection
        if first == 'one':
            conn.execute(insert(Counter), rows[0])
        elif first == 'many':
            conn.execute(insert(Counter), rows)
        elif first == 'plain':
            conn.exec_driver_sql(f"INSERT INTO test_counter (name, value) VALUES ('{first}-0', 0)")
        else:
            streamed = conn.execute(select(Counter.name).where(Counter.name == first)
                                    .execution_options(stream_results=True))
            assert streamed.all() == []
            conn.execute(insert(Counter), rows[0])
        conn.execute(insert(Counter), {'name': f'{first}-last', 'value': 9})
    with pytest.raises(ZeroDivisionError), Transaction.start(db) as transaction:
        transaction.connection.execute(insert(Counter), {'name': f'{first}-undone', 'value': 1})
        1 / 0  # noqa: B018
    with Transaction.start(db, readonly=True) as transaction:
        names = set(transaction.connection.execute(
            select(Counter.name).where(Counter.name.like(f'{first}-%'))).scalars())
    assert f'{first}-last' in names and f'{first}-0' in names
    assert f'{first}-undone' not in names


def test_bookkeeping_does_not_wait_for_the_disk(db, kind):
    """PostgreSQL: statements outside transactions (throttle counts) commit without waiting
    for the disk; transactions that write wait (the key they hand out is kept)."""
    only(kind, 'postgresql')
    backend = storage.backend()
    show = text("SELECT current_setting('synchronous_commit')")
    with backend.autocommit(db) as conn:
        assert conn.execute(show).scalar() == 'off'
    with Transaction.start(db) as transaction:
        assert transaction.connection.execute(show).scalar() == 'on'
    with Transaction.start(db, exclusive=True) as transaction:
        assert transaction.connection.execute(show).scalar() == 'on'


# -- fetch: the driver's rows, converted ------------------------------------------------------
def test_fetch_converts_values_as_sqlalchemy_does(db):
    with Transaction.start(db) as transaction:
        transaction.session.add_all([Counter(name='a', value=1), Counter(name='b', value=2)])
    query = (select(Counter.name, Counter.value, Counter.create_date,
                    (Counter.value > bindparam('over')).label('big'))
             .where(or_(Counter.name == bindparam('name'), Counter.name == bindparam('name'),
                        Counter.name == 'b'))  # one parameter twice, one held by the query
             .order_by(Counter.name))
    params = {'name': 'a', 'over': 1}
    with Transaction.start(db, readonly=True) as transaction:
        rows = storage.backend().fetch(transaction.connection, query, params)
        expected = transaction.connection.execute(query, params).all()
        assert rows == [tuple(row) for row in expected]
        assert [row.name for row in rows] == ['a', 'b'] and rows[1].big is True
        assert rows[0].create_date.tzinfo is datetime.UTC  # aware, as UTCDateTime reads it
        assert transaction.lookup(query, {'name': 'none', 'over': 5})[0] == 'b'
        assert transaction.lookup(query.where(Counter.name == 'none'), params) is None


def test_fetch_runs_writes_returning_rows(db):
    add = (insert(Counter).values(name=bindparam('name'), value=bindparam('value'))
           .returning(Counter.name, Counter.value))
    with Transaction.start(db) as transaction:
        rows = storage.backend().fetch(transaction.connection, add, {'name': 'r', 'value': 3})
    assert [tuple(row) for row in rows] == [('r', 3)]
    with Transaction.start(db, readonly=True) as transaction:
        assert transaction.session.get(Counter, 'r').value == 3


def test_fetch_keeps_a_bounded_number_of_compiled_statements(db):
    """A caller building its statement anew at each call does not grow the cache forever."""
    with Transaction.start(db, readonly=True) as transaction:
        for value in range(READERS + 10):
            assert transaction.lookup(select(Counter.name).where(Counter.value == value),
                                      {}) is None
    assert 0 < len(storage.backend()._readers) <= READERS


def test_fetch_refuses_expanding_parameters(db):
    query = select(Counter.name).where(Counter.name.in_(bindparam('names', expanding=True)))
    with pytest.raises(TypeError, match='expand'), Transaction.start(db) as transaction:
        transaction.lookup(query, {'names': ['a']})


def test_fetch_errors_are_typed(db):
    add = insert(Counter).values(name=bindparam('name'), value=1).returning(Counter.name)
    with Transaction.start(db) as transaction:
        storage.backend().fetch(transaction.connection, add, {'name': 'twice'})
    with pytest.raises(Duplicate), Transaction.start(db) as transaction:
        storage.backend().fetch(transaction.connection, add, {'name': 'twice'})


# -- typed errors ----------------------------------------------------------------------------
def test_read_only_violation(db):
    sql = "INSERT INTO test_counter (name, value) VALUES ('ro', 1)"
    assert isinstance(error_of(db, sql, readonly=True), ReadOnlyViolation)


def test_statement_timeout(db):
    endless = BUSY_QUERY.replace('100000', '1000000000')
    assert isinstance(error_of(db, endless, timeout=0.05), StatementTimeout)


def test_constraints(db):
    with Transaction.start(db) as transaction:
        transaction.session.add(Counter(name='one', value=1))
    duplicate = error_of(db, "INSERT INTO test_counter (name, value) VALUES ('one', 2)")
    assert isinstance(duplicate, Duplicate)
    missing = error_of(db, "INSERT INTO test_counter (name, value) VALUES (NULL, 2)")
    assert isinstance(missing, ConstraintViolation | Duplicate)
    assert "'one'" not in str(duplicate)  # names, never values


def test_unstorable_text(db, kind):
    with pytest.raises(UnstorableText), Transaction.start(db) as transaction:
        transaction.session.add(Counter(name='\udcff', value=1))
        transaction.session.flush()
    if kind == 'postgresql':
        with pytest.raises(UnstorableText), Transaction.start(db) as transaction:
            transaction.session.add(Counter(name='a\x00b', value=1))
            transaction.session.flush()


def test_postgresql_states(db, kind):
    only(kind, 'postgresql')
    for state, expected in [('40001', Conflict), ('40P01', Conflict), ('55P03', Busy),
                            ('23505', Duplicate), ('23503', ConstraintViolation),
                            ('53300', Unavailable)]:
        sql = f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{state}'; END $$"
        assert isinstance(error_of(db, sql), expected), state
    division = "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '22012'; END $$"
    assert not isinstance(error_of(db, division), StorageError)  # unknown: the driver's own


def test_sqlite_busy(db, kind, settings):
    only(kind, 'sqlite')
    settings(database={'sqlite_busy_timeout': 0})
    holder = sqlite3.connect(storage.backend().path(db), isolation_level=None)  # type: ignore[attr-defined]
    try:
        holder.execute('BEGIN IMMEDIATE')
        with pytest.raises(Busy), Transaction.start(db):
            pass
    finally:
        holder.close()
        storage.backend().forget(db)


def test_unreachable(settings):
    settings(database={'uri': 'postgresql+psycopg://postgres@127.0.0.1:1/'})
    with pytest.raises(Unavailable), storage.backend().transaction('anything'):
        pass


def test_other_errors_pass_through(db):
    with pytest.raises(ValueError, match='x'), Transaction.start(db):
        raise ValueError('x')
    error = error_of(db, 'SELECT * FROM no_such_table')
    assert type(error).__module__.startswith('sqlalchemy')
