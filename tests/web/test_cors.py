"""trylite.web.cors over HTTP (in process): origins, preflights, headers on every answer."""

from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

import tests.core_routes  # noqa: F401  (the routes under test)
from tests.client import assert_json_error, make_client

#: The origin of the test client's requests (``http://localhost``, port 80).
SERVER = 'http://localhost'
LISTED = 'https://app.example.com'
FOREIGN = 'https://evil.example.com'
NULL_LIKE = ['null', 'moz-extension://abc', 'chrome-extension://abc',
             'safari-web-extension://abc']


@pytest.fixture
def cors(monkeypatch, settings):
    settings(web={'cors': f'https://other.example.com, {LISTED}'})


@pytest.mark.parametrize('base_url, origin', [
    (SERVER, SERVER), (SERVER, f'{SERVER}:80'),
    ('http://127.0.0.1:8000', 'http://127.0.0.1:8000'),  # a Host with a port, as on a socket
])
def test_same_origin_allowed(client, base_url, origin):
    response = client.get('/_core/plain', base_url=base_url, headers={'Origin': origin})
    assert response.status_code == 200
    assert 'Access-Control-Allow-Origin' not in response.headers


@pytest.mark.parametrize('origin', [  # the server's origin with another host, port or scheme
    FOREIGN, 'https://localhost', 'http://localhost:1', 'http://127.0.0.1', 'garbage'])
def test_foreign_origin_403(client, cors, origin):
    assert_json_error(client.get('/_core/plain', headers={'Origin': origin}), 403)


def test_scheme_differs_from_same_host(client, cors):
    https_origin = SERVER.replace('http://', 'https://')
    assert_json_error(client.get('/_core/plain', headers={'Origin': https_origin}), 403)


def test_listed_origin_gets_cors_headers(client, cors):
    response = client.get('/_core/plain', headers={'Origin': LISTED})
    assert response.status_code == 200
    assert response.headers['Access-Control-Allow-Origin'] == LISTED
    assert 'Origin' in response.headers['Vary']


@pytest.mark.parametrize('path, method, status', [
    ('/_core/error/401', 'GET', 401),
    ('/no/such/path', 'GET', 404),
    ('/_core/plain', 'DELETE', 405),
    ('/_core/error/429', 'GET', 429),
    ('/_core/error/500', 'GET', 500),
])
def test_listed_origin_gets_cors_headers_on_errors(client, cors, path, method, status):
    response = client.open(path, method=method, headers={'Origin': LISTED})
    assert_json_error(response, status)
    assert response.headers['Access-Control-Allow-Origin'] == LISTED
    assert 'Origin' in response.headers['Vary']


def test_listed_origin_gets_cors_headers_on_413(client, cors):
    response = client.post('/_core/limited', data=b'x' * 200, headers={'Origin': LISTED})
    assert_json_error(response, 413)
    assert response.headers['Access-Control-Allow-Origin'] == LISTED


def preflight(path: str, origin: str, method: str = 'POST',
              headers: str = 'authorization, content-type') -> TestResponse:
    """A browser's CORS preflight (a fresh client: no cookies)."""
    return make_client().options(path, headers={
        'Origin': origin, 'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': headers})


def test_preflight_uses_rule_methods_and_config_headers(cors, monkeypatch, settings):
    settings(web={'cors_headers': 'Authorization, Content-Type, X-Trace'})
    response = preflight('/_core/plain', LISTED, 'PUT')
    assert response.status_code == 204
    assert response.get_data() == b''
    assert response.headers['Access-Control-Allow-Origin'] == LISTED
    assert response.headers['Access-Control-Allow-Methods'] == 'GET, HEAD, OPTIONS, POST, PUT'
    assert response.headers['Access-Control-Allow-Headers'] == \
        'Authorization, Content-Type, X-Trace'
    assert int(response.headers['Access-Control-Max-Age']) > 0
    assert preflight('/_core/plain', LISTED, 'PUT', 'x-trace').status_code == 204


@pytest.mark.parametrize('asked', ['x-evil', 'authorization, x-evil', 'cookie'])
def test_preflight_refuses_headers_not_allowed(cors, asked):
    response = preflight('/_core/plain', LISTED, headers=asked)
    assert_json_error(response, 403)
    assert 'not allowed' in response.json['description']


def test_preflight_allows_safelisted_headers(cors):
    response = preflight('/_core/plain', LISTED, headers='Accept, accept-language')
    assert response.status_code == 204


def test_preflight_default_headers(cors):
    response = preflight('/_core/plain', LISTED)
    assert response.headers['Access-Control-Allow-Headers'] == 'Authorization, Content-Type'


def test_preflight_foreign_origin_403(cors):
    assert_json_error(preflight('/_core/plain', FOREIGN), 403)


def test_preflight_unknown_path_404(cors):
    response = preflight('/no/such/path', LISTED)
    assert_json_error(response, 404)
    assert response.headers['Access-Control-Allow-Origin'] == LISTED


@pytest.mark.parametrize('origin', NULL_LIKE)
def test_null_like_origins_only_on_marked_routes(client, origin):
    response = client.post('/_core/null', headers={'Origin': origin})
    assert response.status_code == 200
    assert response.headers['Access-Control-Allow-Origin'] == origin
    assert 'Origin' in response.headers['Vary']
    assert_json_error(client.post('/_core/plain', headers={'Origin': origin}), 403)


@pytest.mark.parametrize('origin', NULL_LIKE)
def test_null_like_preflight(origin):
    response = preflight('/_core/null', origin)
    assert response.status_code == 204
    assert response.headers['Access-Control-Allow-Origin'] == origin
    assert response.headers['Access-Control-Allow-Methods'] == 'GET, HEAD, OPTIONS, POST'
    assert_json_error(preflight('/_core/plain', origin), 403)


def test_listing_null_does_not_open_every_route(client, monkeypatch, settings):
    settings(web={'cors': 'null'})
    assert_json_error(client.get('/_core/plain', headers={'Origin': 'null'}), 403)


def test_proxy_headers_ignored_unless_trusted(client, monkeypatch, settings):
    forwarded = {'Origin': 'https://public.example', 'X-Forwarded-Proto': 'https',
                 'X-Forwarded-Host': 'public.example'}
    assert_json_error(client.get('/_core/plain', headers=forwarded), 403)
    settings(web={'num_proxies': '1'})
    assert client.get('/_core/plain', headers=forwarded).status_code == 200
