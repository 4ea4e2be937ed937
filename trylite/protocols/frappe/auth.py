"""Who calls the Frappe API: token, Basic or bearer keys, or a session cookie.

A request is authenticated, inside the transaction of the call it makes (so that checking the
credentials and making the call cost one transaction), by the first of:

1. ``Authorization: token <api_key>:<api_secret>`` or ``Authorization: Basic
   base64(<api_key>:<api_secret>)`` — what Frappe's client libraries send — where ``api_key``
   is a personal key's public id and ``api_secret`` its secret (``trylite apikey create``
   prints the pair on its second line); Basic with an empty user name and a whole trylite key
   as password, and ``Authorization: Bearer <key>``, take a personal or user-application key;
2. the ``sid`` cookie of a session opened by ``login``.

Wrong keys count as failures and are throttled like every failure
(:mod:`trylite.auth.throttle`); a request without credentials, with a wrong key or an ended
session answers 401 ``AuthenticationError``.

Sessions (:mod:`trylite.auth.sessions`): ``POST /api/method/login`` (JSON or form ``usr`` and
``pwd``, or the legacy ``POST /`` form ``cmd=login``) checks the password — throttled, a
personal key is accepted in its place (:func:`trylite.auth.logins.login`) — opens a session and
sets the cookie ``sid`` (HttpOnly, SameSite=Lax, Secure over HTTPS, for the site's path); only
the token's hash is stored. Such a session needs no CSRF header: SameSite=Lax keeps the cookie
off other sites' POSTs, and a GET never writes (read-only methods only, see
:mod:`.methods`). ``logout`` ends it.
"""

from __future__ import annotations

from typing import Any

from ...auth import apikeys
from ...auth.logins import login
from ...auth.sessions import end_session, open_session, session_user
from ...data.dispatch import FULL, Caller, Scope
from ...exceptions import AuthenticationFailed
from ...pool import Pool
from ...settings import current
from ...transaction import Transaction
from ...web.request import Request
from ...web.responses import Response, json_response

__all__ = ['SESSION_COOKIE', 'caller', 'identify', 'log_in', 'log_out', 'logged_user']

SESSION_COOKIE = 'sid'


def identify(request: Request) -> apikeys.Identity:
    """The person and scope the request's credentials name (inside a transaction);
    :class:`AuthenticationFailed` without valid ones."""
    header = request.headers.get('Authorization', '')
    scheme, _, rest = header.strip().partition(' ')
    scheme, rest = scheme.lower(), rest.strip()
    if scheme == 'token':
        public_id, _, secret = rest.partition(':')
        return apikeys.authenticate_pair(public_id, secret, request.remote_addr)
    if scheme == 'bearer':
        return apikeys.authenticate(rest, request.remote_addr)
    if scheme == 'basic':
        auth = request.authorization
        if auth is None or auth.username is None:
            raise AuthenticationFailed('The Basic credentials are not valid base64.')
        if auth.username == '':
            return apikeys.authenticate(auth.password, request.remote_addr)
        return apikeys.authenticate_pair(auth.username, auth.password, request.remote_addr)
    if header:
        raise AuthenticationFailed('Unknown Authorization scheme: send a personal API key '
                                   'with token or Basic.')
    user = session_user(Transaction().session, request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise AuthenticationFailed('Log in, or send a personal API key (Authorization: '
                                   'token or Basic).')
    return apikeys.Identity(user, FULL)


def caller(request: Request) -> Caller:
    """Says who calls, for :func:`trylite.data.dispatch.execute_as`."""
    def who() -> tuple[int, Scope]:
        identity = identify(request)
        return identity.user.id, identity.scope
    return who


def _cookie_path(request: Request, pool: Pool) -> str:
    """The site's path: ``/<db>`` when the database is in the path, else ``/``."""
    prefixed = (request.view_args or {}).get('database_name') is not None
    return f'{request.script_root}/{pool.database_name}' if prefixed else (
        request.script_root or '/')


def log_in(request: Request, pool: Pool, found: dict[str, Any]) -> Response:
    """Check ``usr`` and ``pwd``, open a session: ``{"message": "Logged In", ...}`` with the
    ``sid`` cookie."""
    name, secret = found.get('usr'), found.get('pwd')
    if not isinstance(name, str) or not isinstance(secret, str):
        raise AuthenticationFailed('Send usr and pwd.')

    def run() -> tuple[str, str]:
        user = login(name, secret, request.remote_addr)
        return open_session(Transaction().session, user,
                            replaces=request.cookies.get(SESSION_COOKIE)), user.name
    token, full_name = Transaction.run(pool.database_name, 0, run,
                                       retries=current().database.retry)
    response = json_response({'message': 'Logged In', 'home_page': '/app',
                              'full_name': full_name})
    response.set_cookie(SESSION_COOKIE, token, max_age=current().session.timeout,
                        path=_cookie_path(request, pool), secure=request.is_secure,
                        httponly=True, samesite='Lax')
    return response


def log_out(request: Request, pool: Pool) -> Response:
    """End the session of the ``sid`` cookie (if any) and drop the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        Transaction.run(pool.database_name, 0,
                        lambda: end_session(Transaction().session, token),
                        retries=current().database.retry)
    response = json_response({})
    response.delete_cookie(SESSION_COOKIE, path=_cookie_path(request, pool),
                           secure=request.is_secure, httponly=True, samesite='Lax')
    return response


def logged_user(request: Request, pool: Pool) -> str:
    """The login of the person the request authenticates."""
    return Transaction.run(pool.database_name, 0, lambda: identify(request).user.login,
                           readonly=True)
