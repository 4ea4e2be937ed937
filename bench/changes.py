"""Changes made to trylite's hot path, each with its in-process cost before and after.

The report's "Changes" section is this list as a table. Add one ``Change`` per change, with
what was timed in process (py-spy or cProfile to find it, then a request driven straight into
the WSGI app, medians of a few hundred) before and after it, in microseconds.
"""

from __future__ import annotations

from typing import NamedTuple


class Change(NamedTuple):
    """One change: what it was, what was timed before and after (µs), and a note."""

    change: str
    before_us: float
    after_us: float
    note: str = ""


CHANGES: list[Change] = [
    Change("no pre-ping round trip on each pooled PostgreSQL connection (a dead one found at "
           "COMMIT re-runs the transaction once on a new connection)", 1634, 1104,
           "guarded request; 2026-11-22"),
    Change("BEGIN and COMMIT sent by trylite on an autocommit driver connection instead of "
           "psycopg's own", 533, 244, "transaction with one statement; 2026-11-22"),
    Change("URL map bound from the parsed request; environment names cached", 42, 33,
           "nodb request (bare Werkzeug: 20 µs); 2026-11-22"),
]
