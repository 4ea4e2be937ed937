"""The preferences page: where a person validates, cancels and deletes their keys.

``/<database_name>/preferences/`` is server-rendered HTML (Jinja2, autoescaped, no script):

* ``GET /<db>/preferences/`` — the login form (fields ``login`` and ``password``), or, once
  logged in, the person's own keys, newest first: application, public id, state (``expired``
  past its expiry), created, last used, expiry; each row carries ``data-public-id`` and the
  buttons **Validate** (requested keys), **Cancel** (keys not cancelled) and **Delete**;
* ``POST /<db>/preferences/login`` — ``login``, ``password``, ``csrf_token``;
* ``POST /<db>/preferences/keys`` — ``public_id``, ``action`` (``validate``, ``cancel`` or
  ``delete``), ``csrf_token``; answers ``303`` back to the page (post/redirect/get);
* ``POST /<db>/preferences/apikeys`` — the person's personal API keys: ``action=create``
  with ``name``, ``scope`` (``rpc`` or ``read``) and ``days`` (empty: no expiry, for
  administrators) answers the page with the new key shown once; ``action=revoke`` with
  ``public_id`` revokes one and answers ``303``;
* ``POST /<db>/preferences/logout`` — ``csrf_token``.

They are ordinary routes (:func:`install` adds them to an app) whose errors are drawn as HTML
pages (:func:`render_error`) with their status (400, 403, 404, 405, 429, …), never a
traceback.

Sessions (:mod:`trylite.auth.sessions`). A login sets the cookie ``trylite_session``
(HttpOnly, SameSite=Strict, Secure over HTTPS, scoped to the page's path) holding a random
token; only its SHA-256 is stored, with an expiry ``[session] timeout`` seconds later.

CSRF. The login form uses a double-submit cookie (``trylite_csrf``); the other forms carry a
token derived from the session token with HMAC, which only the cookie's holder can compute.
Tokens are compared with :func:`hmac.compare_digest`. Every page is sent with
``X-Frame-Options: DENY`` and a Content-Security-Policy that forbids framing and scripts.

After an action, the page shows what was done ("Key 902ba4302aa5 validated.") once: the
action sets the cookie ``trylite_notice``, signed with the session token, which the next page
shows and clears — so no link can make the page report an action that did not happen.

Failed logins count against the client address and against the pair (address, login)
(:func:`trylite.auth.throttle.login_failures`): past either limit, the login form answers 429
with ``Retry-After`` before any password is checked, while the person's right password from
another address still gets in. Logins, failed or not, and actions on keys go to the audit log
(:mod:`trylite.auth.audit`).
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from typing import Any
from urllib.parse import quote

from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from .auth import apikeys, audit, throttle
from .auth.keys import ACTIONS, NoSuchKey, act, applications, keys_of
from .auth.persons import User, authenticate, is_admin
from .auth.sessions import end_session, open_session, session_user
from .auth.tokens import PERSONAL_PREFIX, PUBLIC_ID_RE, SECRET_RE, new_secret, parse_key
from .formatting import when
from .pool import Pool
from .settings import current
from .transaction import Transaction
from .web.app import TryliteWSGI
from .web.errors import Problem, drawn_as
from .web.request import Request
from .web.responses import Response
from .wrappers import with_pool, with_transaction

__all__ = ['LOGIN_CSRF_COOKIE', 'NOTICE_COOKIE', 'SESSION_COOKIE', 'base_path', 'check_csrf',
           'current_user', 'install', 'login_page', 'posted_by', 'protect', 'render',
           'render_error', 'session_csrf']

SESSION_COOKIE = 'trylite_session'
LOGIN_CSRF_COOKIE = 'trylite_csrf'
NOTICE_COOKIE = 'trylite_notice'


# -- rendering --------------------------------------------------------------------------------
@functools.cache
def _environment() -> Any:
    """The Jinja2 environment, made on the first page shown (workers serving only the API
    never load Jinja2)."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader('trylite', 'templates'), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters['when'] = when
    return env


def base_path(request: Request, database_name: str) -> str:
    """The page's own path (the cookies' path too)."""
    return f'{request.script_root}/{quote(database_name, safe="")}/preferences/'


def protect(response: Response, nonce: str | None = None) -> Response:
    """Headers every preferences answer carries: no framing, no caching, no scripts."""
    style = f"'nonce-{nonce}'" if nonce else "'none'"
    response.headers['Content-Security-Policy'] = (
        f"default-src 'none'; style-src {style}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    response.headers['X-Frame-Options'] = 'DENY'
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Referrer-Policy'] = 'same-origin'
    response.headers['Cache-Control'] = 'no-store'
    return response


def render(request: Request, database_name: str, template: str, code: int = 200,
           headers: list[tuple[str, str]] | None = None, **values: Any) -> Response:
    """The HTML page *template*, rendered with *values*, with the protective headers."""
    nonce = secrets.token_urlsafe(16)
    body = _environment().get_template(template).render(
        nonce=nonce, base=base_path(request, database_name), database=database_name,
        **values)
    response = Response(body, code, headers, content_type='text/html; charset=utf-8')
    protect(response, nonce)
    return response


@drawn_as('text/html', {'type': 'string'})
def render_error(request: Request, problem: Problem) -> Response:
    """The error renderer of the preferences routes: an HTML page with the problem's status
    and headers."""
    database_name = (request.view_args or {}).get('database_name', '')
    return render(request, database_name, 'error.html', problem.status, list(problem.headers),
                  status=problem.status, message=problem.message,
                  description=problem.description)


def _redirect(request: Request, database_name: str) -> Response:
    """``303 See Other`` back to the page (post/redirect/get)."""
    response = Response(status=303, headers={'Location': base_path(request, database_name)})
    protect(response)
    return response


# -- sessions, CSRF and notices ---------------------------------------------------------------
def _signature(token: str, purpose: str) -> str:
    """A value only the holder of the session *token* can compute, one per *purpose*."""
    return hmac.new(token.encode('ascii'), f'trylite preferences {purpose}'.encode(),
                    'sha256').hexdigest()


def session_csrf(token: str) -> str:
    return _signature(token, 'csrf')


def _notice_cookie(token: str, action: str, public_id: str) -> str:
    """The ``trylite_notice`` value reporting *action* done on *public_id*."""
    return f'{action}.{public_id}.{_signature(token, f"notice {action} {public_id}")}'


#: What each action reports once done.
_DONE = {**{name: action.done for name, action in ACTIONS.items()}, 'revoke': 'revoked'}


def _notice(request: Request, token: str) -> str | None:
    """What the ``trylite_notice`` cookie reports, if the session *token* signed it."""
    sent = request.cookies.get(NOTICE_COOKIE, '')
    action, _, rest = sent.partition('.')
    public_id = rest.partition('.')[0]
    if (action not in _DONE or not PUBLIC_ID_RE.fullmatch(public_id)
            or not hmac.compare_digest(
                sent.encode(), _notice_cookie(token, action, public_id).encode())):
        return None
    return f'Key {public_id} {_DONE[action]}.'


def _cookie_token(request: Request, name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value and SECRET_RE.fullmatch(value) else None


def current_user(request: Request) -> tuple[User, str] | None:
    """The active person logged in by the request's session cookie, and the session token."""
    token = _cookie_token(request, SESSION_COOKIE)
    user = session_user(Transaction().session, token)
    return (user, token) if user is not None and token is not None else None


def posted_by(request: Request) -> tuple[User, str]:
    """The person logged in who posted this form, and their session token: 403 when nobody
    is logged in or the form's CSRF token is not their session's."""
    login = current_user(request)
    if login is None:
        raise Forbidden('You are not logged in (or your session has ended). Log in again.')
    check_csrf(request, session_csrf(login[1]))
    return login


def check_csrf(request: Request, expected: str | None) -> None:
    sent = request.form.get('csrf_token', '')
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden('The form has expired or did not come from this page. '
                        'Reload the page and try again.')


def _set_cookie(request: Request, response: Response, name: str, value: str,
                database_name: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=base_path(request, database_name),
                        secure=request.is_secure, httponly=True, samesite='Strict')


def _delete_cookie(request: Request, response: Response, name: str, database_name: str
                   ) -> None:
    response.delete_cookie(name, path=base_path(request, database_name),
                           secure=request.is_secure, httponly=True, samesite='Strict')


def login_page(request: Request, database_name: str, status: int = 200,
                error: str | None = None, login: str = '') -> Response:
    csrf = _cookie_token(request, LOGIN_CSRF_COOKIE) or new_secret()
    response = render(request, database_name, 'login.html', status, error=error,
                      login=login, csrf_token=csrf)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, csrf, database_name)
    return response


# -- pages ------------------------------------------------------------------------------------
@with_pool
@with_transaction()
def preferences(request: Request, pool: Pool) -> Response:
    """The login form, or the person's keys."""
    current_login = current_user(request)
    if current_login is None:
        return login_page(request, pool.database_name)
    user, token = current_login
    response = _keys_page(request, pool.database_name, user, token,
                          notice=_notice(request, token))
    if NOTICE_COOKIE in request.cookies:  # shown once
        _delete_cookie(request, response, NOTICE_COOKIE, pool.database_name)
    return response


def _keys_page(request: Request, database_name: str, user: User, token: str,
               **values: Any) -> Response:
    """The person's page: their applications' keys and their personal API keys."""
    session = Transaction().session
    return render(request, database_name, 'keys.html', user=user,
                  keys=keys_of(session, user.id), applications=applications(),
                  api_keys=apikeys.keys_of(session, user.id), is_admin=is_admin(user),
                  key_max_days=current().api.key_max_days, csrf_token=session_csrf(token),
                  **values)


@with_pool
@with_transaction()
def log_in(request: Request, pool: Pool) -> Response:
    """Check the password (unless throttled) and open a session."""
    check_csrf(request, _cookie_token(request, LOGIN_CSRF_COOKIE))
    login = request.form.get('login', '').strip()
    password = request.form.get('password', '')
    if not login or not password:
        return login_page(request, pool.database_name, 400,
                           'Enter your login and your password.', login)
    counters = throttle.login_failures(request.remote_addr, login)
    throttle.check(counters)
    session = Transaction().session
    user = authenticate(session, login, password)
    if user is None:
        throttle.failure(counters)
        audit.record('login.failed', logging.WARNING, database=pool.database_name,
                     login=login, address=request.remote_addr)
        return login_page(request, pool.database_name, 403,
                           'Wrong login or password.', login)
    token = open_session(session, user, replaces=_cookie_token(request, SESSION_COOKIE))
    audit.record('login.succeeded', database=pool.database_name, login=login, person=user.id,
                 address=request.remote_addr)
    response = _redirect(request, pool.database_name)
    _set_cookie(request, response, SESSION_COOKIE, token, pool.database_name,
                current().session.timeout)
    _delete_cookie(request, response, LOGIN_CSRF_COOKIE, pool.database_name)
    return response


@with_pool
@with_transaction()
def key_action(request: Request, pool: Pool) -> Response:
    """Validate, cancel or delete one of the person's own keys."""
    user, token = posted_by(request)
    action = request.form.get('action', '')
    public_id = request.form.get('public_id', '')
    if action not in ACTIONS or not public_id:
        raise BadRequest('The form needs a public_id and an action: validate, cancel or '
                         'delete.')
    try:
        act(action, public_id, user.id, request.remote_addr)
    except NoSuchKey:
        raise NotFound('You have no such key.') from None
    response = _redirect(request, pool.database_name)
    _set_cookie(request, response, NOTICE_COOKIE, _notice_cookie(token, action, public_id),
                pool.database_name, max_age=60)
    return response


@with_pool
@with_transaction()
def api_key_action(request: Request, pool: Pool) -> Response:
    """Make (shown once, on the answered page) or revoke one of the person's API keys."""
    user, token = posted_by(request)
    action = request.form.get('action', '')
    session = Transaction().session
    if action == 'create':
        days_text = request.form.get('days', '').strip()
        if days_text and not days_text.isdigit():
            raise BadRequest('The expiry is a number of days.')
        value = apikeys.create_key(session, user, request.form.get('name', ''),
                                   request.form.get('scope', 'rpc'),
                                   int(days_text) if days_text else None)
        parsed = parse_key(value, PERSONAL_PREFIX)
        assert parsed is not None
        audit.record('apikey.created', database=pool.database_name, person=user.id,
                     key=parsed.public_id, address=request.remote_addr)
        made = {'name': request.form.get('name', '').strip(), 'value': value,
                'token': f'token {parsed.public_id}:{parsed.secret}'}
        return _keys_page(request, pool.database_name, user, token, new_key=made)
    public_id = request.form.get('public_id', '')
    if action != 'revoke' or not PUBLIC_ID_RE.fullmatch(public_id):
        raise BadRequest('The form needs an action: create (with a name) or revoke (with a '
                         'public_id).')
    try:
        apikeys.revoke(session, public_id, user.id)
    except NoSuchKey:
        raise NotFound('You have no such key.') from None
    audit.record('apikey.revoked', database=pool.database_name, person=user.id,
                 key=public_id, address=request.remote_addr)
    response = _redirect(request, pool.database_name)
    _set_cookie(request, response, NOTICE_COOKIE, _notice_cookie(token, 'revoke', public_id),
                pool.database_name, max_age=60)
    return response


@with_pool
@with_transaction()
def logout(request: Request, pool: Pool) -> Response:
    """End the session (when there is one) and go back to the login form."""
    current_login = current_user(request)
    if current_login is not None:
        check_csrf(request, session_csrf(current_login[1]))
        end_session(Transaction().session, current_login[1])
        audit.record('logout', database=pool.database_name, person=current_login[0].id,
                     address=request.remote_addr)
    response = _redirect(request, pool.database_name)
    _delete_cookie(request, response, SESSION_COOKIE, pool.database_name)
    return response


def install(app: TryliteWSGI) -> None:
    """Add the preferences pages to *app*."""
    for rule, method, page in (
            ('/<database_name>/preferences/', 'GET', preferences),
            ('/<database_name>/preferences/login', 'POST', log_in),
            ('/<database_name>/preferences/keys', 'POST', key_action),
            ('/<database_name>/preferences/apikeys', 'POST', api_key_action),
            ('/<database_name>/preferences/logout', 'POST', logout)):
        app.route(rule, methods=[method], error_renderer=render_error)(page)
