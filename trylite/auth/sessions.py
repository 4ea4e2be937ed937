"""Login sessions (``res.user.session``): a random token in a cookie, its hash in the database.

:func:`open_session` makes one for a person and returns the token — to be given to the
client once; only the token's SHA-256 is stored, with an expiry ``[session] timeout`` seconds
later. :func:`session_user` finds the active person of a token. A deactivated person's
sessions stop working at once; :func:`end_sessions` ends all of a person's sessions.
"""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, String, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..model import Model, utcnow
from ..pool import Pool
from ..settings import current
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


def end_sessions(session: Session, user_id: int) -> None:
    """End every session of the person *user_id* (a new password, a deactivation)."""
    session.execute(delete(UserSession).where(UserSession.user_id == user_id))
