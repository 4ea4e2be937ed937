"""What every backend does: engines, existence, administration, transactions, errors.

A trylite database carries the marker table ``trylite_database``; a database without it is
never served. Each process keeps one engine (one connection pool) per database, made on first
use, so a database created while the server runs is served without a restart.

Transactions are begun and ended by trylite itself (:meth:`Backend.begin`, ``commit``,
``rollback``), never by the driver. :meth:`Backend.transaction` is the one way to run one: a
driver error leaving it is replaced by the typed exception of :mod:`trylite.exceptions` that
says what happened (:meth:`Backend.classify`), so no caller parses driver errors.
"""

from __future__ import annotations

import re
import threading
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Dialect,
    Engine,
    Integer,
    MetaData,
    Select,
    String,
    Table,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from ..exceptions import (
    DatabaseError,
    DatabaseNotFound,
    StorageError,
    Unavailable,
    UnstorableText,
)
from ..settings import DatabaseSettings
from .types import UTCDateTime, utcnow

__all__ = ['Backend', 'NAME_RE', 'marker', 'valid_name']

#: Names a database may have: a letter or ``_`` then up to 62 letters, digits, ``_`` or ``-``.
NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_-]{0,62}')

#: The storage layer's own tables (models have theirs in :class:`trylite.model.Model`).
metadata = MetaData()
marker = Table(
    'trylite_database', metadata,
    Column('name', String(63), primary_key=True),
    Column('version', Integer, nullable=False),
    Column('created', UTCDateTime, nullable=False),
)
SCHEMA_VERSION = 1

#: Creates the tables of a database's models on a connection in a transaction.
SchemaCreator = Callable[[Connection], None]


def valid_name(name: str) -> bool:
    return NAME_RE.fullmatch(name) is not None


#: How many compiled statements a backend keeps for :meth:`Backend.fetch`, at most.
READERS = 256
#: What :meth:`Backend.fetch` runs: a select, or a write with RETURNING.
Fetched = Select[Any] | ReturningInsert[Any] | ReturningUpdate[Any]


class Reader:
    """A statement compiled once for one dialect, run on the driver by
    :meth:`Backend.fetch`."""

    def __init__(self, statement: Fetched, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.dialect = dialect
        self.sql = compiled.string
        #: The parameters' names in the order of the SQL's placeholders (``None``: by name).
        self.positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        #: The conversions of the parameters that need one, by name.
        self.converters: dict[str, Callable[[Any], Any]] = {}
        #: The values the statement holds itself (``x == 'a'``), by name.
        self.fixed: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            if bind.expanding:
                raise TypeError(f'fetch() cannot expand the parameter {bind.key!r}')
            if not bind.required:
                self.fixed[name] = bind.effective_value
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                self.converters[name] = convert
        self.columns = list(statement.exported_columns)
        #: Makes a row: a named tuple of the columns' keys (repeated keys renamed).
        row: Any = namedtuple('Row', [column.key for column in self.columns],  # type: ignore[misc]
                              rename=True)
        self.make: Callable[[Iterable[Any]], tuple[Any, ...]] = row._make
        #: Each column's conversion of the driver's value (``None``: none), known once the
        #: driver has described a result (a conversion may depend on the driver's type).
        self.processors: list[Callable[[Any], Any] | None] | None = None

    def parameters(self, params: dict[str, Any]) -> Any:
        """*params* converted, as the driver takes them for :attr:`sql`."""
        if self.fixed:
            params = {**self.fixed, **params}
        if self.converters:
            params = {name: value if value is None or name not in self.converters
                      else self.converters[name](value) for name, value in params.items()}
        if self.positions is None:
            return params
        return tuple(params[name] for name in self.positions)

    def rows(self, cursor: Any) -> list[Any]:
        """The rows of the driver's *cursor*, converted."""
        found = cursor.fetchall()
        if not found:
            return []
        processors = self.processors
        if processors is None:
            processors = self.processors = [
                column.type.dialect_impl(self.dialect).result_processor(
                    self.dialect, described[1])
                for column, described in zip(self.columns, cursor.description, strict=True)]
        if not any(processors):
            return [self.make(values) for values in found]
        return [self.make([value if process is None or value is None else process(value)
                           for process, value in zip(processors, values, strict=True)])
                for values in found]


class Backend:
    """The databases of one ``[database] uri``."""

    #: The SQLAlchemy dialect's ``insert`` (with ``on_conflict_do_update``) of this backend.
    insert: Callable[..., Any]

    def __init__(self, uri: str, options: DatabaseSettings) -> None:
        self.uri = uri
        self.options = options
        self._engines: dict[str, Engine] = {}
        self._readers: dict[Fetched, Reader] = {}
        self._known: set[str] = set()
        self._lock = threading.Lock()

    # -- engines ------------------------------------------------------------------------------
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

    def _pool_options(self) -> dict[str, Any]:
        return {'pool_size': self.options.pool_size, 'max_overflow': self.options.max_overflow,
                'pool_timeout': self.options.pool_timeout}

    def _make_engine(self, name: str) -> Engine:
        raise NotImplementedError

    def forget(self, name: str) -> None:
        """Close the pool of *name* and forget that it exists (after a drop)."""
        with self._lock:
            self._known.discard(name)
            engine = self._engines.pop(name, None)
        if engine is not None:
            engine.dispose()

    def close(self) -> None:
        """Close every pool of this backend."""
        for name in list(self._engines):
            self.forget(name)

    # -- existence ----------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        """Whether *name* is a trylite database. Positive answers are remembered."""
        if name in self._known and self._still_there(name):
            return True
        if not valid_name(name) or not self._present(name):
            return False
        try:
            with self.transaction(name, readonly=True) as conn:
                found = conn.execute(marker.select().where(marker.c.name == name)).first()
        except (StorageError, DatabaseNotFound, DBAPIError):
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

    def require(self, name: str) -> None:
        """Raise :class:`DatabaseNotFound` unless *name* is a trylite database."""
        if not self.exists(name):
            raise DatabaseNotFound(f'no trylite database named {name!r}')

    # -- administration -----------------------------------------------------------------------
    def create(self, name: str, create_schema: SchemaCreator) -> None:
        """Create database *name*: the marker, then *create_schema* in the same transaction."""
        if not valid_name(name):
            raise DatabaseError(f'invalid database name {name!r}')
        if self._present(name):
            raise DatabaseError(f'database {name!r} already exists')
        self._create_empty(name)
        try:
            with self.transaction(name) as conn:
                metadata.create_all(conn)
                create_schema(conn)
                conn.execute(marker.insert().values(
                    name=name, version=SCHEMA_VERSION, created=utcnow()))
        except BaseException:
            self.drop(name)
            raise
        self._known.add(name)

    def update(self, name: str, create_schema: SchemaCreator) -> None:
        """Run *create_schema* on an existing database (to add the tables of new models)."""
        self.require(name)
        with self.transaction(name) as conn:
            create_schema(conn)

    def drop(self, name: str) -> None:
        self.forget(name)
        self._drop(name)

    def databases(self) -> list[str]:
        """The names of the trylite databases, sorted."""
        return sorted(name for name in self._candidates() if self.exists(name))

    def _create_empty(self, name: str) -> None:
        raise NotImplementedError

    def _drop(self, name: str) -> None:
        raise NotImplementedError

    def _candidates(self) -> list[str]:
        raise NotImplementedError

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self, name: str, readonly: bool = False, timeout: float | None = None,
                    exclusive: bool = False) -> Iterator[Connection]:
        """A transaction on a pooled connection of *name* (see :meth:`begin`): committed
        when the block ends normally, rolled back when it raises.

        A driver error leaving the block is raised as its typed exception (a
        :class:`~trylite.exceptions.ConnectionLost` during COMMIT says so: whether the
        transaction was committed is then unknown).
        """
        during_commit = False
        try:
            with self.engine(name).connect() as conn:
                try:
                    self.begin(conn, readonly, timeout, exclusive)
                    yield conn
                    during_commit = True
                    self.commit(conn)
                except BaseException:
                    if not during_commit and not conn.invalidated:
                        self.rollback(conn)
                    raise
                finally:
                    self.end(conn, timeout)  # also after a failed begin
        except Exception as exc:
            typed = self.classify(exc, during_commit)
            if typed is None:
                raise
            raise typed from exc

    @contextmanager
    def autocommit(self, name: str) -> Iterator[Connection]:
        """A connection for statements that stand alone, outside any transaction: each is
        committed at once where the database can (PostgreSQL, READ COMMITTED), or together
        when the block ends (SQLite). For bookkeeping that a rollback must not undo."""
        try:
            with self.engine(name).connect() as conn:
                yield conn
                conn.commit()
        except Exception as exc:
            typed = self.classify(exc, False)
            if typed is None:
                raise
            raise typed from exc

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

    def end(self, conn: Connection, timeout: float | None) -> None:
        """Undo what :meth:`begin` set on the connection for this transaction only."""

    def fetch(self, conn: Connection, statement: Fetched, params: dict[str, Any],
              alone: bool = False) -> list[Any]:
        """The rows of *statement* (a select, or a write with RETURNING) run on *conn* with
        *params*: for the statements of every request (a key check, a throttle count), run on
        the driver itself — SQLAlchemy's result machinery costs more than such a query. Each
        row is a named tuple of the statement's columns, their values converted as SQLAlchemy
        would; *statement* is compiled once per backend and dialect (build it once).

        *alone*: a read that needs nothing of the transaction's snapshot (a key check): where
        the backend defers BEGIN and nothing has run yet, it runs on its own, before the
        transaction begins (:mod:`.postgresql`); else it runs in the transaction."""
        read = self._reader(statement, conn.dialect)
        raw: Any = conn.connection.dbapi_connection
        return read.rows(raw.execute(read.sql, read.parameters(params)))

    def _reader(self, statement: Fetched, dialect: Dialect) -> Reader:
        try:
            return self._readers[statement]
        except KeyError:
            if len(self._readers) >= READERS:  # statements built anew at each call: start over
                self._readers.clear()
            read = self._readers[statement] = Reader(statement, dialect)
            return read

    # -- schema changes at run time -------------------------------------------------------------
    def add_column(self, conn: Connection, table: str, column: Column[Any]) -> None:
        """Add *column* (a SQLAlchemy column, not bound to a table) to the table *table*."""
        quote = conn.dialect.identifier_preparer.quote
        definition = CreateColumn(column).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f'ALTER TABLE {quote(table)} ADD COLUMN {definition}')

    def drop_column(self, conn: Connection, table: str, column: str) -> None:
        """Remove the column *column* of the table *table*, and its values."""
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(f'ALTER TABLE {quote(table)} DROP COLUMN {quote(column)}')

    def drop_table(self, conn: Connection, table: str) -> None:
        """Remove the table *table* and its rows."""
        conn.exec_driver_sql(f'DROP TABLE {conn.dialect.identifier_preparer.quote(table)}')

    # -- errors -------------------------------------------------------------------------------
    def classify(self, exc: BaseException, during_commit: bool) -> BaseException | None:
        """The typed exception *exc* (a driver error) stands for, or ``None`` if it stands
        for nothing trylite knows (it is then raised as it is)."""
        if isinstance(exc, PoolTimeout):
            return Unavailable('no database connection is free')
        if isinstance(exc, UnicodeEncodeError) and exc.reason == 'surrogates not allowed':
            return UnstorableText('text with an unpaired surrogate cannot be stored')
        return self._classify(exc, during_commit)

    def _classify(self, exc: BaseException, during_commit: bool) -> BaseException | None:
        raise NotImplementedError
