"""CORS, as one component resolved once from the settings.

* Same-origin requests (scheme, host and port) are always allowed.
* A foreign origin must be listed in ``[web] cors``, else 403.
* ``Origin: null`` and browser-extension origins are accepted only by routes marked
  :func:`~trylite.wrappers.allow_null_origin` (the app asks :meth:`CORS.null_like`).
* A preflight answers 204 with the methods of the matched rule and the allowed headers; a
  preflight asking for a header not in ``[web] cors_headers`` (nor CORS-safelisted) is 403.
* Allowed cross origins get the CORS headers on every answer, errors included.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from ..settings import WebSettings
from .request import Request

__all__ = ['ANY_METHODS', 'CORS', 'EXTENSION_SCHEMES', 'allow_header']

#: Origin schemes of browser extensions, treated like ``Origin: null``.
EXTENSION_SCHEMES = ('moz-extension', 'chrome-extension', 'safari-web-extension')
#: What a rule declared with ``methods=None`` accepts, as announced by ``Allow``.
ANY_METHODS = ('DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT')
#: Request headers a browser may send cross-origin without the server's leave.
SAFELISTED_HEADERS = frozenset({'accept', 'accept-language', 'content-language'})
#: Response headers a cross-origin script may read besides the safelisted ones.
EXPOSED_HEADERS = 'Retry-After, WWW-Authenticate'


def allow_header(methods: Iterable[str] | None) -> str:
    """The ``Allow`` value of a rule's *methods* (``None``: any), OPTIONS always included."""
    return ', '.join(sorted({*(methods or ANY_METHODS), 'OPTIONS'}))


class CORS:
    """The CORS rules of one set of settings."""

    def __init__(self, origins: Iterable[str], headers: Iterable[str], max_age: int) -> None:
        self.origins = frozenset(origins)
        self.headers = tuple(headers)
        self._allowed_headers = SAFELISTED_HEADERS | {h.lower() for h in self.headers}
        self._headers_value = ', '.join(self.headers)
        self._max_age = str(max_age)

    @classmethod
    def from_settings(cls, web: WebSettings) -> CORS:
        return cls(web.cors, web.cors_headers, web.cors_max_age)

    @staticmethod
    def null_like(origin: str) -> bool:
        """Whether *origin* is ``null`` or a browser extension's."""
        return origin == 'null' or origin.partition('://')[0].lower() in EXTENSION_SCHEMES

    def check_origin(self, request: Request, origin: str) -> str | None:
        """The origin to answer with CORS headers (a listed foreign one), ``None`` for
        same-origin and null-like ones (these are decided per route); 403 for any other."""
        if self.null_like(origin) or _same_origin(request, origin):
            return None
        if origin not in self.origins:
            raise Forbidden('This origin is not allowed.')
        return origin

    def preflight(self, request: Request, methods: Iterable[str] | None) -> Response:
        """The answer to a preflight for a rule accepting *methods*; 403 if it asks for a
        header that is not allowed."""
        asked = request.headers.get('Access-Control-Request-Headers', '')
        refused = [h for h in (part.strip().lower() for part in asked.split(','))
                   if h and h not in self._allowed_headers]
        if refused:
            raise Forbidden(f'The request header {refused[0]!r} is not allowed.')
        response = Response(status=204)
        response.headers['Access-Control-Allow-Methods'] = allow_header(methods)
        response.headers['Access-Control-Allow-Headers'] = self._headers_value
        response.headers['Access-Control-Max-Age'] = self._max_age
        return response

    @staticmethod
    def add_headers(response: Response, origin: str) -> None:
        """Let *origin* read *response*."""
        response.headers['Access-Control-Allow-Origin'] = origin
        response.headers['Access-Control-Expose-Headers'] = EXPOSED_HEADERS
        response.vary.add('Origin')


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
