"""Odoo's RPC services — ``common``, ``object``, ``db`` — over XML-RPC and JSON-RPC.

Transports, at the host root:

* XML-RPC: ``POST /xmlrpc/2/<service>`` and the legacy ``/xmlrpc/<service>`` (odoo-client-lib
  and erppeek use the latter); the body is read safely (:mod:`.wire`);
* JSON-RPC: ``POST /jsonrpc`` with ``{"jsonrpc": "2.0", "method": "call", "params":
  {"service", "method", "args"}, "id"}``, answered ``{"jsonrpc", "id", "result"}``.

Services:

=========================================================  ====================================
``common.version()``                                        :func:`.calls.version`
``common.login(db, login, password)``                       the person's id, or ``False``
``common.authenticate(db, login, password, env)``           the same
``object.execute_kw(db, uid, password, model, method, args[, kwargs])``  the method's result
``object.execute(db, uid, password, model, method, *args)``  the same, arguments in order
``db.list()``                                               the databases, if ``[web]
                                                            list_databases`` (else refused)
``db.server_version()``                                     ``"19.0"``
=========================================================  ====================================

The password may be a personal API key. ``kwargs`` may carry ``context``. ``create`` of one
dict answers its id. Errors — a wrong password, a refusal, a bad argument, malformed input —
are HTTP 200 with the protocol's own error (:mod:`.errors`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import BadRequest

from ...exceptions import AccessError, AuthenticationFailed, BadArguments, MethodNotFound
from ...settings import current
from ...web.app import TryliteWSGI
from ...web.request import Request
from ...web.responses import Response, json_response
from ..databases import choose, visible_databases
from . import calls, wire
from .errors import JSONRPC_ID, render_jsonrpc, render_xmlrpc

__all__ = ['SERVICES', 'dispatch', 'install', 'jsonrpc_answer', 'jsonrpc_params',
           'named_database']


# -- common -----------------------------------------------------------------------------------
def common_version(request: Request) -> dict[str, Any]:
    """The version trylite speaks."""
    return calls.version()


def common_login(request: Request, db: Any, login: Any, password: Any) -> int | bool:
    """The id of the person *login* whose password (or personal key) is *password*, else
    ``False`` (throttled like every login)."""
    try:
        return calls.log_in(choose(request, named_database(db)), login, password,
                            request.remote_addr).uid
    except AuthenticationFailed:
        return False


def common_authenticate(request: Request, db: Any, login: Any, password: Any,
                        user_agent_env: Any = None) -> int | bool:
    """``login``, with Odoo's extra argument (ignored)."""
    return common_login(request, db, login, password)


# -- object -----------------------------------------------------------------------------------
def object_execute_kw(request: Request, db: Any, uid: Any, password: Any, model: Any,
                      method: Any, args: Any = (), kwargs: Any = None) -> Any:
    """Call *method* of *model* as the person *uid* (password or personal key)."""
    return calls.execute(choose(request, named_database(db)),
                         calls.password_caller(uid, password, request.remote_addr),
                         model, method, args, kwargs, single_create=True)


def object_execute(request: Request, db: Any, uid: Any, password: Any, model: Any,
                   method: Any, *args: Any) -> Any:
    """``execute_kw`` with the arguments in order."""
    return object_execute_kw(request, db, uid, password, model, method, list(args))


# -- db ---------------------------------------------------------------------------------------
def db_list(request: Request, document: Any = False) -> list[str]:
    """The databases served here, when ``[web] list_databases`` allows listing them."""
    if not current().web.list_databases:
        raise AccessError('Listing the databases is disabled on this server.')
    return visible_databases(request)


def db_server_version(request: Request) -> str:
    """The version trylite speaks."""
    return calls.SERVER_VERSION


#: service -> method -> function(request, *args).
SERVICES: dict[str, dict[str, Callable[..., Any]]] = {
    'common': {'version': common_version, 'login': common_login,
               'authenticate': common_authenticate},
    'object': {'execute_kw': object_execute_kw, 'execute': object_execute},
    'db': {'list': db_list, 'server_version': db_server_version},
}


_SIGNATURES = {function: inspect.signature(function)
               for methods in SERVICES.values() for function in methods.values()}


def named_database(db: Any) -> str | None:
    """The database a call's ``db`` argument names (``None``: none; then see
    :func:`~trylite.protocols.databases.choose`)."""
    if db is None or db is False or db == '':
        return None
    if not isinstance(db, str):
        raise BadArguments('The database name must be text.')
    return db


def dispatch(request: Request, service: Any, method: Any, args: Any) -> Any:
    """Run ``service.method(*args)``; unknown ones are :class:`MethodNotFound`, arguments
    that do not fit :class:`BadArguments`."""
    function = SERVICES.get(service, {}).get(method) if isinstance(service, str) and isinstance(
        method, str) else None
    if function is None:
        raise MethodNotFound(f'There is no method {service!s:.40}.{method!s:.40} here.')
    if not isinstance(args, list | tuple):
        raise BadArguments('args must be a list.')
    try:
        _SIGNATURES[function].bind(request, *args)
    except TypeError:
        raise BadArguments(f'{service}.{method} does not take {len(args)} '
                           'arguments.') from None
    return function(request, *args)


# -- transports -------------------------------------------------------------------------------
def xmlrpc(request: Request, service: str) -> Response:
    """One XML-RPC call of *service*."""
    method, args = wire.load_call(request.get_data())
    return wire.xml_response(wire.dump_result(dispatch(request, service, method, args)))


def jsonrpc_params(request: Request) -> dict[str, Any]:
    """The ``params`` of a JSON-RPC call (its id kept for the answer, errors included)."""
    body = request.get_json()
    if not isinstance(body, dict):
        raise BadRequest('The body must be a JSON-RPC call object.')
    call_id = body.get('id')
    if isinstance(call_id, str | int | float) and not isinstance(call_id, bool):
        request.environ[JSONRPC_ID] = call_id
    params = body.get('params', {})
    if not isinstance(params, dict):
        raise BadRequest('params must be an object.')
    return params


def jsonrpc_answer(request: Request, result: Any) -> Response:
    """A JSON-RPC answer carrying *result*."""
    return json_response({'jsonrpc': '2.0', 'id': request.environ.get(JSONRPC_ID),
                          'result': result})


def jsonrpc(request: Request) -> Response:
    """One JSON-RPC call of a service."""
    params = jsonrpc_params(request)
    result = dispatch(request, params.get('service'), params.get('method'),
                      params.get('args', []))
    return jsonrpc_answer(request, result)


def install(app: TryliteWSGI) -> None:
    """Add XML-RPC and JSON-RPC to *app*."""
    for rule in ('/xmlrpc/<service>', '/xmlrpc/2/<service>'):
        app.route(rule, methods=['POST'], error_renderer=render_xmlrpc)(xmlrpc)
    app.route('/jsonrpc', methods=['POST'], error_renderer=render_jsonrpc)(jsonrpc)
