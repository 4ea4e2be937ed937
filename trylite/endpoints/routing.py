"""Where endpoints are served, what their routes may be, and which routes conflict.

An endpoint's ``route`` is a Werkzeug rule (``/orders/<int:order_id>``, converters ``string``,
``int``, ``float``, ``path``, ``uuid`` and ``any``) served under :data:`PREFIX`:
``/<db>/api/endpoint/orders/7``, and ``/api/endpoint/orders/7`` when the database is chosen
by header or host. Two routes **conflict** when, for one method, a URL of either is matched
by the other (a URL made from each with sample values is tried against the other) — such an
endpoint would be shadowed, wholly or in part. A route also conflicts with the code routes of
every app the endpoints are installed on (:func:`serve_on`) that answer a URL under the
prefix. Both are refused when an endpoint is saved.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, RequestRedirect, Rule

from ..exceptions import UserError

__all__ = ['PREFIX', 'code_route_conflict', 'endpoint_map', 'normalize_route', 'openapi_path',
           'overlap', 'path_parameters', 'serve_on']

#: Endpoints are served under this path (after ``/<db>``, or at the host root).
PREFIX = '/api/endpoint'
_REFUSED = re.compile(r'[\s?#\\\x00-\x1f\x7f]')
#: Sample values tried for a URL variable, in order (the first its converter accepts wins).
_SAMPLES: tuple[Any, ...] = (1, 1.5, 'sample', uuid.UUID(int=1), b'sample')
#: JSON Schema types of URL variables, by converter.
_TYPES = {'IntegerConverter': 'integer', 'FloatConverter': 'number'}

#: The URL maps endpoints are served on, each with the handlers serving endpoints there.
_served: list[tuple[Map, frozenset[Callable[..., Any]]]] = []


def serve_on(url_map: Map, handlers: Iterable[Callable[..., Any]]) -> None:
    """Note that *handlers* serve endpoints on *url_map* (whose other routes may conflict)."""
    _served.append((url_map, frozenset(handlers)))


def normalize_route(route: Any) -> str:
    """*route*, stripped and starting with ``/``; :class:`UserError` unless it is a Werkzeug
    rule whose URLs can be made and matched."""
    if not isinstance(route, str) or not route.strip():
        raise UserError('Invalid route', 'An endpoint needs a route, like /orders/<int:id>.')
    text: str = route.strip()
    if not text.startswith('/'):
        text = '/' + text
    if text == '/' or len(text) > 255 or _REFUSED.search(re.sub(r'<[^<>]*>', '', text)):
        raise UserError('Invalid route', f'{text!r}: a route is a path of at most 255 '
                        'characters below /, without spaces, ? or #.')
    try:
        if _sample(text) is None:
            raise ValueError('no URL of it matches it')
    except (ValueError, LookupError, TypeError, SyntaxError) as exc:
        raise UserError('Invalid route', f'{text!r} is not a valid route: {exc}.') from None
    return text


def _single(route: str, method: str | None = None,
            converters: Mapping[str, type[BaseConverter]] | None = None) -> Map:
    """A map of one rule *route* (endpoint ``'route'``)."""
    return Map([Rule(route, endpoint='route', methods=[method] if method else None)],
               converters=converters, strict_slashes=False, merge_slashes=False)


def _sample(route: str, converters: Mapping[str, type[BaseConverter]] | None = None
            ) -> str | None:
    """A URL of *route*, made with sample values its converters accept (``None`` if none
    matches it)."""
    url_map = _single(route, converters=converters)
    (rule,) = url_map.iter_rules()
    values = {name: _sample_value(converter)
              for name, converter in rule._converters.items()}
    adapter = url_map.bind('localhost')
    url = adapter.build('route', values, append_unknown=False)
    return url if _matches(adapter, url) else None


def _sample_value(converter: BaseConverter) -> Any:
    items = sorted(getattr(converter, 'items', ()))
    for candidate in (*items, *_SAMPLES):
        try:
            if re.fullmatch(converter.regex, converter.to_url(candidate)):
                return candidate
        except (ValueError, TypeError, AttributeError):
            continue
    return 'sample'


def _matches(adapter: Any, url: str, method: str | None = None) -> bool:
    try:
        adapter.match(url, method=method)
    except (NotFound, MethodNotAllowed):
        return False
    except RequestRedirect:
        return True
    return True


def overlap(route: str, other: str) -> bool:
    """Whether a URL of either route is matched by the other."""
    for made, matched in ((route, other), (other, route)):
        url = _sample(made)
        if url is not None and _matches(_single(matched).bind('localhost'), url):
            return True
    return False


def code_route_conflict(route: str, method: str, database_name: str) -> str | None:
    """The code route that would answer a URL of the endpoint *route* (or part of it), if
    any (as written in code)."""
    for url_map, handlers in _served:
        adapter = url_map.bind('localhost')
        for base in (f'/{database_name}{PREFIX}', PREFIX):
            url = _sample(route)
            if url is None:
                continue
            try:
                rule, _args = adapter.match(base + url, method=method, return_rule=True)
            except RequestRedirect as redirect:
                return f'{redirect.new_url} (a redirect)'
            except (NotFound, MethodNotAllowed):
                continue
            if rule.endpoint not in handlers:
                return rule.rule
        for rule in url_map.iter_rules():
            rest = _below_prefix(rule.rule)
            if rule.endpoint in handlers or rest is None or (
                    rule.methods is not None and method not in rule.methods):
                continue
            url = _sample(rest, url_map.converters)
            if url is not None and _matches(_single(route, method).bind('localhost'), url,
                                            method):
                return rule.rule
    return None


def _below_prefix(rule: str) -> str | None:
    """The part of a code rule below the endpoints' prefix (``None``: not below it)."""
    for base in ('/<database_name>' + PREFIX, PREFIX):
        if rule.startswith(base + '/'):
            return rule[len(base):]
    return None


def endpoint_map(routes: Iterable[tuple[str, str, Any]]) -> Map:
    """The map of ``(route, method, endpoint)`` triples, matched against the path below the
    prefix (``/orders/7``): no redirects, ``GET`` also answering ``HEAD``."""
    return Map([Rule(route, endpoint=endpoint, methods=[method])
                for route, method, endpoint in routes],
               strict_slashes=False, merge_slashes=False)


def path_parameters(route: str) -> list[dict[str, Any]]:
    """The URL variables of *route* as OpenAPI path parameters."""
    (rule,) = _single(route).iter_rules()
    parameters = []
    for name, converter in rule._converters.items():
        schema: dict[str, Any] = {'type': _TYPES.get(type(converter).__name__, 'string')}
        items = getattr(converter, 'items', None)
        if items:
            schema['enum'] = sorted(items)
        if type(converter).__name__ == 'UUIDConverter':
            schema['format'] = 'uuid'
        parameters.append({'name': name, 'in': 'path', 'required': True, 'schema': schema})
    return parameters


def openapi_path(route: str) -> str:
    """*route* with ``{name}`` for each URL variable (``/orders/{order_id}``)."""
    return re.sub(r'<(?:[^:<>]+:)?([A-Za-z_][A-Za-z0-9_]*)>', r'{\1}', route)
