"""The WSGI application class: routing, request limits, CORS and the one error path.

:class:`TryliteWSGI` keeps a Werkzeug :class:`~werkzeug.routing.Map`; modules add routes with
:meth:`TryliteWSGI.route`. Each request is matched, checked (origin, body size) and handed to
its handler; whatever the handler returns becomes a response (:mod:`trylite.web.responses`),
whatever it raises becomes an error answer (:mod:`trylite.web.errors`). The settings the app
depends on (CORS, proxies, trusted hosts, body limit, debug) are resolved once per settings
object, not per request.

Hosts. With ``[web] trusted_hosts`` set, a request naming another host in ``Host`` (or, behind
``[web] num_proxies`` proxies, ``X-Forwarded-Host``) answers 400 before anything runs. Redirects
(a missing trailing slash, merged slashes) carry a relative ``Location``, so a forged ``Host``
never ends up in one.

Proxies. With ``[web] num_proxies`` set, the client's address, scheme and host come from the
proxies' ``X-Forwarded-*`` headers. A request arriving without ``X-Forwarded-For`` means some
client reaches trylite without a proxy — and such a client could name any address in that
header: the first one logs a warning.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from werkzeug.exceptions import (
    Forbidden,
    HTTPException,
    MethodNotAllowed,
    RequestEntityTooLarge,
    SecurityError,
)
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import Map, MapAdapter, RequestRedirect, Rule
from werkzeug.sansio.utils import host_is_trusted

from ..converters import Base64Converter
from ..exceptions import InvalidBody
from ..settings import Settings, current
from .cors import CORS, allow_header
from .errors import (
    DEFAULT_HANDLERS,
    ErrorRenderer,
    ExceptionHandler,
    Problem,
    find_handler,
    render_json,
)
from .request import Request
from .responses import Response, make_response
from .schemas import Schema

__all__ = ['LAYERS', 'Route', 'TryliteWSGI']

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: The order, outermost first, in which the request-handling wrappers stack.
LAYERS = ('with_pool', 'with_transaction', 'user_application')
#: How many bound URL maps (one per host, scheme and root path) the app keeps at most.
ADAPTERS = 64
#: The wrapper each one needs outside it.
_NEEDS = {'with_transaction': 'with_pool', 'user_application': 'with_transaction'}


@dataclass(frozen=True, eq=False)
class Route:
    """A rule's handler and what the app must know of it before calling it (kept on the
    rule as ``trylite_route``)."""

    func: Callable[..., Any]
    #: Largest body, from :func:`~trylite.wrappers.set_max_request_size` (else the setting).
    max_request_size: int | None
    #: Whether ``Origin: null`` and browser extensions may call it.
    allow_null_origin: bool
    #: How its errors are drawn (JSON unless the route renders HTML).
    error_renderer: ErrorRenderer
    #: What its JSON request body must follow (422 otherwise, before the handler runs).
    request_schema: Schema | None = None
    #: What its JSON answers follow (a handler breaking it is a bug: 500, logged).
    response_schema: Schema | None = None


class _Resolved:
    """What the app derives from one settings object."""

    def __init__(self, settings: Settings, app: TryliteWSGI) -> None:
        self.settings = settings
        self.cors = CORS.from_settings(settings.web)
        self.max_size = settings.request.max_size
        self.debug = settings.web.debug
        self.trusted_hosts = settings.web.trusted_hosts
        proxies = self.proxies = settings.web.num_proxies
        self.wsgi: WSGIApp = (ProxyFix(app.wsgi_app, proxies, proxies, proxies, proxies)
                              if proxies else app.wsgi_app)
        #: Whether a request without ``X-Forwarded-For`` is still to be reported.
        self.watch_proxies = proxies > 0
        #: The URL map's adapters, by host, scheme and root path (see :meth:`adapter`).
        self.adapters: dict[tuple[str, str, str], MapAdapter] = {}

    def check_proxies(self, environ: dict[str, Any]) -> None:
        """Warn, once, when a request arrives without the header the proxies would add."""
        if self.watch_proxies and 'HTTP_X_FORWARDED_FOR' not in environ:
            self.watch_proxies = False
            logger.warning(
                '[web] num_proxies is %d, but a request from %s arrived without '
                'X-Forwarded-For: if clients can reach trylite without going through the '
                'proxies, they choose the address they are throttled by. Set [web] '
                'num_proxies to the number of proxies every request goes through.',
                self.proxies, environ.get('REMOTE_ADDR', 'an unknown address'))

    def adapter(self, url_map: Map, request: Request) -> MapAdapter:
        """*url_map* bound to the request's host, scheme and root path (what
        ``bind_to_environ`` does, from the parsed request), kept for the next requests of the
        same three: a request passes its own path, method and query to ``match``. At most
        :data:`ADAPTERS` are kept (the host is the client's to choose)."""
        where = (request.host, request.scheme, request.root_path)
        adapter = self.adapters.get(where)
        if adapter is None:
            if len(self.adapters) >= ADAPTERS:
                self.adapters.clear()
            adapter = self.adapters[where] = url_map.bind(
                where[0], where[2] or None, None, where[1])
        return adapter

    def check_host(self, request: Request) -> None:
        """Refuse (400) a request naming a host that is not in ``[web] trusted_hosts``."""
        if self.trusted_hosts and not host_is_trusted(request.host, self.trusted_hosts):
            raise SecurityError('This server does not answer to the host named in the '
                                'request.')


class TryliteWSGI:
    """A WSGI application with Werkzeug routing and trylite's rules (see the module doc)."""

    request_class = Request

    def __init__(self) -> None:
        self.url_map = Map([], converters={'base64': Base64Converter})
        #: Called as ``handler(app, request, exc)`` for unexpected exceptions (Tryton's hook).
        self.error_handlers: list[Callable[[TryliteWSGI, Request, Exception], Any]] = []
        #: Exception class -> :class:`~trylite.web.errors.Problem` (see :mod:`.errors`).
        self.exception_handlers: dict[type[BaseException], ExceptionHandler] = dict(
            DEFAULT_HANDLERS)
        self._resolved: _Resolved | None = None

    # -- declaring ----------------------------------------------------------------------------
    def route(self, string: str, methods: Iterable[str] | None = None,
              defaults: dict[str, Any] | None = None, *,
              error_renderer: ErrorRenderer = render_json,
              request_schema: Mapping[str, Any] | None = None,
              response_schema: Mapping[str, Any] | None = None
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Add a Werkzeug rule calling the decorated function; the function is returned as is.

        The function is called as ``func(request, **url_variables)``. ``methods=None`` accepts
        every method; ``GET`` implies ``HEAD``; ``OPTIONS`` is answered by trylite unless
        listed. *error_renderer* draws the route's errors (JSON by default).
        *request_schema* and *response_schema* are JSON Schemas (2020-12) of the JSON body and
        of the JSON answers: a body breaking the first answers 422 with every error's JSON
        pointer before the handler runs; an answer breaking the second is a 500, logged; both
        describe the route in the OpenAPI document. The wrappers' order is checked here:
        ``TypeError`` if they are misstacked or if ``with_pool`` has no ``<database_name>``
        in *string*; an invalid schema is a :class:`~jsonschema.exceptions.SchemaError`.
        """
        checked_request = Schema(request_schema) if request_schema is not None else None
        checked_response = Schema(response_schema) if response_schema is not None else None

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            # The endpoint is the handler itself (``url_map`` builds URLs from handlers, and
            # Werkzeug redirects a URL equal to a rule's defaults to that handler's rule).
            rule = Rule(string, endpoint=func, methods=methods, defaults=defaults)
            rule.trylite_route = Route(  # type: ignore[attr-defined]
                func, getattr(func, 'max_request_size', None),
                getattr(func, 'allow_null_origin', False), error_renderer,
                checked_request, checked_response)
            self.url_map.add(rule)
            _check_layers(func, rule)
            return func
        return decorator

    def error_handler(self, handler: Callable[[TryliteWSGI, Request, Exception], Any]
                      ) -> Callable[[TryliteWSGI, Request, Exception], Any]:
        """Call ``handler(app, request, exc)`` for unexpected exceptions (not HTTP errors).

        Every handler runs, in order; the last one returning a response wins. Without one, the
        answer is a 500 JSON error.
        """
        self.error_handlers.append(handler)
        return handler

    # -- serving ------------------------------------------------------------------------------
    def _settings(self) -> _Resolved:
        settings = current()
        resolved = self._resolved
        if resolved is None or resolved.settings is not settings:
            resolved = self._resolved = _Resolved(settings, self)
        return resolved

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        resolved = self._settings()
        resolved.check_proxies(environ)
        return resolved.wsgi(environ, start_response)

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        return self.handle(self.request_class(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Route, check and answer *request*; never raises."""
        resolved = self._settings()
        origin = request.environ.get('HTTP_ORIGIN')
        allowed_origin = None
        route: Route | None = None
        try:
            if origin is not None:
                allowed_origin = resolved.cors.check_origin(request, origin)
            adapter = resolved.adapter(self.url_map, request)
            path, query = request.path, request.environ.get('QUERY_STRING', '')
            preflight = (request.method == 'OPTIONS' and origin is not None
                         and 'Access-Control-Request-Method' in request.headers)
            method: str = (request.headers['Access-Control-Request-Method'] if preflight
                           else request.method)
            try:
                rule, view_args = adapter.match(path, method, return_rule=True,
                                                query_args=query)
            except MethodNotAllowed as exc:
                # the path's own route draws the error (an HTML page for pages)
                valid = list(exc.valid_methods or ())
                route = adapter.match(path, valid[0], return_rule=True)[0].trylite_route  # type: ignore[attr-defined]
                resolved.check_host(request)
                if method == 'OPTIONS':  # plain OPTIONS: what the path accepts
                    return Response(status=204, headers={'Allow': allow_header(valid)})
                exc.valid_methods = allow_header(valid).split(', ')
                raise
            except RequestRedirect as exc:  # the target's route draws a refused host
                target = unquote(urlsplit(exc.new_url).path).removeprefix(request.script_root)
                with contextlib.suppress(HTTPException):
                    route = adapter.match(target, method, return_rule=True)[0].trylite_route  # type: ignore[attr-defined]
                resolved.check_host(request)
                raise
            except HTTPException:  # no such path
                resolved.check_host(request)
                raise
            route = rule.trylite_route  # type: ignore[attr-defined]
            resolved.check_host(request)
            request.view_args = view_args
            if origin is not None and CORS.null_like(origin):
                if not route.allow_null_origin:
                    raise Forbidden('This route does not accept null or extension origins.')
                allowed_origin = origin
            if preflight:
                response = resolved.cors.preflight(request, rule.methods)
            elif method == 'OPTIONS' and not (rule.methods and 'OPTIONS' in rule.methods):
                response = Response(status=204, headers={'Allow': allow_header(rule.methods)})
            else:
                limit = route.max_request_size or resolved.max_size
                request.max_content_length = limit
                if request.content_length is not None and request.content_length > limit:
                    raise RequestEntityTooLarge(f'The body must not exceed {limit} bytes.')
                if route.request_schema is not None:
                    errors = route.request_schema.errors(request.get_json())
                    if errors:
                        raise InvalidBody(errors)
                response = make_response(route.func(request, **view_args))
                if route.response_schema is not None:
                    _check_answer(route, response)
        except Exception as exc:
            renderer = route.error_renderer if route is not None else render_json
            response = self.handle_exception(request, exc, renderer)
        if allowed_origin:
            CORS.add_headers(response, allowed_origin)
        return response

    def handle_exception(self, request: Request, exc: Exception,
                         renderer: ErrorRenderer = render_json) -> Response:
        """The one error path: every exception becomes a response here."""
        if isinstance(exc, RequestRedirect):  # relative: the Host header is the client's
            target = urlsplit(exc.new_url)
            return Response(status=exc.code, headers={
                'Location': urlunsplit(('', '', '/' + target.path.lstrip('/'), target.query,
                                        ''))})
        if isinstance(exc, HTTPException) and isinstance(exc.response, Response):
            return exc.response
        handler = find_handler(self.exception_handlers, exc)
        problem = handler(exc) if handler is not None else None
        if problem is not None:
            return renderer(request, problem)
        logger.error('%s %s failed', request.method, request.path, exc_info=exc)
        response = None
        for error_handler in self.error_handlers:
            try:
                rv = error_handler(self, request, exc)
            except Exception:
                logger.exception('error handler %r failed', error_handler)
                continue
            if isinstance(rv, Response):
                response = rv
        if response is not None:
            return response
        extra = {}
        if self._settings().debug:
            extra = {'exception': repr(exc), 'traceback': ''.join(traceback.format_exception(exc))}
        return renderer(request, Problem(500, 'Internal Server Error', extra=extra))


def _check_answer(route: Route, response: Response) -> None:
    """Raise (a 500, logged) if a JSON success answer breaks the route's response schema."""
    assert route.response_schema is not None
    if response.is_json and 200 <= response.status_code < 300:
        errors = route.response_schema.errors(response.get_json())
        if errors:
            raise RuntimeError(f'{route.func.__qualname__} answered a body that breaks its '
                               f'response schema: {errors[:3]}')


def _check_layers(func: Callable[..., Any], rule: Rule) -> None:
    """Raise ``TypeError`` unless *func*'s wrappers (``trylite_layers``) stack as documented."""
    layers = tuple(getattr(func, 'trylite_layers', ()))
    where = f'route {rule.rule!r}'
    if layers != tuple(sorted(layers, key=LAYERS.index)):
        raise TypeError(f'{where}: wrappers must stack as {" > ".join(LAYERS)}, '
                        f'not {" > ".join(layers)}')
    for layer, needed in _NEEDS.items():
        if layer in layers and needed not in layers:
            raise TypeError(f'{where}: {layer} needs {needed} outside it')
    if 'with_pool' in layers and 'database_name' not in rule.arguments:
        raise TypeError(f'{where}: with_pool needs a <database_name> URL variable')
