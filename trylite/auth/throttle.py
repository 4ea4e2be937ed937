"""Counting failures and key requests, and answering 429 — without ever making a worker sleep.

Events are counted per *subject* in the table ``trylite_throttle`` of the database concerned,
so every worker process and machine sharing it sees the same counts. Each kind of event has
subjects of its own, so that one kind never locks out another:

* a wrong key on a guarded route, a failed key deletion (:func:`key_failures`): against
  ``key:<address>``, up to ``[throttle] max_failures``;
* a key request handed out (:func:`key_requests`): against ``request:<address>`` and
  ``request-login:<login>``, up to ``[throttle] max_requests``;
* a failed preferences login (:func:`login_failures`): against ``login:<address>`` and
  ``login-pair:<address> <login>``, up to ``[throttle] max_failures``.

An *address* is the client's IPv4 address, or the /64 network of its IPv6 address (one host
usually holds a whole /64). A subject that has reached its limit within ``[throttle] window``
seconds is refused with :class:`~trylite.exceptions.Throttled` (429 with ``Retry-After``) until
the window ends. Nothing else is counted: a request without a key, a key that is not well
formed (it cannot match any key), an application polling its own pending key.

Callers :func:`check` the subjects *before* doing the work, and count only what got past the
check, so a refused request writes nothing: a count never passes its limit by more than the
requests in flight, and the rows of one window are bounded — a login's counters are made only
by addresses still under their own limit. A process remembers the subjects it found at their
limit until their window ends, so a flood of refused requests costs no database read either
(deleting a row of ``trylite_throttle`` by hand does not lift a limit a process remembers).

A failure is counted after the transaction, in one autocommit upsert, so the rollback of the
failed request keeps it (:func:`failure`); a key request is counted inside its transaction
(:func:`count`). The event that brings a subject to its limit writes ``throttle.started`` to
the audit log; expired counts are swept now and then.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import math
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    String,
    Table,
    bindparam,
    case,
    delete,
    select,
)

from .. import storage
from ..exceptions import Throttled
from ..pool import Pool, metadata
from ..settings import current
from ..transaction import Transaction
from . import audit
from .persons import LOGIN_LENGTH

__all__ = ['Counters', 'check', 'count', 'count_after', 'failure', 'forget', 'key_failures',
           'key_requests', 'login_failures', 'network', 'table']

table = Table(
    'trylite_throttle', metadata,
    Column('subject', String(300), primary_key=True),
    Column('failures', Integer, nullable=False),
    Column('window_end', Float, nullable=False, index=True),
)
Pool.register_table(table)

class Counters(NamedTuple):
    """What one event counts against: its *subjects*, the *limit* each may reach within a
    window, and who and where (for the audit log)."""

    kind: str
    subjects: tuple[str, ...]
    limit: int
    address: str
    login: str | None = None


def network(remote_addr: str | None) -> str:
    """What a client address is counted as: an IPv4 address as it is, an IPv6 address as its
    /64 network (an IPv4-mapped one as its IPv4 address), ``unknown`` when there is none."""
    if not remote_addr:
        return 'unknown'
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def key_failures(remote_addr: str | None) -> Counters:
    """A wrong key on a guarded route or a failed key deletion: counted per address only (a
    login named by a stranger is no evidence against its person)."""
    where = network(remote_addr)
    return Counters('key', (f'key:{where}',), current().throttle.max_failures, where)


def key_requests(remote_addr: str | None, login: str) -> Counters:
    """A key request: counted per address and per login, whether the login exists or not."""
    where, login = network(remote_addr), login[:LOGIN_LENGTH]
    return Counters('request', (f'request:{where}', f'request-login:{login}'),
                    current().throttle.max_requests, where, login)


def login_failures(remote_addr: str | None, login: str) -> Counters:
    """A failed preferences login: counted per address and per (address, login), so failures
    from elsewhere never keep a person's right password out."""
    where, login = network(remote_addr), login[:LOGIN_LENGTH]
    return Counters('login', (f'login:{where}', f'login-pair:{where} {login}'),
                    current().throttle.max_failures, where, login)


#: The subject (of two; the same one twice for one) at its limit whose window ends last.
_at_limit = (select(table.c.subject, table.c.failures, table.c.window_end)
             .where(table.c.subject.in_([bindparam('first'), bindparam('second')]),
                    table.c.window_end > bindparam('now'),
                    table.c.failures >= bindparam('limit'))
             .order_by(table.c.window_end.desc()))

#: Subjects this process found at their limit: (database, subject) -> (count, window end).
_reached: dict[tuple[str, str], tuple[int, float]] = {}
#: How many of them are remembered at most (expired ones are dropped first).
REMEMBERED = 10_000


def check(counters: Counters) -> None:
    """Raise :class:`Throttled` if a subject of *counters* (one or two) is at its limit: from
    what this process remembers, else with one indexed read (a :meth:`Transaction.lookup
    <trylite.transaction.Transaction.lookup>`). Nothing is written."""
    transaction = Transaction()
    now = time.time()
    ends = [end for events, end in (
        _reached.get((transaction.database_name, subject), (0, 0.0))
        for subject in counters.subjects) if events >= counters.limit and end > now]
    if not ends:
        first, *others = counters.subjects
        row = transaction.lookup(_at_limit, {
            'first': first, 'second': others[0] if others else first, 'now': now,
            'limit': counters.limit}, alone=True)
        if row is not None:
            _remember(transaction.database_name, row.subject, row.failures, row.window_end, now)
            ends.append(row.window_end)
    if ends:
        raise Throttled(max(1, math.ceil(max(ends) - now)))


def _remember(database_name: str, subject: str, events: int, end: float, now: float) -> None:
    if len(_reached) >= REMEMBERED:
        for key, (_, known_end) in list(_reached.items()):
            if known_end <= now:
                del _reached[key]
        if len(_reached) >= REMEMBERED:
            _reached.clear()
    _reached[database_name, subject] = (events, end)


def forget() -> None:
    """Forget the subjects this process found at their limit (after emptying the table)."""
    _reached.clear()


def failure(counters: Counters) -> None:
    """A failure: :class:`Throttled` if a subject is already at its limit (nothing counted);
    else :func:`count_after`."""
    check(counters)
    count_after(counters)


def count_after(counters: Counters) -> None:
    """One more event for each subject of *counters*, written once the transaction has ended
    (a rollback keeps it), for a caller that has already :func:`check`-ed them."""
    transaction = Transaction()
    transaction.atexit(_count_alone, transaction.database_name, counters)


def count(counters: Counters) -> None:
    """One more event for each subject of *counters*, in the current transaction (undone if
    it rolls back). On PostgreSQL, two concurrent transactions counting one subject conflict,
    and one of them re-runs after the other: what they both read stays consistent."""
    transaction = Transaction()
    _report(transaction.database_name, counters,
            _add_event(transaction.connection, transaction.backend, counters))


#: Expired counts are swept once every this many failures counted by a process.
SWEEP_EVERY = 100
_counted = itertools.count()


#: The upserts of each backend class, by number of subjects, built once.
_upserts: dict[tuple[type[storage.Backend], int], Any] = {}


def _upsert(backend: storage.Backend, subjects: int) -> Any:
    """One statement adding an event to each of *subjects* subjects (``subject0``, …; a new
    window for an expired one) and returning their new counts."""
    stmt = _upserts.get((type(backend), subjects))
    if stmt is None:
        live = table.c.window_end > bindparam('now')
        insert = backend.insert(table).values([
            {'subject': bindparam(f'subject{n}'), 'failures': 1,
             'window_end': bindparam('window_end')} for n in range(subjects)])
        stmt = _upserts[type(backend), subjects] = insert.on_conflict_do_update(
            index_elements=[table.c.subject],
            set_={'failures': case((live, table.c.failures + 1), else_=1),
                  'window_end': case((live, table.c.window_end),
                                     else_=bindparam('window_end'))},
        ).returning(table.c.subject, table.c.failures, table.c.window_end)
    return stmt


def _add_event(conn: Connection, backend: storage.Backend, counters: Counters
               ) -> Sequence[Any]:
    """One more event for each subject of *counters* on *conn*, in one statement: their new
    counts."""
    now = time.time()
    params: dict[str, Any] = {f'subject{n}': subject
                              for n, subject in enumerate(counters.subjects)}
    params.update(window_end=now + current().throttle.window, now=now)
    return backend.fetch(conn, _upsert(backend, len(counters.subjects)), params)


def _count_alone(database_name: str, counters: Counters) -> None:
    """Count a failure outside any transaction (on PostgreSQL, concurrent counts of one
    subject wait for each other instead of failing); sweep expired counts now and then."""
    backend = storage.backend()
    with backend.autocommit(database_name) as conn:
        counted = _add_event(conn, backend, counters)
        if next(_counted) % SWEEP_EVERY == 0:
            conn.execute(delete(table).where(table.c.window_end < time.time()))
    _report(database_name, counters, counted)


def _report(database_name: str, counters: Counters, counted: Sequence[Any]) -> None:
    """Write ``throttle.started`` for each subject this event brought to its limit."""
    for subject, events, window_end in counted:
        if events == counters.limit:
            audit.record('throttle.started', logging.WARNING, database=database_name,
                         kind=counters.kind, subject=subject, login=counters.login,
                         address=counters.address,
                         retry_after=max(1, math.ceil(window_end - time.time())))
