"""``res.user``: the persons user applications act for.

Passwords are hashed with argon2 (argon2-cffi); the hash is all that is stored. Deactivating a
person (``active = False``) stops their keys and logins at once.

``context_get`` (callable from outside, on the model) tells the caller who they are, as every
Odoo client asks at login: ``{"lang", "tz", "uid"}``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import String, inspect, select
from sqlalchemy.orm import Mapped, Session, make_transient_to_detached, mapped_column, relationship
from sqlalchemy.orm.attributes import instance_state

from ..data.access import ADMIN_GROUP
from ..data.models import Group, membership
from ..exceptions import UserError
from ..model import Model, rpc
from ..pool import Pool
from ..transaction import Transaction

__all__ = ['LOGIN_LENGTH', 'MIN_PASSWORD_LENGTH', 'PERSON_COLUMNS', 'User', 'authenticate',
           'is_admin', 'loaded', 'make_admin']

_hasher = PasswordHasher()
#: A hash checked when the login is unknown, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash('trylite: no such person')

MIN_PASSWORD_LENGTH = 8
#: The longest login.
LOGIN_LENGTH = 100


class User(Model):
    """A person: unique ``login``, display ``name``, password hash and ``active`` flag."""

    __model__ = 'res.user'
    __tablename__ = 'res_user'

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(LOGIN_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200), default='')
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None,
                                                      info={'secret': True})
    active: Mapped[bool] = mapped_column(default=True)
    group_ids: Mapped[list[Group]] = relationship(
        secondary=membership, back_populates='user_ids', info={'string': 'Groups'})

    def __repr__(self) -> str:
        return f'<User {self.id} {self.login!r}>'

    def set_password(self, password: str) -> None:
        """Store the argon2 hash of *password* (at least 8 characters)."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError('Password too short',
                            f'A password needs at least {MIN_PASSWORD_LENGTH} characters.')
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        """Whether *password* is this person's; rehashes it when argon2's settings changed
        (unless the current transaction is read-only: a later login will)."""
        if not self.password_hash:
            return False
        try:
            _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        transaction = Transaction.active()
        if (_hasher.check_needs_rehash(self.password_hash)
                and not (transaction is not None and transaction.readonly)):
            self.password_hash = _hasher.hash(password)
        return True

    @classmethod
    @rpc(readonly=True, model=True)
    def context_get(cls) -> dict[str, Any]:
        """The caller's context: language, time zone (trylite works in UTC) and user id."""
        return {'lang': 'en_US', 'tz': 'UTC', 'uid': Transaction().user}


#: The columns of ``res_user`` a Core query selects to make a person with :func:`loaded`.
PERSON_COLUMNS = tuple(User.__table__.c)
_MAPPER = inspect(User)
_ATTRIBUTES = tuple(_MAPPER.get_property_by_column(column).key for column in PERSON_COLUMNS)
_ID = _ATTRIBUTES.index('id')


def loaded(session: Session, row: Sequence[Any]) -> User | None:
    """The person whose columns end *row* (:data:`PERSON_COLUMNS`, in order, last) in
    *session*, as if an ORM query had loaded it — without the ORM query's cost; ``None`` when
    they are an outer join's empty ones."""
    values = row[len(row) - len(PERSON_COLUMNS):]
    if values[_ID] is None:
        return None
    known = session.identity_map.get(_MAPPER.identity_key_from_primary_key((values[_ID],)))
    if known is not None:
        return known
    # As the ORM loads a row: a new instance, its values set without attribute events.
    user: User = _MAPPER.class_manager.new_instance()
    instance_state(user).dict.update(zip(_ATTRIBUTES, values, strict=True))
    make_transient_to_detached(user)
    session.add(user)
    return user


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The active person with this *login* and *password*, else ``None`` (in constant work)."""
    user = session.scalars(select(User).where(User.login == login)).first()
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    return user if user.check_password(password) else None


def is_admin(user: User) -> bool:
    """Whether *user* is a member of the admin group (every right)."""
    return any(group.name == ADMIN_GROUP for group in user.group_ids)


def make_admin(session: Session, user: User) -> None:
    """Make *user* a member of the admin group (every right)."""
    admin = session.scalars(select(Group).where(Group.name == ADMIN_GROUP)).one()
    if admin not in user.group_ids:
        user.group_ids.append(admin)


Pool.register(User, module='res')
