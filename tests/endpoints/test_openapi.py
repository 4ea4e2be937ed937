"""trylite.endpoints.openapi: the active endpoints of a database in its OpenAPI document, in
place of the catch-all routes serving them."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.auth.test_throttle import count
from tests.endpoints.conftest import make_endpoint
from tests.endpoints.test_models import XSD, YAML_SCHEMA
from tests.endpoints.test_serving import personal_key
from tests.helpers import bearer, forged_key, validated_key
from trylite.endpoints.models import Endpoint
from trylite.transaction import Transaction

ORDER = ("result = {'payload': {'order': request.params['order_id'], "
         "'qty': request.json['qty']}}")


def spec(client, db, key=None):
    response = client.get(f'/{db}/openapi.json', headers=bearer(key) if key else None)
    assert response.status_code == 200
    validate(response.json)
    return response.json


def test_each_active_endpoint_is_an_operation(db, client, alice):
    make_endpoint(db, name='order', route='/orders/<int:order_id>', method='POST',
                  content_type='application/json', request_schema=YAML_SCHEMA, code=ORDER,
                  auth_type='public', exec_as_user_id=alice)
    make_endpoint(db, name='xml order', route='/xml/<uuid:ref>', method='PUT',
                  content_type='application/xml', request_schema=XSD,
                  auth_type='application:acme')
    make_endpoint(db, name='mine')
    make_endpoint(db, name='off', active=False)
    doc = spec(client, db, validated_key(client, db, 'alice'))  # an acme key (no route group)
    paths = doc['paths']
    assert f'/{db}/api/endpoint/{{rest}}' not in paths and '/api/endpoint/{rest}' not in paths
    assert f'/{db}/api/endpoint/off' not in paths

    order = paths[f'/{db}/api/endpoint/orders/{{order_id}}']['post']
    assert (order['operationId'], order['summary'], order['security']) == (
        'endpoint_order', 'order', [])
    assert '`/api/endpoint/orders/{order_id}`' in order['description']
    assert order['parameters'] == [{'name': 'order_id', 'in': 'path', 'required': True,
                                    'schema': {'type': 'integer'}}]
    assert order['requestBody'] == {'required': True, 'content': {'application/json': {
        'schema': {'type': 'object', 'required': ['qty'],
                   'properties': {'qty': {'type': 'integer', 'minimum': 1}}}}}}
    assert order['responses']['default']['content']['application/json']['schema'] == {
        '$ref': '#/components/schemas/Problem'}

    xml = paths[f'/{db}/api/endpoint/xml/{{ref}}']['put']
    assert xml['operationId'] == 'endpoint_xml_order'
    assert xml['security'] == [{'application_acme': []}]
    assert xml['requestBody']['content']['application/xml']['x-xsd'] == XSD

    assert f'/{db}/api/endpoint/mine' not in paths  # acme declared no route group
    mine = spec(client, db, personal_key(db, alice))['paths'][f'/{db}/api/endpoint/mine']['get']
    assert mine['security'] == [{'key': []}, {'session': []}]
    assert 'requestBody' not in mine
    schemes = spec(client, db, personal_key(db, alice))['components']['securitySchemes']
    assert schemes['session'] == {**schemes['session'], 'type': 'apiKey', 'in': 'cookie',
                                  'name': 'trylite_session'}

    # What the document says is what is served.
    answer = client.post(f'/{db}/api/endpoint/orders/7', json={'qty': 3})
    assert answer.status_code == 200, answer.text
    assert answer.json == {'order': 7, 'qty': 3}


def test_a_change_is_in_the_next_document(db, client, alice):
    endpoint = make_endpoint(db, name='ping', auth_type='public', exec_as_user_id=alice)
    assert f'/{db}/api/endpoint/ping' in spec(client, db)['paths']
    with Transaction.start(db):
        Endpoint.write([endpoint], {'route': '/pong'})
    paths = spec(client, db)['paths']
    assert f'/{db}/api/endpoint/pong' in paths and f'/{db}/api/endpoint/ping' not in paths
    with Transaction.start(db):
        Endpoint.write([endpoint], {'active': False})
    assert f'/{db}/api/endpoint/pong' not in spec(client, db)['paths']


def test_only_what_the_caller_may_call_is_listed(db, client, alice):
    make_endpoint(db, name='open', auth_type='public', exec_as_user_id=alice)
    make_endpoint(db, name='mine')
    make_endpoint(db, name='shop', route_group='shop')
    make_endpoint(db, name='acme', auth_type='application:acme')

    def listed(key=None):
        return sorted(path.rpartition('/')[2] for path in spec(client, db, key)['paths']
                      if path.startswith(f'/{db}/api/endpoint/') and 'code-status' not in path)

    assert listed() == listed(forged_key()) == ['open']  # a wrong key: as without one
    assert listed(personal_key(db, alice)) == ['mine', 'open', 'shop']
    assert listed(validated_key(client, db, 'alice', 'shop')) == ['open', 'shop']
    assert listed(validated_key(client, db, 'alice', 'acme')) == ['acme', 'open']


def test_a_wrong_key_is_one_failure_per_document(db, client, alice):
    make_endpoint(db, name='open', auth_type='public', exec_as_user_id=alice)
    spec(client, db, forged_key())  # asked by the data API's part and the endpoints' part
    assert count(db, 'key:127.0.0.1') == 1
