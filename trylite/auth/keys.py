"""User-application keys (``res.user.application``): the model and everything done to keys.

A key is requested for a person by an application (:func:`request_key`), validated — or
cancelled, or deleted — by that person or an administrator (:data:`ACTIONS`), checked on every
guarded request (:func:`authenticate`) and revoked by the application (:func:`delete_key`).
Keys look as :mod:`trylite.auth.tokens` says; only the hash of their secret is stored.
Applications are declared in code with :func:`register_application`; keys are handed out for
declared names only.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, cast

from sqlalchemy import ForeignKey, Index, String, Table, bindparam, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..data.dispatch import Scope
from ..exceptions import AuthenticationFailed, Retryable, UserError
from ..model import Model, utcnow
from ..pool import Pool
from ..settings import current
from ..transaction import Transaction
from . import throttle
from .persons import User
from .tokens import new_key, parse_key, secret_matches

__all__ = ['ACTIONS', 'CANCELLED', 'REQUESTED', 'VALIDATED', 'KeyAction', 'NoSuchKey',
           'UserApplication', 'application_scope', 'applications', 'authenticate', 'cancel',
           'delete_key', 'keys_of', 'record_use', 'register_application', 'remove',
           'request_key', 'validate', 'application_endpoint_groups']

REQUESTED, VALIDATED, CANCELLED = 'requested', 'validated', 'cancelled'
#: How often ``last_used`` is written for one key, at most.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)

_applications: dict[str, str] = {}
_scopes: dict[str, Scope] = {}
_endpoint_groups: dict[str, frozenset[str]] = {}


def register_application(name: str, description: str = '',
                         scopes: Mapping[str, str] | None = None,
                         endpoints: Iterable[str] = ()) -> None:
    """Declare the user application *name*; keys are only handed out for declared names.

    *scopes* declares the data it needs — ``{'timesheet.line': 'rw', 'timesheet.work': 'r'}``
    — so that its keys reach those models through the data layer (under the person's access
    rights); without *scopes*, its keys reach no model there. *endpoints* names the route
    groups of the endpoints (``endpoint.endpoint`` records with ``auth_type`` ``user``) its
    keys may call; without it, none.
    """
    if not re.fullmatch(r'[A-Za-z0-9_.-]{1,100}', name):
        raise ValueError(f'invalid application name {name!r}')
    if scopes is not None and any(v not in ('r', 'rw') for v in scopes.values()):
        raise ValueError("an application's scopes are 'r' or 'rw' per model")
    groups = frozenset([endpoints] if isinstance(endpoints, str) else endpoints)
    if not all(isinstance(group, str) and group for group in groups):
        raise ValueError("an application's endpoint route groups are non-empty names")
    _applications[name] = description or name
    _scopes[name] = Scope(models=dict(scopes or {}))
    _endpoint_groups[name] = groups


def applications() -> dict[str, str]:
    """Declared application names and their descriptions."""
    return dict(_applications)


def application_scope(name: str) -> Scope:
    """What the keys of the application *name* may reach through the data layer."""
    return _scopes.get(name, Scope(models={}))


def application_endpoint_groups(name: str) -> frozenset[str]:
    """The route groups of the endpoints the keys of the application *name* may call."""
    return _endpoint_groups.get(name, frozenset())


class UserApplication(Model):
    """A key of one application for one person (the secret itself is never stored)."""

    __model__ = 'res.user.application'
    __tablename__ = 'res_user_application'
    __table_args__ = (Index('ix_res_user_application_pending', 'user_id', 'application', 'state'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(12), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), info={'secret': True})
    user_id: Mapped[int] = mapped_column(ForeignKey('res_user.id', ondelete='CASCADE'))
    application: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default=REQUESTED)
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    validated: Mapped[datetime.datetime | None] = mapped_column(default=None)
    last_used: Mapped[datetime.datetime | None] = mapped_column(default=None)
    expires: Mapped[datetime.datetime | None] = mapped_column(default=None)

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= utcnow()

    @property
    def status(self) -> str:
        """The state as a person should read it: ``expired`` when past its expiry."""
        return 'expired' if self.expired and self.state != CANCELLED else self.state


Pool.register(UserApplication, module='res')


# -- guarded routes ---------------------------------------------------------------------------
#: The key and its person in one query: the person lands in the session, so a handler's
#: ``session.get(User, Transaction().user)`` costs no second round trip.
_key_query = (
    select(UserApplication.id, UserApplication.secret_hash, UserApplication.state,
           UserApplication.expires, UserApplication.last_used, User)
    .join(User, User.id == UserApplication.user_id)
    .where(UserApplication.public_id == bindparam('public_id'),
           UserApplication.application == bindparam('application')))


def authenticate(token: str | None, application: str, remote_addr: str | None) -> User:
    """The person whose valid key of *application* *token* is.

    :class:`AuthenticationFailed` otherwise, or :class:`~trylite.exceptions.Throttled` once
    the client has failed too often; a failure is a missing, unknown or wrong key (the right
    secret of a pending, cancelled or expired key is not). Runs in the current transaction,
    which must be on the key's database.
    """
    transaction = Transaction()
    parsed = parse_key(token) if token else None
    row = None
    if parsed is not None:
        row = transaction.session.execute(
            _key_query, {'public_id': parsed.public_id, 'application': application}).first()
    secret_ok = secret_matches(parsed.secret if parsed else None,
                               row.secret_hash if row else None)
    now = utcnow()
    if row is None or not secret_ok:
        # Only a wrong key is a failure: an application polling its own pending (or
        # cancelled, expired) key is no guesser, and must not throttle its person's address.
        throttle.failure(throttle.subjects(remote_addr))
    if (row is None or not secret_ok or row.state != VALIDATED or not row.User.active
            or (row.expires is not None and row.expires <= now)):
        raise AuthenticationFailed(
            'A valid key of this application is required.' if token else
            'Send the key as Authorization: Bearer <key>.')
    # The session's identity map holds objects weakly: keep the person for the handler.
    transaction.session.info['trylite.user'] = row.User
    if row.last_used is None or now - row.last_used >= LAST_USED_PRECISION:
        transaction.atexit(record_use, transaction.database_name, UserApplication, row.id, now)
    user: User = row.User
    return user


def record_use(database_name: str, model: type[Any], key_id: int, now: datetime.datetime
               ) -> None:
    """Write *now* as the ``last_used`` of the key *key_id* of *model* — unless it was
    written less than :data:`LAST_USED_PRECISION` ago (concurrent requests of one key write it
    once), in a transaction of its own, after the request's."""
    table = model.__table__
    touch = (update(table)
             .where(table.c.id == key_id, or_(table.c.last_used.is_(None),
                                              table.c.last_used <= now - LAST_USED_PRECISION))
             .values(last_used=now))
    try:
        with Transaction.start(database_name, 0) as transaction:
            transaction.connection.execute(touch)
    except Retryable:  # a concurrent request wrote it: fine
        pass


# -- what applications do ---------------------------------------------------------------------
def request_key(login: str, application: str) -> str:
    """Store a new ``requested`` key of *application* for *login* and return it.

    An unknown or inactive login gets a key all the same, stored nowhere, so the answer tells
    nothing about who exists. Only ``[user_application] max_pending`` requests are kept per
    person and application, the oldest dropped.
    """
    if application not in _applications:
        raise UserError('Unknown application',
                        f'No application named {application!r} is declared.')
    transaction = Transaction()
    session = transaction.session
    # Taken before the snapshot: concurrent requests queue here and each sees the others.
    transaction.backend.lock_for_write(transaction.connection,
                                       cast(Table, UserApplication.__table__))
    key = new_key()
    user = session.scalars(select(User).where(User.login == login, User.active)).first()
    if user is None:
        return key.value
    now = utcnow()
    options = current().user_application
    pending = session.scalars(
        select(UserApplication.id)
        .where(UserApplication.user_id == user.id, UserApplication.application == application,
               UserApplication.state == REQUESTED)
        .order_by(UserApplication.created.desc(), UserApplication.id.desc())).all()
    keep = max(options.max_pending - 1, 0)
    if pending[keep:]:
        session.execute(delete(UserApplication).where(UserApplication.id.in_(pending[keep:])))
    session.execute(delete(UserApplication).where(
        UserApplication.user_id == user.id, UserApplication.state == REQUESTED,
        UserApplication.expires <= now))
    session.add(UserApplication(
        public_id=key.public_id, secret_hash=key.secret_hash, user_id=user.id,
        application=application, state=REQUESTED, created=now,
        expires=now + datetime.timedelta(seconds=options.request_expiry)))
    return key.value


def delete_key(login: str, value: str, application: str) -> bool:
    """Delete the key *value* of *login* for *application*; whether there was one."""
    parsed = parse_key(value)
    session = Transaction().session
    found = None
    if parsed is not None:
        found = session.scalars(
            select(UserApplication).join(User, User.id == UserApplication.user_id)
            .where(UserApplication.public_id == parsed.public_id, User.login == login,
                   UserApplication.application == application)).first()
    if not secret_matches(parsed.secret if parsed else None,
                          found.secret_hash if found else None):
        return False
    session.delete(found)
    return True


# -- what a person (preferences) and an administrator (CLI) do --------------------------------
def keys_of(session: Session, user_id: int | None = None) -> list[UserApplication]:
    """Keys, newest first: of one person, or all of them."""
    query = select(UserApplication).order_by(
        UserApplication.created.desc(), UserApplication.id.desc())
    if user_id is not None:
        query = query.where(UserApplication.user_id == user_id)
    return list(session.scalars(query))


class NoSuchKey(UserError):
    """No key has this public id (among the keys of the person concerned, if any)."""


def _find(session: Session, public_id: str, user_id: int | None) -> UserApplication:
    query = select(UserApplication).where(UserApplication.public_id == public_id)
    if user_id is not None:
        query = query.where(UserApplication.user_id == user_id)
    key = session.scalars(query).first()
    if key is None:
        raise NoSuchKey('No such key', f'There is no key {public_id!r}.')
    return key


def validate(session: Session, public_id: str, user_id: int | None = None) -> None:
    """Validate a requested key (of *user_id* only, when given)."""
    key = _find(session, public_id, user_id)
    if key.state != REQUESTED:
        raise UserError('Cannot validate', f'The key {public_id} is {key.state}; only '
                        'requested keys can be validated.')
    if key.expired:
        raise UserError('Cannot validate', f'The request {public_id} has expired; ask the '
                        'application for a new one.')
    now = utcnow()
    lifetime = current().user_application.key_lifetime
    key.state, key.validated = VALIDATED, now
    key.expires = now + datetime.timedelta(seconds=lifetime) if lifetime > 0 else None


def cancel(session: Session, public_id: str, user_id: int | None = None) -> None:
    """Cancel a key for good: a cancelled key is never validated again."""
    key = _find(session, public_id, user_id)
    if key.state == CANCELLED:
        raise UserError('Cannot cancel', f'The key {public_id} is already cancelled.')
    key.state = CANCELLED


def remove(session: Session, public_id: str, user_id: int | None = None) -> None:
    """Delete a key in any state."""
    session.delete(_find(session, public_id, user_id))


class KeyAction(NamedTuple):
    """What a person or an administrator may do to a key, and how to report it."""

    apply: Callable[[Session, str, int | None], None]
    #: The past participle: "Key 902ba4302aa5 validated."
    done: str


#: The actions on one key, by name: the preferences page's buttons and the CLI's commands.
ACTIONS: dict[str, KeyAction] = {
    'validate': KeyAction(validate, 'validated'),
    'cancel': KeyAction(cancel, 'cancelled'),
    'delete': KeyAction(remove, 'deleted'),
}
