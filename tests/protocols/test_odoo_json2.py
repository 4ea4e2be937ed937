"""Odoo 19's JSON-2 at the host root (in process), on SQLite and PostgreSQL: calls, keys,
scopes, the database, every error with its status and Odoo's error object, and the model
documents of /doc-bearer."""

from __future__ import annotations

import pytest

from tests.helpers import mistyped, request_key, validate
from tests.protocols.odoo_fixtures import (
    PARTNERS,
    crew_fixture,  # noqa: F401  (fixture)
    json2,
    partner_names,
)
from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)
from trylite.auth.keys import register_application
from trylite.data.dispatch import execute
from trylite.protocols.odoo import calls
from trylite.protocols.odoo.json2 import HINT
from trylite.transaction import Transaction

register_application('odoo-partners', 'Partners over JSON-2',
                     scopes={'test.partner': 'rw'})

ODOO_ERROR_KEYS = {'name', 'message', 'arguments', 'context', 'debug'}


def error(response, status: int, name: str) -> str:
    """The message of a JSON-2 error answer, checked: status, Odoo's shape, no leak."""
    assert response.status_code == status, response.text
    assert response.headers['Content-Type'] == 'application/json'
    body = response.json
    assert set(body) == ODOO_ERROR_KEYS
    assert body['name'] == name
    assert body['arguments'] == [body['message'], status]
    assert body['context'] == {} and body['debug'] == ''
    for leak in ('Traceback', 'SELECT', 'File "', 'trylitepk_'):
        assert leak not in response.text
    return body['message']


def test_context_get_is_everyone_s_login_check(client, crew):
    for login, uid in (('boss', crew.boss), ('reader', crew.reader), ('nobody', crew.nobody)):
        answer = json2(client, crew.db, crew.keys[login], 'res.users', 'context_get')
        assert answer.status_code == 200, answer.text
        assert answer.json == {'lang': 'en_US', 'tz': 'UTC', 'uid': uid}
    answer = json2(client, crew.db, crew.read_key, 'res.users', 'context_get',
                   {'context': {'lang': 'fr_FR', 'uid': 99}})
    assert answer.json['uid'] == crew.reader


def test_calls_as_odoo_s_documentation_shows(client, crew):
    key = crew.keys['reader']
    found = json2(client, crew.db, key, 'test.partner', 'search_read', {
        'domain': [['age', '>=', 40]], 'fields': ['name', 'country_id'], 'order': 'age desc',
        'context': {'lang': 'en_US'}}, **{'Content-Type': 'application/json; charset=utf-8'})
    assert found.status_code == 200
    assert found.json == [
        {'id': crew.partners[2], 'name': 'Carol', 'country_id': [crew.country, 'Belgium'],
         'display_name': 'Carol'},
        {'id': crew.partners[1], 'name': 'Bob', 'country_id': [crew.country, 'Belgium'],
         'display_name': 'Bob'}]
    count = json2(client, crew.db, key, 'test.partner', 'search_count', {'domain': []})
    assert count.json == 3
    made = json2(client, crew.db, key, 'test.partner', 'create',
                 {'vals_list': {'name': 'Dan', 'birthday': '2000-01-02'}})  # one dict
    assert made.status_code == 200 and len(made.json) == 1
    made_two = json2(client, crew.db, key, 'test.partner', 'create',
                     {'vals_list': [{'name': 'Eve'}, {'name': 'Fay'}]})
    assert len(made_two.json) == 2
    (dan,) = made.json
    assert json2(client, crew.db, key, 'test.partner', 'write',
                 {'ids': [dan], 'vals': {'age': 20}}).json is True
    read = json2(client, crew.db, key, 'test.partner', 'read',
                 {'ids': [dan], 'fields': ['age', 'birthday', 'notes']})
    assert read.json == [{'id': dan, 'age': 20, 'birthday': '2000-01-02', 'notes': False,
                          'display_name': 'Dan'}]
    assert json2(client, crew.db, key, 'test.partner', 'total_age',
                 {'ids': [dan, *crew.partners]}).json == 140
    assert json2(client, crew.db, key, 'test.partner', 'unlink',
                 {'ids': [dan, *made_two.json]}).json is True
    assert partner_names(crew.db) == [name for name, _age in PARTNERS]


@pytest.mark.parametrize('scheme', ['bearer', 'Bearer', 'BEARER'])
def test_bearer_in_any_case(client, crew, scheme):
    answer = json2(client, crew.db, None, 'test.partner', 'search_count', {'domain': []},
                   Authorization=f'{scheme} {crew.keys["boss"]}')
    assert answer.json == 3


def test_bad_keys_are_401(client, crew):
    for key in (None, 'nonsense', mistyped(crew.keys['boss']), 'trylitepk_' + 'a' * 12):
        answer = json2(client, crew.db, key, 'test.partner', 'search_count', {'domain': []})
        error(answer, 401, 'werkzeug.exceptions.Unauthorized')
        assert answer.headers['WWW-Authenticate'] == 'Bearer realm="trylite"'
    basic = json2(client, crew.db, None, 'res.users', 'context_get',
                  Authorization='Basic Ym9zczpwYXNzd29yZA==')
    error(basic, 401, 'werkzeug.exceptions.Unauthorized')


def test_a_person_without_rights_gets_403_and_no_row(client, crew):
    before = partner_names(crew.db)
    key = crew.keys['nobody']
    for method, body in (('search_read', {'domain': [], 'fields': ['name']}),
                         ('read', {'ids': crew.partners, 'fields': ['name']}),
                         ('search_count', {'domain': []}),
                         ('create', {'vals_list': {'name': 'intruder'}}),
                         ('write', {'ids': crew.partners, 'vals': {'name': 'x'}}),
                         ('unlink', {'ids': crew.partners})):
        answer = json2(client, crew.db, key, 'test.partner', method, body)
        message = error(answer, 403, 'odoo.exceptions.AccessError')
        assert 'test.partner' in message
        for name, _age in PARTNERS:
            assert name not in answer.text
    assert partner_names(crew.db) == before


def test_read_only_keys_and_application_scopes(client, crew):
    read_only = crew.read_key
    assert json2(client, crew.db, read_only, 'test.partner', 'search_count',
                 {'domain': []}).json == 3
    error(json2(client, crew.db, read_only, 'test.partner', 'create',
                {'vals_list': {'name': 'no'}}), 403, 'odoo.exceptions.AccessError')
    app_key = request_key(client, crew.db, 'reader', 'odoo-partners')
    validate(crew.db, app_key)
    assert json2(client, crew.db, app_key, 'res.users', 'context_get').json['uid'] == crew.reader
    assert json2(client, crew.db, app_key, 'test.partner', 'create',
                 {'vals_list': {'name': 'by app'}}).status_code == 200
    message = error(json2(client, crew.db, app_key, 'test.country', 'search', {'domain': []}),
                    403, 'odoo.exceptions.AccessError')
    assert 'may not reach' in message
    error(json2(client, crew.db, app_key, 'res.users', 'search', {'domain': []}), 403,
          'odoo.exceptions.AccessError')  # context_get only: the scope still holds


def test_unknown_models_methods_verbs_and_paths_are_404(client, crew):
    key = crew.keys['boss']
    assert 'does not exist' in error(json2(client, crew.db, key, 'no.such', 'search', {}),
                                     404, 'werkzeug.exceptions.NotFound')
    for method in ('nope', '_where', 'not_marked', '__init__'):
        error(json2(client, crew.db, key, 'test.partner', method, {}), 404,
              'werkzeug.exceptions.NotFound')
    headers = {'Authorization': f'Bearer {key}', 'X-Odoo-Database': crew.db}
    for verb, path in (('GET', '/json/2/test.partner/search'),
                       ('PUT', '/json/2/test.partner/search'),
                       ('DELETE', '/json/2/test.partner/search'),
                       ('POST', '/json/2'), ('GET', '/json/2/'),
                       ('POST', '/json/2/test.partner'), ('POST', '/json/2/a/b/c')):
        answer = client.open(path, method=verb, headers=headers, json={})
        assert error(answer, 404, 'werkzeug.exceptions.NotFound') == HINT


@pytest.mark.parametrize('method, body', [
    ('create', {'ids': [1], 'vals_list': {'name': 'x'}}),   # ids to a model-level method
    ('search', {'ids': [1], 'domain': []}),
    ('search', {'domain': [], 'nope': 1}),                  # does not bind
    ('write', {'vals': {'name': 'x'}}),                     # no ids
    ('read', {'ids': [1], 'fields': ['name'], 'extra': True}),
])
def test_arguments_that_do_not_bind_are_422(client, crew, method, body):
    error(json2(client, crew.db, crew.keys['boss'], 'test.partner', method, body), 422,
          'werkzeug.exceptions.UnprocessableEntity')


def test_mistakes_in_values_are_400(client, crew):
    key = crew.keys['boss']
    for method, body in (('search', {'domain': [['nope', '=', 1]]}),
                         ('search', {'domain': 'not a domain'}),
                         ('create', {'vals_list': {'age': 'old'}}),
                         ('read', {'ids': [999999], 'fields': ['name']}),
                         ('search', {'domain': [], 'offset': 2**80})):
        error(json2(client, crew.db, key, 'test.partner', method, body), 400,
              'odoo.exceptions.UserError')


def test_bad_bodies(client, crew):
    headers = {'Authorization': f'Bearer {crew.keys["boss"]}', 'X-Odoo-Database': crew.db}
    url = '/json/2/test.partner/search'
    for data, content_type in (('{"domain": [', 'application/json'),
                               ('[1, 2]', 'application/json'),
                               ('"text"', 'application/json'),
                               ('', 'application/json'),
                               (b'\xff\xfe', 'application/json')):
        answer = client.post(url, data=data, content_type=content_type, headers=headers)
        error(answer, 400, 'werkzeug.exceptions.BadRequest')
    answer = client.post(url, data='domain=[]', headers=headers,
                         content_type='application/x-www-form-urlencoded')
    error(answer, 415, 'werkzeug.exceptions.UnsupportedMediaType')
    error(json2(client, crew.db, crew.keys['boss'], 'test.partner', 'search',
                {'domain': [], 'context': 'fr'}), 422, 'werkzeug.exceptions.UnprocessableEntity')
    big = client.post(url, data='{"domain": []' + ' ' * 3_000_000 + '}', headers=headers,
                      content_type='application/json')
    error(big, 413, 'werkzeug.exceptions.RequestEntityTooLarge')


def test_which_database(client, crew, settings):
    key = crew.keys['boss']
    answer = json2(client, 'no_such_db', key, 'res.users', 'context_get')
    error(answer, 404, 'werkzeug.exceptions.NotFound')
    synonym = json2(client, crew.db, key, 'res.users', 'context_get',
                    **{'X-Odoo-Database': '', 'X-Trylite-Database': crew.db})
    assert synonym.json['uid'] == crew.boss
    settings(web={'dbfilter': f'^{crew.db}$'})
    answer = client.post('/json/2/res.users/context_get', json={},
                         headers={'Authorization': f'Bearer {key}'})
    assert answer.json['uid'] == crew.boss


def test_debug_is_empty_unless_the_setting_says(client, crew, settings, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError('boom')

    monkeypatch.setattr(calls, 'execute_as', broken)
    answer = json2(client, crew.db, crew.keys['boss'], 'test.partner', 'search', {})
    assert error(answer, 500, 'werkzeug.exceptions.InternalServerError')
    assert 'boom' not in answer.text
    settings(web={'debug': True})
    answer = json2(client, crew.db, crew.keys['boss'], 'test.partner', 'search', {})
    assert answer.status_code == 500 and 'RuntimeError: boom' in answer.json['debug']


def test_doc_bearer_describes_public_methods(client, crew):
    headers = {'Authorization': f'Bearer {crew.keys["reader"]}', 'X-Odoo-Database': crew.db}
    answer = client.get('/doc-bearer/test.partner.json', headers=headers)
    assert answer.status_code == 200, answer.text
    doc = answer.json
    assert doc['model'] == 'test.partner' and doc['name'] == 'A partner.'
    assert doc['fields']['name']['type'] == 'char' and doc['fields']['name']['name'] == 'name'
    assert 'secret_note' not in doc['fields']
    methods = doc['methods']
    assert {'search', 'search_read', 'read', 'create', 'write', 'unlink', 'fields_get',
            'total_age', 'rename_all'} <= set(methods)
    assert 'not_marked' not in methods and '_where' not in methods
    assert list(methods['search_read']['parameters']) == ['domain', 'fields', 'offset',
                                                          'limit', 'order']
    assert 'model' in methods['search_read']['api'] and 'readonly' in methods['search']['api']
    assert list(methods['read']['parameters']) == ['fields', 'load']   # ids go apart
    assert 'model' not in methods['write']['api']
    assert list(methods['write']['parameters']) == ['vals']
    assert list(methods['create']['parameters']) == ['vals_list']
    assert methods['total_age']['api'] == ['readonly']
    users = client.get('/doc-bearer/res.users.json', headers=headers).json
    assert users['methods']['context_get']['api'] == ['model', 'readonly']
    execute(crew.db, 0, 'ir.model', 'create', [{'name': 'Thing', 'model': 'x_thing'}])
    headers['Authorization'] = f'Bearer {crew.keys["boss"]}'
    thing = client.get('/doc-bearer/x_thing.json', headers=headers).json
    assert thing['name'] == 'x_thing' and 'write_date' in thing['fields']
    assert list(thing['methods']['search_read']['parameters']) == [
        'domain', 'fields', 'offset', 'limit', 'order']
    assert list(thing['methods']['read']['parameters']) == ['fields']


def test_doc_bearer_errors_have_a_body(client, crew):
    headers = {'Authorization': f'Bearer {crew.keys["nobody"]}', 'X-Odoo-Database': crew.db}
    error(client.get('/doc-bearer/test.partner.json', headers=headers), 403,
          'odoo.exceptions.AccessError')
    error(client.get('/doc-bearer/res.device.json', headers=headers), 404,
          'werkzeug.exceptions.NotFound')
    error(client.get('/doc-bearer/res.device.json', headers={'X-Odoo-Database': crew.db}),
          401, 'werkzeug.exceptions.Unauthorized')
    error(client.get('/doc/res.device.json'), 401, 'werkzeug.exceptions.Unauthorized')


def test_one_transaction_per_call_read_only_for_reads(client, crew, monkeypatch):
    started = []
    run = Transaction.run.__func__

    def spy(cls, *args, **kwargs):
        started.append(kwargs.get('readonly'))
        return run(cls, *args, **kwargs)

    monkeypatch.setattr(Transaction, 'run', classmethod(spy))
    key = crew.keys['reader']
    for method, body, readonly in (('search_read', {'domain': []}, True),
                                   ('res.users/context_get', {}, True),
                                   ('create', {'vals_list': {'name': 'x'}}, False),
                                   ('total_age', {'ids': crew.partners}, True),
                                   ('rename_all', {'prefix': 'x'}, False)):
        started.clear()
        model, _, name = method.rpartition('/')
        assert json2(client, crew.db, key, model or 'test.partner', name, body).status_code == 200
        assert started == [readonly]
