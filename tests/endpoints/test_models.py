"""``endpoint.endpoint`` on SQLite and PostgreSQL: every field checked when saved, route
conflicts refused, access rights, the data layer managing endpoints, and the description an
API document reads."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from tests.endpoints.conftest import WHOAMI, make_endpoint
from tests.helpers import add_to_group
from trylite.data import registry
from trylite.data.dispatch import execute
from trylite.data.models import Group, IrModel, IrModelAccess
from trylite.endpoints import active_endpoints
from trylite.endpoints.models import Endpoint
from trylite.exceptions import AccessError, UserError
from trylite.transaction import Transaction
from trylite.wsgi import app

JSON_SCHEMA = '{"type": "object", "required": ["qty"], "properties": {"qty": {"type": "integer"}}}'
YAML_SCHEMA = 'type: object\nrequired: [qty]\nproperties:\n  qty: {type: integer, minimum: 1}\n'
XSD = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
       '<xs:element name="order" type="xs:string"/></xs:schema>')


@app.route('/<database_name>/api/endpoint/code-status', methods=['GET'])
def code_status(request, database_name):
    """A code route below the endpoints' prefix (endpoints may not shadow it)."""
    return 'code'


def create(db: str, **vals: Any) -> list[int]:
    with Transaction.start(db):
        return Endpoint.create({'name': 'e', 'route': '/e', 'code': WHOAMI, **vals})


@pytest.mark.parametrize('vals, message', [
    ({'route': '/'}, 'a route is a path'),
    ({'route': '/a b'}, 'a route is a path'),
    ({'route': '/a?b=1'}, 'a route is a path'),
    ({'route': '/<int:x'}, 'malformed url rule'),
    ({'route': '/<nope:x>'}, "the converter 'nope' does not exist"),
    ({'route': '/<x>/<x>'}, 'is not a valid route'),
    ({'route': False}, 'needs a route'),
    ({'name': ' '}, 'needs a name'),
    ({'method': 'TRACE'}, 'The method is one of GET, POST, PUT, PATCH, DELETE'),
    ({'route_group': 'a b'}, 'A route group is a name'),
    ({'auth_type': 'root'}, 'The auth type is user, public or application:<name>'),
    ({'auth_type': 'application:nope'}, "No application named 'nope'"),
    ({'auth_type': 'public'}, 'A public endpoint runs as a person'),
    ({'exec_as_user_id': 99999}, 'no active person with the id 99999'),
    ({'method': 'POST'}, 'A POST endpoint needs the content type'),
    ({'method': 'PATCH'}, 'A PATCH endpoint needs the content type'),
    ({'content_type': 'application/json'}, 'GET requests have no body'),
    ({'method': 'POST', 'content_type': 'json'}, "'json' is not a media type"),
    ({'method': 'POST', 'content_type': 'text/plain', 'request_schema': JSON_SCHEMA},
     'needs a JSON or XML content type'),
    ({'method': 'POST', 'content_type': 'application/json', 'request_schema': '{"type": 1}'},
     'Not a JSON Schema 2020-12'),
    ({'method': 'POST', 'content_type': 'application/json', 'request_schema': '[1, 2]'},
     'A JSON Schema is an object'),
    ({'method': 'POST', 'content_type': 'application/json', 'request_schema': 'a: [b'},
     'A JSON Schema is written in JSON or YAML'),
    ({'method': 'POST', 'content_type': 'application/json',
      'request_schema': '{"$ref": "https://example.com/order.json"}'}, 'leaves the schema'),
    ({'method': 'POST', 'content_type': 'application/json',
      'request_schema': '{"$ref": "#/$defs/nowhere"}'}, 'leads nowhere'),
    ({'method': 'POST', 'content_type': 'application/xml', 'request_schema': '<xs:schema'},
     'Not a valid XSD'),
    ({'method': 'POST', 'content_type': 'application/xml', 'request_schema': '{}'},
     'An XSD is an XML document'),
    ({'method': 'POST', 'content_type': 'application/xml', 'request_schema':
      XSD.replace('<xs:element', '<xs:include schemaLocation="/etc/x.xsd"/><xs:element')},
     'An XSD must stand alone'),
    ({'code': 'import os'}, 'Imports are not allowed'),
    ({'code': 'value = ().__class__.__base__.__subclasses__()'}, 'invalid attribute name'),
    ({'code': ''}, 'needs a Python snippet'),
])
def test_definitions_are_checked_when_saved(db, vals, message):
    with pytest.raises(UserError) as caught:
        create(db, **vals)
    assert message in f'{caught.value.message}: {caught.value.description}'
    with Transaction.start(db):
        assert Endpoint.search([('active', 'in', [True, False])]) == []


def test_a_definition_is_stored_normalized(db, alice):
    (first,) = create(db, route='orders/<int:order_id>', method='post',
                      content_type='Application/JSON; charset=utf-8',
                      request_schema=YAML_SCHEMA, auth_type='public', exec_as_user_id=alice)
    (second,) = create(db, name='xml', route='/xml', method='PUT', content_type='text/xml',
                       request_schema=XSD)
    with Transaction.start(db):
        rows = Endpoint.read([first, second], ['route', 'method', 'content_type', 'route_group',
                                               'active', 'exec_as_user_id'])
    assert rows[0]['route'] == '/orders/<int:order_id>' and rows[0]['method'] == 'POST'
    assert rows[0]['content_type'] == 'application/json'
    assert rows[0]['exec_as_user_id'][0] == alice and rows[0]['active'] is True
    assert rows[1]['content_type'] == 'text/xml' and rows[1]['route_group'] is False


@pytest.mark.parametrize('first, second', [
    (('GET', '/orders'), ('GET', '/orders')),
    (('GET', '/orders'), ('GET', 'orders/')),
    (('GET', '/orders/<int:order_id>'), ('GET', '/orders/<name>')),
    (('GET', '/orders/<name>'), ('GET', '/orders/status')),
    (('GET', '/files/<path:rest>'), ('GET', '/files/a/b')),
    (('GET', '/<any(a, b):kind>'), ('GET', '/b')),
])
def test_route_conflicts_are_refused(db, first, second):
    create(db, name='first', method=first[0], route=first[1])
    with pytest.raises(UserError, match="conflicts with the endpoint 'first'"):
        create(db, name='second', method=second[0], route=second[1])


def test_routes_that_do_not_conflict(db):
    create(db, name='list', route='/orders')
    create(db, name='create', route='/orders', method='POST', content_type='application/json')
    create(db, name='one', route='/orders/<int:order_id>')
    create(db, name='float', route='/prices/<float:price>')
    create(db, name='int', route='/prices/<int:price>/x')
    create(db, name='off', route='/orders', active=False)
    with pytest.raises(UserError, match="conflicts with the endpoint 'list'"), \
            Transaction.start(db):
        (off,) = Endpoint.search([('name', '=', 'off'), ('active', '=', False)])
        Endpoint.write([off], {'active': True})
    with pytest.raises(UserError, match="conflicts with the endpoint 'list'"), \
            Transaction.start(db):
        Endpoint.write(Endpoint.search([('name', '=', 'one')]), {'route': '/orders'})
    with pytest.raises(UserError, match="conflicts with the endpoint 'a'"), \
            Transaction.start(db):
        Endpoint.create([{'name': 'a', 'route': '/twice', 'code': WHOAMI},
                             {'name': 'b', 'route': '/twice', 'code': WHOAMI}])


@pytest.mark.parametrize('route', ['/code-status', '/<name>'])
def test_conflicts_with_code_routes_are_refused(db, route):
    with pytest.raises(UserError, match='conflicts with the route '
                                        '/<database_name>/api/endpoint/code-status'):
        create(db, route=route)
    create(db, route=route, method='DELETE')  # the code route takes GET only


def test_names_are_unique(db):
    create(db, name='same', route='/a')
    with pytest.raises(UserError, match="An endpoint named 'same' already exists"):
        create(db, name='same', route='/b')


def test_every_change_bumps_the_registry_version(db):
    def version() -> int:
        with Transaction.start(db) as transaction:
            return registry.version(transaction.connection)

    before = version()
    (endpoint,) = create(db)
    assert version() == before + 1
    with Transaction.start(db):
        Endpoint.write([endpoint], {'active': False})
    assert version() == before + 2
    with Transaction.start(db):
        Endpoint.unlink([endpoint])
    assert version() == before + 3


def test_administrators_manage_endpoints_through_the_data_layer(db, alice):
    """What JSON-2, XML-RPC and REST call: the dispatcher, as a person."""
    add_to_group(db, alice, 'admin')
    (endpoint,) = execute(db, alice, 'endpoint.endpoint', 'create', [{
        'name': 'orders', 'route': '/orders', 'code': WHOAMI, 'route_group': 'shop'}])
    assert execute(db, alice, 'endpoint.endpoint', 'search_read', [[]],
                   {'fields': ['name', 'route', 'code']}) == [
        {'id': endpoint, 'name': 'orders', 'route': '/orders', 'code': WHOAMI,
         'display_name': 'orders'}]
    assert execute(db, alice, 'endpoint.endpoint', 'write', [[endpoint], {'route': 'o'}])
    with pytest.raises(UserError, match='a route is a path'):
        execute(db, alice, 'endpoint.endpoint', 'write', [[endpoint], {'route': '/'}])
    assert execute(db, alice, 'endpoint.endpoint', 'unlink', [[endpoint]])


def test_others_may_not_manage_endpoints_nor_read_their_code(db, alice):
    endpoint = make_endpoint(db)
    for method, args in (('search_read', [[]]), ('create', [{'name': 'x', 'route': '/x',
                                                             'code': WHOAMI}]),
                         ('write', [[endpoint], {'route': '/other'}]),
                         ('unlink', [[endpoint]])):
        with pytest.raises(AccessError):
            execute(db, alice, 'endpoint.endpoint', method, args)
    with Transaction.start(db):  # a group may read endpoints: not their code
        (model,) = IrModel.search([('model', '=', 'endpoint.endpoint')])
        (readers,) = Group.create({'name': 'readers', 'user_ids': [(4, alice)]})
        IrModelAccess.create({'name': 'read endpoints', 'model_id': model,
                              'group_id': readers, 'perm_read': True})
    assert execute(db, alice, 'endpoint.endpoint', 'search_read', [[], ['name']]) == [
        {'id': endpoint, 'name': 'whoami', 'display_name': 'whoami'}]
    for field in ('code', 'request_schema'):
        with pytest.raises(AccessError, match=f"may not read the field '{field}'"):
            execute(db, alice, 'endpoint.endpoint', 'read', [[endpoint], [field]])


def test_active_endpoints_describes_them_for_api_documents(db, alice):
    make_endpoint(db, name='order', route='/orders/<int:order_id>/<any(a, b):kind>',
                  method='POST', content_type='application/json', request_schema=YAML_SCHEMA,
                  auth_type='public', exec_as_user_id=alice, route_group='shop')
    make_endpoint(db, name='xml', route='/xml/<uuid:ref>', method='PUT',
                  content_type='application/xml', request_schema=XSD,
                  auth_type='application:acme')
    make_endpoint(db, name='off', route='/off', active=False)
    order, xml = active_endpoints(db)
    assert order == {
        'name': 'order', 'route': '/orders/<int:order_id>/<any(a, b):kind>',
        'path': f'/{db}/api/endpoint/orders/{{order_id}}/{{kind}}',
        'root_path': '/api/endpoint/orders/{order_id}/{kind}',
        'parameters': [
            {'name': 'order_id', 'in': 'path', 'required': True, 'schema': {'type': 'integer'}},
            {'name': 'kind', 'in': 'path', 'required': True,
             'schema': {'type': 'string', 'enum': ['a', 'b']}}],
        'method': 'POST', 'content_type': 'application/json', 'auth_type': 'public',
        'route_group': 'shop', 'request_schema_type': 'json-schema',
        'request_schema': {'type': 'object', 'required': ['qty'],
                           'properties': {'qty': {'type': 'integer', 'minimum': 1}}}}
    assert (xml['request_schema_type'], xml['request_schema'], xml['auth_type']) == (
        'xsd', XSD, 'application:acme')
    assert xml['parameters'][0]['schema'] == {'type': 'string', 'format': 'uuid'}
    order['request_schema']['properties'].clear()  # each description is the caller's own
    assert active_endpoints(db)[0]['request_schema']['properties']
    with Transaction.start(db) as transaction:  # inside a transaction on the database too
        assert [e['name'] for e in active_endpoints(db)] == ['order', 'xml']
        assert transaction.session.execute(select(Endpoint.name)).scalars().all()


def test_an_endpoint_can_always_be_disabled(db):
    """Even when what it names is gone (here: its application, as if its module were not
    loaded in the process that disables it)."""
    (endpoint,) = create(db, auth_type='application:acme')
    with Transaction.start(db) as transaction:
        transaction.connection.execute(update(Endpoint.__table__).values(
            auth_type='application:gone'))
    with Transaction.start(db):
        Endpoint.write([endpoint], {'active': False})
    with pytest.raises(UserError, match="No application named 'gone'"), \
            Transaction.start(db):
        Endpoint.write([endpoint], {'active': True})
