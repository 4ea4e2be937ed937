"""User applications: keys an application requests for a person, who validates them.

The flow:

1. the application ``POST``\\ s ``{"user": login, "application": name}`` to
   ``/<database_name>/user/application/`` and receives a key, in state ``requested``;
2. the person validates it in their preferences (``/<database_name>/preferences/``) — or cancels
   it; the key's *public id* is what both sides show so the person knows which one to validate;
3. the application calls routes guarded by :func:`trylite.wrappers.user_application` with
   ``Authorization: Bearer <key>`` and runs as that person, until the key is cancelled, deleted
   (``DELETE`` on the same URL) or expires.

Declare each application once, in code: ``register_application('timesheet', 'Timesheet')``.
The key model (``res.user.application``) and what is done to keys live in
:mod:`trylite.auth.keys`; this module adds the key routes to an app (:func:`install`, which
:mod:`trylite.wsgi` calls for its ``app``).
"""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from .auth.keys import (
    UserApplication,
    applications,
    delete_key,
    register_application,
    request_key,
)
from .auth.tokens import KEY_RE
from .pool import Pool
from .web.app import TryliteWSGI
from .web.request import Request
from .web.responses import json_response
from .wrappers import allow_null_origin, with_pool, with_transaction

__all__ = ['KEY_RE', 'UserApplication', 'applications', 'install', 'register_application']


@allow_null_origin
@with_pool
@with_transaction(readonly=False)
def key_route(request: Request, pool: Pool) -> Response:
    """``POST``: request a key (200, the key as a JSON string, never cached). ``DELETE``:
    revoke one (204; 404 when there is no such key)."""
    if request.method == 'POST':
        data = request.get_json_object(required=('user', 'application'))
        response = json_response(
            request_key(data['user'], data['application'], request.remote_addr))
        response.headers['Cache-Control'] = 'no-store'
        return response
    data = request.get_json_object(required=('user', 'key', 'application'))
    if not delete_key(data['user'], data['key'], data['application'], request.remote_addr):
        raise NotFound('No such key.')
    return Response(status=204)


def install(app: TryliteWSGI) -> None:
    """Add the key routes, ``POST`` and ``DELETE /<database_name>/user/application/``, to
    *app*; also at ``/<database_name>/r/user/application/``, where trytond 8 serves them
    (directly, no redirect)."""
    app.route('/<database_name>/user/application/', methods=['POST', 'DELETE'])(key_route)
    app.route('/<database_name>/r/user/application/', methods=['POST', 'DELETE'])(key_route)
