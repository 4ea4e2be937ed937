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
    Change("the throttle's check and upsert built once (the multi-row upsert had no cache key, "
           "so SQLAlchemy compiled it at every failure; now one row per subject, in one round "
           "trip)", 1892, 815, "wrong-key request (401, every failure counted), with the "
           "change below; 2026-11-23"),
    Change("the key and its person read with one Core query, the person placed in the session "
           "as loaded (no ORM query)", 482, 436, "guarded request; the key query with the "
           "person alone: 344 → 289 µs; 2026-11-23"),
    Change("a key's secret made from 32 random bytes in one base62 conversion rather than 43 "
           "draws", 41, 5, "making a secret, within a key request; 2026-11-23"),
    Change("BEGIN sent with a transaction's first statement; the key check (and the throttle "
           "check) run alone before it, on the driver with a statement compiled once "
           "(Backend.fetch): a guarded request whose handler reads nothing more is one round "
           "trip instead of three", 350, 237,
           "guarded request on PostgreSQL, bench.inprocess (wrong key 549 → 515, key request "
           "1,340 → 1,308); the key query alone: SQLAlchemy Core 76 → driver 31 µs; 2026-12-07"),
    Change("a key request reads its person and the requests waiting for them in one statement "
           "and stores the key with a Core insert (statements built once, no ORM flush)",
           1308, 627, "key request on PostgreSQL, bench.inprocess; 2026-12-07"),
    Change("a throttle count is one upsert for its one or two subjects, run on the driver",
           406, 338, "wrong-key request (401, every failure counted) on PostgreSQL, "
           "bench.inprocess (key request 627 → 527); 2026-12-07"),
    Change("bookkeeping outside transactions (throttle counts) does not wait for the disk "
           "(synchronous_commit off; writing transactions set it on)", 213, 133,
           "wall time of one failure counted, in process (the disk flush of its commit); "
           "2026-12-07"),
    Change("a person made as the ORM loads one (no attribute events); one driver cursor per "
           "connection; no body read for a request without one", 243, 217,
           "guarded request on PostgreSQL, bench.inprocess; 2026-12-07"),
    Change("a transaction's first statement sent with its BEGIN, in one round trip (psycopg's "
           "pipeline mode)", 424, 381,
           "transaction request on PostgreSQL, bench.inprocess: the worker's CPU and "
           "PostgreSQL's together (worker 344 → 328, PostgreSQL 80 → 53); key request "
           "531 → 493 in the worker; 2026-12-07"),
]
