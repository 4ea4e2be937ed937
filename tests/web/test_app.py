"""trylite.web.app over HTTP (in process): routing, return values, the one error path."""

from __future__ import annotations

import logging

import pytest
from werkzeug.wrappers import Response

import tests.core_routes  # noqa: F401  (the routes under test)
from tests.client import assert_json_error, make_client
from trylite.web.app import ADAPTERS
from trylite.wrappers import with_pool, with_transaction
from trylite.wsgi import TryliteWSGI, app

#: The origin of the test client's requests (``http://localhost``, port 80).
SERVER = 'http://localhost'
LISTED = 'https://app.example.com'
FOREIGN = 'https://evil.example.com'
NULL_LIKE = ['null', 'moz-extension://abc', 'chrome-extension://abc',
             'safari-web-extension://abc']


# -- route() -------------------------------------------------------------------------------
def test_route_returns_function_unchanged():
    def handler(request):
        return 'x'
    assert app.route('/_core/unchanged-test')(handler) is handler


def test_methods_and_head(client):
    assert client.get('/_core/plain').text == 'plain'
    head = client.head('/_core/plain')
    assert head.status_code == 200 and head.get_data() == b''


@pytest.mark.parametrize('method', ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
def test_methods_none_accepts_every_method(client, method):
    assert client.open('/_core/any', method=method).text == method


def test_defaults(client):
    assert client.get('/_core/page/').json == {'page': 1}
    assert client.get('/_core/page/3').json == {'page': 3}
    redirect = client.get('/_core/page/1')
    assert redirect.status_code == 308
    assert redirect.headers['Location'].endswith('/_core/page/')


def test_missing_trailing_slash_redirects_308(client):
    response = client.get('/_core/slash?x=1')
    assert response.status_code == 308
    assert response.headers['Location'] == '/_core/slash/?x=1'  # relative: no Host in it


def test_each_request_is_matched_on_its_own_path_whatever_the_host(client):
    """The URL map is bound once per host (scheme, root path) and kept, at most ADAPTERS of
    them: each request still matches its own path, method and query."""
    hosts = [f'h{n}.example' for n in range(ADAPTERS + 5)]
    for host in hosts + hosts[:3]:
        headers = {'Host': host}
        assert client.get('/_core/plain', headers=headers).text == 'plain'
        assert client.get('/_core/page/3', headers=headers).json == {'page': 3}
        assert client.get('/_core/slash?x=1', headers=headers).headers['Location'] == (
            '/_core/slash/?x=1')
        assert_json_error(client.delete('/_core/plain', headers=headers), 405)
        assert_json_error(client.get('/no/such/path', headers=headers), 404)
    assert 0 < len(app._settings().adapters) <= ADAPTERS


# -- hosts and proxies ----------------------------------------------------------------------
def test_any_host_is_served_unless_trusted_hosts_are_listed(client, settings):
    assert client.get('/_core/plain', headers={'Host': 'evil.example'}).text == 'plain'
    settings(web={'trusted_hosts': 'localhost api.example.com, .apps.example.org'})
    for host in ('localhost', 'localhost:8000', 'api.example.com', 'x.apps.example.org'):
        assert client.get('/_core/plain', headers={'Host': host}).text == 'plain', host
    for host in ('evil.example', 'api.example.com.evil.example', 'example.com', '',
                 'bad host'):
        for method, path in (('GET', '/_core/plain'), ('GET', '/_core/slash'),
                             ('GET', '/no/such/path'), ('DELETE', '/_core/plain'),
                             ('OPTIONS', '/_core/plain')):
            response = client.open(path, method=method, headers={'Host': host})
            assert_json_error(response, 400)
            assert 'Location' not in response.headers and 'Allow' not in response.headers


def test_forwarded_host_is_checked_behind_proxies(client, settings):
    settings(web={'trusted_hosts': 'public.example', 'num_proxies': 1})
    forwarded = {'X-Forwarded-For': '203.0.113.1', 'X-Forwarded-Host': 'public.example'}
    assert client.get('/_core/plain', headers=forwarded).text == 'plain'
    forwarded['X-Forwarded-Host'] = 'evil.example'
    assert_json_error(client.get('/_core/plain', headers=forwarded), 400)


def test_num_proxies_without_a_proxy_is_reported_once(client, settings, caplog):
    caplog.set_level(logging.WARNING, logger='trylite.web.app')
    client.get('/_core/plain')
    settings(web={'num_proxies': 1})
    client.get('/_core/plain', headers={'X-Forwarded-For': '203.0.113.1'})
    assert not caplog.records  # what a proxy sends: nothing to report
    client.get('/_core/plain')
    client.get('/_core/plain')
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING
    assert 'num_proxies is 1' in warning.getMessage()
    assert 'without X-Forwarded-For' in warning.getMessage()


def test_unknown_path_404_json(client):
    assert_json_error(client.get('/no/such/path'), 404)


def test_wrong_method_405_json_with_allow(client):
    response = client.delete('/_core/plain')
    assert_json_error(response, 405)
    assert response.headers['Allow'] == 'GET, HEAD, OPTIONS, POST, PUT'


@pytest.mark.parametrize('path, allow', [
    ('/_core/plain', 'GET, HEAD, OPTIONS, POST, PUT'),
    ('/_core/any', 'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT'),
])
def test_plain_options_204_with_allow(client, path, allow):
    response = client.options(path)
    assert response.status_code == 204
    assert response.headers['Allow'] == allow
    assert 'Access-Control-Allow-Origin' not in response.headers


def test_plain_options_unknown_path_404(client):
    assert_json_error(client.options('/no/such/path'), 404)


@pytest.mark.parametrize('stack', [
    lambda f: with_transaction()(with_pool(f)),  # misstacked
    lambda f: with_transaction()(f),  # no with_pool
])
def test_misstacked_wrappers_refused_at_import(stack):
    with pytest.raises(TypeError, match='with_pool'):
        TryliteWSGI().route('/<database_name>/x')(stack(lambda request, pool: None))


def test_with_pool_needs_database_name():
    with pytest.raises(TypeError, match='database_name'):
        TryliteWSGI().route('/<db>/x')(with_pool(lambda request, pool: None))


# -- return values -------------------------------------------------------------------------
@pytest.mark.parametrize('kind, content_type, body', [
    ('str', 'text/plain; charset=utf-8', 'héllo'.encode()),
    ('bytes', 'application/octet-stream', b'\x00\x01\xff'),
    ('dict', 'application/json', b'{"a":1,"b":[true,null]}'),
    ('list', 'application/json', b'[1,"two",3.5]'),
    ('int', 'application/json', b'42'),
    ('float', 'application/json', b'2.5'),
    ('bool', 'application/json', b'false'),
    ('none', 'application/json', b'null'),
    ('date', 'application/json', b'"2026-11-22"'),
    ('datetime', 'application/json', b'"2026-11-22T12:50:36+00:00"'),
    ('decimal', 'application/json', b'"12.30"'),
    ('blob', 'application/json', b'{"data":"AAE="}'),
])
def test_return_values(client, kind, content_type, body):
    response = client.get(f'/_core/value/{kind}')
    assert response.status_code == 200
    assert response.headers['Content-Type'] == content_type
    assert response.get_data() == body


def test_response_passes_through(client):
    response = client.get('/_core/value/response')
    assert (response.status_code, response.text) == (201, 'custom')
    assert response.headers['Content-Type'] == 'text/x-custom'


# -- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize('code', [400, 401, 403, 404, 405, 413, 415, 429, 503, 504])
def test_http_errors_are_json(client, code):
    assert_json_error(client.get(f'/_core/error/{code}'), code)


def test_429_keeps_retry_after(client):
    response = client.get('/_core/error/429')
    assert response.headers['Retry-After'] == '7'


def test_500_hides_and_logs_the_exception(client, caplog):
    with caplog.at_level(logging.ERROR, logger='trylite.wsgi'):
        body = assert_json_error(client.get('/_core/error/500'), 500)
    assert set(body) == {'status', 'message'}
    record = next(r for r in caplog.records if r.exc_info)
    assert 'internal secret detail' in str(record.exc_info[1])


def test_debug_adds_the_traceback(client, monkeypatch, settings):
    settings(web={'debug': 'true'})
    body = client.get('/_core/error/500').json
    assert body['status'] == 500
    assert 'internal secret detail' in body['exception']
    assert 'Traceback' in body['traceback']


@pytest.mark.parametrize('method', ['GET', 'POST'])
def test_user_error_anywhere_is_400_json(client, method):
    body = assert_json_error(client.open('/_core/user-error', method=method), 400)
    assert body == {'status': 400, 'message': 'Something is wrong',
                    'description': 'More details here'}


@pytest.mark.parametrize('kwargs, status, field', [
    ({'data': 'name=x'}, 415, None),
    ({'data': '{bad', 'headers': {'Content-Type': 'application/json'}}, 400, None),
    ({'data': b'"\xff"', 'headers': {'Content-Type': 'application/json'}}, 400, None),
    ({'json': [1, 2]}, 400, None),
    ({'json': {}}, 400, 'name'),
    ({'json': {'name': 3}}, 400, 'name'),
    ({'json': {'name': 'x', 'extra': 1}}, 400, 'extra'),
])
def test_json_body_errors(client, kwargs, status, field):
    body = assert_json_error(client.post('/_core/json', **kwargs), status)
    assert body.get('field') == field


def test_json_body_ok(client):
    assert client.post('/_core/json', json={'name': 'x'}).json == {'name': 'x'}


# -- error handlers (on private TryliteWSGI applications) -----------------------------------
class Recorder:
    """A callable instance used as an error handler."""

    def __init__(self, response: Response | None) -> None:
        self.response = response
        self.calls: list[tuple[object, Exception]] = []

    def __call__(self, application, request, exc):
        self.calls.append((application, exc))
        return self.response


def failing_app(*handlers) -> TryliteWSGI:
    application = TryliteWSGI()

    @application.route('/fail')
    def fail(request):
        raise ValueError('boom')

    for handler in handlers:
        assert application.error_handler(handler) is handler
    return application


def test_every_error_handler_runs_last_response_wins():
    first, middle, last = Recorder(Response(b'bar')), Recorder(None), Recorder(
        Response(b'baz', 418))
    application = failing_app(first, middle, last)
    response = make_client(application).get('/fail')
    assert (response.status_code, response.get_data()) == (418, b'baz')
    for recorder in (first, middle, last):
        assert len(recorder.calls) == 1
        assert recorder.calls[0][0] is application
        assert isinstance(recorder.calls[0][1], ValueError)


def test_handlers_without_response_and_failing_handlers_give_500():
    def broken(application, request, exc):
        raise RuntimeError('handler secret')
    recorder = Recorder(None)
    response = make_client(failing_app(broken, recorder)).get('/fail')
    assert_json_error(response, 500)
    assert len(recorder.calls) == 1


def test_http_errors_do_not_reach_handlers():
    recorder = Recorder(Response(b'x'))
    assert_json_error(make_client(failing_app(recorder)).get('/missing'), 404)
    assert recorder.calls == []
