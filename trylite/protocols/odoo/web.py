"""The ``/web`` endpoints Odoo's clients probe and use (odooly, odoorpc), at the host root.

JSON-RPC endpoints (``POST``, body ``{"jsonrpc": "2.0", "method": "call", "params": {...},
"id"}``):

* ``/web/webclient/version_info`` — :func:`.calls.version`;
* ``/web/database/list`` — the databases, if ``[web] list_databases`` (else refused);
* ``/web/session/authenticate`` — ``{db, login, password}`` (password or personal API key):
  opens a session and answers ``{uid, db, username, name, user_context, …}`` with the cookie
  ``session_id``; a wrong password is an ``AccessDenied`` error;
* ``/web/dataset/call_kw[/<model>/<method>]`` — ``{model, method, args, kwargs}`` on that
  session (``kwargs`` may carry ``context``); no session, or an ended one, is Odoo's "session
  expired" (code 100);
* ``/web/session/destroy`` — ends the session.

And ``GET /web/version``: ``{"version_info", "version"}``.

Sessions are trylite's (:mod:`trylite.auth.sessions`): the cookie holds a random token and
the database's name, only the token's hash is stored, a session lasts ``[session] timeout``
seconds and ends at once when its person is deactivated. The cookie is HttpOnly and
SameSite=Lax; these endpoints take ``application/json`` bodies only, which a page of another
site cannot send without the CORS permission ``[web] cors`` gives — so they need no CSRF
token.
"""

from __future__ import annotations

from ...auth.sessions import end_session
from ...exceptions import AuthenticationFailed
from ...settings import current
from ...storage.backend import valid_name
from ...transaction import Transaction
from ...web.app import TryliteWSGI
from ...web.request import Request
from ...web.responses import Response, json_response
from ..databases import choose
from . import calls, rpc
from .errors import render_jsonrpc, render_session_call

__all__ = ['SESSION_COOKIE', 'install', 'logged_in']

SESSION_COOKIE = 'session_id'


def _session(request: Request) -> tuple[str, str] | None:
    """``(database, token)`` of the request's session cookie, if it has a well-formed one."""
    token, _, database = request.cookies.get(SESSION_COOKIE, '').partition('.')
    return (database, token) if token and valid_name(database) else None


def logged_in(request: Request) -> tuple[str, str]:
    """``(database, token)`` of the request's session; :class:`AuthenticationFailed` (the
    session expired, to Odoo's clients) without one."""
    session = _session(request)
    if session is None:
        raise AuthenticationFailed('You are not logged in (or your session has ended).')
    return session


def version_info(request: Request) -> Response:
    """The version trylite speaks."""
    rpc.jsonrpc_params(request)
    return rpc.jsonrpc_answer(request, calls.version())


def database_list(request: Request) -> Response:
    """The databases served here (if listing them is allowed)."""
    rpc.jsonrpc_params(request)
    return rpc.jsonrpc_answer(request, rpc.db_list(request))


def authenticate(request: Request) -> Response:
    """Log in and open a session."""
    params = rpc.jsonrpc_params(request)
    database = choose(request, rpc.named_database(params.get('db')))
    previous = _session(request)
    user = calls.log_in(database, params.get('login'), params.get('password'),
                        request.remote_addr, session=True,
                        replaces=previous[1] if previous and previous[0] == database else None)
    context = {'lang': 'en_US', 'tz': 'UTC', 'uid': user.uid}
    response = rpc.jsonrpc_answer(request, {
        'uid': user.uid, 'db': database, 'username': user.login, 'name': user.name,
        'user_context': context, 'server_version': calls.SERVER_VERSION,
        'server_version_info': calls.version()['server_version_info'],
        'is_system': False, 'is_admin': user.admin})
    response.set_cookie(SESSION_COOKIE, f'{user.token}.{database}',
                        max_age=current().session.timeout, path='/', secure=request.is_secure,
                        httponly=True, samesite='Lax')
    return response


def call_kw(request: Request, rest: str = '') -> Response:
    """Call a model's method on the request's session."""
    params = rpc.jsonrpc_params(request)
    database, token = logged_in(request)
    result = calls.execute(choose(request, database), calls.session_caller(token),
                           params.get('model'), params.get('method'), params.get('args', []),
                           params.get('kwargs'), single_create=True)
    return rpc.jsonrpc_answer(request, result)


def destroy(request: Request) -> Response:
    """End the request's session, if it has one."""
    rpc.jsonrpc_params(request)
    session = _session(request)
    if session is not None:
        database, token = session

        def end() -> None:
            end_session(Transaction().session, token)

        Transaction.run(choose(request, database), 0, end, retries=current().database.retry)
    response = rpc.jsonrpc_answer(request, None)
    response.delete_cookie(SESSION_COOKIE, path='/', secure=request.is_secure, httponly=True,
                           samesite='Lax')
    return response


def web_version(request: Request) -> Response:
    """``GET /web/version``."""
    info = calls.version()
    return json_response({'version_info': info['server_version_info'],
                          'version': info['server_version'],
                          'trylite_version': info['trylite_version']})


def install(app: TryliteWSGI) -> None:
    """Add the ``/web`` endpoints to *app*."""
    for rule, handler in (('/web/webclient/version_info', version_info),
                          ('/web/database/list', database_list),
                          ('/web/session/authenticate', authenticate)):
        app.route(rule, methods=['POST'], error_renderer=render_jsonrpc)(handler)
    for rule, handler in (('/web/dataset/call_kw', call_kw),
                          ('/web/dataset/call_kw/<path:rest>', call_kw),
                          ('/web/session/destroy', destroy)):
        app.route(rule, methods=['POST'], error_renderer=render_session_call)(handler)
    app.route('/web/version', methods=['GET'], error_renderer=render_jsonrpc)(web_version)
