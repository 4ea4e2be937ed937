"""Odoo's RPC services over XML-RPC (``/xmlrpc/2/<service>``, ``/xmlrpc/<service>``) and
JSON-RPC (``/jsonrpc``), in process, on SQLite and PostgreSQL: logins, calls, values on the
wire, faults with HTTP 200, and hostile bodies."""

from __future__ import annotations

import time
import xmlrpc.client

import pytest
from sqlalchemy import select

from tests.helpers import PASSWORD
from tests.protocols.odoo_fixtures import (
    PARTNERS,
    assert_jsonrpc_error,
    crew_fixture,  # noqa: F401  (fixture)
    jsonrpc,
    partner_names,
    xmlrpc_answer,
    xmlrpc_call,
)
from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)
from tests.test_wrappers import post_chunked
from trylite.auth.persons import User
from trylite.protocols.odoo import wire
from trylite.transaction import Transaction

PATHS = ['/xmlrpc/2/', '/xmlrpc/']


def fault(client, path: str, method: str, *args) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as raised:
        xmlrpc_call(client, path, method, *args)
    assert 'Traceback' not in raised.value.faultString
    return raised.value


def test_common_service(client, crew):
    for base in PATHS:
        version = xmlrpc_call(client, base + 'common', 'version')
        assert version['server_version'] == '19.0' and version['server_serie'] == '19.0'
        assert version['server_version_info'][:2] == [19, 0]
        assert version['protocol_version'] == 1 and version['trylite_version']
        assert xmlrpc_call(client, base + 'db', 'server_version') == '19.0'
    base = PATHS[0]
    assert xmlrpc_call(client, base + 'common', 'login', crew.db, 'reader', PASSWORD) == \
        crew.reader
    assert xmlrpc_call(client, base + 'common', 'authenticate', crew.db, 'boss', PASSWORD,
                       {}) == crew.boss
    assert xmlrpc_call(client, base + 'common', 'login', crew.db, 'boss',
                       crew.keys['boss']) == crew.boss  # a personal key for a password
    for login, password in (('boss', 'wrong'), ('ghost', PASSWORD), ('reader',
                                                                     crew.keys['boss'])):
        assert xmlrpc_call(client, base + 'common', 'login', crew.db, login, password) is False


def test_object_service(client, crew):
    def call(*args, uid=crew.reader, password=PASSWORD):
        return xmlrpc_call(client, '/xmlrpc/2/object', 'execute_kw', crew.db, uid, password,
                           'test.partner', *args)

    assert call('search', [[['age', '>', 35]]], {'offset': 1, 'limit': 5}) == crew.partners[2:]
    assert call('search', [[]], {'limit': False, 'order': False}) == crew.partners
    new = call('create', [{'name': 'Dan', 'seen': '2024-01-02 03:04:05',
                           'photo': xmlrpc.client.Binary(b'\x00\x01png')}])
    assert isinstance(new, int)   # one dict: its id, as Odoo answers
    assert call('create', [[{'name': 'Eve'}]]).__class__ is list
    (record,) = call('read', [[new]], {'fields': ['name', 'seen', 'photo', 'age', 'country_id',
                                                  'balance', 'birthday']})
    assert record == {'id': new, 'name': 'Dan', 'seen': '2024-01-02 03:04:05',
                      'photo': 'AAFwbmc=', 'age': False, 'country_id': False,
                      'balance': False, 'birthday': False, 'display_name': 'Dan'}
    # a dateTime value becomes Odoo's timestamp text
    assert call('write', [[new], {'seen': xmlrpc.client.DateTime('20250607T08:09:10')}]) is True
    assert call('read', [[new], ['seen']])[0]['seen'] == '2025-06-07 08:09:10'
    assert xmlrpc_call(client, '/xmlrpc/object', 'execute', crew.db, crew.reader, PASSWORD,
                       'test.partner', 'search_count', [['name', '=', 'Dan']]) == 1
    assert call('search_read', [[['id', '=', new]], ['name']],
                {'context': {'active_test': False, '_request': 'x'}}) == [
        {'id': new, 'name': 'Dan', 'display_name': 'Dan'}]
    assert call('unlink', [[new]]) is True
    assert call('fields_get', [], {'attributes': ['type']})['age'] == {'type': 'integer'}
    assert call('check_access_rights', ['unlink'], {'raise_exception': False}) is True
    ctx = xmlrpc_call(client, '/xmlrpc/2/object', 'execute_kw', crew.db, crew.reader,
                      crew.keys['reader'], 'res.users', 'context_get', [])
    assert ctx == {'lang': 'en_US', 'tz': 'UTC', 'uid': crew.reader}


@pytest.mark.parametrize('base', PATHS)
def test_faults_name_the_kind(client, crew, base):
    path = base + 'object'
    refused = fault(client, path, 'execute_kw', crew.db, crew.nobody, PASSWORD,
                    'test.partner', 'search_read', [[]], {'fields': ['name']})
    assert refused.faultCode.startswith('warning -- AccessError\n\n')
    assert refused.faultString == "You may not read records of 'test.partner'."
    for name, _age in PARTNERS:
        assert name not in refused.faultCode
    denied = fault(client, path, 'execute_kw', crew.db, crew.reader, 'wrong', 'test.partner',
                   'search', [[]])
    assert denied.faultCode == 'AccessDenied'
    assert fault(client, path, 'execute_kw', crew.db, False, PASSWORD, 'test.partner',
                 'search', [[]]).faultCode == 'AccessDenied'
    huge_uid = xmlrpc.client.dumps((crew.db, 12345, PASSWORD, 'test.partner', 'search', [[]]),
                                   'execute_kw').replace('12345', '9' * 30)
    with pytest.raises(xmlrpc.client.Fault, match='AccessDenied'):
        xmlrpc_answer(client.post(path, data=huge_uid, content_type='text/xml'))
    read_only = fault(client, path, 'execute_kw', crew.db, crew.reader, crew.read_key,
                      'test.partner', 'create', [{'name': 'x'}])
    assert 'AccessError' in read_only.faultCode
    user_error = fault(client, path, 'execute_kw', crew.db, crew.reader, PASSWORD,
                       'test.partner', 'search', [[['nope', '=', 1]]])
    assert user_error.faultCode.startswith('warning -- UserError')
    assert "no field 'nope'" in user_error.faultString
    for model, method in (('no.such', 'search'), ('test.partner', 'nope'),
                          ('test.partner', '_where')):
        assert 'NotFound' in fault(client, path, 'execute_kw', crew.db, crew.reader, PASSWORD,
                                   model, method, [[]]).faultCode
    unbound = fault(client, path, 'execute_kw', crew.db, crew.reader, PASSWORD,
                    'test.partner', 'search', [[]], {'nope': 1})
    assert 'UnprocessableEntity' in unbound.faultCode
    for args in ((crew.db, crew.reader, PASSWORD, 'test.partner', 'search', 'not a list'),
                 (crew.db, crew.reader, PASSWORD, 'test.partner', 'search', [], [1])):
        assert 'UnprocessableEntity' in fault(client, path, 'execute_kw', *args).faultCode
    assert partner_names(crew.db) == [name for name, _age in PARTNERS]


def test_unknown_services_methods_and_arguments(client, crew):
    assert 'NotFound' in fault(client, '/xmlrpc/2/nope', 'version').faultCode
    assert 'NotFound' in fault(client, '/xmlrpc/2/common', 'nope').faultCode
    assert 'NotFound' in fault(client, '/xmlrpc/2/db', 'drop', 'x', crew.db).faultCode
    assert 'UnprocessableEntity' in fault(client, '/xmlrpc/2/common', 'login').faultCode
    assert 'UnprocessableEntity' in fault(client, '/xmlrpc/2/common', 'version', 1).faultCode
    assert 'NotFound' in fault(client, '/xmlrpc/2/common', 'login', 'no_such_db', 'a',
                               'b').faultCode
    assert 'UnprocessableEntity' in fault(client, '/xmlrpc/2/common', 'login', 5, 'a',
                                          'b').faultCode
    answer = client.get('/xmlrpc/2/common')
    with pytest.raises(xmlrpc.client.Fault, match='MethodNotAllowed'):
        xmlrpc_answer(answer)


def test_db_list_follows_the_setting(client, crew, settings):
    assert 'AccessError' in fault(client, '/xmlrpc/2/db', 'list').faultCode
    settings(web={'list_databases': True})
    assert crew.db in xmlrpc_call(client, '/xmlrpc/2/db', 'list')
    settings(web={'list_databases': True, 'dbfilter': '^nothing$'})
    assert xmlrpc_call(client, '/xmlrpc/2/db', 'list') == []


def test_answers_as_odoo_marshals_them():
    def back(value):
        (result,), _ = xmlrpc.client.loads(wire.dump_result(value).encode())
        return result

    import datetime
    import decimal
    assert back(None) is False
    assert back({'a': None, 3: 'x'}) == {'a': False, '3': 'x'}
    assert back(2**40) == 2**40 and back(-2**31) == -2**31 and back(2**70) == float(2**70)
    assert back(datetime.datetime(2024, 1, 2, 3, 4, 5)) == '2024-01-02 03:04:05'
    assert back(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2)))) == '2024-01-02 01:04:05'
    assert back(datetime.date(2024, 1, 2)) == '2024-01-02'
    assert back(b'\x00\xff') == 'AP8=' and back(decimal.Decimal('1.5')) == 1.5
    assert back({1, 2}) in ([1, 2], [2, 1]) and back(('a',)) == ['a']
    assert back('bell\x07 and \udc80') == 'bell\ufffd and \ufffd'


BILLION_LAUGHS = b'''<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>login</methodName><params><param><value><string>&lol9;</string>
</value></param></params></methodCall>'''
EXTERNAL = b'''<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>version</methodName><params><param><value>&e;</value></param>
</params></methodCall>'''


@pytest.mark.parametrize('body', [
    BILLION_LAUGHS, EXTERNAL,
    b'<methodCall><methodName>version</methodName>',                       # cut short
    b'not xml at all', b'', b'\xff\xfe<',
    b'<methodResponse><params></params></methodResponse>',                 # not a call
    b'<methodCall><methodName>version</methodName><params><param><value><int>'
    + b'9' * 5000 + b'</int></value></param></params></methodCall>',        # huge int
    b'<methodCall><methodName>version</methodName><params><param><value><dateTime.iso8601>'
    b'nonsense</dateTime.iso8601></value></param></params></methodCall>',
    b'<methodCall><methodName>version</methodName><params><param><value><double>1,5'
    b'</double></value></param></params></methodCall>',
    b'<methodCall><methodName>version</methodName><params><param>'
    + b'<value><array><data>' * 100 + b'</data></array></value>' * 100
    + b'</param></params></methodCall>',                                   # too deep
], ids=['billion-laughs', 'external-entity', 'cut', 'not-xml', 'empty', 'bad-bytes',
        'response', 'huge-int', 'bad-date', 'bad-double', 'too-deep'])
def test_hostile_or_malformed_xml_is_a_fault_at_once(client, body):
    started = time.monotonic()
    answer = client.post('/xmlrpc/2/common', data=body, content_type='text/xml')
    with pytest.raises(xmlrpc.client.Fault) as raised:
        xmlrpc_answer(answer)
    assert time.monotonic() - started < 1
    assert raised.value.faultCode.startswith('warning -- BadRequest')
    assert 'root:' not in answer.text


def test_large_bodies_are_refused(client, crew, settings):
    settings(request={'max_size': 1000})
    body = xmlrpc.client.dumps(('x' * 2000,), 'version').encode()
    with pytest.raises(xmlrpc.client.Fault, match='RequestEntityTooLarge'):
        xmlrpc_answer(client.post('/xmlrpc/2/common', data=body, content_type='text/xml'))
    chunked = post_chunked(client, '/xmlrpc/2/common', [body[:500], body[500:]])
    with pytest.raises(xmlrpc.client.Fault, match='RequestEntityTooLarge'):
        xmlrpc_answer(chunked)


def test_a_verified_password_is_remembered_until_it_changes(client, crew):
    def search(password):
        return xmlrpc_call(client, '/xmlrpc/2/object', 'execute_kw', crew.db, crew.reader,
                           password, 'test.partner', 'search_count', [[]])

    assert search(PASSWORD) == 3
    assert search(PASSWORD) == 3
    with Transaction.start(crew.db) as transaction:
        user = transaction.session.scalars(select(User).where(User.id == crew.reader)).one()
        user.set_password('a brand new password')
    with pytest.raises(xmlrpc.client.Fault, match='AccessDenied'):
        search(PASSWORD)
    assert search('a brand new password') == 3
    with Transaction.start(crew.db) as transaction:
        transaction.session.get(User, crew.reader).active = False
    with pytest.raises(xmlrpc.client.Fault, match='AccessDenied'):
        search('a brand new password')


def test_logins_are_throttled(client, crew, settings):
    settings(throttle={'max_failures': 2})
    for _ in range(2):
        assert xmlrpc_call(client, '/xmlrpc/2/common', 'login', crew.db, 'reader', 'no') is False
    throttled = fault(client, '/xmlrpc/2/common', 'login', crew.db, 'reader', PASSWORD)
    assert throttled.faultCode == 'AccessDenied' and 'try again' in throttled.faultString


def test_jsonrpc_services(client, crew):
    def call(service, method, *args, call_id=7):
        return jsonrpc(client, '/jsonrpc', {'service': service, 'method': method,
                                            'args': list(args)}, call_id)

    assert call('common', 'version')['result']['server_version'] == '19.0'
    answer = call('common', 'login', crew.db, 'reader', PASSWORD, call_id='abc')
    assert answer == {'jsonrpc': '2.0', 'id': 'abc', 'result': crew.reader}
    assert call('common', 'login', crew.db, 'reader', 'nope')['result'] is False
    found = call('object', 'execute_kw', crew.db, crew.reader, PASSWORD, 'test.partner',
                 'search_read', [[['age', '=', 30]]], {'fields': ['name', 'notes']})
    assert found['result'] == [{'id': crew.partners[0], 'name': 'Alice', 'notes': None or False,
                                'display_name': 'Alice'}]
    new = call('object', 'execute', crew.db, crew.reader, PASSWORD, 'test.partner', 'create',
               {'name': 'Dan'})['result']
    assert isinstance(new, int)
    classic = call('object', 'execute_kw', crew.db, crew.reader, PASSWORD, 'test.partner',
                   'read', [crew.partners[:1], ['country_id']], {'load': '_classic_write'})
    assert classic['result'][0]['country_id'] == crew.country
    refused = call('object', 'execute_kw', crew.db, crew.nobody, PASSWORD, 'test.partner',
                   'search_read', [[]])
    assert 'test.partner' in assert_jsonrpc_error(refused, 'odoo.exceptions.AccessError')
    assert refused['id'] == 7
    assert_jsonrpc_error(call('object', 'execute_kw', crew.db, crew.reader, 'bad',
                              'test.partner', 'search', [[]]), 'odoo.exceptions.AccessDenied')
    assert_jsonrpc_error(call('nope', 'version'), 'werkzeug.exceptions.NotFound', 404)
    assert_jsonrpc_error(call('common', 'login'),
                         'werkzeug.exceptions.UnprocessableEntity')


@pytest.mark.parametrize('body', [
    '{"jsonrpc": "2.0", "params": ', '[]', '"x"', '{"params": []}',
    '{"params": {"service": "common", "method": "version", "args": "x"}}',
    '{"params": {"service": 1, "method": "version"}}',
    '{"id": {"a": 1}, "params": {"service": "common", "method": "version", "args": 5}}',
])
def test_malformed_jsonrpc_calls(client, body):
    answer = client.post('/jsonrpc', data=body, content_type='application/json')
    assert answer.status_code == 200
    assert answer.json['error']['code'] in (200, 404)
    assert answer.json['id'] is None
    assert 'Traceback' not in answer.text
    wrong_type = client.post('/jsonrpc', data='{}', content_type='text/plain')
    assert_jsonrpc_error(wrong_type.json, 'werkzeug.exceptions.UnsupportedMediaType')
