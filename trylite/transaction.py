"""The current transaction, Tryton-shaped.

``Transaction()`` is the transaction of the running code (a context variable, so each thread
and task has its own); it raises ``RuntimeError`` outside one. Transactions are started with
:meth:`Transaction.start` — usually by the :func:`~trylite.wrappers.with_transaction` wrapper::

    with Transaction.start('demo', user=0, readonly=False):
        Transaction().session.add(...)

It commits when the block ends normally and rolls back when it raises. ``atexit`` callbacks run
after either, outside the transaction. :meth:`Transaction.run` runs a function in a transaction
and re-runs it after a conflict: the one retry loop of trylite (``with_transaction`` and the
data layer's calls use it).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, Select
from sqlalchemy.orm import Session

from . import storage
from .exceptions import ConnectionLost, Duplicate, Retryable

logger = logging.getLogger(__name__)

R = TypeVar('R')
_current: ContextVar[Transaction | None] = ContextVar('trylite.transaction', default=None)


class Transaction:
    """A database transaction and who it runs as.

    Attributes: ``database_name``; ``backend`` (its :class:`~trylite.storage.Backend`);
    ``user`` (the id of the ``res.user`` it acts for, 0 for the
    system); ``context`` (a dict the code may read); ``readonly``; ``connection`` (the
    SQLAlchemy :class:`~sqlalchemy.Connection`); ``session`` (a SQLAlchemy ORM
    :class:`~sqlalchemy.orm.Session` on that connection, made on first use).
    """

    database_name: str
    user: int
    context: dict[str, Any]
    readonly: bool
    connection: Connection
    backend: storage.Backend
    #: Per-transaction memo of what the code derived from the database (cleared at the end).
    cache: dict[str, Any]
    _session: Session | None
    _atexit: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]

    @staticmethod
    def active() -> Transaction | None:
        """The current transaction, or ``None`` outside one."""
        return _current.get()

    def __new__(cls) -> Transaction:
        current = _current.get()
        if current is None:
            raise RuntimeError('no transaction is active: use with_transaction() or '
                               'Transaction.start()')
        return current

    @classmethod
    @contextmanager
    def start(cls, database_name: str, user: int = 0, *, readonly: bool = False,
              context: dict[str, Any] | None = None,
              timeout: float | None = None, exclusive: bool = False) -> Iterator[Transaction]:
        """Run the block in a new transaction on *database_name*.

        It commits if the block ends normally, rolls back if it raises; *timeout* (seconds)
        cancels any statement that runs longer; *exclusive* transactions of one database run
        one at a time (``with_transaction`` retries that way after a conflict). A transaction
        started inside another one is independent of it (its own connection) and the outer one
        is current again afterwards.
        """
        self = object.__new__(cls)
        self.database_name = database_name
        self.user = user
        self.backend = storage.backend()
        self.context = dict(context or ())
        self.readonly = readonly
        self._session = None
        self._atexit = []
        self.cache = {}
        try:
            with (self.backend.transaction(
                      database_name, readonly, timeout, exclusive) as self.connection,
                  self._made_current()):
                yield self
                if self._session is not None:
                    self._session.flush()
        finally:
            self._run_atexit()

    @classmethod
    def run(cls, database_name: str, user: int, func: Callable[[], R], *,
            readonly: bool = False, context: dict[str, Any] | None = None,
            timeout: float | None = None, retries: int = 0) -> R:
        """``func()`` in a new transaction; re-run from the start after a conflict.

        A read-write transaction that meets a serialization failure, a deadlock or a busy
        database is re-run up to *retries* times (then the conflict is raised: 503); a unique
        violation is re-run once (it may be a concurrent insert of the same key). Re-runs of
        one database take turns (no livelock between them) and never sleep. A transaction
        whose pooled connection turns out dead before COMMIT is re-run once on a new
        connection, read-only or not.
        """
        for attempt in itertools.count():
            try:
                with cls.start(database_name, user, readonly=readonly, context=context,
                               timeout=timeout, exclusive=attempt > 0):
                    return func()
            except Exception as exc:
                if not _retry(exc, attempt, retries):
                    raise
                logger.info('re-running a transaction on %s after a conflict (%d)',
                            database_name, attempt + 1)
        raise AssertionError('unreachable')

    @contextmanager
    def _made_current(self) -> Iterator[None]:
        """Make this transaction current inside the block; close its session after."""
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)
            if self._session is not None:
                self._session.close()

    @property
    def session(self) -> Session:
        """The ORM session of this transaction (flushed before commit)."""
        if self._session is None:
            self._session = Session(bind=self.connection, expire_on_commit=False)
        return self._session

    def lookup(self, statement: Select[Any], params: dict[str, Any], *, alone: bool = False
               ) -> Any | None:
        """The first row of *statement* (a named tuple), or ``None``: a read made on every
        request, without SQLAlchemy's result machinery (:meth:`Backend.fetch
        <trylite.storage.Backend.fetch>`; build the statement once). *alone*: it needs
        nothing of the transaction's snapshot (a key check, a throttle check): made before
        any other statement, it then runs on its own, before the transaction begins
        (PostgreSQL), so that a request that reads nothing else costs no BEGIN nor COMMIT."""
        rows = self.backend.fetch(self.connection, statement, params, alone)
        return rows[0] if rows else None

    @contextmanager
    def set_user(self, user: int) -> Iterator[None]:
        """Act as *user* inside the block."""
        previous, self.user = self.user, user
        try:
            yield
        finally:
            self.user = previous

    @contextmanager
    def set_context(self, context: dict[str, Any] | None = None, **values: Any) -> Iterator[None]:
        """Add *context* and *values* to the context inside the block."""
        previous = self.context
        self.context = {**previous, **(context or {}), **values}
        try:
            yield
        finally:
            self.context = previous

    def atexit(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``func(*args, **kwargs)`` once the transaction has ended (either way).

        An exception in *func* is logged, not raised.
        """
        self._atexit.append((func, args, kwargs))

    def _run_atexit(self) -> None:
        for func, args, kwargs in self._atexit:
            try:
                func(*args, **kwargs)
            except Exception:
                logger.exception('atexit callback %r of a transaction failed', func)


def _retry(exc: Exception, attempt: int, retries: int) -> bool:
    """Whether to re-run a transaction that raised *exc*."""
    if isinstance(exc, ConnectionLost):
        return attempt == 0 and not exc.during_commit
    if isinstance(exc, Duplicate):
        return attempt == 0 and retries > 0
    return isinstance(exc, Retryable) and attempt < retries
