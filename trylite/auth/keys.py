"""User-application keys (``res.user.application``): the model and everything done to keys.

A key is requested for a login by an application (:func:`request_key`), validated — or
cancelled, or deleted — by that person or an administrator (:func:`act` with :data:`ACTIONS`),
checked on every guarded request (:func:`authenticate`) and revoked by the application
(:func:`delete_key`). Keys look as :mod:`trylite.auth.tokens` says; only the hash of their
secret is stored. Applications are declared in code with :func:`register_application`; keys
are handed out for declared names only.

A request for a login that is unknown or inactive stores a *decoy*: a row like any other but
with no person, which nothing can validate and no guarded route accepts. Both kinds of
request do the same statements, so neither the answer, its timing, a later ``DELETE`` (204
for both) nor polling with the key (401, never counted as a failure) tells who exists.
"""

from __future__ import annotations

import datetime
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from .. import storage
from ..data.dispatch import Scope
from ..exceptions import AuthenticationFailed, FieldError, Retryable, Throttled, UserError
from ..model import Model, utcnow
from ..pool import Pool
from ..settings import current
from ..transaction import Transaction
from . import audit, throttle
from .persons import LOGIN_LENGTH, PERSON_COLUMNS, User, loaded
from .tokens import ParsedKey, new_key, parse_key, secret_matches

__all__ = ['ACTIONS', 'CANCELLED', 'REQUESTED', 'VALIDATED', 'Found', 'KeyAction', 'NoSuchKey',
           'UserApplication', 'act', 'admitted', 'application_scope', 'applications',
           'authenticate', 'cancel', 'delete_key', 'find', 'keys_of', 'record_use',
           'register_application', 'remove', 'request_key', 'validate',
           'application_endpoint_groups']

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
    """A key of one application for one person (the secret itself is never stored).

    ``login`` is the login the key was requested for; a decoy has it and no ``user_id``.
    """

    __model__ = 'res.user.application'
    __tablename__ = 'res_user_application'
    __table_args__ = (Index('ix_res_user_application_pending', 'login', 'application', 'state'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(12), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), info={'secret': True})
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey('res_user.id', ondelete='CASCADE'), index=True, default=None)
    login: Mapped[str] = mapped_column(String(LOGIN_LENGTH))
    application: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default=REQUESTED)
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    validated: Mapped[datetime.datetime | None] = mapped_column(default=None)
    last_used: Mapped[datetime.datetime | None] = mapped_column(default=None)
    expires: Mapped[datetime.datetime | None] = mapped_column(default=None, index=True)

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= utcnow()

    @property
    def status(self) -> str:
        """The state as a person should read it: ``expired`` when past its expiry."""
        return 'expired' if self.expired and self.state != CANCELLED else self.state


Pool.register(UserApplication, module='res')


# -- guarded routes ---------------------------------------------------------------------------
#: The key and its person in one Core query: the person lands in the session
#: (:func:`~trylite.auth.persons.loaded`), so a handler's ``session.get(User,
#: Transaction().user)`` costs no second round trip. A decoy has none.
_key_query = (
    select(UserApplication.id, UserApplication.application, UserApplication.secret_hash,
           UserApplication.state, UserApplication.expires, UserApplication.last_used,
           *PERSON_COLUMNS)
    .outerjoin(User, User.id == UserApplication.user_id)
    .where(UserApplication.public_id == bindparam('public_id')))


class Found(NamedTuple):
    """A well-formed key and its stored row, with its person (``None``: no such key)."""

    parsed: ParsedKey
    #: The columns of :data:`_key_query` (a named tuple), ``None`` for no such key.
    row: Any | None


def find(token: str) -> Found | None:
    """The key *token* and its stored row, in one query and counting nothing; ``None`` for a
    key that is not well formed (it cannot match any key)."""
    parsed = parse_key(token)
    if parsed is None:
        return None
    return Found(parsed, Transaction().lookup(
        _key_query, {'public_id': parsed.public_id}, alone=True))


def authenticate(token: str | None, application: str, remote_addr: str | None,
                 found: Found | None = None) -> User:
    """The person whose valid key of *application* *token* is.

    :class:`AuthenticationFailed` otherwise. Only a well-formed key whose secret is wrong
    (or whose public id is unknown) is a failure, counted against the client's address, and
    :class:`~trylite.exceptions.Throttled` once the address is at its limit — nothing is
    counted for no key, for a key that is not well formed (refused without a database
    look-up: it cannot match any key), nor for the right secret of a pending, cancelled,
    expired or decoy key (an application polling its own request is no guesser). A valid
    key is checked before the throttle, so nobody can lock it out. Runs in the current
    transaction, which must be on the key's database; *found* is :func:`find`'s answer for
    *token* when the caller already has it.
    """
    if not token:
        raise AuthenticationFailed('Send the key as Authorization: Bearer <key>.')
    refused = AuthenticationFailed('A valid key of this application is required.')
    found = found or find(token)
    if found is None:
        raise refused
    row = found.row if found.row is not None and found.row.application == application else None
    if not secret_matches(found.parsed.secret, row.secret_hash if row else None):
        throttle.failure(throttle.key_failures(remote_addr))
        audit.record('key.refused', database=Transaction().database_name,
                     key=found.parsed.public_id, application=application, address=remote_addr)
        raise refused
    assert row is not None
    return admitted(UserApplication, row, row.state == VALIDATED, refused)


def admitted(model: type[Any], row: Any, usable: bool, refused: Exception) -> User:
    """The person a key of *model* whose secret matched lets in (its *row*, ending with the
    person's columns): *refused* unless the key is *usable*, unexpired and its person active.
    The person is kept for the handler, and the key's use recorded after the transaction (at
    most once every :data:`LAST_USED_PRECISION`)."""
    transaction = Transaction()
    now = utcnow()
    user = loaded(transaction.session, row)
    if (not usable or user is None or not user.active
            or (row.expires is not None and row.expires <= now)):
        raise refused
    # The session's identity map holds objects weakly: keep the person for the handler.
    transaction.session.info['trylite.user'] = user
    if row.last_used is None or now - row.last_used >= LAST_USED_PRECISION:
        transaction.atexit(record_use, transaction.database_name, model, row.id, now)
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
#: Expired requests (decoys too) are swept once every this many key requests of a process.
SWEEP_EVERY = 100
_requested = itertools.count()

#: The active person of a login (``None`` for a decoy) and the requests of one application
#: still waiting for them: how many, and when the oldest expires. Read in the transaction
#: that stores the new request, built once.
_waiting = select(
    select(User.id).where(User.login == bindparam('login'), User.active)
    .scalar_subquery().label('user_id'),
    func.count().label('pending'), func.min(UserApplication.expires).label('oldest'),
).where(UserApplication.login == bindparam('login'),
        UserApplication.application == bindparam('application'),
        UserApplication.state == REQUESTED, UserApplication.expires > bindparam('now'))
_store = insert(UserApplication).values({
    name: bindparam(name) for name in ('public_id', 'secret_hash', 'user_id', 'login',
                                       'application', 'state', 'created', 'expires')})


def request_key(login: str, application: str, remote_addr: str | None) -> str:
    """Store a new ``requested`` key of *application* for *login* and return it.

    The client is refused with :class:`~trylite.exceptions.Throttled` when its address or
    *login* has had ``[throttle] max_requests`` keys within the window, or when *login* has
    ``[user_application] max_pending`` requests of *application* waiting (until the oldest
    expires). An unknown or inactive login gets a decoy (see the module doc): the same
    statements, the same answers.
    """
    if application not in _applications:
        raise UserError('Unknown application',
                        f'No application named {application!r} is declared.')
    if len(login) > LOGIN_LENGTH:
        raise FieldError('user', f'A login has at most {LOGIN_LENGTH} characters.')
    transaction = Transaction()
    counters = throttle.key_requests(remote_addr, login)
    throttle.check(counters)
    now = utcnow()
    options = current().user_application
    waiting = transaction.lookup(
        _waiting, {'login': login, 'application': application, 'now': now})
    assert waiting is not None  # counts: always one row
    user_id, pending, oldest = waiting
    if pending >= options.max_pending:
        wait = (oldest - now).total_seconds() if oldest else options.request_expiry
        audit.record('key.request_refused', database=transaction.database_name, login=login,
                     application=application, address=remote_addr, reason='max_pending')
        raise Throttled(
            max(1, math.ceil(wait)),
            'Too many key requests of this application wait for this login to validate '
            'them; try again once one is validated, cancelled or expired.')
    key = new_key()
    transaction.connection.execute(_store, {
        'public_id': key.public_id, 'secret_hash': key.secret_hash, 'user_id': user_id,
        'login': login, 'application': application, 'state': REQUESTED, 'created': now,
        'expires': now + datetime.timedelta(seconds=options.request_expiry)})
    # Counted in this transaction: on PostgreSQL, two concurrent requests for one login
    # meet on its counter and one re-runs, so neither misses the other's pending key.
    throttle.count(counters)
    audit.record('key.requested', database=transaction.database_name, login=login,
                 key=key.public_id, application=application, address=remote_addr)
    if next(_requested) % SWEEP_EVERY == 0:
        transaction.atexit(_sweep, transaction.database_name)
    return key.value


def _sweep(database_name: str) -> None:
    """Delete the expired requests of every login (decoys included), outside any
    transaction."""
    with storage.backend().autocommit(database_name) as conn:
        conn.execute(delete(UserApplication).where(
            UserApplication.state == REQUESTED, UserApplication.expires <= utcnow()))


def delete_key(login: str, value: str, application: str, remote_addr: str | None) -> bool:
    """Delete the key *value* requested for *login* and *application* — a decoy too; whether
    there was one.

    A well-formed key that is not there is a failure, counted against the client's address
    (:class:`~trylite.exceptions.Throttled` once at its limit); a valid key is deleted
    whatever the throttle says.
    """
    transaction = Transaction()
    parsed = parse_key(value)
    if parsed is None:
        return False
    session = transaction.session
    found = session.scalars(select(UserApplication).where(
        UserApplication.public_id == parsed.public_id, UserApplication.login == login,
        UserApplication.application == application)).first()
    if not secret_matches(parsed.secret, found.secret_hash if found else None):
        throttle.failure(throttle.key_failures(remote_addr))
        audit.record('key.delete_refused', database=transaction.database_name, login=login,
                     key=parsed.public_id, application=application, address=remote_addr)
        return False
    session.delete(found)
    audit.record('key.revoked', database=transaction.database_name, login=login,
                 key=parsed.public_id, application=application, address=remote_addr)
    return True


# -- what a person (preferences) and an administrator (CLI) do --------------------------------
def keys_of(session: Session, user_id: int | None = None) -> list[UserApplication]:
    """Keys, newest first: of one person, or of every person (never decoys)."""
    query = select(UserApplication).where(UserApplication.user_id.is_not(None)).order_by(
        UserApplication.created.desc(), UserApplication.id.desc())
    if user_id is not None:
        query = query.where(UserApplication.user_id == user_id)
    return list(session.scalars(query))


class NoSuchKey(UserError):
    """No key has this public id (among the keys of the person concerned, if any)."""


def _find(session: Session, public_id: str, user_id: int | None) -> UserApplication:
    query = select(UserApplication).where(UserApplication.public_id == public_id,
                                          UserApplication.user_id.is_not(None))
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


def act(action: str, public_id: str, user_id: int | None = None,
        address: str | None = None) -> None:
    """Apply :data:`ACTIONS` [*action*] to the key *public_id* in the current transaction and
    write it to the audit log: by the person *user_id* from *address* (the preferences page),
    or by an administrator (the command line) when *user_id* is ``None``."""
    transaction = Transaction()
    ACTIONS[action].apply(transaction.session, public_id, user_id)
    audit.record(f'key.{ACTIONS[action].done}', database=transaction.database_name,
                 key=public_id, person=user_id, address=address,
                 by='cli' if user_id is None else None)
