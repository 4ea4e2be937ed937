"""Endpoints over HTTP (in process), on SQLite and PostgreSQL: routing, methods, content
types, bodies and schemas, authentication, the snippet's errors and time limit, access
rights, and changes live at the next request."""

from __future__ import annotations

import logging

import pytest

from tests.client import assert_json_error
from tests.endpoints.conftest import make_endpoint, url
from tests.helpers import add_to_group, bearer, validated_key
from tests.test_preferences import cookie, create_user, log_in
from trylite.auth import apikeys
from trylite.auth.persons import User
from trylite.data.models import Group
from trylite.endpoints.models import Endpoint
from trylite.preferences import SESSION_COOKIE
from trylite.transaction import Transaction
from trylite.user_application import register_application

register_application('shop', 'Shop', endpoints=('shop',))

ORDER_SCHEMA = '''
type: object
required: [qty, email]
properties:
  qty: {type: integer, minimum: 1}
  email: {type: string, format: email}
  lines:
    type: array
    items: {type: object, properties: {"a/b~c": {type: string}}}
'''
ORDER_XSD = '''<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="order"><xs:complexType><xs:sequence>
    <xs:element name="qty" type="xs:positiveInteger"/>
  </xs:sequence><xs:attribute name="id" type="xs:integer" use="required"/></xs:complexType>
  </xs:element></xs:schema>'''


def personal_key(db: str, user_id: int, scope: str = 'rpc') -> str:
    with Transaction.start(db) as transaction:
        return apikeys.create_key(transaction.session, transaction.session.get(User, user_id),
                                  'endpoints', scope, 30)


def test_a_public_endpoint_runs_as_its_person(db, client, public):
    answer = client.get(url(db, '/whoami'))
    assert answer.status_code == 200, answer.text
    assert answer.json == {'login': 'alice', 'caller': None}
    assert answer.headers['Content-Type'] == 'application/json'
    answer = client.get('/api/endpoint/whoami', headers={'X-Trylite-Database': db})
    assert answer.json == {'login': 'alice', 'caller': None}


def test_what_the_snippet_gets_of_the_request(db, client, alice):
    make_endpoint(db, name='echo', route='/echo/<int:n>/<path:rest>', method='POST',
                  content_type='application/json', auth_type='public', exec_as_user_id=alice,
                  code="result = {'payload': [request.method, request.path, request.args, "
                       "request.params, request.json, request.content_type, "
                       "request.headers.get('x-a'), request.headers.get('authorization'), "
                       "request.headers.get('cookie')], 'status_code': 201, "
                       "'headers': {'X-Answer': 'yes'}}")
    client.set_cookie('trylite_session', 'x' * 43)
    answer = client.post(url(db, '/echo/3/a/b') + '?q=1&q=2', json={'k': [1]},
                         headers={'X-A': 'b', **bearer('secret')})
    assert answer.status_code == 201 and answer.headers['X-Answer'] == 'yes'
    assert answer.json == ['POST', f'/{db}/api/endpoint/echo/3/a/b', {'q': '1'},
                           {'n': 3, 'rest': 'a/b'}, {'k': [1]}, 'application/json', 'b', None,
                           None]


def test_no_endpoint_is_404(db, client, public):
    body = assert_json_error(client.get(url(db, '/nowhere')), 404)
    assert body['description'] == 'No endpoint is served at this path.'
    assert_json_error(client.get(url('no_such_db', '/whoami')), 404)


def test_wrong_method_is_405_with_allow(db, client, alice, public):
    make_endpoint(db, name='post', route='/whoami', method='POST', content_type='text/plain',
                  auth_type='public', exec_as_user_id=alice)
    for method in ('DELETE', 'PUT', 'FOO'):
        answer = client.open(url(db, '/whoami'), method=method)
        assert_json_error(answer, 405)
        assert answer.headers['Allow'] == 'GET, HEAD, OPTIONS, POST'
    assert client.head(url(db, '/whoami')).status_code == 200


def test_the_content_type_is_parsed(db, client, alice):
    make_endpoint(db, name='take', route='/take', method='POST', content_type='text/csv',
                  auth_type='public', exec_as_user_id=alice,
                  code="result = {'payload': request.data.decode()}")
    for content_type in ('text/csv', 'text/csv; charset=utf-8', 'TEXT/CSV;header=present'):
        answer = client.post(url(db, '/take'), data='a,b', content_type=content_type)
        assert answer.json == 'a,b', content_type
    for content_type in ('text/plain', 'application/json', None):
        answer = client.post(url(db, '/take'), data='a,b', content_type=content_type)
        assert assert_json_error(answer, 415)['description'] == 'This endpoint takes text/csv ' \
            'bodies.'


def test_json_bodies_are_validated_listing_every_error(db, client, alice):
    make_endpoint(db, name='order', route='/order', method='POST',
                  content_type='application/json', request_schema=ORDER_SCHEMA,
                  auth_type='public', exec_as_user_id=alice,
                  code="result = {'payload': request.json['qty']}")
    answer = client.post(url(db, '/order'), json={'qty': 2, 'email': 'a@example.com'})
    assert answer.json == 2
    answer = client.post(url(db, '/order'), json={
        'qty': 0, 'email': 'nope', 'lines': [{'a/b~c': 1}]})
    body = assert_json_error(answer, 422)
    assert body['errors'] == [
        {'pointer': '/email', 'message': "'nope' is not a 'email'"},
        {'pointer': '/lines/0/a~1b~0c', 'message': "1 is not of type 'string'"},
        {'pointer': '/qty', 'message': '0 is less than the minimum of 1'}]
    assert assert_json_error(client.post(url(db, '/order'), json=[]), 422)['errors'] == [
        {'pointer': '', 'message': "[] is not of type 'object'"}]
    answer = client.post(url(db, '/order'), data='{"qty": ', content_type='application/json')
    assert assert_json_error(answer, 400)['description'] == 'The body is not valid JSON.'


def test_xml_bodies_are_parsed_safely_and_validated(db, client, alice):
    make_endpoint(db, name='xml', route='/xml', method='POST', content_type='application/xml',
                  request_schema=ORDER_XSD, auth_type='public', exec_as_user_id=alice,
                  code="result = {'payload': [request.xml.tag, request.xml.get('id'), "
                       "request.xml.findtext('qty')]}")
    answer = client.post(url(db, '/xml'), data='<order id="7"><qty>3</qty></order>',
                         content_type='application/xml; charset=utf-8')
    assert answer.json == ['order', '7', '3']
    answer = client.post(url(db, '/xml'), data='<order id="x"><qty>-1</qty><no/></order>',
                         content_type='application/xml')
    errors = assert_json_error(answer, 422)['errors']
    assert [error['path'] for error in errors] == ['/order', '/order/qty', '/order']
    assert 'value must be positive' in errors[1]['message']
    for body, message in (
            ('<!DOCTYPE order [<!ENTITY x "y">]><order id="1"><qty>&x;</qty></order>',
             'XML bodies may not declare a DTD or entities.'),
            ('<order id="1">', 'The body is not well-formed XML')):
        answer = client.post(url(db, '/xml'), data=body, content_type='application/xml')
        assert assert_json_error(answer, 400)['description'].startswith(message)


def test_user_endpoints_need_a_key_or_a_session(db, client, alice, settings):
    settings(throttle={'max_failures': 3})
    make_endpoint(db, route_group='shop')
    for headers in ({}, bearer('trylitepk_000000000000_x'), {'Authorization': 'Basic eDp5'}):
        answer = client.get(url(db, '/whoami'), headers=headers)
        assert_json_error(answer, 401)
        assert answer.headers['WWW-Authenticate'] == 'Bearer realm="trylite"'
    assert_json_error(client.get(url(db, '/whoami')), 429)  # throttled like every failure
    settings(throttle={'max_failures': 100})
    key = personal_key(db, alice)
    assert client.get(url(db, '/whoami'), headers=bearer(key)).json == {
        'login': 'alice', 'caller': 'alice'}
    assert client.get(url(db, '/whoami'), headers=bearer(validated_key(
        client, db, 'alice', 'shop'))).json['login'] == 'alice'
    answer = client.get(url(db, '/whoami'), headers=bearer(validated_key(client, db, 'alice')))
    assert 'applications that declared its route group' in assert_json_error(
        answer, 401)['description']  # acme declared no route group
    log_in(client, db)
    client.set_cookie(SESSION_COOKIE, cookie(client, db, SESSION_COOKIE), path=url(db, '/'))
    assert client.get(url(db, '/whoami')).json['login'] == 'alice'


def test_application_endpoints_take_that_applications_keys_only(db, client, alice):
    make_endpoint(db, auth_type='application:acme')
    assert client.get(url(db, '/whoami'), headers=bearer(validated_key(
        client, db, 'alice'))).json['caller'] == 'alice'
    for key in (validated_key(client, db, 'alice', 'shop'), personal_key(db, alice)):
        assert_json_error(client.get(url(db, '/whoami'), headers=bearer(key)), 401)


def test_the_snippet_runs_under_the_persons_rights_and_the_keys_scope(db, client, alice):
    add_to_group(db, alice, 'admin')
    make_endpoint(db, name='make', route='/groups', method='POST',
                  content_type='application/json',
                  code="ids = env['res.group'].create({'name': request.json['name']})\n"
                       "result = {'payload': ids, 'status_code': 201}")
    answer = client.post(url(db, '/groups'), json={'name': 'sales'},
                         headers=bearer(personal_key(db, alice)))
    assert answer.status_code == 201, answer.text
    answer = client.post(url(db, '/groups'), json={'name': 'other'},
                         headers=bearer(personal_key(db, alice, 'read')))
    assert 'may only read' in assert_json_error(answer, 403)['description']
    bob = create_user(db, 'bob')
    make_endpoint(db, name='list', route='/endpoints', auth_type='public', exec_as_user_id=bob,
                  code="result = {'payload': env['endpoint.endpoint'].search([])}")
    assert "may not read records of 'endpoint.endpoint'" in assert_json_error(
        client.get(url(db, '/endpoints')), 403)['description']
    with Transaction.start(db):
        assert Endpoint.search_count([]) == 2
        assert [g['name'] for g in Group.search_read([], ['name'], order='name')] == [
            'admin', 'sales']


def test_get_endpoints_run_read_only(db, client, alice, caplog):
    add_to_group(db, alice, 'admin')
    make_endpoint(db, name='sneaky', auth_type='public', exec_as_user_id=alice,
                  code="env['res.group'].create({'name': 'x'})\nresult = {}")
    assert_json_error(client.get(url(db, '/sneaky')), 500)
    assert "endpoint 'sneaky' failed: res.group.create writes, and GET endpoints run " \
           "read-only" in caplog.text


@pytest.mark.parametrize('code, status, message', [
    ("raise UserError('Closed', 'The order is closed.')", 400, 'Closed'),
    ("raise BadRequest('Which order?')", 400, 'Bad Request'),
    ("raise Unauthorized('Who are you?')", 401, 'Unauthorized'),
    ("raise Forbidden('Not yours.')", 403, 'Forbidden'),
    ("raise NotFound('No such order.')", 404, 'Not Found'),
    ("raise Conflict('Taken.')", 409, 'Conflict'),
])
def test_errors_a_snippet_raises(db, client, public, code, status, message):
    with Transaction.start(db):
        Endpoint.write([public], {'code': code})
    body = assert_json_error(client.get(url(db, '/whoami')), status)
    assert body['message'] == message


def test_a_failing_snippet_answers_500_without_detail_and_is_logged(db, client, public,
                                                                    caplog):
    with Transaction.start(db):
        Endpoint.write([public], {'code': "secret = 'hunter2'\nresult = {'payload': 1 / 0}"})
    body = assert_json_error(client.get(url(db, '/whoami')), 500)
    assert body == {'status': 500, 'message': 'Internal Server Error'}
    assert 'hunter2' not in client.get(url(db, '/whoami')).text
    (record, *_) = [r for r in caplog.records if r.name == 'trylite.endpoints']
    assert record.levelno == logging.ERROR
    assert record.getMessage() == ("endpoint 'whoami' failed: ZeroDivisionError: division by "
                                   "zero\n  line 2")


def test_a_runaway_snippet_is_stopped_and_the_worker_serves_on(db, client, public, settings,
                                                               caplog):
    settings(endpoint={'timeout': 0.5})
    with Transaction.start(db):
        Endpoint.write([public], {'code': 'while True:\n    pass'})
    body = assert_json_error(client.get(url(db, '/whoami')), 504)
    assert body['description'] == 'The endpoint took too long to answer.'
    assert "endpoint 'whoami' ran longer than [endpoint] timeout (0.5 s)" in caplog.text
    with Transaction.start(db):
        Endpoint.write([public], {'code': "result = {'payload': 'still here'}"})
    assert client.get(url(db, '/whoami')).json == 'still here'


def test_log_messages_name_the_endpoint(db, client, public, caplog):
    caplog.set_level(logging.INFO, 'trylite.endpoints')
    with Transaction.start(db):
        Endpoint.write([public], {'code': "log('hello', 'warning')\nresult = {}"})
    assert client.get(url(db, '/whoami')).status_code == 200
    assert [(r.levelname, r.getMessage()) for r in caplog.records
            if r.name == 'trylite.endpoints'] == [('WARNING', "endpoint 'whoami': hello")]


def test_changes_are_served_at_the_next_request(db, client, public):
    assert client.get(url(db, '/whoami')).status_code == 200
    with Transaction.start(db):
        Endpoint.write([public], {'route': '/me'})
    assert client.get(url(db, '/whoami')).status_code == 404
    assert client.get(url(db, '/me')).status_code == 200
    with Transaction.start(db):
        Endpoint.write([public], {'active': False})
    assert client.get(url(db, '/me')).status_code == 404
    with Transaction.start(db):
        Endpoint.write([public], {'active': True, 'code': "result = {'payload': 2}"})
    assert client.get(url(db, '/me')).json == 2
    with Transaction.start(db):
        Endpoint.unlink([public])
    assert client.get(url(db, '/me')).status_code == 404
