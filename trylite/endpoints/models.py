"""``endpoint.endpoint``: an HTTP endpoint defined as a record.

A model of the data layer like any other — JSON-2, XML-RPC, REST, the admin page and the CLI
all manage it through :meth:`Endpoint.create`, :meth:`~Endpoint.write` and
:meth:`~Endpoint.unlink`, under access rights (no access row: administrators only; ``code``
and ``request_schema`` are readable by members of ``admin`` only, whatever the rows say).

Every save is checked before anything is written — the route's syntax, the method, the auth
type, the content type, the schema, the snippet (compiled under the sandbox's policy), the
run-as person, and conflicts with other active endpoints and with code routes — and an
invalid definition is a :class:`~trylite.exceptions.UserError` naming what is wrong. Every
change bumps the database's registry version, so every worker of every server serves the new
definitions from its next request on that database (see :mod:`.catalog`).
"""

from __future__ import annotations

import re
from typing import Any, cast

from sqlalchemy import ForeignKey, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from ..auth.keys import applications
from ..auth.persons import User
from ..data.access import ADMIN_GROUP
from ..data.models import RegistryModel
from ..exceptions import UserError
from ..pool import Pool
from ..transaction import Transaction
from . import routing, sandbox, schemas

__all__ = ['AUTH_TYPES', 'BODY_METHODS', 'DEFAULTS', 'METHODS', 'Endpoint', 'FIELDS']

METHODS = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')
#: Methods whose requests carry a body: their endpoints need a content type.
BODY_METHODS = ('POST', 'PUT', 'PATCH')
#: ``user`` and ``public``; ``application:<name>`` names a declared application.
AUTH_TYPES = ('user', 'public')
_GROUP = re.compile(r'[A-Za-z0-9_.-]{0,100}')
_ADMINS = {'groups': (ADMIN_GROUP,)}


class Endpoint(RegistryModel):
    """An HTTP endpoint served under ``/<db>/api/endpoint`` (see docs/endpoints.md)."""

    __model__ = 'endpoint.endpoint'
    __tablename__ = 'endpoint_endpoint'
    _description = 'Endpoint'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    route: Mapped[str] = mapped_column(String(255), info={
        'help': 'A Werkzeug rule below /<db>/api/endpoint, e.g. /orders/<int:order_id>.'})
    route_group: Mapped[str] = mapped_column(String(100), default='', info={
        'help': 'User applications that declared this group may call the endpoint.'})
    active: Mapped[bool] = mapped_column(default=True)
    auth_type: Mapped[str] = mapped_column(String(120), default='user', info={
        'help': "user (a personal API key, a session, or the key of an application that "
                "declared the route group), public, or application:<name>."})
    exec_as_user_id: Mapped[int | None] = mapped_column(
        ForeignKey('res_user.id'), default=None, info={
            'string': 'Run as', 'help': 'The person the snippet runs as (required for public '
                                        'endpoints; else the caller).'})
    method: Mapped[str] = mapped_column(String(8), default='GET', info={
        'type': 'selection', 'selection': [(method, method) for method in METHODS]})
    content_type: Mapped[str | None] = mapped_column(String(100), default=None, info={
        'help': "The media type of request bodies (required for POST, PUT and PATCH)."})
    request_schema: Mapped[str | None] = mapped_column(Text, default=None, info={
        **_ADMINS, 'help': 'JSON Schema 2020-12 (JSON or YAML) for JSON bodies, XSD for XML '
                           'bodies.'})
    code: Mapped[str] = mapped_column(Text, info={
        **_ADMINS, 'help': 'A Python snippet run in the sandbox; it sets result.'})

    @classmethod
    def create(cls, vals_list: Any) -> list[int]:
        """Create endpoints, each checked (see the module doc) before any is stored."""
        cls.check_access_rights('create')
        items = [vals_list] if isinstance(vals_list, dict) else vals_list
        if isinstance(items, list | tuple):
            items = [_normalized(vals) for vals in items]
            _check_all([{**DEFAULTS, **vals} for vals in items if isinstance(vals, dict)], ())
        return super().create(items)

    @classmethod
    def write(cls, ids: Any, vals: Any) -> bool:
        """Change endpoints, each checked as it will be (see the module doc) first — but for
        disabling, which always may be done (even when what the definition names is gone)."""
        cls.check_access_rights('write')
        ids = [ids] if isinstance(ids, int) else ids
        if vals == {'active': False}:
            return super().write(ids, vals)
        if isinstance(vals, dict) and isinstance(ids, list | tuple) and all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids):
            vals = _normalized(vals)
            table = _table()
            rows = Transaction().session.execute(
                select(*(table.c[name] for name in FIELDS), table.c.id)
                .where(table.c.id.in_(ids))).all()
            _check_all([{**row._asdict(), **vals} for row in rows], [row.id for row in rows])
        return super().write(ids, vals)


Pool.register(Endpoint, module='endpoint')

#: What a definition holds besides its id.
FIELDS = ('name', 'route', 'route_group', 'active', 'auth_type', 'exec_as_user_id', 'method',
          'content_type', 'request_schema', 'code')
#: The values of fields a new endpoint does not give.
DEFAULTS: dict[str, Any] = {'route_group': '', 'active': True, 'auth_type': 'user',
                            'exec_as_user_id': None, 'method': 'GET', 'content_type': None,
                            'request_schema': None}


def _table() -> Table:
    return cast(Table, Endpoint.__table__)


def _normalized(vals: Any) -> Any:
    """*vals* as stored: Odoo's ``False`` for empty values, the route with its ``/``, the
    method in capitals, the content type without parameters."""
    if not isinstance(vals, dict):
        return vals
    vals = dict(vals)
    for name in ('content_type', 'request_schema', 'exec_as_user_id'):
        if name in vals and (vals[name] is False or vals[name] == ''):
            vals[name] = None
    if vals.get('route_group') in (False, None):
        vals.pop('route_group', None)
    if 'route' in vals:
        vals['route'] = routing.normalize_route(vals['route'])
    if isinstance(vals.get('method'), str):
        vals['method'] = vals['method'].strip().upper()
    if isinstance(vals.get('content_type'), str):
        vals['content_type'] = schemas.media_type(vals['content_type'])
    if isinstance(vals.get('name'), str):
        vals['name'] = vals['name'].strip()
    return vals


def _check_all(definitions: list[dict[str, Any]], changed: Any) -> None:
    """Check each definition, and that the active ones conflict with no other active
    endpoint (stored, other than *changed*, or among *definitions*) nor with a code route."""
    table = _table()
    others = [dict(row._asdict()) for row in Transaction().session.execute(
        select(table.c.id, table.c.name, table.c.route, table.c.method)
        .where(table.c.active, table.c.id.not_in(list(changed))))]
    names = set(Transaction().session.execute(
        select(table.c.name).where(table.c.id.not_in(list(changed)))).scalars())
    for definition in definitions:
        check(definition)
        if definition['name'] in names:
            raise UserError('Invalid endpoint',
                            f"An endpoint named {definition['name']!r} already exists.")
        names.add(definition['name'])
        if not definition['active']:
            continue
        for other in others:
            if other['method'] == definition['method'] and routing.overlap(
                    definition['route'], other['route']):
                raise UserError('Route conflict', f"{definition['method']} "
                                f"{definition['route']} conflicts with the endpoint "
                                f"{other['name']!r} ({other['method']} {other['route']}).")
        code = routing.code_route_conflict(definition['route'], definition['method'],
                                           Transaction().database_name)
        if code is not None:
            raise UserError('Route conflict', f"{definition['method']} {definition['route']} "
                            f'conflicts with the route {code} of the server.')
        others.append(definition)


def check(definition: dict[str, Any]) -> None:
    """Raise :class:`UserError` naming what is wrong with one endpoint's *definition* (all
    its fields; conflicts aside)."""
    name = definition.get('name')
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise UserError('Invalid name', 'An endpoint needs a name of 1 to 100 characters.')
    routing.normalize_route(definition.get('route'))
    method = definition.get('method')
    if method not in METHODS:
        raise UserError('Invalid method', f"The method is one of {', '.join(METHODS)}.")
    group = definition.get('route_group') or ''
    if not isinstance(group, str) or not _GROUP.fullmatch(group):
        raise UserError('Invalid route group', 'A route group is a name of letters, digits, '
                        '_, . and - (at most 100).')
    _check_auth(definition.get('auth_type'), definition.get('exec_as_user_id'))
    content_type = definition.get('content_type')
    if method in BODY_METHODS and not content_type:
        raise UserError('Content type required', f'A {method} endpoint needs the content '
                        'type of its request bodies (e.g. application/json).')
    if method == 'GET' and content_type:
        raise UserError('Invalid content type', 'GET requests have no body: leave the '
                        'content type empty.')
    if definition.get('request_schema'):
        schemas.check_schema(definition['request_schema'], schemas.body_kind(content_type))
    sandbox.compile_snippet(definition.get('code'))


def _check_auth(auth_type: Any, run_as: Any) -> None:
    if not isinstance(auth_type, str) or not (
            auth_type in AUTH_TYPES or auth_type.startswith('application:')):
        raise UserError('Invalid auth type', 'The auth type is user, public or '
                        'application:<name>.')
    application = auth_type.partition(':')[2]
    if auth_type.startswith('application:') and application not in applications():
        raise UserError('Invalid auth type', f'No application named {application!r} is '
                        'declared (is its module loaded?).')
    if run_as is None:
        if auth_type == 'public':
            raise UserError('Run as required', 'A public endpoint runs as a person: set '
                            'exec_as_user_id.')
        return
    if isinstance(run_as, bool) or not isinstance(run_as, int):
        raise UserError('Invalid person', 'exec_as_user_id is the id of a person.')
    if not Transaction().session.execute(
            select(User.id).where(User.id == run_as, User.active)).first():
        raise UserError('Invalid person', f'There is no active person with the id {run_as}.')
