"""auth.keys under ``trylite serve`` (two gunicorn worker processes), on SQLite and PostgreSQL:
revocation is immediate everywhere — a key deleted through one worker, or cancelled, expired
or whose person is deactivated, is refused by every worker from the next request on (no
worker keeps a copy of a key's validity)."""

from __future__ import annotations

import datetime

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


def test_a_revoked_key_is_refused_by_every_worker_at_once(db, start_server):
    create_user(db, 'alice')
    base = start_server(workers=2)
    pinned = pinned_sessions(base)
    assert len(pinned) == 2, 'could not reach both workers'
    first, second = pinned.values()

    def statuses(key: str) -> tuple[int, int]:
        return tuple(session.get(f'{base}/{db}/acme/whoami', headers=bearer(key),
                                 timeout=10).status_code for session in (first, second))

    def delete(db: str, key: str) -> None:  # through the first worker, as the application does
        deleted = first.delete(f'{base}/{db}/user/application/', timeout=10, json={
            'user': 'alice', 'key': key, 'application': 'acme'})
        assert deleted.status_code == 204

    for revoke in (delete, cancel, expire, deactivate):  # deactivate last: it stops every key
        key = validated_key(base, db, 'alice')
        assert statuses(key) == (200, 200), revoke.__name__  # each worker has used the key
        revoke(db, key)
        assert statuses(key) == (401, 401), revoke.__name__
