"""Throttling: failures counted in the database, 429 with Retry-After, across worker processes.

The cross-process test pins one kept-alive connection to each of two gunicorn workers.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, update

from tests.helpers import bearer, create_user, pinned_sessions, validated_key
from trylite.auth import throttle
from trylite.exceptions import Throttled
from trylite.transaction import Transaction


def count(db: str, subject: str) -> int | None:
    with Transaction.start(db, readonly=True) as transaction:
        return transaction.connection.execute(select(throttle.table.c.failures).where(
            throttle.table.c.subject == subject)).scalar()


def test_subjects():
    assert throttle.subjects(None) == ['addr:unknown']
    assert throttle.subjects('192.0.2.1', 'x' * 500) == ['addr:192.0.2.1', 'login:' + 'x' * 200]


def test_failures_survive_a_rollback_then_throttle(db, monkeypatch, settings):
    settings(throttle={'max_failures': '2'})
    subjects = ['addr:192.0.2.7']
    for _ in range(2):
        with pytest.raises(RuntimeError), Transaction.start(db):
            throttle.failure(subjects)
            raise RuntimeError('the failed request rolls back')
    assert count(db, subjects[0]) == 2
    with Transaction.start(db) as transaction:
        wait = throttle.retry_after(transaction.connection, subjects)
        assert 0 < wait <= 300
        with pytest.raises(Throttled) as raised:
            throttle.check(subjects)
        assert raised.value.retry_after == wait
        throttle.check(['addr:192.0.2.8'])  # others are not concerned


def test_window_ends(db, monkeypatch, settings):
    settings(throttle={'max_failures': '1'})
    subjects = ['login:alice']
    with Transaction.start(db):
        throttle.failure(subjects)
    with Transaction.start(db) as transaction:
        transaction.connection.execute(update(throttle.table).values(window_end=time.time() - 1))
    with Transaction.start(db) as transaction:
        assert throttle.retry_after(transaction.connection, subjects) == 0
        throttle.failure(subjects)  # a new window starts from one
    assert count(db, subjects[0]) == 1


def test_throttling_holds_across_worker_processes(db, start_server):
    create_user(db, 'alice')
    base = start_server(workers=2,
                        env={'TRYLITE_THROTTLE__MAX_FAILURES': '3'})
    key = validated_key(base, db, 'alice')
    pinned = pinned_sessions(base)
    assert len(pinned) == 2, 'could not reach both workers'
    (pid_a, a), (pid_b, b) = pinned.items()
    whoami = f'{base}/{db}/acme/whoami'
    wrong = bearer(f'trylite_{"c" * 12}_{"d" * 43}')
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
    for session in (a, b):
        session.close()
