"""The active endpoints of each database, as every worker caches them.

A worker keeps, per database, a :class:`Catalog` — the active endpoints and their routing
map — tagged with the database's registry version. Every change to ``endpoint.endpoint``
bumps that version in the same transaction (:mod:`trylite.data.registry`); a request on the
database reads the version in its own transaction (one small query) and rebuilds the catalog
when it moved. So an endpoint created, changed, disabled or deleted through any worker of any
server is served that way by every worker from its next request on — no restart, no "sync".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from ..data import registry
from ..transaction import Transaction
from ..web.cors import allow_header
from . import routing, schemas
from .models import FIELDS, Endpoint

__all__ = ['Catalog', 'Definition', 'active_endpoints', 'catalog']


@dataclass(frozen=True)
class Definition:
    """One active endpoint, as served."""

    id: int
    name: str
    route: str
    route_group: str
    active: bool
    auth_type: str
    exec_as_user_id: int | None
    method: str
    content_type: str | None
    request_schema: str | None
    code: str

    @property
    def body_kind(self) -> schemas.Kind | None:
        """Whether its request bodies are JSON, XML, or neither."""
        return schemas.body_kind(self.content_type)


class Catalog:
    """The active endpoints of one database at one registry version."""

    def __init__(self, version: int, definitions: list[Definition]) -> None:
        self.version = version
        self.definitions = definitions
        self.map = routing.endpoint_map((d.route, d.method, d) for d in definitions)

    def match(self, path: str, method: str) -> tuple[Definition, dict[str, Any]]:
        """The endpoint answering *method* at *path* (below the prefix) and its URL
        variables; 404 when none is there, 405 with ``Allow`` when none takes *method*."""
        adapter = self.map.bind('localhost')
        try:
            found, params = adapter.match(path, method=method)
        except NotFound:
            raise NotFound('No endpoint is served at this path.') from None
        except MethodNotAllowed as exc:
            raise MethodNotAllowed(valid_methods=allow_header(exc.valid_methods).split(', '),
                                   description='This endpoint does not take this method.'
                                   ) from None
        return cast(Definition, found), dict(params)


_catalogs: dict[tuple[str, str], Catalog] = {}
_lock = threading.Lock()


def catalog() -> Catalog:
    """The catalog of the current transaction's database, as of that transaction."""
    transaction = Transaction()
    version = registry.version(transaction.connection)
    key = (transaction.backend.uri, transaction.database_name)
    cached = _catalogs.get(key)
    if cached is not None and cached.version == version:
        return cached
    table = Endpoint.__table__
    rows = transaction.connection.execute(
        select(table.c.id, *(table.c[name] for name in FIELDS))
        .where(table.c.active).order_by(table.c.id))
    built = Catalog(version, [Definition(**row._asdict()) for row in rows])
    with _lock:
        _catalogs[key] = built
    return built


def active_endpoints(database_name: str) -> list[dict[str, Any]]:
    """The active endpoints of *database_name*, each described as a dict (what an API
    document needs): ``name``, ``route`` (the Werkzeug rule), ``path`` (under
    ``/<database_name>``) and ``root_path`` (when the database is chosen by header or host)
    with ``{variable}`` templates, ``parameters`` (OpenAPI path parameters), ``method``,
    ``content_type``, ``auth_type``, ``route_group``, ``request_schema`` (the JSON Schema as
    an object, or the XSD's text, or ``None``) and ``request_schema_type`` (``json-schema``,
    ``xsd`` or ``None``).

    Runs in the current transaction when it is on *database_name*, else in one of its own.
    """
    current = Transaction.active()
    if current is not None and current.database_name == database_name:
        return _describe(catalog())
    with Transaction.start(database_name, readonly=True):
        return _describe(catalog())


def _describe(found: Catalog) -> list[dict[str, Any]]:
    described = []
    for definition in found.definitions:
        kind = definition.body_kind if definition.request_schema else None
        path = routing.openapi_path(definition.route)
        described.append({
            'name': definition.name, 'route': definition.route,
            'path': f'/{Transaction().database_name}{routing.PREFIX}{path}',
            'root_path': f'{routing.PREFIX}{path}',
            'parameters': routing.path_parameters(definition.route),
            'method': definition.method, 'content_type': definition.content_type,
            'auth_type': definition.auth_type, 'route_group': definition.route_group,
            'request_schema': schemas.schema_document(definition.request_schema, kind)
            if kind and definition.request_schema else None,
            'request_schema_type': {'json': 'json-schema', 'xml': 'xsd'}.get(kind or ''),
        })
    return described
