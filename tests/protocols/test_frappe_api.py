"""Frappe's REST API in process: documents, lists, filters, methods, sessions, keys and errors,
on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest

from tests.data.test_access import grant, rule
from tests.helpers import PASSWORD, add_to_group, create_user
from tests.protocols.frappe_helpers import frappe_error, key_pair, people, token
from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)
from trylite.protocols.frappe import errors as frappe_errors


@pytest.fixture
def site(db):
    """The persons of :func:`people`, and a token header of root's and alice's keys."""
    ids = people(db)
    return {**ids, 'root_key': token(db, 'root'), 'alice_key': token(db, 'alice')}


def resource(db: str, model: str = 'test.partner', name: object = None) -> str:
    return f'/{db}/api/resource/{model}' + (f'/{name}' if name is not None else '')


def listed(client, db, headers, **query):
    response = client.get(resource(db), headers=headers, query_string={
        key: value if isinstance(value, str | int) else json.dumps(value)
        for key, value in query.items()})
    assert response.status_code == 200, response.text
    assert set(response.json) == {'data'}
    return response.json['data']


def create(client, db, headers, **values) -> str:
    response = client.post(resource(db), headers=headers, json=values)
    assert response.status_code == 200, response.text
    return response.json['data']['name']


def test_documents_crud_with_form_and_json_bodies(client, db, site):
    headers = site['alice_key']
    form = client.post(resource(db), headers=headers, data={'data': json.dumps(
        {'doctype': 'test.partner', 'title': 'Alice', 'age': 30, 'name': 'ignored'})})
    assert form.status_code == 200, form.text
    document = form.json['data']
    assert set(form.json) == {'data'}  # never "message", which clients read first
    assert document['name'] == str(document['id']) and document['doctype'] == 'test.partner'
    assert (document['title'], document['display_name'], document['age']) == ('Alice', 'Alice',
                                                                               30)
    bob = create(client, db, headers, doctype='test.partner', title='Bob', age=40)
    shown = client.get(resource(db, name=bob), headers=headers).json['data']
    assert (shown['name'], shown['title'], shown['tag_ids']) == (bob, 'Bob', [])
    changed = client.put(resource(db, name=bob), headers=headers, data={'data': json.dumps(
        {**shown, 'age': 41, 'modified': 'x', '__islocal': 1})})  # a document read, sent back
    assert changed.status_code == 200, changed.text
    assert changed.json['data']['age'] == 41
    assert client.put(resource(db, name=int(bob)), headers=headers,
                      json={'title': 'Robert'}).json['data']['title'] == 'Robert'
    inactive = client.put(resource(db, name=bob), headers=headers, json={'active': False})
    assert inactive.json['data']['active'] is False  # read by its name, active or not
    deleted = client.delete(resource(db, name=bob), headers=headers)
    assert (deleted.status_code, deleted.json) == (202, {'data': 'ok'})
    frappe_error(client.get(resource(db, name=bob), headers=headers), 404, 'DoesNotExistError')
    frappe_error(client.get(resource(db, name='TD-0001'), headers=headers), 404,
                 'DoesNotExistError')
    assert [d['name'] for d in listed(client, db, headers)] == [document['name']]


def test_list_fields_order_and_pages(client, db, site, settings):
    headers = site['root_key']
    for number in range(25):
        create(client, db, headers, title=f'P{number:02}', age=number)
    page = listed(client, db, headers)
    assert len(page) == 20 and set(page[0]) == {'name'}  # Frappe's default page and fields
    for fields in (['*'], '"*"', '*'):
        row = listed(client, db, headers, fields=fields, limit_page_length=1)[0]
        assert {'name', 'title', 'age', 'display_name', 'write_date'} <= set(row)
    rows = listed(client, db, headers, fields=['name', 'title', 'modified'],
                  order_by='`tabtest.partner`.`age` desc, modified', limit_start=2,
                  limit_page_length=3)
    assert [row['title'] for row in rows] == ['P22', 'P21', 'P20']
    assert set(rows[0]) == {'name', 'title', 'modified'}
    assert [r['title'] for r in listed(client, db, headers, fields=['title'], order_by='title',
                                       limit=2)] == ['P00', 'P01']
    settings(api={'max_limit': 22})
    assert len(listed(client, db, headers, limit_page_length=0)) == 22  # 0: the maximum
    assert len(listed(client, db, headers, limit_page_length=500)) == 22


FILTERS = [
    ({'age': 30}, None, ['A']),
    ({'age': ['>', 30]}, None, ['B', 'C']),
    ([['age', '>=', 40]], None, ['B', 'C']),
    ([['age', '=>', 40], ['age', '=<', 40]], None, ['B']),
    ([['age', '<', 40]], None, ['A']),
    ([['age', '<=', 40], ['age', '!=', 30]], None, ['B']),
    ([['title', 'like', 'b%']], None, ['B']),
    ([['title', 'not like', '%b%']], None, ['A', 'C', 'D']),
    ([['age', 'in', [30, 50]]], None, ['A', 'C']),
    ([['title', 'in', 'A, C']], None, ['A', 'C']),
    ([['title', 'not in', ['A']]], None, ['B', 'C', 'D']),
    ([['age', 'is', 'set']], None, ['A', 'B', 'C']),
    ([['age', 'is', 'not set']], None, ['D']),
    ([['age', 'between', [35, 50]]], None, ['B', 'C']),
    ([['test.partner', 'age', '=', 40]], None, ['B']),
    (['title', '=', 'D'], None, ['D']),
    ([['title', 'D']], None, ['D']),
    (None, [['age', '=', 30], ['title', '=', 'D']], ['A', 'D']),
    ({'age': ['>', 20]}, {'title': 'A', 'age': 50}, ['A', 'C']),
]


def test_filters(client, db, site):
    headers = site['root_key']
    for title, age in (('A', 30), ('B', 40), ('C', 50), ('D', None)):
        create(client, db, headers, title=title, age=age)
    for filters, or_filters, expected in FILTERS:
        query = {'fields': ['title'], 'order_by': 'title'}
        if filters is not None:
            query['filters'] = filters
        if or_filters is not None:
            query['or_filters'] = or_filters
        found = [row['title'] for row in listed(client, db, headers, **query)]
        assert found == expected, (filters, or_filters)


def test_names_in_filters_are_ids(client, db, site):
    headers = site['root_key']
    names = [create(client, db, headers, title=t) for t in 'XYZ']
    rows = listed(client, db, headers, filters=[['name', 'in', names[1:]]], order_by='name desc')
    assert [row['name'] for row in rows] == names[:0:-1]
    assert listed(client, db, headers, filters={'name': names[0]}) == [{'name': names[0]}]


BAD_LISTS = [
    ({'filters': '[["age", "regex", "1"]]'}, 400, "operator 'regex'"),
    ({'filters': '[["age", ">"'}, 400, "'filters' is not valid JSON"),
    ({'or_filters': '"age"'}, 400, 'or_filters must be'),
    ({'filters': '[["res.user", "login", "=", "x"]]'}, 400, "another doctype ('res.user')"),
    ({'filters': '[{"age": 1}]'}, 400, 'A condition is a list'),
    ({'filters': '[["age", "is", "maybe"]]'}, 400, 'set or not set'),
    ({'filters': '[["age", "between", [1]]]'}, 400, '[from, to]'),
    ({'filters': '{"nope": 1}'}, 400, "no field 'nope'"),
    ({'filters': '{"age": "old"}'}, 400, 'whole numbers'),
    ({'fields': '[1]'}, 400, 'fields must be'),
    ({'fields': '["nope"]'}, 400, "no field 'nope'"),
    ({'order_by': 'age; DROP TABLE test_partner'}, 400, 'Cannot order by'),
    ({'limit_page_length': 'all'}, 400, "'limit_page_length' must be a whole number"),
    ({'limit_start': '-1'}, 400, "'limit_start'"),
]


def test_bad_list_requests_are_400s_saying_what_is_wrong(client, db, site):
    for query, status, words in BAD_LISTS:
        response = client.get(resource(db), headers=site['root_key'], query_string=query)
        body = frappe_error(response, status, 'ValidationError')
        assert words in body['description'], query


def test_bad_documents_and_names(client, db, site):
    headers = site['root_key']
    for response, status, kind in (
            (client.post(resource(db), headers=headers, data={'data': '{oops'}), 400,
             'ValidationError'),
            (client.post(resource(db), headers=headers, json=[1]), 400, 'ValidationError'),
            (client.post(resource(db), headers=headers, data=b'x',
                         content_type='text/plain'), 400, 'ValidationError'),
            (client.post(resource(db), headers=headers, json={'age': 1}), 400,
             'ValidationError'),  # title (the name field) is required
            (client.post(resource(db), headers=headers, json={'title': 'x', 'age': 'old'}), 400,
             'ValidationError'),
            (client.post(resource(db), headers=headers, json={'title': 'x', 'nope': 1}), 400,
             'ValidationError'),
            (client.get(resource(db, 'no.such.model'), headers=headers), 404,
             'DoesNotExistError'),
            (client.put(resource(db, name='x'), headers=headers, json={}), 404,
             'DoesNotExistError'),
            (client.put(resource(db, name=999), headers=headers, json={'age': 1}), 400,
             'ValidationError'),
            (client.patch(resource(db, name=1), headers=headers, json={}), 405,
             'MethodNotAllowed'),
            (client.get('/no_such_db/api/resource/test.partner', headers=headers), 404,
             'DoesNotExistError')):
        frappe_error(response, status, kind)


def test_v2_documents(client, db, site, settings):
    headers = site['root_key']
    base = f'/{db}/api/v2/document/test.partner'
    names = [client.post(base, headers=headers, json={'title': t}).json['data']['name']
             for t in 'ABC']
    first = client.get(base, headers=headers, query_string={'limit': 2, 'include': 'count',
                                                            'fields': '["title"]'}).json
    assert first == {'data': [{'name': names[0], 'title': 'A'}, {'name': names[1], 'title': 'B'}],
                     'has_next_page': True, 'count': 3}
    last = client.get(base, headers=headers, query_string={'start': 2, 'limit': 2}).json
    assert last == {'data': [{'name': names[2]}], 'has_next_page': False}
    settings(api={'max_limit': 2})  # a page of the maximum: told by counting
    assert client.get(base, headers=headers, query_string={'limit': 5}).json[
        'has_next_page'] is True
    patched = client.patch(f'{base}/{names[0]}', headers=headers, json={'age': 7})
    assert patched.json['data']['age'] == 7
    assert client.get(f'{base}/{names[0]}', headers=headers).json['data']['title'] == 'A'
    assert client.delete(f'{base}/{names[0]}', headers=headers).status_code == 202


def test_model_methods(client, db, site):
    headers = site['root_key']
    names = [create(client, db, headers, title=t, age=age) for t, age in (('A', 3), ('B', 4))]
    method = f'/{db}/api/method/test.partner'
    for path in (f'{method}.total_age', f'{method}.total_age/'):
        answer = client.get(path, headers=headers, query_string={'ids': json.dumps(
            [int(n) for n in names])})
        assert answer.json == {'message': 7}, answer.text
    assert client.post(f'{method}.total_age', headers=headers,
                       json={'ids': [int(names[0])]}).json == {'message': 3}
    refused = client.get(f'{method}.rename_all', headers=headers, query_string={'prefix': 'x'})
    frappe_error(refused, 405, 'MethodNotAllowed')
    assert refused.headers['Allow'] == 'POST'
    assert client.post(f'{method}.rename_all/', headers=headers,
                       data={'prefix': 'Mr '}).json == {'message': 2}
    assert client.post(f'{method}.search_count', headers=headers,
                       data={'domain': '[["name", "like", "Mr"]]'}).json == {'message': 2}
    frappe_error(client.post(f'{method}.not_marked', headers=headers), 404, 'DoesNotExistError')
    frappe_error(client.post(f'{method}.rename_all', headers=headers, json={'x': 1}), 422,
                 'ValidationError')
    frappe_error(client.get(f'/{db}/api/method/nothing', headers=headers), 404,
                 'DoesNotExistError')
    assert client.get(f'/{db}/api/method/ping').json == {'message': 'pong'}


def test_frappe_client_methods_by_url_and_by_cmd(client, db, site):
    headers = site['alice_key']

    def call(method, verb='POST', **values):
        values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
        if verb == 'GET':
            answer = client.get(f'/{db}', headers=headers,
                                query_string={'cmd': f'frappe.client.{method}', **values})
        elif verb == 'URL':
            answer = client.post(f'/{db}/api/method/frappe.client.{method}', headers=headers,
                                 data=values)
        else:
            answer = client.post(f'/{db}/', headers=headers,
                                 data={'cmd': f'frappe.client.{method}', **values})
        assert answer.status_code == 200, answer.text
        return answer.json['message']

    made = call('insert', doc={'doctype': 'test.partner', 'title': 'Ann', 'age': 20})
    name = made['name']
    other = call('insert', 'URL', doc={'doctype': 'test.partner', 'title': 'Ben'})['name']
    assert call('get', 'GET', doctype='test.partner', name=name)['title'] == 'Ann'
    assert call('get', 'URL', doctype='test.partner', filters={'title': 'Ben'})['name'] == other
    assert call('get_count', 'GET', doctype='test.partner', filters=[['age', '>', 1]]) == 1
    assert call('get_list', 'GET', doctype='test.partner', fields=['title'],
                order_by='title desc') == [{'name': other, 'title': 'Ben'},
                                           {'name': name, 'title': 'Ann'}]
    assert call('get_list', doctype='test.partner', fields=['title', 'age'], as_dict=0,
                limit_page_length=1) == [[name, 'Ann', 20]]
    assert call('get_value', 'GET', doctype='test.partner', fieldname='age',
                filters={'title': 'Ann'}) == {'age': 20}
    assert call('get_value', 'GET', doctype='test.partner', fieldname=['title', 'age'],
                filters=name) == {'title': 'Ann', 'age': 20}
    assert call('get_value', 'GET', doctype='test.partner', filters={'title': 'Zed'}) is None
    assert call('set_value', doctype='test.partner', name=name, fieldname='age',
                value='21')['age'] == 21
    assert call('set_value', doctype='test.partner', name=name,
                fieldname={'age': 22, 'notes': 'n'})['notes'] == 'n'
    saved = call('save', doc={'doctype': 'test.partner', 'name': name, 'age': 23})
    assert saved['age'] == 23
    assert call('rename_doc', doctype='test.partner', old_name=name, new_name='Anne') == name
    assert call('get', 'GET', doctype='test.partner', name=name)['title'] == 'Anne'
    assert call('delete', doctype='test.partner', name=other) is None
    assert call('get_count', doctype='test.partner') == 1
    frappe_error(client.get(f'/{db}', headers=headers, query_string={
        'cmd': 'frappe.client.delete', 'doctype': 'test.partner', 'name': name}), 405,
        'MethodNotAllowed')
    frappe_error(client.post(f'/{db}', headers=headers, data={
        'cmd': 'frappe.client.submit', 'doclist': '{}'}), 404, 'DoesNotExistError')
    frappe_error(client.post(f'/{db}', headers=headers, data={
        'cmd': 'frappe.client.insert', 'doc': '[]'}), 400, 'ValidationError')
    frappe_error(client.post(f'/{db}', headers=headers, data={
        'cmd': 'frappe.client.get'}), 400, 'ValidationError')
    frappe_error(client.get(f'/{db}/', headers=headers), 404, 'DoesNotExistError')


def test_password_login_sessions_and_logout(client, db, site, settings):
    for login in ({'path': f'/{db}', 'data': {'cmd': 'login', 'usr': 'alice', 'pwd': PASSWORD}},
                  {'path': f'/{db}/api/method/login', 'json': {'usr': 'alice',
                                                               'pwd': PASSWORD}},
                  {'path': f'/{db}/api/method/login', 'data': {'usr': 'alice',
                                                               'pwd': PASSWORD}}):
        answer = client.post(login.pop('path'), **login)
        assert answer.json == {'message': 'Logged In', 'home_page': '/app',
                               'full_name': 'Alice'}
        cookie = answer.headers['Set-Cookie']
        assert cookie.startswith('sid=') and 'HttpOnly' in cookie and 'SameSite=Lax' in cookie
        assert f'Path=/{db}' in cookie
    # a write with the session alone: no CSRF header asked for
    made = client.post(resource(db), json={'title': 'By session'})
    assert made.status_code == 200, made.text
    assert client.get(f'/{db}/api/method/frappe.auth.get_logged_user').json == {
        'message': 'alice'}
    assert client.get(f'/{db}', query_string={'cmd': 'logout'}).json == {}
    frappe_error(client.get(resource(db)), 401, 'AuthenticationError')
    client.post(f'/{db}/api/method/login', data={'usr': 'alice', 'pwd': PASSWORD})
    assert client.post(f'/{db}/api/method/logout').status_code == 200
    frappe_error(client.get(resource(db)), 401, 'AuthenticationError')
    client.set_cookie('sid', 'Guest', path=f'/{db}')
    frappe_error(client.get(resource(db)), 401, 'AuthenticationError')
    settings(throttle={'max_failures': 2})
    for status in (401, 401, 429):
        failed = client.post(f'/{db}', data={'cmd': 'login', 'usr': 'alice', 'pwd': 'wrong'},
                             environ_base={'REMOTE_ADDR': '192.0.2.44'})
        frappe_error(failed, status, frappe_errors.exc_type(status))
    frappe_error(client.post(f'/{db}', data={'cmd': 'login', 'usr': 'alice'}), 401,
                 'AuthenticationError')
    frappe_error(client.get(f'/{db}', query_string={'cmd': 'login'}), 405, 'MethodNotAllowed')


def test_token_basic_and_bearer_keys(client, db, site, settings):
    api_key, api_secret, whole = key_pair(db, 'alice')
    basic = base64.b64encode(f'{api_key}:{api_secret}'.encode()).decode()
    for header in (f'token {api_key}:{api_secret}', f'Basic {basic}', f'Bearer {whole}',
                   'Basic ' + base64.b64encode(f':{whole}'.encode()).decode()):
        assert client.get(resource(db), headers={'Authorization': header}).status_code == 200
    read_only = token(db, 'alice', scope='read')
    frappe_error(client.post(resource(db), headers=read_only, json={'title': 'x'}), 403,
                 'PermissionError')
    settings(throttle={'max_failures': 2})
    wrong = {'Authorization': f'token {api_key}:{"x" * len(api_secret)}'}
    for status in (401, 401, 429):
        frappe_error(client.get(resource(db), headers=wrong,
                                environ_base={'REMOTE_ADDR': '192.0.2.45'}), status,
                     frappe_errors.exc_type(status))
    for header in ('token nothing', 'Basic !!!', 'Digest x', f'token {api_key}'):
        frappe_error(client.get(resource(db), headers={'Authorization': header}), 401,
                     'AuthenticationError')


def test_a_person_without_rights_gets_403_and_sees_no_row(client, db, site):
    create(client, db, site['root_key'], title='Secret partner')
    body = frappe_error(client.get(resource(db), headers=token(db, 'bob')), 403,
                        'PermissionError')
    assert 'Secret partner' not in json.dumps(body)
    rule(db, 'test.partner', "[('create_uid', '=', user.id)]", 'sales')
    mine = create(client, db, site['alice_key'], title='Mine')
    assert [r['name'] for r in listed(client, db, site['alice_key'])] == [mine]
    frappe_error(client.get(resource(db, name=1), headers=site['alice_key']), 404,
                 'DoesNotExistError')


def test_served_at_the_host_root(client, db, site, settings):
    headers = {**site['root_key'], 'X-Frappe-Site-Name': db}
    assert client.post('/api/resource/test.partner', headers=headers,
                       json={'title': 'Root'}).status_code == 200
    assert client.get('/api/resource/test.partner', headers=headers).json['data']
    assert client.get('/', headers=headers, query_string={'cmd': 'ping'}).json == {
        'message': 'pong'}
    answer = client.post('/', data={'cmd': 'login', 'usr': 'root', 'pwd': PASSWORD},
                         headers={'X-Frappe-Site-Name': db})
    assert 'Path=/;' in answer.headers['Set-Cookie']
    frappe_error(client.get('/api/resource/test.partner',
                            headers={'X-Frappe-Site-Name': 'nothing_here'}), 404,
                 'DoesNotExistError')
    settings(web={'dbfilter': f'^{db}$'})
    assert client.get('/api/method/frappe.auth.get_logged_user',
                      headers=site['alice_key']).json == {'message': 'alice'}


def test_errors_follow_the_registry_with_frappes_fields():
    assert frappe_errors.exc_type(417) == 'ValidationError'
    assert frappe_errors.exc_type(502) == 'Exception'
    assert {frappe_errors.exc_type(s) for s in (400, 422)} == {'ValidationError'}



def test_a_person_who_may_create_but_not_read_gets_the_name_back(client, db, site):
    carol = create_user(db, 'carol')
    add_to_group(db, carol, 'writers')
    grant(db, 'test.partner', 'writers', create=True)
    made = client.post(resource(db), headers=token(db, 'carol'), json={'title': 'Blind'})
    assert made.status_code == 200, made.text
    assert set(made.json['data']) == {'name', 'doctype'}
