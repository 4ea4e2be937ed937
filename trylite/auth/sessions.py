"""Login sessions (``res.user.session``): a random token in a cookie, its hash in the database.

:func:`open_session` makes one for a person and returns the token — to be given to the
client once; only the token's SHA-256 is stored, with an expiry ``[session] timeout`` seconds
later. :func:`session_user` finds the active person of a token; :func:`end_sessions` ends all
of a person's sessions.

A new password hash or a deactivation ends every session of the person, whatever code makes
the change through the ORM (the command line, a page, a script): the sessions are deleted in
the same flush, and ``sessions.ended`` goes to the audit log. (A bulk ``UPDATE`` bypasses
this; a deactivated person's sessions stop working anyway.) A password rehashed at a login
because argon2's parameters changed counts as a new hash.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Connection, ForeignKey, String, delete, event, inspect, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..model import Model, utcnow
from ..pool import Pool
from ..settings import current
from ..transaction import Transaction
from . import audit
from .persons import User
from .tokens import SECRET_RE, hash_secret, new_secret

__all__ = ['UserSession', 'end_session', 'end_sessions', 'open_session', 'session_user']


class UserSession(Model):
    """A login: the SHA-256 of the cookie's token, whose person, until when."""

    __model__ = 'res.user.session'
    __tablename__ = 'res_user_session'

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info={'secret': True})
    user_id: Mapped[int] = mapped_column(
        ForeignKey('res_user.id', ondelete='CASCADE'), index=True)
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    expires: Mapped[datetime.datetime]


Pool.register(UserSession, module='res')


def open_session(session: Session, user: User, replaces: str | None = None) -> str:
    """Open a session for *user* and return its token; the session *replaces* (a token, if
    any) ends, and so do expired ones. A new login never reuses a session."""
    now = utcnow()
    token = new_secret()
    session.execute(delete(UserSession).where(or_(
        UserSession.expires <= now, UserSession.token_hash == hash_secret(replaces or ''))))
    session.add(UserSession(
        token_hash=hash_secret(token), user_id=user.id, created=now,
        expires=now + datetime.timedelta(seconds=current().session.timeout)))
    return token


def session_user(session: Session, token: str | None) -> User | None:
    """The active person whose unexpired session *token* is, else ``None``."""
    if token is None or not SECRET_RE.fullmatch(token):
        return None
    return session.scalars(
        select(User).join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == hash_secret(token), UserSession.expires > utcnow(),
               User.active)).first()


def end_session(session: Session, token: str) -> None:
    """End the session of *token*."""
    session.execute(delete(UserSession).where(UserSession.token_hash == hash_secret(token)))


def end_sessions(session: Session | Connection, user_id: int) -> None:
    """End every session of the person *user_id* (a new password, a deactivation: see the
    module doc)."""
    session.execute(delete(UserSession).where(UserSession.user_id == user_id))


@event.listens_for(User, 'before_update')
def _end_sessions_on_new_credentials(mapper: Any, connection: Connection, user: User) -> None:
    """End every session of *user* when their password hash changes or they are deactivated
    (run by the ORM while it writes the change)."""
    state = inspect(user)
    new_password = state.attrs.password_hash.history.has_changes()
    deactivated = state.attrs.active.history.has_changes() and not user.active
    if new_password or deactivated:
        end_sessions(connection, user.id)
        audit.record('sessions.ended', database=_database_name(), person=user.id,
                     reason='deactivated' if deactivated else 'new password')


def _database_name() -> str | None:
    try:
        return Transaction().database_name
    except RuntimeError:  # an ORM session of the caller's own
        return None
