"""What every Odoo protocol shares: the version trylite speaks, who calls, and one call.

**Version.** trylite speaks the protocols of Odoo 19.0: :func:`version` answers
``server_version`` ``"19.0"`` (clients parse it as a number) and trylite's own version under
``trylite_version``.

**Who calls** — each a :data:`~trylite.data.dispatch.Caller`, run inside the call's own
transaction by the dispatcher:

* :func:`key_caller`: ``Authorization: Bearer <key>`` — a personal API key, or a
  user-application key (reaching the models its application declared);
* :func:`password_caller`: the ``uid`` and password of XML-RPC and JSON-RPC — the password,
  or a personal API key in its place (then with that key's scope). Password checks are
  throttled like every login; a password verified once is remembered by the process, keyed
  by the person's stored hash (a new password or a deactivation ends it at once), so each
  call does not pay for argon2 again;
* :func:`session_caller`: a web session (``/web/session/authenticate``).

**One call.** :func:`execute` turns Odoo's habits into a dispatcher call and back, in one
place: the model name ``res.users`` is trylite's ``res.user``; ``context`` (given apart, as
JSON-2 does, or among the named arguments, as the RPC protocols do) travels as the
transaction's context (keys starting with ``_`` are dropped: they are trylite's own);
``load='_classic_write'`` (odoorpc) reads ``many2one`` values as bare ids; ``context_get``
answers any valid key, whatever models its scope reaches (it only tells the caller who they
are). Access rights, transactions and errors are the dispatcher's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import select

from ... import __version__
from ...auth import apikeys
from ...auth.logins import login
from ...auth.persons import User, is_admin
from ...auth.sessions import open_session, session_user
from ...auth.tokens import PERSONAL_PREFIX, parse_key
from ...data.dispatch import FULL, Caller, Scope, execute_as
from ...exceptions import AuthenticationFailed, BadArguments
from ...settings import current
from ...transaction import Transaction
from ...web.request import Request

__all__ = ['MODEL_ALIASES', 'SERVER_VERSION', 'LoggedIn', 'bearer_token', 'execute',
           'key_caller', 'log_in', 'password_caller', 'session_caller', 'version']

#: The Odoo version whose protocols trylite speaks.
SERVER_VERSION = '19.0'
#: Odoo's model names that are another name in trylite.
MODEL_ALIASES = {'res.users': 'res.user'}
#: Methods that only tell the caller who they are: any valid credential may call them.
IDENTITY_METHODS = frozenset({('res.user', 'context_get')})


def version() -> dict[str, Any]:
    """``common.version()``, ``/web/webclient/version_info``."""
    return {'server_version': SERVER_VERSION, 'server_version_info': [19, 0, 0, 'final', 0, ''],
            'server_serie': SERVER_VERSION, 'protocol_version': 1,
            'trylite_version': __version__}


def bearer_token(request: Request) -> str | None:
    """The key of ``Authorization: Bearer <key>`` (the scheme in any case)."""
    auth = request.authorization
    return auth.token if auth is not None and auth.type == 'bearer' else None


# -- who calls --------------------------------------------------------------------------------
def key_caller(token: str | None, remote_addr: str | None) -> Caller:
    """The caller of a bearer key (:class:`AuthenticationFailed` when it is not valid)."""
    def caller() -> tuple[int, Scope]:
        identity = apikeys.authenticate(token, remote_addr)
        return identity.user.id, identity.scope
    return caller


#: (backend, database, person, stored hash) -> digest of the password verified for it.
_verified: dict[tuple[str, str, int, str], bytes] = {}
_VERIFIED_MAX = 10000
_PEPPER = secrets.token_bytes(32)


def _digest(secret: str) -> bytes:
    return hmac.new(_PEPPER, secret.encode('utf-8', 'surrogatepass'), hashlib.sha256).digest()


_person = select(User.login, User.password_hash, User.active)


def password_caller(uid: Any, secret: Any, remote_addr: str | None) -> Caller:
    """The caller of XML-RPC's and JSON-RPC's ``uid`` + password (or personal key)."""
    def caller() -> tuple[int, Scope]:
        transaction = Transaction()
        valid_uid = isinstance(uid, int) and not isinstance(uid, bool) and 0 < uid < 2**63
        row = transaction.connection.execute(_person.where(User.id == uid)).first() if (
            valid_uid) else None
        if not isinstance(secret, str) or row is None or not row.active:
            login('', '', remote_addr)  # no such person: a failed login, counted; raises
            raise AuthenticationFailed('Wrong login or password.')
        parsed = parse_key(secret, PERSONAL_PREFIX)
        if parsed is not None:
            identity = apikeys.authenticate_pair(parsed.public_id, parsed.secret, remote_addr)
            if identity.user.id != uid:
                raise AuthenticationFailed('Wrong login or password.')
            return uid, identity.scope
        where = (transaction.backend.uri, transaction.database_name, uid)
        digest = _digest(secret)
        known = _verified.get((*where, row.password_hash or ''), b'')
        if not (row.password_hash and hmac.compare_digest(known, digest)):
            user = login(row.login, secret, remote_addr)
            if len(_verified) >= _VERIFIED_MAX:
                _verified.clear()
            _verified[(*where, user.password_hash or '')] = digest  # rehashed, maybe
        return uid, FULL
    return caller


def session_caller(token: str | None) -> Caller:
    """The caller of a web session's token."""
    def caller() -> tuple[int, Scope]:
        user = session_user(Transaction().session, token)
        if user is None:
            raise AuthenticationFailed('Your session has ended; log in again.')
        return user.id, FULL
    return caller


class LoggedIn(NamedTuple):
    """Who logged in, and the token of their web session (if one was opened)."""

    uid: int
    login: str
    name: str
    admin: bool
    token: str | None


def log_in(database: str, name: Any, secret: Any, remote_addr: str | None, *,
           session: bool = False, replaces: str | None = None) -> LoggedIn:
    """The person *name* whose password (or personal key) *secret* is, checked and throttled
    in a transaction of its own on *database* (:class:`AuthenticationFailed` otherwise); with
    *session*, also the token of a web session opened for them in the same transaction (the
    session *replaces* ends)."""
    if not isinstance(name, str) or not isinstance(secret, str):
        name, secret = '', ''

    def run() -> LoggedIn:
        user = login(name, secret, remote_addr)
        token = open_session(Transaction().session, user, replaces) if session else None
        return LoggedIn(user.id, user.login, user.name, is_admin(user), token)

    return Transaction.run(database, 0, run, retries=current().database.retry)


# -- one call ---------------------------------------------------------------------------------
def _context(value: Any) -> dict[str, Any]:
    if value is None or value is False:
        return {}
    if not isinstance(value, dict):
        raise BadArguments('context must be an object.')
    return {k: v for k, v in value.items() if isinstance(k, str) and not k.startswith('_')}


def _classic_write(value: Any) -> Any:
    """A ``many2one`` value (``[id, name]``) as its id; anything else as it is."""
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[1], str)
            and isinstance(value[0], int) and not isinstance(value[0], bool)):
        return value[0]
    return value


def _any_scope(caller: Caller) -> Caller:
    return lambda: (caller()[0], FULL)


def execute(database: str, caller: Caller, model: Any, method: Any, args: Any = (),
            kwargs: Any = None, *, ids: Any = None, context: Any = None,
            single_create: bool = False) -> Any:
    """Call *method* of *model* through the dispatcher, with Odoo's habits (see the module
    doc); with *single_create*, ``create`` of one dict answers its id (XML-RPC, JSON-RPC)
    rather than a list of one."""
    if isinstance(model, str):
        model = MODEL_ALIASES.get(model, model)
    if kwargs is not None and not isinstance(kwargs, dict):
        raise BadArguments('kwargs must be an object of named arguments.')
    kwargs = dict(kwargs or {})
    if context is None:
        context = kwargs.pop('context', None)
    classic_write = (method in ('read', 'search_read')
                     and kwargs.pop('load', None) == '_classic_write')
    if (model, method) in IDENTITY_METHODS:
        caller = _any_scope(caller)
    result = execute_as(database, caller, model, method, args, kwargs, ids=ids,
                        context=_context(context))
    if classic_write and isinstance(result, list):
        result = [{k: _classic_write(v) for k, v in record.items()} for record in result]
    if single_create and method == 'create' and isinstance(result, list) and len(result) == 1:
        vals = args[0] if isinstance(args, list | tuple) and args else kwargs.get('vals_list')
        if isinstance(vals, Mapping):
            return result[0]
    return result
