"""Where databases live, their engines, and what their errors mean.

``[database] uri`` picks a :class:`Backend`:

* ``sqlite:///DIR`` — :class:`SQLiteBackend`, one file ``DIR/NAME.sqlite`` per database;
* ``postgresql+psycopg://USER:PASS@HOST:PORT/`` — :class:`PostgreSQLBackend`, one PostgreSQL
  database per name.

A trylite database carries the marker table ``trylite_database``; a database without it is
never served. Each process keeps one engine (one connection pool) per database, made on first
use, so a database created while the server runs is served without a restart.

Transactions are begun and ended by trylite itself (:meth:`Backend.begin`, ``commit``,
``rollback``), never by the driver: all run at REPEATABLE READ on PostgreSQL, and writers
take SQLite's lock up front (``BEGIN IMMEDIATE``); read-only ones are ``READ ONLY`` on
PostgreSQL and ``PRAGMA query_only`` on SQLite, so that a write in them fails loudly.
:meth:`Backend.classify` says what a driver error means to a transaction.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.exc import DataError as SQLDataError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .config import config
from .exceptions import ConfigError, DatabaseError, DatabaseNotFound
from .model import Model, UTCDateTime, utcnow

logger = logging.getLogger(__name__)

#: Names a database may have: a letter or ``_`` then up to 62 letters, digits, ``_`` or ``-``.
NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_-]{0,62}')

marker = Table(
    'trylite_database', Model.metadata,
    Column('name', String(63), primary_key=True),
    Column('version', Integer, nullable=False),
    Column('created', UTCDateTime, nullable=False),
)
SCHEMA_VERSION = 1

#: What a driver error means (:meth:`Backend.classify`): ``retry`` the transaction (conflict,
#: deadlock, busy), ``duplicate`` (a unique violation: under snapshot isolation maybe a
#: concurrent insert), ``timeout`` (statement timeout), ``unavailable`` (unreachable, no free
#: connection), ``missing`` (the database is gone), ``readonly`` (a write in a read-only one).
Outcome = Literal['retry', 'duplicate', 'timeout', 'unavailable', 'missing', 'readonly']


def valid_name(name: str) -> bool:
    return NAME_RE.fullmatch(name) is not None


class Backend:
    """The databases of one ``[database] uri``."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._engines: dict[str, Engine] = {}
        self._known: set[str] = set()
        self._lock = threading.Lock()

    # -- engines --------------------------------------------------------------------------
    def engine(self, name: str) -> Engine:
        """The engine (connection pool) of database *name*, made on first use."""
        try:
            return self._engines[name]
        except KeyError:
            pass
        with self._lock:
            if name not in self._engines:
                self._engines[name] = self._make_engine(name)
            return self._engines[name]

    def _pool_options(self) -> dict[str, object]:
        return {
            'pool_size': config.getint('database', 'pool_size'),
            'max_overflow': config.getint('database', 'max_overflow'),
            'pool_timeout': config.getfloat('database', 'pool_timeout'),
        }

    def _make_engine(self, name: str) -> Engine:
        raise NotImplementedError

    def forget(self, name: str) -> None:
        """Close the pool of *name* and forget that it exists (after a drop)."""
        with self._lock:
            self._known.discard(name)
            engine = self._engines.pop(name, None)
        if engine is not None:
            engine.dispose()

    # -- existence ------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        """Whether *name* is a trylite database. Positive answers are remembered."""
        if name in self._known and self._still_there(name):
            return True
        if not valid_name(name) or not self._present(name):
            return False
        try:
            with self.engine(name).connect() as conn:
                self.begin(conn, readonly=True, timeout=None)
                found = conn.execute(marker.select().where(marker.c.name == name)).first()
        except DBAPIError:
            found = None
        if not found:  # keep no pool open on a database that is not ours
            self.forget(name)
            return False
        self._known.add(name)
        return True

    def _still_there(self, name: str) -> bool:
        return True

    def _present(self, name: str) -> bool:
        raise NotImplementedError

    # -- administration -------------------------------------------------------------------
    def create(self, name: str) -> None:
        """Create database *name* with the marker and the tables of all registered models."""
        if not valid_name(name):
            raise DatabaseError(f'invalid database name {name!r}')
        if self._present(name):
            raise DatabaseError(f'database {name!r} already exists')
        self._create_empty(name)
        try:
            with self.transaction(name) as conn:
                create_tables(conn)
                conn.execute(marker.insert().values(
                    name=name, version=SCHEMA_VERSION, created=utcnow()))
        except BaseException:
            self.drop(name)
            raise
        self._known.add(name)

    def update(self, name: str) -> None:
        """Create the tables of models registered since the database was made."""
        self.require(name)
        with self.transaction(name) as conn:
            create_tables(conn)

    def drop(self, name: str) -> None:
        self.forget(name)
        self._drop(name)

    def list(self) -> list[str]:
        """The names of the trylite databases, sorted."""
        return sorted(name for name in self._candidates() if self.exists(name))

    def require(self, name: str) -> None:
        """Raise :class:`DatabaseNotFound` unless *name* is a trylite database."""
        if not self.exists(name):
            raise DatabaseNotFound(f'no trylite database named {name!r}')

    def _create_empty(self, name: str) -> None:
        raise NotImplementedError

    def _drop(self, name: str) -> None:
        raise NotImplementedError

    def _candidates(self) -> list[str]:
        raise NotImplementedError

    # -- transactions ---------------------------------------------------------------------
    def begin(self, conn: Connection, readonly: bool, timeout: float | None,
              exclusive: bool = False) -> None:
        """Start a transaction on *conn*, read-only or not, with a statement timeout.

        *exclusive* transactions of a database run one at a time (a retry after a conflict
        takes this turn so that retried writers cannot keep failing each other).
        """
        raise NotImplementedError

    def commit(self, conn: Connection) -> None:
        """Commit the transaction :meth:`begin` started."""
        conn.commit()

    def rollback(self, conn: Connection) -> None:
        """Roll back the transaction :meth:`begin` started."""
        conn.rollback()

    @contextmanager
    def transaction(self, name: str, readonly: bool = False, timeout: float | None = None,
                    exclusive: bool = False) -> Iterator[Connection]:
        """A transaction on a pooled connection of *name* (see :meth:`begin`): committed
        when the block ends normally, rolled back when it raises.

        An exception raised by the commit itself carries ``trylite_during_commit``: whether
        the transaction was committed is then unknown (see :func:`reconnectable`).
        """
        with self.engine(name).connect() as conn:
            try:
                self.begin(conn, readonly, timeout, exclusive)
                yield conn
                try:
                    self.commit(conn)
                except Exception as exc:
                    exc.trylite_during_commit = True  # type: ignore[attr-defined]
                    raise
            except BaseException:
                if not conn.invalidated:
                    self.rollback(conn)
                raise
            finally:
                self.end(conn, timeout)  # also after a failed begin

    def end(self, conn: Connection, timeout: float | None) -> None:
        """Undo what :meth:`begin` set on the connection for this transaction only."""

    def classify(self, exc: BaseException) -> Outcome | None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    """One SQLite file per database in a folder, in WAL mode."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        folder = uri.removeprefix('sqlite:///')
        if not folder or folder.startswith(':memory:'):
            raise ConfigError('[database] uri for SQLite must name a folder: sqlite:///DIR')
        self.folder = Path(folder).expanduser()

    def path(self, name: str) -> Path:
        return self.folder / f'{name}.sqlite'

    def _make_engine(self, name: str) -> Engine:
        engine = create_engine(
            f'sqlite:///{self.path(name)}',
            connect_args={'timeout': config.getfloat('database', 'sqlite_busy_timeout'),
                          'check_same_thread': False},
            **self._pool_options())

        @event.listens_for(engine, 'connect')
        def connect(dbapi_conn, record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # trylite emits BEGIN itself
            for pragma in ('journal_mode=WAL', 'synchronous=NORMAL', 'foreign_keys=ON'):
                dbapi_conn.execute(f'PRAGMA {pragma}')
            record.info['query_only'] = False

        @event.listens_for(engine, 'begin')
        def begin(conn):  # type: ignore[no-untyped-def]
            info = conn.connection.info
            readonly = info.pop('readonly', False)
            dbapi_conn = conn.connection.dbapi_connection
            if info['query_only'] != readonly:
                dbapi_conn.execute(f'PRAGMA query_only={int(readonly)}')
                info['query_only'] = readonly
            dbapi_conn.execute('BEGIN' if readonly else 'BEGIN IMMEDIATE')

        return engine

    def _still_there(self, name: str) -> bool:
        return self.path(name).exists()

    def _present(self, name: str) -> bool:
        return self.path(name).is_file()

    def _create_empty(self, name: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.path(name).touch(exist_ok=False)
        except OSError as exc:
            raise DatabaseError(f'cannot create {self.path(name)}: {exc.strerror}') from None

    def _drop(self, name: str) -> None:
        for suffix in ('', '-wal', '-shm'):
            Path(f'{self.path(name)}{suffix}').unlink(missing_ok=True)

    def _candidates(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return [p.stem for p in self.folder.glob('*.sqlite')]

    def begin(self, conn: Connection, readonly: bool, timeout: float | None,
              exclusive: bool = False) -> None:
        # BEGIN IMMEDIATE already makes writers take turns: *exclusive* needs nothing more.
        conn.connection.info['readonly'] = readonly
        if timeout:
            deadline = time.monotonic() + timeout
            conn.connection.dbapi_connection.set_progress_handler(
                lambda: time.monotonic() > deadline, 10_000)
        conn.begin()

    def end(self, conn: Connection, timeout: float | None) -> None:
        if timeout and not conn.invalidated:
            conn.connection.dbapi_connection.set_progress_handler(None, 0)

    def classify(self, exc: BaseException) -> Outcome | None:
        if isinstance(exc, PoolTimeout):
            return 'unavailable'
        if isinstance(exc, DBAPIError):
            exc = exc.orig
        elif not isinstance(exc, sqlite3.Error):  # raw: from trylite's own BEGIN and PRAGMAs
            return None
        message = str(exc).lower()
        if 'locked' in message or 'busy' in message:
            return 'retry'
        if 'interrupted' in message:
            return 'timeout'
        if 'readonly' in message or 'read-only' in message:
            return 'readonly'
        if 'unable to open' in message or 'disk i/o' in message:
            return 'unavailable'
        return None


#: PostgreSQL SQLSTATEs and what they mean to a transaction.
_PG_STATES: dict[str, Outcome] = {
    '40001': 'retry',  # serialization_failure
    '40P01': 'retry',  # deadlock_detected
    '55P03': 'retry',  # lock_not_available
    '23505': 'duplicate',  # unique_violation
    '57014': 'timeout',  # query_canceled (statement_timeout)
    '25006': 'readonly',  # read_only_sql_transaction
    '3D000': 'missing',  # invalid_catalog_name
    '53300': 'unavailable',  # too_many_connections
    '57P01': 'unavailable',  # admin_shutdown
    '57P02': 'unavailable',  # crash_shutdown
    '57P03': 'unavailable',  # cannot_connect_now
}


#: libpq's refusal to connect to a database that does not exist (it carries no SQLSTATE).
_MISSING_RE = re.compile(r'FATAL: +database ".*" does not exist')
#: The advisory lock key of exclusive transactions (advisory locks are per database).
_EXCLUSIVE_KEY = 0x7472796C
_lock_sql = text("SELECT set_config('lock_timeout', :wait, true), pg_advisory_lock(:key)")
_shared_sql = text('SELECT pg_advisory_xact_lock_shared(:key)')
_BEGIN_READ_WRITE = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ WRITE'
_BEGIN_READ_ONLY = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'


class PostgreSQLBackend(Backend):
    """One PostgreSQL database per name on one server, through psycopg 3."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        try:
            self.url = make_url(uri)
        except ArgumentError:
            raise ConfigError(f'[database] uri is not a valid URL: {uri!r}') from None
        if self.url.drivername != 'postgresql+psycopg':
            raise ConfigError('[database] uri must start with postgresql+psycopg://')
        self._admin: Engine | None = None

    def _connect_args(self) -> dict[str, object]:
        return {'connect_timeout': config.getint('database', 'connect_timeout'),
                'application_name': 'trylite'}

    def _make_engine(self, name: str) -> Engine:
        # No pre-ping (it would cost a round trip per request): a pooled connection found
        # dead makes SQLAlchemy renew the whole pool, and with_transaction re-runs the
        # transaction once on a new connection (see reconnectable()).
        # The driver is in autocommit mode and trylite sends BEGIN and COMMIT itself, as
        # ordinary statements: psycopg's own transaction commands use the simple query
        # protocol, which costs far longer round trips over TCP.
        return create_engine(
            self.url.set(database=name), isolation_level='AUTOCOMMIT',
            connect_args=self._connect_args(), **self._pool_options())

    @property
    def admin(self) -> Engine:
        """An autocommit engine on the server's maintenance database."""
        if self._admin is None:
            self._admin = create_engine(
                self.url.set(database=self.url.database or 'postgres'),
                isolation_level='AUTOCOMMIT', connect_args=self._connect_args(),
                pool_size=1, max_overflow=2)
        return self._admin

    def _present(self, name: str) -> bool:
        with self.admin.connect() as conn:
            return conn.execute(
                text('SELECT 1 FROM pg_database WHERE datname = :name AND NOT datistemplate'),
                {'name': name}).first() is not None

    def _create_empty(self, name: str) -> None:
        try:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except DBAPIError as exc:
            raise DatabaseError(f'cannot create database {name!r}: {_pg_message(exc)}') from None

    def _drop(self, name: str) -> None:
        try:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except DBAPIError as exc:
            raise DatabaseError(f'cannot drop database {name!r}: {_pg_message(exc)}') from None

    def _candidates(self) -> list[str]:
        with self.admin.connect() as conn:
            rows = conn.execute(text('SELECT datname FROM pg_database WHERE NOT datistemplate'))
            return [name for (name,) in rows if valid_name(name)]

    def begin(self, conn: Connection, readonly: bool, timeout: float | None,
              exclusive: bool = False) -> None:
        if exclusive:  # a session lock, taken before the snapshot of the real transaction
            wait = int(config.getfloat('database', 'pool_timeout') * 1000)
            conn.execute(_lock_sql, {'wait': f'{wait}ms', 'key': _EXCLUSIVE_KEY})
            conn.commit()
            conn.connection.info['exclusive'] = True
        conn.exec_driver_sql(_BEGIN_READ_ONLY if readonly else _BEGIN_READ_WRITE)
        if not readonly and not exclusive:
            # Writers hold the turn lock shared (until the transaction ends): an exclusive
            # re-run waits for the writers in flight and then runs alone, so it cannot meet
            # the same conflict again. A writer that waited on it fails once and re-runs.
            conn.execute(_shared_sql, {'key': _EXCLUSIVE_KEY})
        if timeout:
            conn.exec_driver_sql(f'SET LOCAL statement_timeout = {int(timeout * 1000)}')

    def commit(self, conn: Connection) -> None:
        conn.exec_driver_sql('COMMIT')

    def rollback(self, conn: Connection) -> None:
        conn.exec_driver_sql('ROLLBACK')

    def end(self, conn: Connection, timeout: float | None) -> None:
        if conn.invalidated:  # a lost connection: its session, and so the lock, are gone
            return
        if conn.connection.info.pop('exclusive', False):
            try:
                conn.execute(text('SELECT pg_advisory_unlock(:key)'), {'key': _EXCLUSIVE_KEY})
                conn.commit()
            except DBAPIError:
                conn.invalidate()  # closing the session releases the lock

    def classify(self, exc: BaseException) -> Outcome | None:
        if isinstance(exc, PoolTimeout):
            return 'unavailable'
        if not isinstance(exc, DBAPIError):
            return None
        state = getattr(exc.orig, 'sqlstate', None)
        if state in _PG_STATES:
            return _PG_STATES[state]
        if state is None and _MISSING_RE.search(str(exc.orig)):  # refused at connection time
            return 'missing'
        # A lost connection: SQLSTATE class 08, or a driver-side OperationalError without
        # SQLSTATE ("server closed the connection"). Client-side errors without SQLSTATE
        # (e.g. text with a NUL character) are not outages.
        if exc.connection_invalidated or (state or '').startswith('08') or (
                state is None and isinstance(exc, OperationalError)):
            return 'unavailable'
        return None


def unstorable_text(exc: BaseException) -> bool:
    """Whether *exc* says a value was text no database can store: a NUL character (refused
    by PostgreSQL's driver) or an unpaired surrogate (not UTF-8 at all). Such values come
    from the client (a path segment, a form field), so they deserve a 400, not a 500."""
    if isinstance(exc, UnicodeEncodeError):
        return exc.reason == 'surrogates not allowed'
    return (isinstance(exc, SQLDataError) and getattr(exc.orig, 'sqlstate', None) is None
            and 'NUL' in str(exc.orig))


def _pg_message(exc: DBAPIError) -> str:
    diag = getattr(exc.orig, 'diag', None)
    return (diag and diag.message_primary) or type(exc.orig).__name__


def reconnectable(exc: BaseException) -> bool:
    """Whether *exc* is a connection lost before its transaction's COMMIT was sent.

    The server has then rolled the transaction back, so running it again on a new connection
    is safe. A connection lost during COMMIT leaves the outcome unknown: never re-run that.
    """
    return (isinstance(exc, DBAPIError) and exc.connection_invalidated
            and not getattr(exc, 'trylite_during_commit', False))


def create_tables(conn: Connection) -> None:
    """Create the missing tables of trylite and of every registered model."""
    from . import user_application  # noqa: F401  (registers the core models)
    from .pool import Pool

    Model.metadata.create_all(conn, tables=Pool.tables(), checkfirst=True)


_backends: dict[str, Backend] = {}
_backends_lock = threading.Lock()


def backend() -> Backend:
    """The backend of the current ``[database] uri`` (one object per URI and process)."""
    uri = config.get('database', 'uri')
    try:
        return _backends[uri]
    except KeyError:
        pass
    if uri.startswith('sqlite:///'):
        new: Backend = SQLiteBackend(uri)
    elif uri.startswith('postgresql'):
        new = PostgreSQLBackend(uri)
    else:
        raise ConfigError(
            '[database] uri must be sqlite:///DIR or postgresql+psycopg://USER@HOST:PORT/')
    with _backends_lock:
        return _backends.setdefault(uri, new)


def reset() -> None:
    """Close every pool of this process (after a fork, or at the end of tests)."""
    with _backends_lock:
        for item in _backends.values():
            for name in list(item._engines):
                item.forget(name)
        _backends.clear()


