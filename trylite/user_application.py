"""User applications: keys an application requests for a person, who validates them.

The flow:

1. the application ``POST``\\ s ``{"user": login, "application": name}`` to
   ``/<database_name>/user/application/`` and receives a key, in state ``requested``;
2. the person validates it in their preferences (``/<database_name>/preferences/``) — or cancels
   it; the key's *public id* is what both sides show so the person knows which one to validate;
3. the application calls routes guarded by :func:`trylite.wrappers.user_application` with
   ``Authorization: Bearer <key>`` and runs as that person, until the key is cancelled, deleted
   (``DELETE`` on the same URL) or expires.

A key is ``trylite_<public id>_<secret>``: a 12-character public id and a secret of 256 random
bits. Only the SHA-256 of the secret is stored (a secret that random needs no slow hash); it is
compared in constant time after one indexed lookup by public id, and never reaches SQL or logs.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, Index, String, bindparam, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.exceptions import NotFound, Unauthorized
from werkzeug.wrappers import Response

from . import database, throttle
from .config import config
from .exceptions import UserError
from .model import Model, utcnow
from .pool import Pool
from .transaction import Transaction
from .user import User
from .wrappers import allow_null_origin, with_pool, with_transaction
from .wsgi import Request, app, json_response

__all__ = ['UserApplication', 'NoSuchKey', 'register_application', 'applications', 'new_key',
           'authenticate', 'validate', 'cancel', 'remove', 'keys_of']

REQUESTED, VALIDATED, CANCELLED = 'requested', 'validated', 'cancelled'
KEY_PREFIX = 'trylite'
KEY_RE = re.compile(r'trylite_([0-9a-f]{12})_([A-Za-z0-9_-]{43})')
#: How often ``last_used`` is written for one key, at most.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)

_applications: dict[str, str] = {}


def register_application(name: str, description: str = '') -> None:
    """Declare the user application *name*; keys are only handed out for declared names."""
    if not re.fullmatch(r'[A-Za-z0-9_.-]{1,100}', name):
        raise ValueError(f'invalid application name {name!r}')
    _applications[name] = description or name


def applications() -> dict[str, str]:
    """Declared application names and their descriptions."""
    return dict(_applications)


class UserApplication(Model):
    """A key of one application for one person (the secret itself is never stored)."""

    __model__ = 'res.user.application'
    __tablename__ = 'res_user_application'
    __table_args__ = (Index('ix_res_user_application_pending', 'user_id', 'application', 'state'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(12), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
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


@dataclass(frozen=True)
class Key:
    """A new key: give :attr:`value` to the application once, store the rest."""

    public_id: str
    secret_hash: str
    value: str


def hash_token(token: str) -> str:
    """What is stored of a random token (key secret, session token): its SHA-256, in hex.

    Tokens of 256 random bits need no slow, salted hash.
    """
    return hashlib.sha256(token.encode('ascii')).hexdigest()


def _secret_matches(parsed: tuple[str, str] | None, stored_hash: str | None) -> bool:
    """Whether a parsed key's secret has *stored_hash*, in constant time (a hash is compared
    even when there is no key or no row, so a miss takes as long as a wrong secret)."""
    return hmac.compare_digest(hash_token(parsed[1]) if parsed else _DUMMY_HASH,
                               stored_hash or '')


def new_key() -> Key:
    """A fresh key from :mod:`secrets`."""
    public_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return Key(public_id, hash_token(secret), f'{KEY_PREFIX}_{public_id}_{secret}')


def parse_key(value: str) -> tuple[str, str] | None:
    """``(public_id, secret)`` of a well-formed key, else ``None``."""
    match = KEY_RE.fullmatch(value)
    return (match[1], match[2]) if match else None


# -- guarded routes ------------------------------------------------------------------------
_DUMMY_HASH = hash_token('x' * 43)
#: Quoted as RFC 6750 shows it (Werkzeug's WWWAuthenticate leaves a token-like realm bare).
_CHALLENGE = ['Bearer realm="trylite"']
#: The key and its person in one query: the person lands in the session, so a handler's
#: ``session.get(User, Transaction().user)`` costs no second round trip.
_key_query = (
    select(UserApplication.id, UserApplication.secret_hash, UserApplication.state,
           UserApplication.expires, UserApplication.last_used, User)
    .join(User, User.id == UserApplication.user_id)
    .where(UserApplication.public_id == bindparam('public_id'),
           UserApplication.application == bindparam('application')))
# Conditional, so concurrent requests of one key write ``last_used`` once a minute at most.
_touch = (update(UserApplication)
          .where(UserApplication.id == bindparam('key_id'),
                 or_(UserApplication.last_used.is_(None),
                     UserApplication.last_used <= bindparam('stale')))
          .values(last_used=bindparam('now')))


def _bearer_token(request: Request) -> str | None:
    auth = request.authorization
    if auth is None:
        return None
    if auth.type == 'bearer':
        return auth.token
    if auth.type == 'basic' and auth.username == '':
        return auth.password
    return None


def authenticate(request: Request, application: str) -> int:
    """The id of the person whose valid key of *application* the request carries.

    401 (``WWW-Authenticate: Bearer realm="trylite"``) otherwise, or 429 once the client has
    failed too often; a failure is a missing, unknown or wrong key (the right secret of a
    pending, cancelled or expired key is not). Must run inside a transaction on the key's
    database.
    """
    transaction = Transaction()
    token = _bearer_token(request)
    parsed = parse_key(token) if token else None
    row = None
    if parsed is not None:
        row = transaction.session.execute(
            _key_query, {'public_id': parsed[0], 'application': application}).first()
    secret_ok = _secret_matches(parsed, row.secret_hash if row else None)
    now = utcnow()
    if row is None or not secret_ok:
        # Only a wrong key is a failure: an application polling its own pending (or
        # cancelled, expired) key is no guesser, and must not throttle its person's address.
        throttle.failure(throttle.subjects(request.remote_addr))
    if (row is None or not secret_ok or row.state != VALIDATED or not row.User.active
            or (row.expires is not None and row.expires <= now)):
        raise Unauthorized(
            'A valid key of this application is required.' if token else
            'Send the key as Authorization: Bearer <key>.',
            www_authenticate=_CHALLENGE)
    # The session's identity map holds objects weakly: keep the person for the handler.
    transaction.session.info['trylite.user'] = row.User
    if row.last_used is None or now - row.last_used >= LAST_USED_PRECISION:
        transaction.atexit(_write_last_used, transaction.database_name, row.id, now)
    return row.User.id


def _write_last_used(database_name: str, key_id: int, now: datetime.datetime) -> None:
    try:
        with Transaction.start(database_name, 0) as transaction:
            transaction.connection.execute(
                _touch, {'key_id': key_id, 'now': now, 'stale': now - LAST_USED_PRECISION})
    except Exception as exc:  # a concurrent request wrote it: fine
        if database.backend().classify(exc) != 'retry':
            raise


# -- key routes ----------------------------------------------------------------------------
@app.route('/<database_name>/user/application/', methods=['POST', 'DELETE'])
@allow_null_origin
@with_pool
@with_transaction(readonly=False)
def user_application_route(request: Request, pool: Pool) -> Any:
    """``POST``: request a key (200, the key as a JSON string). ``DELETE``: revoke one (204)."""
    if request.method == 'POST':
        data = request.get_json_object(required=('user', 'application'))
        return json_response(request_key(data['user'], data['application']))
    data = request.get_json_object(required=('user', 'key', 'application'))
    if not delete_key(data['user'], data['key'], data['application']):
        throttle.failure(throttle.subjects(request.remote_addr, data['user']))
        raise NotFound('No such key.')
    return Response(status=204)


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
    if transaction.connection.dialect.name == 'postgresql':
        # Taken before the snapshot: concurrent requests queue here and each sees the others.
        transaction.connection.exec_driver_sql(
            'LOCK TABLE res_user_application IN SHARE ROW EXCLUSIVE MODE')
    key = new_key()
    user = session.scalars(select(User).where(User.login == login, User.active)).first()
    if user is None:
        return key.value
    now = utcnow()
    pending = session.scalars(
        select(UserApplication.id)
        .where(UserApplication.user_id == user.id, UserApplication.application == application,
               UserApplication.state == REQUESTED)
        .order_by(UserApplication.created.desc(), UserApplication.id.desc())).all()
    keep = max(config.getint('user_application', 'max_pending') - 1, 0)
    if pending[keep:]:
        session.execute(delete(UserApplication).where(UserApplication.id.in_(pending[keep:])))
    session.execute(delete(UserApplication).where(
        UserApplication.user_id == user.id, UserApplication.state == REQUESTED,
        UserApplication.expires <= now))
    session.add(UserApplication(
        public_id=key.public_id, secret_hash=key.secret_hash, user_id=user.id,
        application=application, state=REQUESTED, created=now,
        expires=now + datetime.timedelta(
            seconds=config.getint('user_application', 'request_expiry'))))
    return key.value


def delete_key(login: str, value: str, application: str) -> bool:
    """Delete the key *value* of *login* for *application*; whether there was one."""
    parsed = parse_key(value)
    session = Transaction().session
    found = None
    if parsed is not None:
        found = session.scalars(
            select(UserApplication).join(User, User.id == UserApplication.user_id)
            .where(UserApplication.public_id == parsed[0], User.login == login,
                   UserApplication.application == application)).first()
    if not _secret_matches(parsed, found.secret_hash if found else None):
        return False
    session.delete(found)
    return True


# -- what a person (preferences) and an administrator (CLI) do -----------------------------
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


def validate(session: Session, public_id: str, user_id: int | None = None) -> UserApplication:
    """Validate a requested key (of *user_id* only, when given)."""
    key = _find(session, public_id, user_id)
    if key.state != REQUESTED:
        raise UserError('Cannot validate', f'The key {public_id} is {key.state}; only '
                        'requested keys can be validated.')
    if key.expired:
        raise UserError('Cannot validate', f'The request {public_id} has expired; ask the '
                        'application for a new one.')
    now = utcnow()
    lifetime = config.getint('user_application', 'key_lifetime')
    key.state, key.validated = VALIDATED, now
    key.expires = now + datetime.timedelta(seconds=lifetime) if lifetime > 0 else None
    return key


def cancel(session: Session, public_id: str, user_id: int | None = None) -> UserApplication:
    """Cancel a key for good: a cancelled key is never validated again."""
    key = _find(session, public_id, user_id)
    if key.state == CANCELLED:
        raise UserError('Cannot cancel', f'The key {public_id} is already cancelled.')
    key.state = CANCELLED
    return key


def remove(session: Session, public_id: str, user_id: int | None = None) -> None:
    """Delete a key in any state."""
    session.delete(_find(session, public_id, user_id))


from . import preferences  # noqa: E402,F401  (the page where persons validate their keys)
