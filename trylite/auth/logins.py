"""Logging in with a login and a password — or a personal API key in place of the password,
as Odoo's clients may send one — for the protocols that do (XML-RPC, JSON-RPC, web sessions,
Frappe's login).

Failures count against the client address and the login (:mod:`.throttle`); past the limit
the answer is :class:`~trylite.exceptions.Throttled` before any password is checked. Each
check costs the same work whether the login exists or not.
"""

from __future__ import annotations

import logging

from ..exceptions import AuthenticationFailed
from ..transaction import Transaction
from . import apikeys, audit, throttle
from .persons import User, authenticate
from .tokens import PERSONAL_PREFIX, parse_key

__all__ = ['login']


def login(name: str, secret: str, remote_addr: str | None) -> User:
    """The active person *name* whose password — or personal API key — *secret* is;
    :class:`AuthenticationFailed` otherwise (counted)."""
    counters = throttle.login_failures(remote_addr, name if isinstance(name, str) else '')
    throttle.check(counters)
    parsed = parse_key(secret, PERSONAL_PREFIX) if isinstance(secret, str) else None
    user: User | None = None
    if parsed is not None:
        try:
            user = apikeys.authenticate_pair(parsed.public_id, parsed.secret, remote_addr).user
        except AuthenticationFailed:
            user = None
        if user is not None and user.login != name:
            user = None
    elif isinstance(name, str) and isinstance(secret, str) and name and secret:
        user = authenticate(Transaction().session, name, secret)
    database = Transaction().database_name
    if user is None:
        throttle.count_after(counters)  # checked above, in this transaction
        audit.record('login.failed', logging.WARNING, database=database, login=name,
                     address=remote_addr)
        raise AuthenticationFailed('Wrong login or password.')
    audit.record('login.succeeded', database=database, login=name, person=user.id,
                 address=remote_addr)
    return user
