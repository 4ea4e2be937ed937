"""PostgreSQL: one database per name on one server, through psycopg 3.

Every transaction runs at REPEATABLE READ; read-only ones are ``READ ONLY``, so that a write
in them fails loudly. The driver is in autocommit mode and trylite sends BEGIN (with what a
transaction starts with: a writer's turn lock, a statement timeout) and COMMIT itself, below
SQLAlchemy.

BEGIN goes with the transaction's first statement, in one round trip (psycopg's pipeline mode),
not when the transaction starts: a transaction that runs no statement costs no round trip at
all, and a :meth:`~PostgreSQLBackend.fetch` made *alone* before any statement (a key check)
runs on its own, in autocommit, so that a guarded request whose handler reads nothing more is
one round trip. The snapshot of a REPEATABLE READ transaction is taken at its first statement
anyway, so deferring BEGIN changes nothing of what the transaction sees. COMMIT is one
simple-protocol message.

Bookkeeping statements run outside transactions (:meth:`~trylite.storage.Backend.autocommit`:
throttle counts, sweeps) do not wait for their commit to reach the disk
(``synchronous_commit = off``, set on every connection); transactions that write do (their
BEGIN sets it on for the transaction). Errors are classified by SQLSTATE.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.exc import DataError as SQLDataError

from ..exceptions import (
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
    Unavailable,
    UnstorableText,
)
from ..settings import DatabaseSettings
from .backend import Backend, Fetched, valid_name

__all__ = ['PostgreSQLBackend']

#: SQLSTATEs and the typed error each stands for.
_STATES: dict[str, tuple[type[Exception], str]] = {
    '40001': (Conflict, 'a concurrent transaction changed the same data'),
    '40P01': (Conflict, 'a deadlock with a concurrent transaction'),
    '55P03': (Busy, 'a lock could not be taken in time'),
    '23505': (Duplicate, 'a unique constraint refused the row'),
    '23503': (ConstraintViolation, 'a foreign key refused the row'),
    '23502': (ConstraintViolation, 'a required value is missing'),
    '23514': (ConstraintViolation, 'a check constraint refused the row'),
    '57014': (StatementTimeout, 'a statement took too long'),
    '25006': (ReadOnlyViolation, 'a read-only transaction tried to write'),
    '53300': (Unavailable, 'the database server has no free connection'),
    '57P01': (ConnectionLost, 'the database server is shutting down'),
    '57P02': (ConnectionLost, 'the database server crashed'),
    '57P03': (Unavailable, 'the database server is starting'),
}
#: libpq's refusal to connect to a database that does not exist (it carries no SQLSTATE).
_MISSING_RE = re.compile(r'FATAL: +database ".*" does not exist')
#: The advisory lock key of exclusive transactions (advisory locks are per database).
_EXCLUSIVE_KEY = 0x7472796C
_lock_sql = text("SELECT set_config('lock_timeout', :wait, true), pg_advisory_lock(:key)")
_unlock_sql = text('SELECT pg_advisory_unlock(:key)')
_BEGIN_READ_ONLY = b'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'
_BEGIN_WRITE = b'BEGIN ISOLATION LEVEL REPEATABLE READ READ WRITE'
# Writers wait for their commit to reach the disk (connections do not, for bookkeeping) and
# hold the turn lock shared until the transaction ends: an exclusive re-run waits for the
# writers in flight and then runs alone, so it cannot meet the same conflict again.
_DURABLE = b"set_config('synchronous_commit', 'on', true)"
_TURN = b'pg_advisory_xact_lock_shared(%d)' % _EXCLUSIVE_KEY
#: The statements that begin a transaction (BEGIN, then what it sets, if anything), still to
#: be sent with its first statement (on ``conn.info``).
_PENDING = 'trylite.begin'
#: The driver cursor :meth:`PostgreSQLBackend.fetch` runs its statements on (``conn.info``).
_CURSOR = 'trylite.cursor'
_DONE = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


class PostgreSQLBackend(Backend):
    """One PostgreSQL database per name on one server, through psycopg 3."""

    insert = staticmethod(insert)

    def __init__(self, uri: str, options: DatabaseSettings) -> None:
        super().__init__(uri, options)
        try:
            self.url = make_url(uri)
        except (ArgumentError, ValueError):  # never echo it: it may hold a password
            raise ConfigError('[database] uri is not a valid URL') from None
        if self.url.drivername != 'postgresql+psycopg':
            raise ConfigError('[database] uri must start with postgresql+psycopg://')
        self._admin: Engine | None = None

    def _connect_args(self) -> dict[str, Any]:
        return {'connect_timeout': self.options.connect_timeout, 'application_name': 'trylite'}

    def _make_engine(self, name: str) -> Engine:
        # No pre-ping (it would cost a round trip per request): a pooled connection found
        # dead makes SQLAlchemy renew the whole pool, and with_transaction re-runs the
        # transaction once on a new connection (see ConnectionLost).
        engine = create_engine(
            self.url.set(database=name), isolation_level='AUTOCOMMIT',
            connect_args={**self._connect_args(), 'options': '-c synchronous_commit=off'},
            **self._pool_options())
        event.listen(engine, 'do_execute', _execute_first)
        event.listen(engine, 'do_execute_no_params', _execute_first_no_params)
        event.listen(engine, 'do_executemany', _begin_first_many)
        return engine

    @property
    def admin(self) -> Engine:
        """An autocommit engine on the server's maintenance database."""
        if self._admin is None:
            self._admin = create_engine(
                self.url.set(database=self.url.database or 'postgres'),
                isolation_level='AUTOCOMMIT', connect_args=self._connect_args(),
                pool_size=1, max_overflow=2)
        return self._admin

    def close(self) -> None:
        super().close()
        if self._admin is not None:
            self._admin.dispose()

    def _present(self, name: str) -> bool:
        with self.admin.connect() as conn:
            return conn.execute(
                text('SELECT 1 FROM pg_database WHERE datname = :name AND NOT datistemplate'),
                {'name': name}).first() is not None

    def _create_empty(self, name: str) -> None:
        self._administer(f'CREATE DATABASE "{name}"', f'cannot create database {name!r}')

    def _drop(self, name: str) -> None:
        self._administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                         f'cannot drop database {name!r}')

    def _administer(self, statement: str, failure: str) -> None:
        try:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(statement)
        except DBAPIError as exc:
            diag = getattr(exc.orig, 'diag', None)
            reason = (diag and diag.message_primary) or type(exc.orig).__name__
            raise DatabaseError(f'{failure}: {reason}') from None

    def _candidates(self) -> list[str]:
        with self.admin.connect() as conn:
            rows = conn.execute(text('SELECT datname FROM pg_database WHERE NOT datistemplate'))
            return [name for (name,) in rows if valid_name(name)]

    def begin(self, conn: Connection, readonly: bool, timeout: float | None,
              exclusive: bool = False) -> None:
        if exclusive:  # a session lock, taken before the snapshot of the real transaction
            wait = int(self.options.pool_timeout * 1000)
            conn.execute(_lock_sql, {'wait': f'{wait}ms', 'key': _EXCLUSIVE_KEY})
            conn.commit()
            conn.connection.info['exclusive'] = True
        settings = [] if readonly else [_DURABLE] if exclusive else [_DURABLE, _TURN]
        if timeout:
            settings.append(b"set_config('statement_timeout', '%d', true)" % int(timeout * 1000))
        begin = [_BEGIN_READ_ONLY if readonly else _BEGIN_WRITE]
        if settings:
            begin.append(b'SELECT ' + b', '.join(settings))
        # SQLAlchemy's own mark of a transaction (nothing is sent in autocommit mode): an ORM
        # session on the connection then joins it, and never ends the real one on closing.
        conn.begin()
        conn.info[_PENDING] = begin  # sent with the first statement (_execute_first)

    def commit(self, conn: Connection) -> None:
        if conn.info.pop(_PENDING, None) is None:  # else nothing ran: nothing to commit
            _send(conn, b'COMMIT')

    def rollback(self, conn: Connection) -> None:
        if conn.info.pop(_PENDING, None) is None:
            _send(conn, b'ROLLBACK')

    def fetch(self, conn: Connection, statement: Fetched, params: dict[str, Any],
              alone: bool = False) -> list[Any]:
        # Alone, before BEGIN: the transaction's snapshot is taken at its first statement,
        # after this one, and a transaction that runs nothing else sends nothing.
        begin = None if alone else conn.info.pop(_PENDING, None)
        read = self._reader(statement, conn.dialect)
        record = conn.connection
        raw: Any = record.dbapi_connection
        cursor = record.info.get(_CURSOR)
        if cursor is None:  # one per driver connection (its info is emptied on reconnecting)
            cursor = record.info[_CURSOR] = raw.cursor()
        try:
            _execute(cursor, begin, read.sql, read.parameters(params), prepare=True)
            return read.rows(cursor)
        except psycopg.Error as error:
            if raw.pgconn.status != pq.ConnStatus.OK or _lost(error):
                _lost_connection(conn, error)
            raise

    def end(self, conn: Connection, timeout: float | None) -> None:
        if conn.invalidated:  # a lost connection: its session, and so the lock, are gone
            return
        conn.info.pop(_PENDING, None)
        if conn.connection.info.pop('exclusive', False):
            try:
                conn.execute(_unlock_sql, {'key': _EXCLUSIVE_KEY})
                conn.commit()
            except DBAPIError:
                conn.invalidate()  # closing the session releases the lock

    def _classify(self, exc: BaseException, during_commit: bool) -> BaseException | None:
        if isinstance(exc, psycopg.Error):  # raised below SQLAlchemy (_send, fetch)
            exc = DBAPIError.instance(None, None, exc, psycopg.Error,
                                      connection_invalidated=_lost(exc))
        if not isinstance(exc, DBAPIError):
            return None
        state = getattr(exc.orig, 'sqlstate', None)
        if state in _STATES:
            kind, message = _STATES[state]
            if kind is ConnectionLost:
                return ConnectionLost(message, during_commit)
            return kind(message)
        if state is None and isinstance(exc, SQLDataError) and 'NUL' in str(exc.orig):
            return UnstorableText('text with a NUL character cannot be stored')
        if state is None and _MISSING_RE.search(str(exc.orig)):  # refused at connection time
            return DatabaseNotFound('the database does not exist')
        # A lost connection: SQLSTATE class 08, one found below SQLAlchemy, or a driver-side
        # OperationalError without SQLSTATE ("server closed the connection"). Client-side
        # errors without SQLSTATE (e.g. text with a NUL character) are not outages.
        if exc.connection_invalidated or _lost(exc.orig) or (
                state is None and isinstance(exc, OperationalError)):
            return ConnectionLost('the connection to the database was lost', during_commit)
        return None


def _begin_first(conn: Connection) -> None:
    """Send the transaction's BEGIN, if it is still to be sent."""
    begin = conn.info.pop(_PENDING, None)
    if begin is not None:
        _send(conn, b'; '.join(begin))


def _execute_first(cursor: Any, statement: str, parameters: Any, context: Any
                   ) -> bool | None:
    """Run a transaction's first statement in one round trip with its BEGIN (psycopg's
    pipeline mode); ``None`` for the others, which SQLAlchemy runs (a ``do_execute``
    listener)."""
    connection = context.root_connection
    # (a transaction of trylite's is marked begun; the dialect's first statements are not)
    if not connection.in_transaction() or _PENDING not in connection.info:
        return None
    if isinstance(cursor, psycopg.ServerCursor):  # streamed results: no pipeline for them
        _begin_first(connection)
        return None
    _execute(cursor, connection.info.pop(_PENDING), statement, parameters)
    return True


def _execute(cursor: Any, begin: list[bytes] | None, statement: str, parameters: Any,
             prepare: bool | None = None) -> None:
    """Run *statement* on the driver's *cursor*, with *begin* (the statements that begin the
    transaction, if still to be sent) before it in the same round trip."""
    if begin is None:
        cursor.execute(statement, parameters, prepare=prepare)
        return
    raw = cursor.connection
    with raw.pipeline():
        for part in begin:
            raw.execute(part)
        cursor.execute(statement, parameters, prepare=prepare)


def _execute_first_no_params(cursor: Any, statement: str, context: Any) -> bool | None:
    """:func:`_execute_first` for a statement without parameters."""
    return _execute_first(cursor, statement, None, context)


def _begin_first_many(cursor: Any, statement: str, parameters: Any, context: Any) -> None:
    """Send the transaction's BEGIN before an ``executemany`` (a ``do_executemany``
    listener)."""
    if context.root_connection.in_transaction():
        _begin_first(context.root_connection)


def _send(conn: Connection, statements: bytes) -> None:
    """Run *statements* (without parameters; several, separated by ``;``) in one round trip,
    below SQLAlchemy; a failure is raised as psycopg's error, the connection invalidated if it
    was lost."""
    raw: Any = conn.connection.dbapi_connection
    result = raw.pgconn.exec_(statements)
    if result.status not in _DONE:
        error = psycopg.errors.error_from_result(result)
        if raw.pgconn.status != pq.ConnStatus.OK or _lost(error):
            _lost_connection(conn, error)
        raise error


def _lost_connection(conn: Connection, error: psycopg.Error) -> None:
    """The server went away under *conn* (closed, or said it ends the session: the error may
    come before the connection looks closed): mark *error* so, drop the connection, and start
    a new pool (every pooled connection is likely dead too, as SQLAlchemy assumes on a
    disconnection)."""
    error.trylite_lost = True  # type: ignore[attr-defined]
    conn.invalidate(error)
    conn.engine.dispose(close=False)


def _lost(error: BaseException | None) -> bool:
    """Whether *error* (the driver's) means the connection is gone."""
    state = getattr(error, 'sqlstate', None) or ''
    return (getattr(error, 'trylite_lost', False) or state.startswith('08')
            or state in ('57P01', '57P02'))
