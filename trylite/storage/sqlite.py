"""SQLite: one file per database in a folder, in WAL mode.

Files are private to the account running trylite: the folder, when trylite creates it, is
``0700`` and every database file (with its ``-wal`` and ``-shm``) ``0600``.

Writers take SQLite's lock up front (``BEGIN IMMEDIATE``), so they take turns instead of
failing each other; read-only transactions run under ``PRAGMA query_only``, so that a write in
them fails loudly. Errors are classified by SQLite's result codes, never by message text.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import DBAPIError

from ..exceptions import (
    Busy,
    ConfigError,
    ConstraintViolation,
    DatabaseError,
    Duplicate,
    ReadOnlyViolation,
    StatementTimeout,
    Unavailable,
)
from ..settings import DatabaseSettings
from .backend import Backend, Fetched

__all__ = ['SQLiteBackend']

#: Primary result codes (the low byte of an extended code) and what they mean.
_PRIMARY: dict[int, tuple[type[Exception], str]] = {
    5: (Busy, 'the database is busy'),  # SQLITE_BUSY
    6: (Busy, 'a table is locked'),  # SQLITE_LOCKED
    8: (ReadOnlyViolation, 'a read-only transaction tried to write'),  # SQLITE_READONLY
    9: (StatementTimeout, 'a statement took too long'),  # SQLITE_INTERRUPT
    10: (Unavailable, 'the database file cannot be read or written'),  # SQLITE_IOERR
    13: (Unavailable, 'the disk is full'),  # SQLITE_FULL
    14: (Unavailable, 'the database file cannot be opened'),  # SQLITE_CANTOPEN
}
#: Extended codes of unique constraints (other SQLITE_CONSTRAINT codes: ConstraintViolation).
_UNIQUE = {1555, 2067}  # SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
_CONSTRAINT = 19


class SQLiteBackend(Backend):
    """One SQLite file per database in a folder, in WAL mode."""

    insert = staticmethod(insert)

    def __init__(self, uri: str, options: DatabaseSettings) -> None:
        super().__init__(uri, options)
        folder = uri.removeprefix('sqlite:///')
        if not folder or folder.startswith(':memory:'):
            raise ConfigError('[database] uri for SQLite must name a folder: sqlite:///DIR')
        self.folder = Path(folder).expanduser()

    def path(self, name: str) -> Path:
        return self.folder / f'{name}.sqlite'

    def _make_engine(self, name: str) -> Engine:
        engine = create_engine(
            f'sqlite:///{self.path(name)}',
            connect_args={'timeout': self.options.sqlite_busy_timeout,
                          'check_same_thread': False},
            **self._pool_options())

        @event.listens_for(engine, 'connect')
        def connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None  # trylite emits BEGIN itself
            for pragma in ('journal_mode=WAL', 'synchronous=NORMAL', 'foreign_keys=ON'):
                dbapi_conn.execute(f'PRAGMA {pragma}')
            record.info['query_only'] = False

        @event.listens_for(engine, 'begin')
        def begin(conn: Connection) -> None:
            info = conn.connection.info
            readonly = info.pop('readonly', False)
            dbapi_conn: Any = conn.connection.dbapi_connection
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
        # Private to this account: a folder it creates is 0700, a database file 0600 (and
        # SQLite gives the -wal and -shm files the database file's permissions).
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path(name).touch(mode=0o600, exist_ok=False)
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
            dbapi_conn: Any = conn.connection.dbapi_connection
            dbapi_conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        conn.begin()

    def fetch(self, conn: Connection, statement: Fetched, params: dict[str, Any],
              alone: bool = False) -> list[Any]:
        if not conn.in_transaction():  # in an autocommit block: begin as SQLAlchemy would
            conn.begin()
        return super().fetch(conn, statement, params, alone)

    def end(self, conn: Connection, timeout: float | None) -> None:
        if timeout and not conn.invalidated:
            dbapi_conn: Any = conn.connection.dbapi_connection
            dbapi_conn.set_progress_handler(None, 0)

    def _classify(self, exc: BaseException, during_commit: bool) -> BaseException | None:
        if isinstance(exc, DBAPIError):
            exc = exc.orig  # type: ignore[assignment]
        if not isinstance(exc, sqlite3.Error):
            return None
        code = getattr(exc, 'sqlite_errorcode', None)
        if code is None:
            return None
        if code & 0xFF == _CONSTRAINT:
            constraint: type[Exception] = Duplicate if code in _UNIQUE else ConstraintViolation
            return constraint(str(exc))  # SQLite names the constraint, never the values
        if code & 0xFF in _PRIMARY:
            kind, message = _PRIMARY[code & 0xFF]
            return kind(message)
        return None
