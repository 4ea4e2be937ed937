"""auth.keys under ``trylite serve`` (two gunicorn worker processes), on SQLite and PostgreSQL:
revocation is immediate everywhere — a key deleted through one worker, or cancelled, expired
or whose person is deactivated, is refused by every worker from the next request on (no
worker keeps a copy of a key's validity)."""

from __future__ import annotations

import datetime

import pytest
import requests
from sqlalchemy import update

from tests.helpers import bearer, create_user, pinned_sessions, public_id, validated_key
from trylite.auth import keys
from trylite.auth.keys import UserApplication
from trylite.auth.persons import User
from trylite.storage.types import utcnow
from trylite.transaction import Transaction


def cancel(db: str, key: str) -> None:
    with Transaction.start(db) as transaction:
        keys.cancel(transaction.session, public_id(key))


def expire(db: str, key: str) -> None:
    with Transaction.start(db) as transaction:
        transaction.connection.execute(
            update(UserApplication).where(UserApplication.public_id == public_id(key))
            .values(expires=utcnow() - datetime.timedelta(seconds=1)))


def deactivate(db: str, key: str) -> None:
    with Transaction.start(db) as transaction:
        transaction.connection.execute(
            update(User).where(User.login == 'alice').values(active=False))


@pytest.mark.parametrize('revoke', ['delete', cancel, expire, deactivate],
                         ids=['deleted', 'cancelled', 'expired', 'deactivated'])
def test_a_revoked_key_is_refused_by_every_worker_at_once(db, start_server, revoke):
    create_user(db, 'alice')
    base = start_server(workers=2)
    pinned = pinned_sessions(base)
    assert len(pinned) == 2, 'could not reach both workers'
    first, second = pinned.values()
    key = validated_key(base, db, 'alice')

    def status(session: requests.Session) -> int:
        return session.get(f'{base}/{db}/acme/whoami', headers=bearer(key),
                           timeout=10).status_code

    assert (status(first), status(second)) == (200, 200)  # each worker has used the key
    if revoke == 'delete':  # through the first worker, as the application does
        deleted = first.delete(f'{base}/{db}/user/application/', timeout=10, json={
            'user': 'alice', 'key': key, 'application': 'acme'})
        assert deleted.status_code == 204
    else:
        revoke(db, key)
    assert (status(second), status(first)) == (401, 401)
