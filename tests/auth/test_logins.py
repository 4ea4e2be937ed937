"""trylite.auth.logins: a password, or a personal API key in its place; throttled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.helpers import PASSWORD, create_user
from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)
from trylite.auth import apikeys
from trylite.auth.logins import login
from trylite.auth.persons import User
from trylite.exceptions import AuthenticationFailed, Throttled
from trylite.transaction import Transaction


def attempt(db: str, name, secret, address: str = '192.0.2.1') -> int:
    with Transaction.start(db):
        return login(name, secret, address).id


def test_password_or_key(db):
    alice = create_user(db, 'alice')
    create_user(db, 'bob')
    assert attempt(db, 'alice', PASSWORD) == alice
    with Transaction.start(db) as transaction:
        person = transaction.session.scalars(select(User).where(User.login == 'alice')).one()
        key = apikeys.create_key(transaction.session, person, 'rpc', days=1)
    assert attempt(db, 'alice', key) == alice
    for name, secret in (('bob', key), ('alice', 'wrong password'), ('nobody', PASSWORD),
                         ('alice', ''), ('', PASSWORD), (None, PASSWORD), ('alice', None),
                         ('alice', key[:-1] + ('y' if key.endswith('x') else 'x'))):
        with pytest.raises(AuthenticationFailed):
            attempt(db, name, secret)


def test_throttled_before_checking(db, settings):
    settings(throttle={'max_failures': 2})
    create_user(db, 'carol')
    outcomes = []
    for _ in range(3):
        try:
            attempt(db, 'carol', 'wrong', '192.0.2.7')
        except (AuthenticationFailed, Throttled) as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ['AuthenticationFailed', 'AuthenticationFailed', 'Throttled']
    with pytest.raises(Throttled):
        attempt(db, 'carol', PASSWORD, '192.0.2.7')
