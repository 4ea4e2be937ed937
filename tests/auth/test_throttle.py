"""Throttling: events counted in the database per kind and subject, 429 with Retry-After, nothing
written once a subject is at its limit, across worker processes.

The cross-process test pins one kept-alive connection to each of two gunicorn workers.
"""

from __future__ import annotations

import itertools
import logging
import time

import pytest
from sqlalchemy import delete, func, select, update

from tests.helpers import (
    bearer,
    create_user,
    forged_key,
    pinned_sessions,
    throttle_counts,
    validated_key,
)
from trylite.auth import throttle
from trylite.exceptions import Throttled
from trylite.transaction import Transaction


def count(db: str, subject: str) -> int | None:
    with Transaction.start(db, readonly=True) as transaction:
        return transaction.connection.execute(select(throttle.table.c.failures).where(
            throttle.table.c.subject == subject)).scalar()


@pytest.mark.parametrize('address, counted_as', [
    ('192.0.2.1', '192.0.2.1'),
    ('2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'),
    ('2001:db8:1:2:ffff::1', '2001:db8:1:2::/64'),  # the same /64: one subject
    ('::ffff:192.0.2.1', '192.0.2.1'),
    (None, 'unknown'),
    ('', 'unknown'),
    ('not an address', 'not an address'),
])
def test_addresses_are_counted_as_ipv4_or_ipv6_64(address, counted_as):
    assert throttle.network(address) == counted_as


def test_each_kind_of_event_has_subjects_of_its_own(settings):
    settings(throttle={'max_failures': 7, 'max_requests': 4})
    assert throttle.key_failures('192.0.2.1') == (
        'key', ('key:192.0.2.1',), 7, '192.0.2.1', None)
    assert throttle.key_requests('192.0.2.1', 'alice') == (
        'request', ('request:192.0.2.1', 'request-login:alice'), 4, '192.0.2.1', 'alice')
    assert throttle.login_failures('192.0.2.1', 'alice') == (
        'login', ('login:192.0.2.1', 'login-pair:192.0.2.1 alice'), 7, '192.0.2.1', 'alice')
    assert throttle.login_failures(None, 'x' * 500).subjects[1] == 'login-pair:unknown ' + \
        'x' * 100


def test_failures_survive_a_rollback_then_throttle(db, settings):
    settings(throttle={'max_failures': '2'})
    counters = throttle.key_failures('192.0.2.7')
    for _ in range(2):
        with pytest.raises(RuntimeError), Transaction.start(db):
            throttle.failure(counters)
            raise RuntimeError('the failed request rolls back')
    assert count(db, 'key:192.0.2.7') == 2
    with Transaction.start(db):
        with pytest.raises(Throttled) as raised:
            throttle.check(counters)
        assert 290 < raised.value.retry_after <= 300
        throttle.check(throttle.key_failures('192.0.2.8'))  # others are not concerned
        throttle.check(throttle.login_failures('192.0.2.7', 'alice'))  # nor other kinds


def test_a_subject_at_its_limit_is_refused_without_writing(db, settings):
    """Once at the limit, failures answer 429 and write nothing: 400 failures from one
    address leave its count at the limit, not at 400."""
    settings(throttle={'max_failures': '3'})
    counters = throttle.key_failures('192.0.2.9')
    refused = 0
    for _ in range(40):
        try:
            with Transaction.start(db):
                throttle.failure(counters)
        except Throttled:
            refused += 1
    assert refused == 37
    assert throttle_counts(db) == {'key:192.0.2.9': 3}


def test_count_is_undone_with_its_transaction(db, settings):
    counters = throttle.key_requests('192.0.2.1', 'alice')
    with pytest.raises(RuntimeError), Transaction.start(db):
        throttle.count(counters)
        raise RuntimeError('refused after all')
    assert throttle_counts(db) == {}
    with Transaction.start(db):
        throttle.count(counters)
    assert throttle_counts(db) == {'request:192.0.2.1': 1, 'request-login:alice': 1}


def test_window_ends(db, settings):
    settings(throttle={'max_failures': '1'})
    counters = throttle.login_failures('192.0.2.1', 'alice')
    with Transaction.start(db):
        throttle.failure(counters)
    with Transaction.start(db) as transaction:
        transaction.connection.execute(update(throttle.table).values(window_end=time.time() - 1))
    with Transaction.start(db):
        throttle.failure(counters)  # not at the limit any more: a new window starts from one
    assert count(db, 'login:192.0.2.1') == 1


def test_reaching_the_limit_is_written_to_the_audit_log_once(db, settings, caplog):
    settings(throttle={'max_failures': '2'})
    caplog.set_level(logging.INFO, logger='trylite.audit')
    counters = throttle.login_failures('192.0.2.3', 'alice')
    for _ in range(5):
        try:
            with Transaction.start(db):
                throttle.failure(counters)
        except Throttled:
            pass
    started = [r.audit for r in caplog.records
               if r.name == 'trylite.audit' and r.audit['event'] == 'throttle.started']
    assert [(s['subject'], s['login'], s['address'], s['kind']) for s in started] == [
        ('login:192.0.2.3', 'alice', '192.0.2.3', 'login'),
        ('login-pair:192.0.2.3 alice', 'alice', '192.0.2.3', 'login')]
    assert all(0 < s['retry_after'] <= 300 and s['database'] == db for s in started)


def test_a_process_remembers_subjects_at_their_limit(db, settings):
    """Once a process has found a subject at its limit, it refuses it without reading the
    table again, until the window ends; a limit raised since is honoured."""
    settings(throttle={'max_failures': '1'})
    counters = throttle.key_failures('192.0.2.4')
    with Transaction.start(db):
        throttle.failure(counters)
    with pytest.raises(Throttled), Transaction.start(db):  # read, and remembered
        throttle.check(counters)
    with Transaction.start(db):
        throttle.check(throttle.key_failures('192.0.2.4')._replace(limit=2))
    with Transaction.start(db) as transaction:
        transaction.connection.execute(delete(throttle.table))
    with pytest.raises(Throttled), Transaction.start(db):  # remembered, not read
        throttle.check(counters)
    throttle.forget()
    with Transaction.start(db):
        throttle.check(counters)


def test_expired_counts_are_swept(db, settings, monkeypatch):
    monkeypatch.setattr(throttle, '_counted', itertools.count())  # the next failure sweeps
    with Transaction.start(db) as transaction:
        throttle.count(throttle.key_requests('192.0.2.1', 'old'))
        transaction.connection.execute(update(throttle.table).values(window_end=time.time() - 1))
    with Transaction.start(db):
        throttle.failure(throttle.key_failures('192.0.2.2'))
    with Transaction.start(db, readonly=True) as transaction:
        assert transaction.connection.scalar(
            select(func.count()).select_from(throttle.table)) == 1


def test_throttling_holds_across_worker_processes(db, start_server):
    create_user(db, 'alice')
    base = start_server(workers=2,
                        env={'TRYLITE_THROTTLE__MAX_FAILURES': '3'})
    key = validated_key(base, db, 'alice')
    pinned = pinned_sessions(base)
    assert len(pinned) == 2, 'could not reach both workers'
    (pid_a, a), (pid_b, b) = pinned.items()
    whoami = f'{base}/{db}/acme/whoami'
    wrong = bearer(forged_key('c' * 12))
    statuses = [s.get(whoami, headers=wrong, timeout=10).status_code for s in (a, b, a, b, a)]
    assert statuses == [401, 401, 401, 429, 429]
    throttled = b.get(whoami, headers=wrong, timeout=10)
    assert throttled.status_code == 429
    assert int(throttled.headers['Retry-After']) > 0
    assert throttled.json()['status'] == 429
    for session in (a, b):  # a valid key is never locked out
        answer = session.get(whoami, headers=bearer(key), timeout=10)
        assert answer.status_code == 200
        assert answer.json()['login'] == 'alice'
    assert (a.get(f'{base}/test/pid').text, b.get(f'{base}/test/pid').text) == (pid_a, pid_b)
    assert count(db, 'key:127.0.0.1') == 3  # the 429s wrote nothing
    for session in (a, b):
        session.close()
