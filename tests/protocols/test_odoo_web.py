"""The /web endpoints Odoo's clients use (in process), on SQLite and PostgreSQL: version, the
database list, web sessions and call_kw on them, and /doc/<model>.json on a session."""

from __future__ import annotations

from tests.helpers import PASSWORD, set_active
from tests.protocols.odoo_fixtures import (
    PARTNERS,
    Crew,
    assert_jsonrpc_error,
    crew_fixture,  # noqa: F401  (fixture)
    jsonrpc,
    partner_names,
)
from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)
from trylite.protocols.odoo.web import SESSION_COOKIE

SESSION_EXPIRED = 'odoo.http.SessionExpiredException'


def log_in(client, crew: Crew, login: str, password: str = PASSWORD) -> dict:
    return jsonrpc(client, '/web/session/authenticate',
                   {'db': crew.db, 'login': login, 'password': password})


def call_kw(client, model: str, method: str, args: list, kwargs: dict | None = None) -> dict:
    return jsonrpc(client, f'/web/dataset/call_kw/{model}/{method}', {
        'model': model, 'method': method, 'args': args, 'kwargs': kwargs or {}})


def test_version_info_and_web_version(client):
    answer = jsonrpc(client, '/web/webclient/version_info', {}, 'f00d')
    assert answer['id'] == 'f00d'
    assert answer['result']['server_version'] == '19.0'
    assert answer['result']['server_version_info'] == [19, 0, 0, 'final', 0, '']
    assert client.get('/web/version').json['version'] == '19.0'


def test_database_list_follows_the_setting(client, crew, settings):
    refused = jsonrpc(client, '/web/database/list', {})
    assert_jsonrpc_error(refused, 'odoo.exceptions.AccessError')
    settings(web={'list_databases': True})
    assert crew.db in jsonrpc(client, '/web/database/list', {})['result']


def test_a_web_session(client, crew):
    answer = log_in(client, crew, 'reader')
    info = answer['result']
    assert info['uid'] == crew.reader and info['db'] == crew.db
    assert info['username'] == 'reader' and info['user_context']['uid'] == crew.reader
    assert info['is_admin'] is False
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie.http_only and cookie.same_site == 'Lax' and cookie.path == '/'
    assert cookie.value.endswith('.' + crew.db)
    found = call_kw(client, 'test.partner', 'search_read', [[['age', '<', 45]]],
                    {'fields': ['name'], 'context': {'lang': 'en_US'}})
    assert [r['name'] for r in found['result']] == ['Alice', 'Bob']
    new = call_kw(client, 'test.partner', 'create', [{'name': 'Dan'}])['result']
    assert isinstance(new, int)
    assert call_kw(client, 'test.partner', 'write', [[new], {'age': 1}])['result'] is True
    assert call_kw(client, 'test.partner', 'unlink', [[new]])['result'] is True
    assert call_kw(client, 'res.users', 'context_get', [])['result']['uid'] == crew.reader
    plain = jsonrpc(client, '/web/dataset/call_kw', {'model': 'test.partner',
                                                     'method': 'search_count', 'args': [[]]})
    assert plain['result'] == 3
    doc = client.get('/doc/test.partner.json')
    assert doc.status_code == 200 and 'search_read' in doc.json['methods']
    assert jsonrpc(client, '/web/session/destroy', {})['result'] is None
    assert client.get_cookie(SESSION_COOKIE) is None
    client.set_cookie(SESSION_COOKIE, cookie.value)  # the old token no longer works
    expired = call_kw(client, 'test.partner', 'search', [[]])
    assert_jsonrpc_error(expired, SESSION_EXPIRED, 100)
    assert expired['error']['message'] == 'Odoo Session Expired'


def test_a_new_login_replaces_the_session(client, crew):
    log_in(client, crew, 'reader')
    first = client.get_cookie(SESSION_COOKIE).value
    assert log_in(client, crew, 'boss')['result']['is_admin'] is True
    assert call_kw(client, 'res.users', 'context_get', [])['result']['uid'] == crew.boss
    client.set_cookie(SESSION_COOKIE, first)
    assert_jsonrpc_error(call_kw(client, 'test.partner', 'search', [[]]), SESSION_EXPIRED, 100)


def test_wrong_passwords_are_access_denied_with_code_200(client, crew):
    for login, password in (('reader', 'wrong'), ('ghost', PASSWORD), ('reader', ''),
                            ('reader', None), (None, PASSWORD)):
        answer = log_in(client, crew, login, password)
        assert_jsonrpc_error(answer, 'odoo.exceptions.AccessDenied', 200)
    assert client.get_cookie(SESSION_COOKIE) is None
    key_login = log_in(client, crew, 'boss', crew.keys['boss'])
    assert key_login['result']['uid'] == crew.boss


def test_no_session_or_a_bad_cookie_is_session_expired(client, crew):
    for value in (None, 'garbage', f'{"A" * 43}.{crew.db}', 'token.no_such_db', 'a.b.c',
                  f'{"A" * 43}../etc'):
        if value is not None:
            client.set_cookie(SESSION_COOKIE, value)
        answer = call_kw(client, 'test.partner', 'search', [[]])
        code = 404 if value == 'token.no_such_db' else 100
        assert answer['error']['code'] == code, (value, answer)
    assert client.get('/doc/test.partner.json').status_code in (401, 404)


def test_deactivated_persons_lose_their_sessions(client, crew):
    log_in(client, crew, 'reader')
    set_active(crew.db, 'reader', False)
    assert_jsonrpc_error(call_kw(client, 'test.partner', 'search', [[]]), SESSION_EXPIRED, 100)


def test_persons_without_rights_get_access_errors(client, crew):
    log_in(client, crew, 'nobody')
    for method, args in (('search_read', [[]]), ('read', [crew.partners]),
                         ('create', [{'name': 'x'}]), ('write', [crew.partners, {'name': 'x'}]),
                         ('unlink', [crew.partners])):
        answer = call_kw(client, 'test.partner', method, args)
        assert 'test.partner' in assert_jsonrpc_error(answer, 'odoo.exceptions.AccessError')
        for name, _age in PARTNERS:
            assert name not in str(answer)
    doc = client.get('/doc/test.partner.json')
    assert doc.status_code == 403 and doc.json['name'] == 'odoo.exceptions.AccessError'
    assert partner_names(crew.db) == [name for name, _age in PARTNERS]


def test_call_kw_mistakes(client, crew):
    log_in(client, crew, 'reader')
    for params, name in (
            ({'model': 'test.partner', 'method': 'search', 'args': 'x'},
             'werkzeug.exceptions.UnprocessableEntity'),
            ({'model': 'test.partner', 'method': 'search', 'args': [], 'kwargs': [1]},
             'werkzeug.exceptions.UnprocessableEntity'),
            ({'model': 'test.partner', 'method': 'search', 'args': [],
              'kwargs': {'context': 5}}, 'werkzeug.exceptions.UnprocessableEntity'),
            ({'model': 5, 'method': 'search', 'args': []}, 'werkzeug.exceptions.NotFound'),
            ({'model': 'test.partner', 'method': None}, 'werkzeug.exceptions.NotFound'),
            ({'model': 'test.partner', 'method': 'search', 'args': [[['x', '=', 1]]]},
             'odoo.exceptions.UserError')):
        code = 404 if name.endswith('NotFound') else 200
        assert_jsonrpc_error(jsonrpc(client, '/web/dataset/call_kw', params), name, code)
    form = client.post('/web/dataset/call_kw', data='{"params": {}}', content_type='text/plain')
    assert_jsonrpc_error(form.json, 'werkzeug.exceptions.UnsupportedMediaType')
