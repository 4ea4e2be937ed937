"""Endpoints in the OpenAPI document: each active endpoint of the database in place of the
two catch-all routes serving them.

An endpoint is an operation at ``/<db>/api/endpoint/<its route>`` with its path parameters
(typed by their converters), its request body (the JSON Schema it declared; an XSD is given
as ``x-xsd`` beside the media type), its security (``public``: none; ``user``: a key or the
preferences session; ``application:<name>``: that application's keys) and errors drawn as
Problem objects. The document lists the endpoints the caller may call: public ones for
everyone; with a valid key (``Authorization: Bearer``), the ``user`` endpoints for a personal
key or the key of an application that declared their route group, and the
``application:<name>`` endpoints for that application's keys. Apps that do not serve endpoints
list none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import openapi
from ..auth import keys
from ..auth.apikeys import Identity
from ..preferences import SESSION_COOKIE
from ..web.request import Request
from .catalog import active_endpoints
from .routing import PREFIX

__all__ = ['describe_endpoints']

_ERROR = {'description': 'An error.', 'content': {'application/json': {
    'schema': {'$ref': '#/components/schemas/Problem'}}}}


def describe_endpoints(request: Request, database_name: str, doc: dict[str, Any]) -> None:
    """Replace the catch-all endpoint routes of *doc* with the database's active endpoints
    (a contributor of :data:`trylite.openapi.CONTRIBUTORS`)."""
    served = doc['paths'].pop(f'/{database_name}{PREFIX}/{{rest}}', None)
    doc['paths'].pop(f'{PREFIX}/{{rest}}', None)
    if served is None:
        return

    may_call = _may_call(openapi.caller(request, database_name))
    for endpoint in active_endpoints(database_name):
        if may_call(endpoint):
            item = doc['paths'].setdefault(endpoint['path'], {})
            item[endpoint['method'].lower()] = _operation(doc, endpoint)


def _may_call(identity: Identity | None) -> Callable[[dict[str, Any]], bool]:
    """Whether the key of *identity* may call a described endpoint (public ones: anyone)."""
    application = identity.application if identity else None
    personal = identity is not None and application is None
    groups = keys.application_endpoint_groups(application) if application else frozenset()

    def may_call(endpoint: dict[str, Any]) -> bool:
        auth_type = endpoint['auth_type']
        if auth_type == 'public':
            return True
        if auth_type == 'user':
            return personal or bool(endpoint['route_group']) and endpoint['route_group'] in groups
        return application is not None and auth_type == f'application:{application}'

    return may_call


def _operation(doc: dict[str, Any], endpoint: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        'operationId': openapi.operation_id(doc, f'endpoint_{endpoint["name"]}'),
        'summary': endpoint['name'], 'tags': ['endpoints'],
        'description': f'An endpoint stored as a record. Also served at '
                       f'`{endpoint["root_path"]}` when the request chooses the database '
                       '(`X-Trylite-Database` header, `[web] dbfilter`).',
        'parameters': endpoint['parameters'],
        'security': _security(doc, endpoint['auth_type']),
        'responses': {'2XX': {'description': "The endpoint's answer."}, 'default': _ERROR},
    }
    content_type = endpoint['content_type']
    if content_type is not None:
        media: dict[str, Any] = {'schema': {}}
        if endpoint['request_schema_type'] == 'json-schema':
            media['schema'] = endpoint['request_schema']
        elif endpoint['request_schema_type'] == 'xsd':
            media['x-xsd'] = endpoint['request_schema']
        operation['requestBody'] = {'required': True, 'content': {content_type: media}}
    return operation


def _security(doc: dict[str, Any], auth_type: str) -> list[dict[str, list[str]]]:
    if auth_type == 'public':
        return []
    if auth_type.startswith('application:'):
        return [{openapi.application_scheme(doc, auth_type.partition(':')[2]): []}]
    doc['components']['securitySchemes']['session'] = {
        'type': 'apiKey', 'in': 'cookie', 'name': SESSION_COOKIE,
        'description': "The session of the preferences pages (sent by a client that "
                       "keeps it; browsers keep it to those pages)."}
    return [{openapi.key_scheme(doc): []}, {'session': []}]


openapi.CONTRIBUTORS.append(describe_endpoints)
