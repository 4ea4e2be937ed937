"""The WSGI application every module adds its routes to: ``trylite.wsgi.app``.

``app`` is a :class:`~trylite.web.app.TryliteWSGI` with trylite's built-in features installed
once, here, by :func:`install_builtins`: the user-application key routes
(:mod:`trylite.user_application`), the preferences pages (:mod:`trylite.preferences`), the
OpenAPI document of each database with its documentation page (:mod:`trylite.openapi`),
Frappe's REST API (:mod:`trylite.protocols.frappe`), Odoo's protocols at the host root
(:mod:`trylite.protocols.odoo`) and the endpoints defined as data (:mod:`trylite.endpoints`).
Modules add their own routes with ``@app.route(...)`` and are served with
``trylite serve --module MODULE`` (or by any WSGI server, as ``trylite.wsgi:app``).

Responses. A handler returns a Werkzeug :class:`~werkzeug.wrappers.Response` (sent as is),
``str`` (``text/plain; charset=utf-8``), ``bytes`` (``application/octet-stream``), or anything
:func:`trylite.json.dumps` encodes (``application/json``).

Errors. Every error answers a JSON object ``{"status": <int>, "message": <str>}``, with a
``description`` when there is more to say — see :mod:`trylite.web.errors` for which exception
gives which status. CORS: see :mod:`trylite.web.cors`.
"""

from __future__ import annotations

from . import endpoints, openapi, preferences, user_application
from .protocols import frappe, odoo
from .web.app import TryliteWSGI
from .web.request import Request
from .web.responses import json_response

__all__ = ['Request', 'TryliteWSGI', 'app', 'install_builtins', 'json_response']


def install_builtins(target: TryliteWSGI) -> TryliteWSGI:
    """Add trylite's built-in routes to *target* (an app of your own); returns it."""
    user_application.install(target)
    preferences.install(target)
    openapi.install(target)
    frappe.install(target)
    odoo.install(target)
    endpoints.install(target)
    return target


#: The application every module adds its routes to.
app = install_builtins(TryliteWSGI())
