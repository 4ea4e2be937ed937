"""Personal API keys (``res.user.apikey``): keys a person makes for scripts and integrations.

Like Odoo's, but better: a key has a name, a scope — ``rpc`` (read and write) or ``read`` —
and an expiry, required and at most ``[api] key_max_days`` days away (administrators may make
keys that do not expire); it records when it was last used, and is revoked by deleting it.
It looks like every trylite key (:mod:`trylite.auth.tokens`), with the prefix ``trylitepk``;
only the hash of its secret is stored, the key itself is shown once.

:func:`authenticate` checks the key of a request to the data layer: a personal key, or a
user-application key whose application declared the data it needs
(:func:`~trylite.auth.keys.register_application`'s ``scopes``). The answer is the person and
the :class:`~trylite.data.dispatch.Scope` of the key.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

from sqlalchemy import ForeignKey, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..data.dispatch import Scope
from ..exceptions import AuthenticationFailed, UserError
from ..model import Model, utcnow
from ..pool import Pool
from ..settings import current
from ..transaction import Transaction
from . import audit, keys, throttle
from .persons import PERSON_COLUMNS, User, is_admin
from .tokens import KEY_PREFIX, PERSONAL_PREFIX, new_key, parse_key, secret_matches

__all__ = ['SCOPES', 'ApiKey', 'Identity', 'authenticate', 'authenticate_pair', 'create_key',
           'keys_of', 'revoke']

#: What a personal key may do: ``rpc`` reads and writes, ``read`` only reads.
SCOPES = ('rpc', 'read')


class ApiKey(Model):
    """A personal API key of one person (the secret itself is never stored)."""

    __model__ = 'res.user.apikey'
    __tablename__ = 'res_user_apikey'

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(12), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), info={'secret': True})
    user_id: Mapped[int] = mapped_column(ForeignKey('res_user.id', ondelete='CASCADE'),
                                         index=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(8), default='rpc')
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    expires: Mapped[datetime.datetime | None] = mapped_column(default=None)
    last_used: Mapped[datetime.datetime | None] = mapped_column(default=None)


Pool.register(ApiKey, module='res')


class Identity(NamedTuple):
    """Who a key lets in, and how far: *application* is the user application whose key it is
    (``None`` for a personal key)."""

    user: User
    scope: Scope
    application: str | None = None


def create_key(session: Session, user: User, name: str, scope: str = 'rpc',
               days: int | None = None) -> str:
    """Make a key for *user* and return it (to be shown once).

    *days* is required, at most ``[api] key_max_days``, unless *user* is an administrator
    (``None``: the key does not expire). :class:`UserError` names what is wrong.
    """
    name = name.strip() if isinstance(name, str) else ''
    if not name or len(name) > 100:
        raise UserError('Invalid name', 'A key needs a name of 1 to 100 characters, saying '
                        'what it is for.')
    if scope not in SCOPES:
        raise UserError('Invalid scope', f"A key's scope is one of {', '.join(SCOPES)}.")
    longest = current().api.key_max_days
    if days is None:
        if not is_admin(user):
            raise UserError('Expiry required', f'A key must expire within {longest} days; '
                            'only administrators may make keys that do not expire.')
        expires = None
    elif isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= longest:
        raise UserError('Invalid expiry', f'A key expires in 1 to {longest} days.')
    else:
        expires = utcnow() + datetime.timedelta(days=days)
    made = new_key(PERSONAL_PREFIX)
    session.add(ApiKey(public_id=made.public_id, secret_hash=made.secret_hash,
                       user_id=user.id, name=name, scope=scope, expires=expires))
    session.flush()
    return made.value


def keys_of(session: Session, user_id: int | None = None) -> list[ApiKey]:
    """Personal keys, newest first: of one person, or all of them."""
    query = select(ApiKey).order_by(ApiKey.created.desc(), ApiKey.id.desc())
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return list(session.scalars(query))


def revoke(session: Session, public_id: str, user_id: int | None = None) -> None:
    """Delete the key *public_id* (of *user_id* only, when given)."""
    query = select(ApiKey).where(ApiKey.public_id == public_id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    found = session.scalars(query).first()
    if found is None:
        raise keys.NoSuchKey('No such key', f'There is no key {public_id!r}.')
    session.delete(found)


_personal = (select(ApiKey.id, ApiKey.secret_hash, ApiKey.scope, ApiKey.expires,
                    ApiKey.last_used, *PERSON_COLUMNS)
             .join(User, User.id == ApiKey.user_id)
             .where(ApiKey.public_id == bindparam('public_id')))


def authenticate_pair(public_id: str | None, secret: str | None, remote_addr: str | None
                      ) -> Identity:
    """The person and scope of the personal key ``public_id`` + ``secret`` (Frappe's
    ``api_key:api_secret``); :class:`AuthenticationFailed` otherwise (a failure counted
    against the client address)."""
    transaction = Transaction()
    row = None
    if public_id and secret:
        row = transaction.lookup(_personal, {'public_id': public_id}, alone=True)
    if not secret_matches(secret if row else None, row.secret_hash if row else None):
        throttle.failure(throttle.key_failures(remote_addr))
        audit.record('apikey.refused', database=transaction.database_name, key=public_id,
                     address=remote_addr)
        raise AuthenticationFailed('A valid API key is required.')
    assert row is not None
    user = keys.admitted(ApiKey, row, True, AuthenticationFailed('A valid API key is required.'))
    return Identity(user, Scope(readonly=row.scope == 'read'))


def authenticate(token: str | None, remote_addr: str | None) -> Identity:
    """The person and scope of a bearer *token*: a personal API key, or the key of a user
    application (reaching the models its application declared); :class:`AuthenticationFailed`
    otherwise."""
    if token and token.startswith(KEY_PREFIX + '_'):
        found = keys.find(token)
        if found is not None and found.row is not None:
            application = found.row.application
            user = keys.authenticate(token, application, remote_addr, found)
            return Identity(user, keys.application_scope(application), application)
    parsed = parse_key(token, PERSONAL_PREFIX) if token else None
    return authenticate_pair(parsed.public_id if parsed else None,
                             parsed.secret if parsed else None, remote_addr)
