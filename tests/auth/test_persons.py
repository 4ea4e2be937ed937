"""``res.user``: argon2 passwords, authentication, deactivation."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import trylite.auth.persons
from tests.helpers import PASSWORD, create_user, set_active
from trylite.auth.persons import User, authenticate
from trylite.exceptions import Duplicate, UserError
from trylite.transaction import Transaction


def test_password_is_hashed_with_argon2():
    user = User(login='alice')
    user.set_password(PASSWORD)
    assert user.password_hash.startswith('$argon2id$')
    assert PASSWORD not in user.password_hash
    assert user.check_password(PASSWORD)
    assert not user.check_password(PASSWORD + '!')


@pytest.mark.parametrize('password_hash', [None, '', 'not an argon2 hash'])
def test_no_or_broken_hash_never_matches(password_hash):
    assert not User(login='alice', password_hash=password_hash).check_password(PASSWORD)


def test_short_password_is_refused():
    with pytest.raises(UserError, match='too short'):
        User(login='alice').set_password('short')


def test_outdated_hash_is_upgraded():
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    user = User(login='alice', password_hash=weak)
    assert user.check_password(PASSWORD)
    assert user.password_hash != weak and user.check_password(PASSWORD)


def test_no_rehash_in_a_read_only_transaction(db):
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    user_id = create_user(db, 'alice')
    with Transaction.start(db) as transaction:
        transaction.session.get(User, user_id).password_hash = weak
    with Transaction.start(db, readonly=True) as transaction:
        assert authenticate(transaction.session, 'alice', PASSWORD) is not None
    with Transaction.start(db) as transaction:
        assert transaction.session.get(User, user_id).password_hash == weak
        assert authenticate(transaction.session, 'alice', PASSWORD) is not None
    with Transaction.start(db) as transaction:
        assert transaction.session.get(User, user_id).password_hash != weak


def test_context_get_tells_who_calls(db):
    user_id = create_user(db, 'alice')
    with Transaction.start(db, user_id, readonly=True):
        assert User.context_get() == {'lang': 'en_US', 'tz': 'UTC', 'uid': user_id}


def test_authenticate(db):
    user_id = create_user(db, 'alice')
    with Transaction.start(db) as transaction:
        session = transaction.session
        assert authenticate(session, 'alice', PASSWORD).id == user_id
        assert authenticate(session, 'alice', 'wrong password') is None
        assert authenticate(session, 'nobody', PASSWORD) is None
    set_active(db, 'alice', False)
    with Transaction.start(db) as transaction:
        assert authenticate(transaction.session, 'alice', PASSWORD) is None


def test_login_is_unique(db):
    create_user(db, 'alice')
    with pytest.raises(Duplicate), Transaction.start(db) as transaction:
        transaction.session.add(User(login='alice', name='Another'))
        transaction.session.flush()
    with Transaction.start(db, readonly=True) as transaction:
        assert transaction.session.scalars(select(User.name)).all() == ['Alice']


def test_every_login_costs_one_password_check(db, monkeypatch):
    """A wrong password, an unknown and an inactive login each run one argon2 check (against a
    dummy hash when there is no person), so a login's existence takes no less time to refuse."""
    create_user(db, 'alice')
    create_user(db, 'bob', active=False)
    checked = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002
            checked.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(trylite.auth.persons, '_hasher', Counting())
    with Transaction.start(db) as transaction:
        for login in ('alice', 'nobody', 'bob'):
            assert authenticate(transaction.session, login, 'wrong password') is None
    assert len(checked) == 3
