"""Where the Frappe API is served, and how its parameters are read.

Frappe's clients keep a base URL's path, so a site is ``http://host/<db>``: every route is
declared twice by :func:`route`, under ``/<database_name>`` (the database named by the path,
through :func:`~trylite.wrappers.with_pool`) and at the host root (the database chosen as for
the Odoo protocols, :func:`trylite.protocols.databases.choose`, where Frappe's
``X-Frappe-Site-Name`` header names one too). Both draw their errors in Frappe's shape.

Parameters come from the query string, a form body and a JSON object body, merged in that
order (:func:`params`). Form and query values are text; Frappe's clients send lists and objects
there as JSON, so :func:`decoded` reads a text that is valid JSON as JSON and keeps any other
text as it is. :func:`json_param`, :func:`int_param` and :func:`text_param` read one parameter
strictly: a value of the wrong kind is a 400 naming the parameter, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import BadRequest

from ... import json as json_module
from ...pool import Pool
from ...web.app import TryliteWSGI
from ...web.request import Request
from ...wrappers import with_pool
from ..databases import choose
from .errors import render

__all__ = ['Handler', 'decoded', 'int_param', 'json_param', 'params', 'route', 'text_param']

#: ``handler(request, pool, **url_variables)``.
Handler = Callable[..., Any]
#: The header naming the site (the database) in Frappe.
SITE_HEADER = 'X-Frappe-Site-Name'


def route(app: TryliteWSGI, path: str, methods: Iterable[str], handler: Handler) -> None:
    """Serve *handler* at ``/<database_name>`` + *path* and at *path* from the host root."""
    methods = list(methods)
    app.route('/<database_name>' + path, methods, error_renderer=render)(with_pool(handler))

    def at_root(request: Request, **variables: Any) -> Any:
        return handler(request, Pool(choose(request, request.headers.get(SITE_HEADER))),
                       **variables)

    at_root.__name__ = at_root.__qualname__ = f'{handler.__name__}_at_root'
    app.route(path or '/', methods, error_renderer=render)(at_root)


def params(request: Request) -> dict[str, Any]:
    """The query string's, the form's and a JSON object body's parameters, the later winning
    (a JSON body that is not an object is a 400)."""
    found: dict[str, Any] = dict(request.args.items())
    if request.mimetype == 'application/json':
        body = request.get_json()
        if not isinstance(body, dict):
            raise BadRequest('The body must be a JSON object.')
        found.update(body)
    elif request.method not in ('GET', 'HEAD'):
        found.update(request.form.items())
    found.pop('cmd', None)
    return found


def decoded(value: Any) -> Any:
    """*value*, read as JSON when it is a text that is valid JSON (else as it is)."""
    if isinstance(value, str):
        try:
            return json_module.loads(value)
        except ValueError:
            return value
    return value


def json_param(found: dict[str, Any], name: str, default: Any = None) -> Any:
    """The parameter *name*, read as JSON when it is text (400 when that text is not JSON)."""
    value = found.get(name)
    if value is None or value == '':
        return default
    if isinstance(value, str):
        try:
            return json_module.loads(value)
        except ValueError:
            raise BadRequest(f'The parameter {name!r} is not valid JSON.') from None
    return value


def int_param(found: dict[str, Any], names: Iterable[str], default: int) -> int:
    """The first of the parameters *names* that is given, as a whole number 0 or more."""
    for name in names:
        value = found.get(name)
        if value is None or value == '':
            continue
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadRequest(f'The parameter {name!r} must be a whole number, 0 or more.')
        return value
    return default


def text_param(found: dict[str, Any], name: str, default: str | None = None) -> str:
    """The parameter *name* as text (400 when it is missing without a default, or not text)."""
    value = found.get(name, default)
    if value is None:
        raise BadRequest(f'The parameter {name!r} is required.')
    if not isinstance(value, str):
        raise BadRequest(f'The parameter {name!r} must be text.')
    return value
