"""Frappe's error shape, drawn from trylite's one error registry.

Every route of the Frappe API is declared with :func:`render` as its ``error_renderer``: the
registry (:mod:`trylite.web.errors`) decides the status and the message as for every trylite
route, and this renderer adds what Frappe's clients read, keeping trylite's envelope::

    {"status": 403, "message": "Forbidden",
     "description": "You may not read records of 'test.partner'.",
     "exc_type": "PermissionError",
     "exc": "[\\"PermissionError: You may not read records of 'test.partner'.\\"]",
     "_server_messages": "[\\"{\\\\\\"message\\\\\\": \\\\\\"You may not read ...\\\\\\"}\\"]",
     "errors": [{"type": "PermissionError", "message": "You may not read ...",
                 "title": "Forbidden"}]}

* ``exc_type`` is Frappe's exception class for the status (:data:`EXC_TYPES`): validation
  errors are 400 or 422 with ``ValidationError`` (never Frappe's 417);
* ``_server_messages`` is, as Frappe sends it, a JSON list of JSON strings, each an object with
  ``message``, ``title`` and ``indicator``;
* ``exc`` is always truthy — frappe-client raises only when it is — and holds, like Frappe's,
  a JSON list of one text: the exception type and the description, never a traceback (unless
  ``[web] debug``, when the registry added one to a 500);
* ``errors`` is the shape of Frappe's ``/api/v2``.
"""

from __future__ import annotations

from ... import json as json_module
from ...web.errors import Problem, render_json
from ...web.request import Request
from ...web.responses import Response

__all__ = ['EXC_TYPES', 'exc_type', 'render']

#: Frappe's exception class for each status trylite answers with.
EXC_TYPES = {
    400: 'ValidationError',
    401: 'AuthenticationError',
    403: 'PermissionError',
    404: 'DoesNotExistError',
    405: 'MethodNotAllowed',
    409: 'DuplicateEntryError',
    413: 'FileSizeError',
    415: 'ValidationError',
    422: 'ValidationError',
    429: 'TooManyRequestsError',
    503: 'ServiceUnavailable',
    504: 'QueryTimeoutError',
}


def exc_type(status: int) -> str:
    """Frappe's exception class for *status* (``ValidationError`` for other client errors,
    ``Exception`` for other server errors)."""
    return EXC_TYPES.get(status, 'ValidationError' if status < 500 else 'Exception')


def render(request: Request, problem: Problem) -> Response:
    """The error renderer of every Frappe route: trylite's JSON envelope plus ``exc_type``,
    ``exc``, ``_server_messages`` and ``errors`` (see the module doc)."""
    kind = exc_type(problem.status)
    text = problem.description or problem.message
    trace = problem.extra.get('traceback')
    message = {'message': text, 'title': problem.message, 'indicator': 'red',
               'raise_exception': 1}
    extra = {
        'exc_type': kind,
        'exc': json_module.dumps([trace if isinstance(trace, str) else f'{kind}: {text}']),
        '_server_messages': json_module.dumps([json_module.dumps(message)]),
        'errors': [{'type': kind, 'message': text, 'title': problem.message}],
    }
    return render_json(request, Problem(problem.status, problem.message, problem.description,
                                        problem.headers, {**problem.extra, **extra}))
