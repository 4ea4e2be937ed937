"""Odoo 19's JSON-2: ``POST /json/2/<model>/<method>``, at the host root.

* ``Authorization: bearer <key>`` (any case): a personal API key, or a user-application key
  whose application declared the model;
* ``Content-Type: application/json`` (a charset may follow); the database is named by
  ``X-Odoo-Database`` (or ``X-Trylite-Database``), else found by ``[web] dbfilter`` or as
  the only one (:mod:`trylite.protocols.databases`);
* the body is a JSON object: the method's arguments by name, plus ``ids`` (for methods on
  records) and ``context``; ``create`` takes ``vals_list`` as a list or one object;
* the answer is the method's result, bare, with 200.

Errors are never 200: 401 (no valid key), 403 (access), 404 (unknown model or method; any
other verb or path under ``/json/2``: "Did you mean POST /json/2/<model>/<method>?"), 422
(``ids`` given to a model-level method, arguments that do not bind), 400 (a mistake in the
values), each as Odoo's ``{"name", "message", "arguments", "context", "debug"}``
(:mod:`.errors`). Each call is one transaction, read-only for methods that only read.
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import BadRequest, NotFound

from ...web.app import TryliteWSGI
from ...web.request import Request
from ...web.responses import Response, json_response
from ..databases import choose
from . import calls
from .errors import render_json2

__all__ = ['HINT', 'install']

HINT = 'Did you mean POST /json/2/<model>/<method>?'


def call(request: Request, model: str, method: str) -> Response:
    """One JSON-2 call (see the module doc)."""
    if request.method != 'POST':
        raise NotFound(HINT)
    body = request.get_json()
    if not isinstance(body, dict):
        raise BadRequest('The body must be a JSON object of named arguments.')
    kwargs: dict[str, Any] = dict(body)
    ids = kwargs.pop('ids', None)
    context = kwargs.pop('context', None)
    caller = calls.key_caller(calls.bearer_token(request), request.remote_addr)
    result = calls.execute(choose(request), caller, model, method, (), kwargs, ids=ids,
                           context=context)
    return json_response(result)


def elsewhere(request: Request, rest: str = '') -> Response:
    """Any other path under ``/json/2``: 404 with the hint."""
    raise NotFound(HINT)


def install(app: TryliteWSGI) -> None:
    """Add JSON-2 to *app*."""
    app.route('/json/2/<model>/<method>', error_renderer=render_json2)(call)
    for rule in ('/json/2', '/json/2/', '/json/2/<path:rest>'):
        app.route(rule, error_renderer=render_json2)(elsewhere)
