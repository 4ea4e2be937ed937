"""Counting failures and answering 429 — without ever making a worker sleep.

Failures (bad keys on guarded routes, failed key deletions, failed preference logins) are
counted per *subject* — ``addr:<client address>`` and ``login:<login>`` — in the table
``trylite_throttle`` of the database concerned, so every worker process and machine sharing it
sees the same counts. Past ``[throttle] max_failures`` failures within ``[throttle] window``
seconds, the subject is refused with :class:`~trylite.exceptions.Throttled` (429 with
``Retry-After``) until the window ends.

Callers decide what a subject may still do while throttled; key checks verify the key *first*,
so nobody can lock a person's valid key out by failing on purpose.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable

from sqlalchemy import Column, Connection, Float, Integer, String, Table, case, delete, select

from .. import storage
from ..exceptions import Throttled
from ..pool import Pool, metadata
from ..settings import current
from ..transaction import Transaction

__all__ = ['check', 'failure', 'retry_after', 'subjects', 'table']

table = Table(
    'trylite_throttle', metadata,
    Column('subject', String(300), primary_key=True),
    Column('failures', Integer, nullable=False),
    Column('window_end', Float, nullable=False, index=True),
)
Pool.register_table(table)


def subjects(remote_addr: str | None, login: str | None = None) -> list[str]:
    """The subjects a failure counts against: the client address, and the login if any."""
    found = [f'addr:{remote_addr or "unknown"}']
    if login is not None:
        found.append(f'login:{login[:200]}')
    return found


def retry_after(conn: Connection, keys: Iterable[str]) -> int:
    """Seconds until none of *keys* is throttled any more (0 when none is)."""
    now = time.time()
    rows = conn.execute(select(table.c.failures, table.c.window_end).where(
        table.c.subject.in_(list(keys)), table.c.window_end > now))
    limit = current().throttle.max_failures
    ends = [end for failures, end in rows if failures >= limit]
    return max(1, math.ceil(max(ends) - now)) if ends else 0


def check(keys: Iterable[str]) -> None:
    """Raise :class:`Throttled` if any of *keys* is throttled now (in the current
    transaction)."""
    wait = retry_after(Transaction().connection, keys)
    if wait:
        raise Throttled(wait)


def failure(keys: Iterable[str]) -> None:
    """Count one failure against *keys* once the transaction ends; :class:`Throttled` if they
    are throttled.

    The count is written on its own after the current transaction, so a rollback (the usual
    fate of a failed request) keeps it.
    """
    keys = list(keys)
    transaction = Transaction()
    transaction.atexit(_count, transaction.database_name, keys)
    check(keys)


#: Expired counts are swept once every this many failures counted by a process.
SWEEP_EVERY = 100
_counted = itertools.count()


def _count(database_name: str, keys: list[str]) -> None:
    """Add one failure to each of *keys*: one upsert, outside any transaction (on PostgreSQL,
    concurrent counts of one subject wait for each other instead of failing)."""
    now = time.time()
    window_end = now + current().throttle.window
    backend = storage.backend()
    live = table.c.window_end > now
    stmt = backend.insert(table).values(
        [{'subject': key, 'failures': 1, 'window_end': window_end} for key in keys])
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.subject],
        set_={'failures': case((live, table.c.failures + 1), else_=1),
              'window_end': case((live, table.c.window_end), else_=window_end)})
    with backend.autocommit(database_name) as conn:
        conn.execute(stmt)
        if next(_counted) % SWEEP_EVERY == 0:
            conn.execute(delete(table).where(table.c.window_end < now))
