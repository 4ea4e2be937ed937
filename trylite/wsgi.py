"""The WSGI application: routing, CORS, request limits, responses and the one error path.

``app`` is the process-wide :class:`TryliteWSGI`; modules add routes to it with
:meth:`TryliteWSGI.route` and serve it with ``trylite serve --module MODULE``.

Responses. A handler returns a Werkzeug :class:`~werkzeug.wrappers.Response` (sent as is),
``str`` (``text/plain; charset=utf-8``), ``bytes`` (``application/octet-stream``), or anything
:func:`trylite.json.dumps` encodes (``application/json``).

Errors. Every error answers a JSON object ``{"status": <int>, "message": <str>}``, with a
``description`` when there is more to say: Werkzeug's HTTP exceptions keep their status and
headers (``Allow`` on 405, ``WWW-Authenticate`` on 401, ``Retry-After`` on 429 and 503),
:class:`~trylite.exceptions.UserError` is 400, a busy or unreachable database is 503, a statement
timeout is 504, and anything else is logged with its traceback and answers 500 without any detail
(unless ``[web] debug`` is on).

CORS. Same-origin requests are allowed. A foreign origin must be listed in ``[web] cors``, else
403. ``Origin: null`` and browser-extension origins are accepted only by routes marked
:func:`~trylite.wrappers.allow_null_origin`. Preflight ``OPTIONS`` answers 204 with the methods
of the matched rule and the headers of ``[web] cors_headers``. Allowed cross origins get the
CORS headers on every answer, errors included.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from typing import IO, Any
from urllib.parse import urlsplit

from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    GatewayTimeout,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.sansio.response import Response as BaseResponse
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response
from werkzeug.wsgi import LimitedStream

from . import database
from . import json as json_module
from .config import config
from .converters import Base64Converter
from .exceptions import DatabaseNotFound, FieldError, UserError

logger = logging.getLogger(__name__)

#: Origin schemes of browser extensions, treated like ``Origin: null``.
EXTENSION_SCHEMES = ('moz-extension', 'chrome-extension', 'safari-web-extension')
#: What a rule declared with ``methods=None`` accepts, as announced by ``Allow``.
ANY_METHODS = ('DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT')


class Request(WerkzeugRequest):
    """A Werkzeug request whose JSON is read with :mod:`trylite.json`.

    ``get_json()`` answers 415 when the body is not declared as JSON and 400 when it does not
    parse. ``user_id`` is the authenticated ``res.user`` id, when something authenticated the
    request (``None`` otherwise).
    """

    json_module = json_module
    user_id: int | None = None

    def get_json_object(self, required: Iterable[str] = (), optional: Iterable[str] = (),
                        types: dict[str, type | tuple[type, ...]] | None = None
                        ) -> dict[str, Any]:
        """The JSON object of the body, checked: 415 if it is not JSON, 400 if it is not an
        object, misses a *required* field, has a field neither required nor *optional*, or has
        a field whose value is not of its type in *types* (default ``str``, non-empty). The 400
        names the field at fault in ``field``.
        """
        data = self.get_json()
        if not isinstance(data, dict):
            raise BadRequest('The body must be a JSON object.')
        required, optional = tuple(required), tuple(optional)
        for name in required:
            if name not in data:
                raise FieldError(name, f'The field {name!r} is required.')
        for name, value in data.items():
            if name not in required and name not in optional:
                raise FieldError(name, f'Unknown field {name!r}.')
            expected = _as_tuple((types or {}).get(name, str))
            if not _is_kind(value, expected):
                raise FieldError(name, f'The field {name!r} must be {_describe(expected)}.')
            if isinstance(value, str) and not _storable(value):
                raise FieldError(name, f'The field {name!r} must not contain NUL characters '
                                 'or unpaired surrogates.')
        return data

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, refused with 413 beyond ``max_content_length`` — also when chunked."""
        limit = self.max_content_length
        if (self.content_length is None and limit is not None
                and 'wsgi.input_terminated' in self.environ and not self.shallow):
            return BodyStream(self.environ['wsgi.input'], limit, is_max=True)
        return super().stream

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            raise UnsupportedMediaType('The body must be JSON (Content-Type: application/json).')
        raise BadRequest('The body is not valid JSON.')


def _storable(text: str) -> bool:
    """Whether a database can store *text*: no NUL, valid UTF-8 (no unpaired surrogate)."""
    if '\x00' in text:
        return False
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


class BodyStream(LimitedStream):
    """A body of unknown length (chunked) read up to a maximum.

    Werkzeug's maximum-length stream silently stops at the limit when all of it is read at
    once, and refuses a body of exactly the limit when read in pieces; this one answers 413
    exactly when the body is longer than the limit.
    """

    def on_exhausted(self) -> None:
        if self._stream.read(1):
            raise RequestEntityTooLarge(f'The body must not exceed {self.limit} bytes.')

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _is_kind(value: Any, kinds: tuple[type, ...]) -> bool:
    """JSON-minded isinstance: ``true`` is no number, ``""`` is no string."""
    if isinstance(value, bool):
        return bool in kinds
    if value == '':
        return False
    return isinstance(value, kinds) or (float in kinds and isinstance(value, int))


_KIND_NAMES = {str: 'a non-empty string', int: 'a whole number', float: 'a number',
               bool: 'true or false', list: 'a list', dict: 'an object', type(None): 'null'}


def _describe(kind: type | tuple[type, ...]) -> str:
    return ' or '.join(_KIND_NAMES.get(k, k.__name__) for k in _as_tuple(kind))


def json_response(value: Any, status: int = 200,
                  headers: Iterable[tuple[str, str]] | None = None) -> Response:
    """A response whose body is *value* in JSON."""
    return Response(json_module.dumps(value), status, headers,
                    content_type='application/json')


def error_response(status: int, message: str, description: str | None = None,
                   headers: Iterable[tuple[str, str]] = (), **extra: Any) -> Response:
    """The JSON error answer: ``{"status", "message"[, "description"]}``."""
    body: dict[str, Any] = {'status': status, 'message': message}
    if description is not None:
        body['description'] = description
    body.update(extra)
    return json_response(body, status, headers)


def http_error_response(exc: HTTPException) -> Response:
    """Render a Werkzeug HTTP exception as the JSON error answer, keeping its headers."""
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != 'content-type']
    description = vars(exc).get('description')
    extra = {'field': exc.field} if isinstance(exc, FieldError) else {}
    return error_response(exc.code or 500, exc.name, description, headers, **extra)


class TryliteWSGI:
    """A WSGI application with Werkzeug routing and trylite's rules (see the module doc)."""

    request_class = Request

    def __init__(self) -> None:
        self.url_map = Map([], converters={'base64': Base64Converter})
        self.error_handlers: list[Callable[[TryliteWSGI, Request, Exception], Any]] = []

    # -- declaring -------------------------------------------------------------------------
    def route(self, string: str, methods: Iterable[str] | None = None,
              defaults: dict[str, Any] | None = None) -> Callable[[Callable[..., Any]],
                                                                  Callable[..., Any]]:
        """Add a Werkzeug rule calling the decorated function; the function is returned as is.

        The function is called as ``func(request, **url_variables)``. ``methods=None`` accepts
        every method; ``GET`` implies ``HEAD``; ``OPTIONS`` is answered by trylite unless listed.
        The wrappers' order is checked here: ``TypeError`` if they are misstacked or if
        ``with_pool`` has no ``<database_name>`` in *string*.
        """
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            rule = Rule(string, endpoint=func, methods=methods, defaults=defaults)
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

    # -- serving ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        proxies = config.getint('web', 'num_proxies')
        if proxies:
            return ProxyFix(self.wsgi_app, proxies, proxies, proxies, proxies)(
                environ, start_response)
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        request = self.request_class(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> BaseResponse:
        """Route, check and answer *request*; never raises."""
        origin = request.environ.get('HTTP_ORIGIN')
        try:
            if origin is not None:
                self._check_origin(request, origin)
            response = self.dispatch(request, origin)
        except Exception as exc:
            response = self.handle_exception(request, exc)
        cors_origin = request.environ.get('trylite.cors_origin')
        if cors_origin:
            _add_cors_headers(response, cors_origin)
        return response

    def dispatch(self, request: Request, origin: str | None) -> BaseResponse:
        adapter = self.url_map.bind(  # what bind_to_environ does, from the parsed request
            request.host, request.root_path or None, None, request.scheme, request.method,
            request.path, request.query_string)
        preflight = (request.method == 'OPTIONS' and origin is not None
                     and 'Access-Control-Request-Method' in request.headers)
        method = request.headers['Access-Control-Request-Method'] if preflight else request.method
        try:
            rule, view_args = adapter.match(method=method, return_rule=True)
        except MethodNotAllowed as exc:
            if method == 'OPTIONS':  # plain OPTIONS: what the path accepts
                return Response(status=204, headers={'Allow': _allow(exc.valid_methods)})
            exc.valid_methods = _allow(exc.valid_methods).split(', ')
            raise
        endpoint = rule.endpoint
        if origin is not None and _null_like(origin):
            if not getattr(endpoint, 'allow_null_origin', False):
                raise Forbidden('This route does not accept null or extension origins.')
            request.environ['trylite.cors_origin'] = origin
        if preflight:
            return _preflight_response(rule)
        if method == 'OPTIONS' and not (rule.methods and 'OPTIONS' in rule.methods):
            return Response(status=204, headers={'Allow': _allow(rule.methods)})
        limit = getattr(endpoint, 'max_request_size', None) or config.getint(
            'request', 'max_size')
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge(f'The body must not exceed {limit} bytes.')
        return self.make_response(request, endpoint(request, **view_args))

    def make_response(self, request: Request, rv: Any) -> BaseResponse:
        """Turn a handler's return value into a response (see the module doc)."""
        if isinstance(rv, BaseResponse):
            return rv
        if isinstance(rv, str):
            return Response(rv, content_type='text/plain; charset=utf-8')
        if isinstance(rv, bytes | bytearray):
            return Response(bytes(rv), content_type='application/octet-stream')
        return json_response(rv)

    def handle_exception(self, request: Request, exc: Exception) -> BaseResponse:
        """The one error path: every exception becomes a response here."""
        if isinstance(exc, RequestRedirect):
            return exc.get_response(request.environ)
        if isinstance(exc, HTTPException):
            if exc.response is not None:
                return exc.response
            return http_error_response(exc)
        if isinstance(exc, UserError):
            return error_response(400, exc.message, exc.description)
        if isinstance(exc, DatabaseNotFound):
            return http_error_response(NotFound())
        if database.unstorable_text(exc):
            return http_error_response(BadRequest(
                'The request contains a NUL character or an unpaired surrogate.'))
        outcome = database.backend().classify(exc)
        if outcome == 'timeout':
            return http_error_response(GatewayTimeout('The database took too long to answer.'))
        if outcome in ('retry', 'unavailable'):
            return http_error_response(ServiceUnavailable(
                'The database is busy or unreachable; try again shortly.', retry_after=1))
        if outcome == 'missing':
            return http_error_response(NotFound())
        if outcome == 'readonly':
            logger.error('%s %s wrote in a read-only transaction; declare it '
                         'with_transaction(readonly=False)', request.method, request.path)
        logger.error('%s %s failed', request.method, request.path, exc_info=exc)
        response = None
        for handler in self.error_handlers:
            try:
                rv = handler(self, request, exc)
            except Exception:
                logger.exception('error handler %r failed', handler)
                continue
            if isinstance(rv, BaseResponse):
                response = rv
        if response is not None:
            return response
        extra = {}
        if config.getboolean('web', 'debug'):
            extra = {'exception': repr(exc),
                     'traceback': ''.join(traceback.format_exception(exc))}
        return error_response(500, InternalServerError().name, None, (), **extra)

    # -- CORS ------------------------------------------------------------------------------
    @staticmethod
    def _check_origin(request: Request, origin: str) -> None:
        """Let listed origins through with CORS headers, same-origin and null-like ones through
        (null-like ones are decided per route), and refuse any other with 403."""
        if _null_like(origin) or _same_origin(request, origin):
            return
        if origin not in config.getlist('web', 'cors'):
            raise Forbidden('This origin is not allowed.')
        request.environ['trylite.cors_origin'] = origin


#: The order, outermost first, in which the request-handling wrappers stack.
LAYERS = ('with_pool', 'with_transaction', 'user_application')
#: The wrapper each one needs outside it.
_NEEDS = {'with_transaction': 'with_pool', 'user_application': 'with_transaction'}


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


def _origin_tuple(scheme: str, netloc: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(f'{scheme}://{netloc}')
        port = parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port out of range
        return (scheme, '', None)
    default = {'http': 80, 'https': 443}.get(scheme)
    return (scheme, (parts.hostname or '').lower(), port or default)


def _same_origin(request: Request, origin: str) -> bool:
    """Scheme, host and port of *origin* equal those the request was sent to."""
    scheme, sep, netloc = origin.partition('://')
    if not sep or not netloc:
        return False
    return _origin_tuple(scheme.lower(), netloc) == _origin_tuple(request.scheme, request.host)


def _null_like(origin: str) -> bool:
    return origin == 'null' or origin.partition('://')[0].lower() in EXTENSION_SCHEMES


def _allow(methods: Iterable[str] | None) -> str:
    """The ``Allow`` value of a rule's *methods* (``None``: any), OPTIONS always included."""
    return ', '.join(sorted({*(methods or ANY_METHODS), 'OPTIONS'}))


def _preflight_response(rule: Rule) -> Response:
    response = Response(status=204)
    response.headers['Access-Control-Allow-Methods'] = _allow(rule.methods)
    response.headers['Access-Control-Allow-Headers'] = ', '.join(
        config.getlist('web', 'cors_headers'))
    response.headers['Access-Control-Max-Age'] = str(config.getint('web', 'cors_max_age'))
    return response


def _add_cors_headers(response: BaseResponse, origin: str) -> None:
    response.headers['Access-Control-Allow-Origin'] = origin
    response.headers['Access-Control-Expose-Headers'] = 'Retry-After, WWW-Authenticate'
    response.vary.add('Origin')


#: The application every module adds its routes to.
app = TryliteWSGI()
