"""trylite.model: timestamps are stored as UTC and read back aware, on both databases."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy.exc import StatementError

from tests.helpers import create_user
from trylite.auth.keys import UserApplication
from trylite.auth.tokens import new_key
from trylite.model import utcnow
from trylite.transaction import Transaction

PARIS = datetime.timezone(datetime.timedelta(hours=1))


def store(db: str, when: datetime.datetime) -> int:
    login = f'u{when.timestamp():.0f}'
    user_id = create_user(db, login)
    key = new_key()
    with Transaction.start(db) as transaction:
        row = UserApplication(public_id=key.public_id, secret_hash=key.secret_hash,
                              user_id=user_id, login=login, application='acme', created=when)
        transaction.session.add(row)
        transaction.session.flush()
        return row.id


def test_aware_timestamps_come_back_in_utc(db):
    when = datetime.datetime(2026, 11, 22, 13, 30, tzinfo=PARIS)
    row_id = store(db, when)
    with Transaction.start(db, readonly=True) as transaction:
        created = transaction.session.get(UserApplication, row_id).created
    assert created == when
    assert created.utcoffset() == datetime.timedelta(0)
    assert created.hour == 12


def test_naive_timestamps_are_refused(db):
    with pytest.raises(StatementError, match='aware'):
        store(db, datetime.datetime(2026, 11, 22, 13, 30))


def test_utcnow_is_aware():
    assert utcnow().tzinfo is datetime.UTC
