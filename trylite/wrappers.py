"""Wrappers that stack between :meth:`app.route <trylite.wsgi.TryliteWSGI.route>` and a handler.

They stack in this order, outermost first (each one is optional but the order is fixed)::

    @app.route('/<database_name>/acme/whoami', methods=['GET'])
    @set_max_request_size(1024)   # route attribute: body limit, 413 before the handler runs
    @allow_null_origin            # route attribute: accept Origin: null / browser extensions
    @with_pool                    # database_name -> Pool, 404 for unknown databases
    @with_transaction()           # runs the rest in a Transaction, commit/rollback/retry
    @user_application('acme')     # Authorization: Bearer <key> -> runs as the key's person
    def whoami(request, pool): ...

The two attribute wrappers may stand anywhere: ``functools.wraps`` carries the attributes out.
The other three must stack as shown, each needing the one above it: ``app.route`` checks this
(and that the URL has ``<database_name>``) and raises ``TypeError`` at import time otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, cast

from .auth.keys import authenticate
from .exceptions import AuthenticationFailed
from .pool import Pool
from .settings import current
from .transaction import Transaction
from .web.request import Request
from .web.responses import Response, json_response

__all__ = ['allow_null_origin', 'set_max_request_size', 'user_application', 'with_pool',
           'with_transaction']

P = ParamSpec('P')
R = TypeVar('R')
F = TypeVar('F', bound=Callable[..., Any])

#: Methods that run read-write when ``with_transaction(readonly=None)``.
WRITE_METHODS = frozenset({'POST', 'PUT', 'DELETE', 'PATCH'})


def _layer(wrapper: F, name: str) -> F:
    """Record that *wrapper* is the *name* layer (``app.route`` checks the order)."""
    wrapper.trylite_layers = (name, *getattr(wrapper, 'trylite_layers', ()))  # type: ignore[attr-defined]
    return wrapper


def set_max_request_size(size: int) -> Callable[[F], F]:
    """Limit the route's request body to *size* bytes (default ``[request] max_size``).

    A larger ``Content-Length`` answers 413 before the handler runs; a chunked body is cut at
    the limit with 413 when read.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f'set_max_request_size needs a positive number of bytes, not {size!r}')

    def decorator(func: F) -> F:
        func.max_request_size = size  # type: ignore[attr-defined]
        return func
    return decorator


def allow_null_origin(func: F) -> F:
    """Accept ``Origin: null`` and browser-extension origins on this route (preflight too)."""
    func.allow_null_origin = True  # type: ignore[attr-defined]
    return func


def with_pool(func: Callable[Concatenate[Request, Pool, P], R]
              ) -> Callable[Concatenate[Request, str, P], R]:
    """Call ``func(request, pool, ...)`` with the :class:`Pool` of the URL's ``database_name``.

    A name that is invalid or not a trylite database answers 404.
    """
    @functools.wraps(func)
    def wrapper(request: Request, database_name: str, *args: P.args, **kwargs: P.kwargs) -> R:
        return func(request, Pool(database_name), *args, **kwargs)
    return _layer(cast(Callable[Concatenate[Request, str, P], R], wrapper), 'with_pool')


def with_transaction(readonly: bool | None = None, user: int | Literal['request'] = 0,
                     context: dict[str, Any] | None = None, timeout: float | None = None
                     ) -> Callable[[Callable[Concatenate[Request, Pool, P], R]],
                                   Callable[Concatenate[Request, Pool, P], R]]:
    """Run ``func(request, pool, ...)`` in a :class:`Transaction` on the pool's database.

    * *readonly*: ``None`` is read-write for POST, PUT, DELETE and PATCH and read-only
      otherwise; a write in a read-only transaction fails (500, logged).
    * *user*: the ``res.user`` id to run as, or ``'request'`` for ``request.user_id``
      (401 when the request is not authenticated).
    * *context*: added to ``Transaction().context``, which also holds ``_request`` (the client
      address, host, scheme).
    * *timeout*: seconds a statement may run; beyond, the request answers 504.

    The request body is read before the transaction starts (413 past the route's limit).
    Commits on success and rolls back on any exception. A read-write transaction that meets a
    serialization failure, a deadlock or a busy database is re-run from the start up to
    ``[database] retry`` times, then answers 503. A unique violation is re-run once (it may
    be a concurrent insert of the same key); if the re-run meets it again, it is raised.
    Re-runs of one database take turns (no livelock between them) and never sleep. A
    transaction whose pooled connection turns out dead (after a database restart) is re-run
    once on a new connection, read-only or not.
    """
    def decorator(func: Callable[Concatenate[Request, Pool, P], R]
                  ) -> Callable[Concatenate[Request, Pool, P], R]:
        @functools.wraps(func)
        def wrapper(request: Request, pool: Pool, /, *args: P.args, **kwargs: P.kwargs) -> R:
            ro = request.method not in WRITE_METHODS if readonly is None else readonly
            uid = request.user_id if user == 'request' else user
            if uid is None:
                raise AuthenticationFailed()
            ctx = {**(context or {}), '_request': {
                'remote_addr': request.remote_addr, 'http_host': request.host,
                'scheme': request.scheme, 'is_secure': request.is_secure}}
            # The body is read (and kept) before the transaction starts: a client trickling
            # it holds no connection and, on SQLite, no write lock meanwhile.
            if request.content_length or request.headers.get('Transfer-Encoding'):
                request.get_data(parse_form_data=True)
            return Transaction.run(
                pool.database_name, uid, lambda: func(request, pool, *args, **kwargs),
                readonly=ro, context=ctx, timeout=timeout,
                retries=0 if ro else current().database.retry)
        wrapper.with_transaction = True  # type: ignore[attr-defined]
        return _layer(wrapper, 'with_transaction')
    return decorator


def user_application(name: str, json: bool = True) -> Callable[[Callable[P, R]],
                                                              Callable[P, Any]]:
    """Run the handler as the person whose key of application *name* the request carries.

    Must sit inside :func:`with_transaction`. Accepts ``Authorization: Bearer <key>`` and Basic
    with an empty user name and the key as password. A missing, malformed, unknown, pending,
    cancelled or expired key, a key of another application or of an inactive person answers
    401 with ``WWW-Authenticate: Bearer realm="trylite"``. With *json* the return value is sent
    as JSON (a response passes through); without, it follows the usual response rules.
    """
    def decorator(func: Callable[P, R]) -> Callable[P, Any]:
        if getattr(func, 'with_transaction', False):
            raise TypeError(f'user_application({name!r}) must be applied inside '
                            'with_transaction(), not outside it')

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            request = cast(Request, args[0])
            try:
                transaction = Transaction()
            except RuntimeError:
                raise RuntimeError(f'user_application({name!r}) must be applied inside '
                                   'with_transaction()') from None
            person = authenticate(request.bearer_token, name, request.remote_addr)
            request.user_id = person.id
            with transaction.set_user(person.id):
                rv = func(*args, **kwargs)
            if json and not isinstance(rv, Response):
                return json_response(rv)
            return rv
        wrapper.trylite_application = name  # type: ignore[attr-defined]
        return _layer(wrapper, 'user_application')
    return decorator
