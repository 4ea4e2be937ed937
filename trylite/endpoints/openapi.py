"""Endpoints in the OpenAPI document: each active endpoint of the database in place of the
two catch-all routes serving them.

An endpoint is an operation at ``/<db>/api/endpoint/<its route>`` with its path parameters
(typed by their converters), its request body (the JSON Schema it declared; an XSD is given
as ``x-xsd`` beside the media type), its security (``public``: none; ``user``: a key or the
preferences session; ``application:<name>``: that application's keys) and errors drawn as
Problem objects. Every active endpoint is listed, whoever asks: whether a route exists is
no secret (its 401 tells it apart from a 404). Apps that do not serve endpoints list none.
"""

from __future__ import annotations

from typing import Any

from .. import openapi
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
    for endpoint in active_endpoints(database_name):
        item = doc['paths'].setdefault(endpoint['path'], {})
        item[endpoint['method'].lower()] = _operation(doc, endpoint)


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
