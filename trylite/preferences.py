"""The preferences page: where a person validates, cancels and deletes their keys.

``/<database_name>/preferences/`` is server-rendered HTML (Jinja2, autoescaped, no script):

* ``GET /<db>/preferences/`` — the login form (fields ``login`` and ``password``), or, once
  logged in, the person's own keys, newest first: application, public id, state (``expired``
  past its expiry), created, last used, expiry; each row carries ``data-public-id`` and the
  buttons **Validate** (requested keys), **Cancel** (keys not cancelled) and **Delete**;
* ``POST /<db>/preferences/login`` — ``login``, ``password``, ``csrf_token``;
* ``POST /<db>/preferences/keys`` — ``public_id``, ``action`` (``validate``, ``cancel`` or
  ``delete``), ``csrf_token``; answers ``303`` back to the page (post/redirect/get);
* ``POST /<db>/preferences/logout`` — ``csrf_token``.

Sessions. A login sets the cookie ``trylite_session`` (HttpOnly, SameSite=Strict, Secure over
HTTPS, scoped to the page's path) holding a random token; only its SHA-256 is stored, in
``res.user.session``, with an expiry ``[session] timeout`` seconds later. A deactivated
person's sessions stop working at once, and they cannot log in.

CSRF. The login form uses a double-submit cookie (``trylite_csrf``); the other forms carry a
token derived from the session token with HMAC, which only the cookie's holder can compute.
Tokens are compared with :func:`hmac.compare_digest`. Every page is sent with
``X-Frame-Options: DENY`` and a Content-Security-Policy that forbids framing and scripts.

Failed logins count against the client address and the login (:mod:`trylite.throttle`); past
the limit, the login form answers 429 with ``Retry-After`` before any password is checked.
Errors are HTML pages with their status (400, 403, 404, 405, 429, …), never a traceback.
"""

from __future__ import annotations

import datetime
import functools
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import ForeignKey, String, delete, or_, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import BadRequest, Forbidden, MethodNotAllowed, NotFound
from werkzeug.wrappers import Response

from . import json as json_module
from . import throttle
from . import user_application as keys
from .config import config
from .model import Model, utcnow
from .pool import Pool
from .transaction import Transaction
from .user import User, authenticate
from .wrappers import with_pool, with_transaction
from .wsgi import BaseResponse, Request, app

__all__ = ['UserSession', 'SESSION_COOKIE', 'LOGIN_CSRF_COOKIE']

SESSION_COOKIE = 'trylite_session'
LOGIN_CSRF_COOKIE = 'trylite_csrf'
_TOKEN_RE = re.compile(r'[A-Za-z0-9_-]{43}')
_PUBLIC_ID_RE = re.compile(r'[0-9a-f]{12}')

#: What the buttons do, and how the page reports it afterwards.
ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    'validate': (keys.validate, 'validated'),
    'cancel': (keys.cancel, 'cancelled'),
    'delete': (keys.remove, 'deleted'),
}


class UserSession(Model):
    """A preferences login: the SHA-256 of the cookie's token, whose person, until when."""

    __model__ = 'res.user.session'
    __tablename__ = 'res_user_session'

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey('res_user.id', ondelete='CASCADE'), index=True)
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    expires: Mapped[datetime.datetime]


Pool.register(UserSession, module='res')


# -- rendering -----------------------------------------------------------------------------
def _when(value: datetime.datetime | None) -> str:
    return value.strftime('%Y-%m-%d %H:%M UTC') if value is not None else '—'


@functools.cache
def _environment() -> Any:
    """The Jinja2 environment, made on the first page shown (workers serving only the API
    never load Jinja2)."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader('trylite', 'templates'), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters['when'] = _when
    return env


def _base_path(request: Request, database_name: str) -> str:
    """The page's own path (the cookies' path too)."""
    return f'{request.script_root}/{quote(database_name, safe="")}/preferences/'


def _protect(response: BaseResponse, nonce: str | None = None) -> BaseResponse:
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
        nonce=nonce, base=_base_path(request, database_name), database=database_name,
        **values)
    response = Response(body, code, headers, content_type='text/html; charset=utf-8')
    _protect(response, nonce)
    return response


def _redirect(request: Request, database_name: str, **query: str) -> Response:
    """``303 See Other`` back to the page (post/redirect/get)."""
    location = _base_path(request, database_name)
    if query:
        location += '?' + urlencode(query)
    response = Response(status=303, headers={'Location': location})
    _protect(response)
    return response


def error_page(request: Request, database_name: str, exc: Exception) -> BaseResponse:
    """*exc* as an HTML page: the status and headers of trylite's one error path."""
    response = app.handle_exception(request, exc)
    if response.status_code < 400 or response.mimetype != 'application/json':
        return response
    body = json_module.loads(response.get_data(as_text=True))
    headers = [(k, v) for k, v in response.headers.items()
               if k.lower() not in ('content-type', 'content-length')]
    return render(request, database_name, 'error.html', response.status_code, headers,
                  status=response.status_code, message=body.get('message', 'Error'),
                  description=body.get('description'))


def _page(rule: str, method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route *rule* (method *method*) to ``func(request, pool)`` in a transaction, with HTML
    errors."""
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        handler = with_pool(with_transaction()(func))

        @functools.wraps(func)
        def view(request: Request, database_name: str) -> BaseResponse:
            try:
                if request.method not in (method, 'HEAD' if method == 'GET' else method):
                    raise MethodNotAllowed(valid_methods=[method])
                return handler(request, database_name)
            except Exception as exc:
                return error_page(request, database_name, exc)

        app.route(rule)(view)
        return func
    return decorator


# -- sessions and CSRF ---------------------------------------------------------------------
def _session_csrf(token: str) -> str:
    return hmac.new(token.encode('ascii'), b'trylite preferences csrf', 'sha256').hexdigest()


def _cookie_token(request: Request, name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value and _TOKEN_RE.fullmatch(value) else None


def current_user(request: Request) -> tuple[User, str] | None:
    """The active person logged in by the request's session cookie, and the session token."""
    token = _cookie_token(request, SESSION_COOKIE)
    if token is None:
        return None
    user = Transaction().session.scalars(
        select(User).join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == keys.hash_token(token), UserSession.expires > utcnow(),
               User.active)).first()
    return (user, token) if user is not None else None


def _check_csrf(request: Request, expected: str | None) -> None:
    sent = request.form.get('csrf_token', '')
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden('The form has expired or did not come from this page. '
                        'Reload the page and try again.')


def _set_cookie(request: Request, response: Response, name: str, value: str,
                database_name: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=_base_path(request, database_name),
                        secure=request.is_secure, httponly=True, samesite='Strict')


def _delete_cookie(request: Request, response: Response, name: str, database_name: str
                   ) -> None:
    response.delete_cookie(name, path=_base_path(request, database_name),
                           secure=request.is_secure, httponly=True, samesite='Strict')


def _login_page(request: Request, database_name: str, status: int = 200,
                error: str | None = None, login: str = '') -> Response:
    csrf = _cookie_token(request, LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, database_name, 'login.html', status, error=error,
                      login=login, csrf_token=csrf)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, csrf, database_name)
    return response


# -- pages ---------------------------------------------------------------------------------
@_page('/<database_name>/preferences/', 'GET')
def preferences(request: Request, pool: Pool) -> Response:
    """The login form, or the person's keys."""
    current = current_user(request)
    if current is None:
        return _login_page(request, pool.database_name)
    user, token = current
    done = request.args.get('done', '')
    public_id = request.args.get('key', '')
    notice = None
    if done in ACTIONS and _PUBLIC_ID_RE.fullmatch(public_id):
        notice = f'Key {public_id} {ACTIONS[done][1]}.'
    return render(request, pool.database_name, 'keys.html', user=user,
                  keys=keys.keys_of(Transaction().session, user.id),
                  applications=keys.applications(), csrf_token=_session_csrf(token),
                  notice=notice)


@_page('/<database_name>/preferences/login', 'POST')
def log_in(request: Request, pool: Pool) -> Response:
    """Check the password (unless throttled) and open a session."""
    _check_csrf(request, _cookie_token(request, LOGIN_CSRF_COOKIE))
    login = request.form.get('login', '').strip()
    password = request.form.get('password', '')
    if not login or not password:
        return _login_page(request, pool.database_name, 400,
                           'Enter your login and your password.', login)
    subjects = throttle.subjects(request.remote_addr, login)
    throttle.check(subjects)
    session = Transaction().session
    user = authenticate(session, login, password)
    if user is None:
        throttle.failure(subjects)
        return _login_page(request, pool.database_name, 403,
                           'Wrong login or password.', login)
    now = utcnow()
    timeout = config.getint('session', 'timeout')
    token = secrets.token_urlsafe(32)
    previous = _cookie_token(request, SESSION_COOKIE)  # a new login never reuses a session
    session.execute(delete(UserSession).where(
        or_(UserSession.expires <= now, UserSession.token_hash == keys.hash_token(previous or ''))))
    session.add(UserSession(token_hash=keys.hash_token(token), user_id=user.id, created=now,
                            expires=now + datetime.timedelta(seconds=timeout)))
    response = _redirect(request, pool.database_name)
    _set_cookie(request, response, SESSION_COOKIE, token, pool.database_name, timeout)
    _delete_cookie(request, response, LOGIN_CSRF_COOKIE, pool.database_name)
    return response


@_page('/<database_name>/preferences/keys', 'POST')
def key_action(request: Request, pool: Pool) -> Response:
    """Validate, cancel or delete one of the person's own keys."""
    current = current_user(request)
    if current is None:
        raise Forbidden('You are not logged in (or your session has ended). '
                        'Log in again.')
    user, token = current
    _check_csrf(request, _session_csrf(token))
    action = request.form.get('action', '')
    public_id = request.form.get('public_id', '')
    if action not in ACTIONS or not public_id:
        raise BadRequest('The form needs a public_id and an action: validate, cancel or '
                         'delete.')
    try:
        ACTIONS[action][0](Transaction().session, public_id, user.id)
    except keys.NoSuchKey:
        raise NotFound('You have no such key.') from None
    return _redirect(request, pool.database_name, done=action, key=public_id)


@_page('/<database_name>/preferences/logout', 'POST')
def logout(request: Request, pool: Pool) -> Response:
    """End the session (when there is one) and go back to the login form."""
    current = current_user(request)
    if current is not None:
        _check_csrf(request, _session_csrf(current[1]))
        Transaction().session.execute(
            delete(UserSession).where(UserSession.token_hash == keys.hash_token(current[1])))
    response = _redirect(request, pool.database_name)
    _delete_cookie(request, response, SESSION_COOKIE, pool.database_name)
    return response
