"""trylite.auth.sessions: opening, finding and ending sessions; a new password or a
deactivation ends them all, whatever code makes the change."""

from __future__ import annotations

import logging

from sqlalchemy import select

from tests.helpers import create_user
from trylite.auth.persons import User
from trylite.auth.sessions import UserSession, open_session, session_user
from trylite.transaction import Transaction


def sessions_of(db: str) -> dict[int, int]:
    """Person id -> how many sessions they have."""
    with Transaction.start(db, readonly=True) as transaction:
        found: dict[int, int] = {}
        for user_id in transaction.session.scalars(select(UserSession.user_id)):
            found[user_id] = found.get(user_id, 0) + 1
        return found


def open_two(db: str, user_id: int) -> list[str]:
    with Transaction.start(db) as transaction:
        user = transaction.session.get(User, user_id)
        return [open_session(transaction.session, user) for _ in range(2)]


def test_a_new_password_ends_the_persons_sessions_only(db, caplog):
    caplog.set_level(logging.INFO, logger='trylite.audit')
    alice, bob = create_user(db, 'alice'), create_user(db, 'bob')
    tokens = open_two(db, alice)
    open_two(db, bob)
    with Transaction.start(db) as transaction:
        transaction.session.get(User, alice).set_password('another password')
    assert sessions_of(db) == {bob: 2}
    with Transaction.start(db, readonly=True) as transaction:
        assert all(session_user(transaction.session, t) is None for t in tokens)
    (ended,) = [r.audit for r in caplog.records if r.name == 'trylite.audit']
    assert ended == {'event': 'sessions.ended', 'database': db, 'person': alice,
                     'reason': 'new password'}


def test_deactivation_ends_sessions_and_reactivation_brings_none_back(db):
    alice = create_user(db, 'alice')
    tokens = open_two(db, alice)
    with Transaction.start(db) as transaction:
        transaction.session.get(User, alice).active = False
    with Transaction.start(db) as transaction:
        transaction.session.get(User, alice).active = True
    assert sessions_of(db) == {}
    with Transaction.start(db, readonly=True) as transaction:
        assert all(session_user(transaction.session, t) is None for t in tokens)


def test_other_changes_keep_sessions(db):
    alice = create_user(db, 'alice')
    open_two(db, alice)
    with Transaction.start(db) as transaction:
        person = transaction.session.get(User, alice)
        person.name, person.active = 'Alice A.', True
    assert sessions_of(db) == {alice: 2}
