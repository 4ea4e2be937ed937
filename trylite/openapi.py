"""An OpenAPI 3.1 document of everything a database serves, and a page to read it.

* ``GET /<database_name>/openapi.json`` (and ``openapi.yaml``) describes every code route of the
  app — its path parameters with their converters (``int`` as integers, ``base64`` as
  ``format: byte``, …), its methods, the summary and description of its handler, the schemas
  it declared (``app.route(..., request_schema=…, response_schema=…)``), its security (the
  key of each user application guarding it) and the shape of its errors — plus what other
  features contribute (:data:`CONTRIBUTORS`: endpoints stored as records, the data API of
  the models the caller may read). Routes whose path starts with ``/_`` are internal and left
  out. ``<database_name>`` is the database of the document.
* The data API is described per model for the caller: a request sending a key
  (``Authorization: Bearer <key>``, a personal API key or a user-application key) also gets,
  for every model that person may read (within the key's scope), the model's record schema,
  ``POST /json/2/<model>/search_read`` (Odoo's JSON-2) and ``GET /<db>/api/resource/<model>``
  (Frappe's REST). Without a valid key, no model is listed.
* ``GET /<database_name>/doc`` shows the document with Swagger UI, whose files come with the
  ``swagger-ui-py`` package and are served by trylite (``/_trylite/doc/…``): no CDN.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from werkzeug.exceptions import NotFound
from werkzeug.routing import Rule
from werkzeug.utils import send_file

from . import __version__
from .auth.apikeys import Identity, authenticate
from .data import records
from .data.env import current_env
from .exceptions import AccessError, AuthenticationFailed, Throttled
from .pool import Pool
from .transaction import Transaction
from .web.app import Route, TryliteWSGI
from .web.cors import ANY_METHODS
from .web.errors import PROBLEM_SCHEMA
from .web.request import Request
from .web.responses import Response, json_response
from .wrappers import with_pool

__all__ = ['CONTRIBUTORS', 'application_scheme', 'caller', 'document', 'install',
           'key_scheme', 'operation_id']

#: Where :func:`caller` keeps the caller of a request (in its WSGI environment).
_CALLER = 'trylite.openapi.caller'

#: Functions adding to a database's document: ``contributor(request, database_name, doc)``
#: adds paths, components and security schemes to *doc* (features register themselves).
CONTRIBUTORS: list[Callable[[Request, str, dict[str, Any]], None]] = []

_PARAMETER = re.compile(r'<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?'
                        r'(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>')
_BODY_METHODS = {'POST', 'PUT', 'PATCH'}
_STATIC = Path(__file__).resolve().parent / 'static'
_SWAGGER = Path(str(files('swagger_ui') / 'static'))
#: The files of the documentation page, by the name it asks for.
_ASSETS = {
    'swagger-ui.css': _SWAGGER / 'swagger-ui.css',
    'swagger-ui-bundle.js': _SWAGGER / 'swagger-ui-bundle.js',
    'swagger-ui-standalone-preset.js': _SWAGGER / 'swagger-ui-standalone-preset.js',
    'doc.js': _STATIC / 'doc.js',
    'favicon.png': _SWAGGER / 'favicon-32x32.png',
}
_ASSET_TYPES = {'.css': 'text/css', '.js': 'text/javascript', '.png': 'image/png'}


def document(app: TryliteWSGI, request: Request, database_name: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of *database_name* as served by *app*, seen by *request*."""
    doc: dict[str, Any] = {
        'openapi': '3.1.0',
        'info': {'title': f'trylite — {database_name}', 'version': __version__,
                 'description': 'Every route served for this database.'},
        'servers': [{'url': request.host_url.rstrip('/') or '/'}],
        'paths': {},
        'components': {'schemas': {'Problem': PROBLEM_SCHEMA}, 'securitySchemes': {}},
    }
    operation_ids: set[str] = set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith('/_'):
            continue
        route: Route = rule.trylite_route  # type: ignore[attr-defined]
        path, parameters = _path(rule, database_name)
        if path is None:
            continue
        item = doc['paths'].setdefault(path, {})
        for method in sorted(set(rule.methods or ANY_METHODS) - {'HEAD', 'OPTIONS'}):
            item[method.lower()] = _operation(doc, route, method, parameters, operation_ids)
    for contributor in CONTRIBUTORS:
        contributor(request, database_name, doc)
    return doc


def _path(rule: Rule, database_name: str) -> tuple[str | None, list[dict[str, Any]]]:
    """The OpenAPI path of *rule* (``None`` if it cannot serve this database) and its
    parameters."""
    parameters = []
    defaults = rule.defaults or {}

    def replace(match: re.Match[str]) -> str:
        name = match['name']
        if name == 'database_name':
            return database_name
        parameters.append({'name': name, 'in': 'path', 'required': True,
                           'schema': _converter_schema(match['converter'], match['args'])})
        return '{' + name + '}'

    path = _PARAMETER.sub(replace, rule.rule)
    if 'database_name' in defaults:
        return None, []
    return path, parameters


def _converter_schema(converter: str | None, args: str | None) -> dict[str, Any]:
    """The schema of a path parameter taken by a Werkzeug converter."""
    options = dict(re.findall(r'(\w+)\s*=\s*(-?\d+)', args or ''))
    if converter == 'int':
        schema: dict[str, Any] = {'type': 'integer', 'minimum': int(options.get('min', 0))}
        if 'max' in options:
            schema['maximum'] = int(options['max'])
        return schema
    if converter == 'float':
        return {'type': 'number', 'minimum': 0}
    if converter == 'base64':
        return {'type': 'string', 'format': 'byte', 'pattern': '^[A-Za-z0-9_-]+={0,2}$'}
    if converter == 'uuid':
        return {'type': 'string', 'format': 'uuid'}
    if converter == 'any':
        return {'type': 'string', 'enum': re.findall(r'[\w.-]+', args or '')}
    return {'type': 'string', 'minLength': 1, 'pattern': '^[^/]+$'}


def _operation(doc: dict[str, Any], route: Route, method: str,
               parameters: list[dict[str, Any]], operation_ids: set[str]) -> dict[str, Any]:
    func = route.func
    lines = (func.__doc__ or '').strip().splitlines()
    operation: dict[str, Any] = {
        'operationId': _unique(f'{func.__name__}_{method.lower()}', operation_ids),
        'summary': lines[0] if lines else func.__name__.replace('_', ' '),
        'tags': [func.__module__.split('.')[0]],
        'parameters': parameters,
        'responses': _responses(route),
    }
    if len(lines) > 2:
        operation['description'] = '\n'.join(line.strip() for line in lines[2:])
    application = getattr(func, 'trylite_application', None)
    if application is not None:
        operation['security'] = [{application_scheme(doc, application): []}]
    if method in _BODY_METHODS:
        body_schema = route.request_schema.schema if route.request_schema else {}
        operation['requestBody'] = {
            'required': route.request_schema is not None,
            'content': {'application/json': {'schema': body_schema}}}
    return operation


def _responses(route: Route) -> dict[str, Any]:
    """Success and errors: the errors as the route's renderer draws them
    (:func:`~trylite.web.errors.drawn_as`)."""
    media_type, schema = getattr(route.error_renderer, 'trylite_errors', (None, {}))
    if schema == PROBLEM_SCHEMA:
        schema = {'$ref': '#/components/schemas/Problem'}
    error: dict[str, Any] = {'description': 'An error.'}
    if media_type is not None:
        error['content'] = {media_type: {'schema': schema}}
    success: dict[str, Any] = {'description': 'Success.'}
    if route.response_schema is not None:
        success['content'] = {'application/json': {'schema': route.response_schema.schema}}
    if media_type == 'text/html':  # a page: its answers are pages, or redirects back to it
        return {'200': {'description': 'The page.', 'content': error['content']},
                '303': {'description': 'Back to the page.'}, 'default': error}
    return {'2XX': success, 'default': error}


def application_scheme(doc: dict[str, Any], application: str) -> str:
    """The name of the security scheme of *application*'s keys, added to *doc*."""
    scheme = f'application_{application}'
    doc['components']['securitySchemes'][scheme] = {
        'type': 'http', 'scheme': 'bearer',
        'description': f'A validated key of the user application {application!r} '
                       '(Authorization: Bearer <key>).'}
    return scheme


def key_scheme(doc: dict[str, Any]) -> str:
    """The name of the security scheme of personal API keys and user-application keys (which
    reach what their application declared), added to *doc*."""
    doc['components']['securitySchemes']['key'] = {
        'type': 'http', 'scheme': 'bearer',
        'description': 'A personal API key, or the key of a user application that declared '
                       'what is called.'}
    return 'key'


def operation_id(doc: dict[str, Any], name: str) -> str:
    """*name*, or *name* numbered, so that no operation of *doc* has it already."""
    taken = {operation['operationId'] for item in doc['paths'].values()
             for operation in item.values() if 'operationId' in operation}
    return _unique(re.sub(r'\W+', '_', name), taken)


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f'{name}_{number}', number + 1
    taken.add(candidate)
    return candidate


# -- the data API, per model ------------------------------------------------------------------
#: JSON Schemas of field values as the data layer reads them (an empty value is ``false``).
_VALUE_TYPES: dict[str, dict[str, Any]] = {
    'integer': {'type': ['integer', 'boolean']},
    'float': {'type': ['number', 'boolean']}, 'numeric': {'type': ['number', 'boolean']},
    'boolean': {'type': 'boolean'},
    'many2one': {'anyOf': [{'type': 'array', 'prefixItems': [
        {'type': 'integer'}, {'type': 'string'}]}, {'const': False}]},
    'one2many': {'type': 'array', 'items': {'type': 'integer'}},
    'many2many': {'type': 'array', 'items': {'type': 'integer'}},
}
_TEXT = {'type': ['string', 'boolean']}
_ODOO_ERROR = {'type': 'object', 'required': ['name', 'message'],
               'properties': {'name': {'type': 'string'}, 'message': {'type': 'string'}}}


def caller(request: Request, database_name: str) -> Identity | None:
    """Who the request's key (``Authorization: Bearer``) lets in on *database_name*, ``None``
    without a valid one; checked once per request, however many contributors ask (a wrong
    key counts as one failure)."""
    if _CALLER not in request.environ:
        token, identity = request.bearer_token, None
        if token:
            with contextlib.suppress(AuthenticationFailed, Throttled):  # as without a key
                identity = Transaction.run(database_name, 0, lambda: authenticate(
                    token, request.remote_addr), readonly=True)
        request.environ[_CALLER] = identity
    found: Identity | None = request.environ[_CALLER]
    return found


def readable_models(request: Request, database_name: str) -> dict[str, dict[str, Any]]:
    """The models the caller's key lets them read, with their fields (``fields_get``): none
    without a valid key."""
    identity = caller(request, database_name)
    if identity is None:
        return {}

    def gather() -> dict[str, dict[str, Any]]:
        with Transaction().set_user(identity.user.id):
            env = current_env()
            found = {}
            for name in sorted(env.registry.models):
                if identity.scope.models is not None and name not in identity.scope.models:
                    continue
                try:
                    found[name] = records.fields_get(env, name)
                except AccessError:
                    continue
            return found

    return Transaction.run(database_name, 0, gather, readonly=True)


def describe_data_api(request: Request, database_name: str, doc: dict[str, Any]) -> None:
    """Add the data API of the models the caller may read to *doc* (a contributor)."""
    models = readable_models(request, database_name)
    if not models:
        return
    security: list[dict[str, list[str]]] = [{key_scheme(doc): []}]
    database_header = {'name': 'X-Odoo-Database', 'in': 'header', 'required': True,
                       'schema': {'type': 'string', 'const': database_name}}
    for name, fields in models.items():
        schema_name = f'record.{name}'
        doc['components']['schemas'][schema_name] = {
            'type': 'object', 'required': ['id'],
            'properties': {'id': {'type': 'integer'}, **{
                field: _VALUE_TYPES.get(description['type'], _TEXT)
                for field, description in fields.items()}}}
        record = {'$ref': f'#/components/schemas/{schema_name}'}
        doc['paths'][f'/json/2/{name}/search_read'] = {'post': {
            'operationId': f'json2_search_read_{name}', 'tags': ['data API'],
            'summary': f'Search and read {name} records (Odoo JSON-2).',
            'security': security, 'parameters': [database_header],
            'requestBody': {'required': True, 'content': {'application/json': {'schema': {
                'type': 'object', 'properties': {
                    'domain': {'type': 'array'},
                    'fields': {'type': 'array', 'items': {'enum': sorted(fields)}},
                    'offset': {'type': 'integer', 'minimum': 0},
                    'limit': {'type': 'integer', 'minimum': 0},
                    'order': {'type': 'string'}}}}}},
            'responses': {
                '200': {'description': 'The records.', 'content': {'application/json': {
                    'schema': {'type': 'array', 'items': record}}}},
                'default': {'description': "An error (Odoo's error object).", 'content': {
                    'application/json': {'schema': _ODOO_ERROR}}}}}}
        doc['paths'][f'/{database_name}/api/resource/{name}'] = {'get': {
            'operationId': f'frappe_list_{name}', 'tags': ['data API'],
            'summary': f'List {name} records (Frappe REST).', 'security': security,
            'parameters': [
                {'name': 'limit_start', 'in': 'query',
                 'schema': {'type': 'integer', 'minimum': 0}},
                {'name': 'limit_page_length', 'in': 'query',
                 'schema': {'type': 'integer', 'minimum': 0}}],
            'responses': {
                '200': {'description': 'The records.', 'content': {'application/json': {
                    'schema': {'type': 'object', 'required': ['data'], 'properties': {
                        'data': {'type': 'array', 'items': {'type': 'object'}}}}}}},
                'default': {'description': 'An error.', 'content': {'application/json': {
                    'schema': {'$ref': '#/components/schemas/Problem'}}}}}}}


CONTRIBUTORS.append(describe_data_api)


# -- routes -----------------------------------------------------------------------------------
def install(app: TryliteWSGI) -> None:
    """Serve every database's document and documentation page on *app*."""

    @with_pool
    def openapi_json(request: Request, pool: Pool) -> Response:
        """The OpenAPI 3.1 document of this database, as JSON."""
        return json_response(document(app, request, pool.database_name))

    @with_pool
    def openapi_yaml(request: Request, pool: Pool) -> Response:
        """The OpenAPI 3.1 document of this database, as YAML."""
        text = yaml.safe_dump(document(app, request, pool.database_name), sort_keys=False,
                              allow_unicode=True)
        return Response(text, content_type='application/yaml; charset=utf-8')

    @with_pool
    def doc_page(request: Request, pool: Pool) -> Response:
        """The documentation page: the OpenAPI document in Swagger UI."""
        spec = f'{request.script_root}/{pool.database_name}/openapi.json'
        page = (_STATIC / 'doc.html').read_text(encoding='utf-8').replace(
            '{{ spec }}', spec.replace('"', '%22').replace('<', '%3C').replace('&', '%26'))
        response = Response(page, content_type='text/html; charset=utf-8')
        response.headers['Content-Security-Policy'] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'none'")
        response.headers['X-Content-Type-Options'] = 'nosniff'
        return response

    def asset(request: Request, name: str) -> Response:
        """A file of the documentation page."""
        path = _ASSETS.get(name)
        if path is None:
            raise NotFound()
        return send_file(path, request.environ, mimetype=_ASSET_TYPES[path.suffix],
                         max_age=86400)

    app.route('/<database_name>/openapi.json', methods=['GET'])(openapi_json)
    app.route('/<database_name>/openapi.yaml', methods=['GET'])(openapi_yaml)
    app.route('/<database_name>/doc', methods=['GET'])(doc_page)
    app.route('/_trylite/doc/<name>', methods=['GET'])(asset)
