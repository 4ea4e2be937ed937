"""How the Odoo protocols draw an error: one :class:`~trylite.web.errors.Problem` (made by the
one error registry), four wire shapes.

The registry decides what went wrong and its HTTP status; here the status becomes the name
of the Odoo exception clients look for (``odoo.exceptions.AccessError`` for 403, …) and the
protocol's own error shape:

* JSON-2 and ``/doc``: the status itself, body ``{"name", "message", "arguments", "context",
  "debug"}``;
* JSON-RPC (``/jsonrpc``, ``/web/*``): HTTP 200, ``{"jsonrpc", "id", "error": {"code",
  "message", "data": {"name", "message", "arguments", "context", "debug"}}}`` — ``code`` 200,
  404 for what does not exist, 100 when a web session is missing or over;
* XML-RPC: HTTP 200, a fault whose ``faultCode`` is a string naming the kind as Odoo's
  ``/xmlrpc/`` does (``"warning -- AccessError\\n\\n<message>"``, ``"AccessDenied"``) and
  whose ``faultString`` is the message.

``debug`` is empty unless ``[web] debug`` is on and the error was unexpected (then it holds
the traceback). Nothing else of Python ever reaches the client.
"""

from __future__ import annotations

from typing import Any

from ...web.errors import Problem
from ...web.request import Request
from ...web.responses import Response, json_response
from . import wire

__all__ = ['JSONRPC_ID', 'name_of', 'render_json2', 'render_jsonrpc', 'render_session_call',
           'render_xmlrpc']

#: The Odoo (or Werkzeug) exception a status stands for.
_NAMES = {
    400: 'odoo.exceptions.UserError',
    401: 'werkzeug.exceptions.Unauthorized',
    403: 'odoo.exceptions.AccessError',
    404: 'werkzeug.exceptions.NotFound',
    405: 'werkzeug.exceptions.MethodNotAllowed',
    409: 'odoo.exceptions.ValidationError',
    413: 'werkzeug.exceptions.RequestEntityTooLarge',
    415: 'werkzeug.exceptions.UnsupportedMediaType',
    422: 'werkzeug.exceptions.UnprocessableEntity',
    429: 'werkzeug.exceptions.TooManyRequests',
    503: 'werkzeug.exceptions.ServiceUnavailable',
    504: 'werkzeug.exceptions.GatewayTimeout',
}
_SERVER_ERROR = 'werkzeug.exceptions.InternalServerError'
#: In the RPC protocols, a refused login (or too many of them) is Odoo's ``AccessDenied``.
_RPC_NAMES = {**_NAMES, 401: 'odoo.exceptions.AccessDenied',
              429: 'odoo.exceptions.AccessDenied'}
_SESSION_EXPIRED = 'odoo.http.SessionExpiredException'
#: Where a JSON-RPC handler leaves the id of the call (answered with the error too).
JSONRPC_ID = 'trylite.odoo.jsonrpc_id'


def name_of(problem: Problem, names: dict[int, str] = _NAMES) -> str:
    """The Odoo exception name of *problem*."""
    if problem.status == 400 and problem.message == 'Bad Request':
        return 'werkzeug.exceptions.BadRequest'  # malformed input, not a person's mistake
    return names.get(problem.status, _SERVER_ERROR)


def message_of(problem: Problem) -> str:
    """The one sentence a person reads: the description when there is one."""
    return problem.description or problem.message


def _debug(problem: Problem) -> str:
    return str(problem.extra.get('traceback', ''))


def _data(problem: Problem, name: str, arguments: list[Any]) -> dict[str, Any]:
    return {'name': name, 'message': message_of(problem), 'arguments': arguments,
            'context': {}, 'debug': _debug(problem)}


def render_json2(request: Request, problem: Problem) -> Response:
    """JSON-2 and ``/doc``: the real status and Odoo's error object (never an empty body)."""
    body = _data(problem, name_of(problem), [message_of(problem), problem.status])
    return json_response(body, problem.status, problem.headers)


def _jsonrpc(request: Request, problem: Problem, expired: bool) -> Response:
    if expired and problem.status == 401:
        code, message, name = 100, 'Odoo Session Expired', _SESSION_EXPIRED
    else:
        code = 404 if problem.status == 404 else 200
        message, name = 'Odoo Server Error', name_of(problem, _RPC_NAMES)
    error = {'code': code, 'message': message,
             'data': _data(problem, name, [message_of(problem)])}
    headers = [(k, v) for k, v in problem.headers if k.lower() == 'retry-after']
    return json_response({'jsonrpc': '2.0', 'id': request.environ.get(JSONRPC_ID),
                          'error': error}, 200, headers)


def render_jsonrpc(request: Request, problem: Problem) -> Response:
    """JSON-RPC (``/jsonrpc``, the ``/web`` endpoints that need no session): HTTP 200 and an
    ``error`` object; a refused login is ``AccessDenied`` with code 200."""
    return _jsonrpc(request, problem, expired=False)


def render_session_call(request: Request, problem: Problem) -> Response:
    """JSON-RPC on a web session: like :func:`render_jsonrpc`, but a missing or ended session
    is Odoo's "session expired" (code 100)."""
    return _jsonrpc(request, problem, expired=True)


def fault_of(problem: Problem) -> tuple[str, str]:
    """``(faultCode, faultString)`` of *problem*."""
    kind = name_of(problem, _RPC_NAMES).rpartition('.')[2]
    message = message_of(problem)
    if kind == 'AccessDenied':
        return kind, message
    return f'warning -- {kind}\n\n{message}', message


def render_xmlrpc(request: Request, problem: Problem) -> Response:
    """XML-RPC: HTTP 200 and a fault (clients see a non-200 status as a transport error)."""
    code, message = fault_of(problem)
    return wire.xml_response(wire.dump_fault(code, message + (
        '\n\n' + _debug(problem) if _debug(problem) else '')))
