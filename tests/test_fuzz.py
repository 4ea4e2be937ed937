"""Hostile input, fuzzed: every answer is a 4xx with a JSON body, never a 500, and a rejected
request leaves the database as it was.

Requests go in-process through the WSGI interface (fast, so hypothesis can try many of them),
on SQLite and PostgreSQL (the ``db`` fixture); a few go over real HTTP on raw sockets, where
the bytes on the wire matter. ``trylite_throttle`` is left out of the comparison: counting a
failure there is what a rejected request is meant to do.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.routing import ValidationError
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from tests.helpers import PASSWORD, create_user, validate
from trylite import json as trylite_json
from trylite.auth import throttle
from trylite.converters import Base64Converter
from trylite.pool import Pool
from trylite.transaction import Transaction
from trylite.wsgi import app

FUZZ = fuzz_settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
BAD_KEY = 'trylite_000000000000_' + 'A' * 43


# -- in-process requests ---------------------------------------------------------------------
def wire(value: str) -> str:
    """*value* as a WSGI server hands it over: its UTF-8 bytes read as latin-1."""
    return value.encode('utf-8', 'surrogatepass').decode('latin-1')


def send(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b'',
         content_length: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """Call the app with a raw ``PATH_INFO`` and raw header values; (status, headers, body)."""
    environ = EnvironBuilder(method=method, path='/', data=body,
                             environ_base={'REMOTE_ADDR': '127.0.0.1'}).get_environ()
    environ['PATH_INFO'] = wire(path)
    environ['REQUEST_URI'] = environ['RAW_URI'] = wire(path)
    if content_length is not None:
        environ['CONTENT_LENGTH'] = content_length
    for name, value in (headers or {}).items():
        key = name.upper().replace('-', '_')
        if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            key = f'HTTP_{key}'
        environ[key] = wire(value)
    app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    data = b''.join(app_iter)
    return int(status.split()[0]), dict(response_headers), data


def snapshot(db: str) -> dict[str, list[str]]:
    """Every row of every trylite table but the failure counters."""
    with Transaction.start(db, readonly=True) as transaction:
        conn = transaction.connection
        return {table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
                for table in Pool.tables() if table is not throttle.table}


def assert_rejected(status: int, headers: dict[str, str], body: bytes) -> None:
    """A 4xx whose body is the JSON error object."""
    assert 400 <= status < 500, (status, body[:300])
    assert headers.get('Content-Type') == 'application/json', headers
    error = json.loads(body)
    assert error['status'] == status and isinstance(error['message'], str)
    assert b'Traceback' not in body and b'SELECT' not in body


class Target:
    """The database under fuzz, with a person and her valid key; checks answers."""

    def __init__(self, db: str) -> None:
        self.db = db
        create_user(db, 'alice')
        status, _, body = send('POST', f'/{db}/user/application/',
                               {'Content-Type': 'application/json'},
                               json.dumps({'user': 'alice', 'application': 'acme'}).encode())
        assert status == 200
        self.key = json.loads(body)
        validate(db, self.key)
        # First use writes last_used; from now on reads leave the database alone.
        assert send('GET', f'/{db}/acme/whoami', {'Authorization': f'Bearer {self.key}'})[0] == 200
        self.session, self.csrf = log_in(db)
        self.before = snapshot(db)

    def reject(self, method: str, path: str, headers: dict[str, str] | None = None,
               body: bytes = b'', content_length: str | None = None) -> int:
        """Send; the answer must be a JSON 4xx and the database unchanged."""
        status, response_headers, data = send(method, path, headers, body, content_length)
        assert_rejected(status, response_headers, data)
        assert snapshot(self.db) == self.before
        return status

    def reject_page(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        """Send to a preferences page; the answer must be an HTML 4xx (or the page itself,
        200, for a GET; a 303 back to the form for a logout without session) and the database
        unchanged."""
        status, response_headers, data = send(method, path, headers, body)
        assert snapshot(self.db) == self.before
        if path.endswith('/logout') and status == 303:  # no session to end: back to the form
            return status
        assert status == 200 if method == 'GET' else 400 <= status < 500, (status, data[:300])
        assert response_headers['Content-Type'] == 'text/html; charset=utf-8'
        assert b'Traceback' not in data and b'SELECT' not in data
        assert snapshot(self.db) == self.before
        return status

    def answer(self, method: str, path: str, headers: dict[str, str] | None = None,
               body: bytes = b'', content_length: str | None = None) -> int:
        """Send; no 5xx, and an error answer is JSON and leaves the database unchanged."""
        status, response_headers, data = send(method, path, headers, body, content_length)
        assert status < 500, (status, data[:300])
        if status >= 400:
            assert_rejected(status, response_headers, data)
            assert snapshot(self.db) == self.before
        else:  # what it wrote is the state the next rejected request must leave alone
            self.before = snapshot(self.db)
        return status


def set_cookies(headers: dict[str, str]) -> dict[str, str]:
    """The cookies a response sets (``send`` keeps one Set-Cookie: use ``Client``)."""
    return {c.split('=', 1)[0]: c.split('=', 1)[1].split(';', 1)[0]
            for c in headers.get('Set-Cookie', '').split('\n') if '=' in c}


def log_in(db: str) -> tuple[str, str]:
    """Alice's preferences session: (session cookie, the CSRF token of her forms)."""
    client = Client(app)
    page = client.get(f'/{db}/preferences/')
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    response = client.post(f'/{db}/preferences/login', data={
        'login': 'alice', 'password': PASSWORD, 'csrf_token': csrf})
    assert response.status_code == 303, response.text
    session = client.get_cookie('trylite_session', path=f'/{db}/preferences/').value
    page = client.get(f'/{db}/preferences/')
    return session, re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]


@pytest.fixture
def target(db: str, monkeypatch: pytest.MonkeyPatch, settings) -> Iterator[Target]:
    # Deep paths, not 429s: throttling and the cap on pending requests are tested by their
    # own suites.
    settings(throttle={'max_failures': 1_000_000, 'max_requests': 1_000_000},
             user_application={'max_pending': 1_000_000})
    yield Target(db)


# -- strategies ------------------------------------------------------------------------------
HOSTILE_SEGMENTS = ['..', '.', '%', '%zz', '%0', '%00', '\x00', 'a\x00b', '%ff%fe', '%C0%AF',
                    '\udcff', '====', 'A', 'Q===', 'QQ=', 'YWJj=', 'a+b/', '\r\nX-Injected: 1',
                    '%2e%2e', ' ', '\t', '~', "' OR 1=1 --", '"', '<script>']
segments = st.one_of(
    st.sampled_from(HOSTILE_SEGMENTS),
    st.text(max_size=40),
    st.from_regex(r'[A-Za-z0-9_=-]{1,24}', fullmatch=True),
    st.integers(256, 20_000).map(lambda n: 'x' * n),
)
header_values = st.one_of(
    st.sampled_from(['', ' ', 'Bearer', 'Bearer ', 'Bearer  ', 'Basic', 'Basic ', 'Basic ===',
                     'Basic Og==', 'Basic OjpB', f'Bearer {BAD_KEY}', f'bearer {BAD_KEY} x',
                     'Bearer trylite__', 'Digest x', '\x00', '\udcff']),
    st.text(max_size=60),
    st.text(alphabet='Ab0_-=+/ ', max_size=80).map(lambda s: f'Bearer {s}'),
    st.binary(max_size=40).map(lambda b: f'Basic {b.hex()}'),
    st.integers(1000, 70_000).map(lambda n: 'Bearer ' + 'k' * n),
)
content_types = st.one_of(
    st.none(),
    st.sampled_from(['application/json', 'application/json; charset=latin-1',
                     'application/json; charset=utf-16', 'application/json;;;',
                     'text/plain', 'multipart/form-data; boundary=x',
                     'application/x-www-form-urlencoded', 'application/jsonx', '*/*', '']),
    st.text(max_size=40),
)
content_lengths = st.one_of(
    st.none(), st.sampled_from(['-1', '', 'abc', '1e3', '0x10', '99999999999999999999']),
    st.integers(0, 5000).map(str))
origins = st.one_of(
    st.none(),
    st.sampled_from(['null', 'http://evil.test', 'https://localhost', 'http://localhost:99999',
                     'chrome-extension://abc', 'moz-extension://', 'file://', '://', 'http://',
                     'http://[::1', 'javascript:alert(1)']),
    st.text(max_size=40),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
key_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({'user': json_values, 'application': json_values},
                          optional={'key': json_values, 'extra': json_values}),
    st.fixed_dictionaries({'user': st.one_of(st.text(max_size=20),
                                             st.integers(95, 300).map(lambda n: 'u' * n)),
                           'application': st.sampled_from(['acme', 'other', 'nope', ''])},
                          optional={'key': st.text(max_size=80)}),
)
raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.integers(1, 200_000).map(lambda n: '[' * n + ']' * n),
    st.integers(1, 200_000).map(lambda n: '{"user":' * n + '1' + '}' * n),
    st.integers(4_000, 100_000).map(lambda n: '{"user": ' + '9' * n + '}'),
    st.sampled_from(['{"user": 1e999999, "application": "acme"}', 'NaN', 'Infinity',
                     '{"user": -0.0}', '{"user": "\\ud800", "application": "acme"}',
                     '{"user": "a", "user": 1}', '"\\u0000"', '\ufeff{}', '', 'null']),
).map(lambda value: value if isinstance(value, bytes) else value.encode('utf-8', 'surrogatepass'))


def storable(text: str) -> bool:
    return '\x00' not in text and text.encode('utf-8', 'replace') == text.encode(
        'utf-8', 'surrogatepass')


def valid_request_body(value: Any) -> bool:
    """Whether ``POST /<db>/user/application/`` must accept this JSON body."""
    return (isinstance(value, dict) and set(value) == {'user', 'application'}
            and all(isinstance(v, str) and v and storable(v) for v in value.values())
            and value['application'] in ('acme', 'other') and len(value['user']) <= 100)


# -- paths -----------------------------------------------------------------------------------
@FUZZ
@given(segment=segments, template=st.sampled_from([
    ('POST', '/{seg}/user/application/'), ('DELETE', '/{seg}/user/application/'),
    ('GET', '/{db}/acme/{seg}'), ('POST', '/{db}/acme/{seg}'), ('GET', '/{seg}/acme/whoami'),
    ('GET', '/{seg}'), ('GET', '/{seg}/{seg}'), ('POST', '/{db}/{seg}/application/'),
    ('GET', '/{db}/acme/whoami/{seg}')]))
def test_hostile_paths(target: Target, segment: str, template: tuple[str, str]) -> None:
    """A JSON 4xx; or, for repeated slashes, a 308 to the same path with them merged."""
    method, pattern = template
    path = pattern.format(db=target.db, seg=segment)
    status, headers, body = send(method, path)
    if status == 308:
        assert '//' in path and '//' not in urlsplit(headers['Location']).path, headers
        assert snapshot(target.db) == target.before
    else:
        assert_rejected(status, headers, body)
        assert snapshot(target.db) == target.before


@FUZZ
@given(segment=segments)
def test_base64_segments(target: Target, segment: str) -> None:
    """A segment that is not URL-safe base64 is a 404, never an error of the handler."""
    expected = None
    if re.fullmatch(Base64Converter.regex, segment):
        with contextlib.suppress(ValidationError):
            expected = len(Base64Converter(app.url_map).to_python(segment))
    status, headers, body = send('GET', f'/{target.db}/blob/{segment}')
    if expected is None:
        assert status == 404
        assert_rejected(status, headers, body)
    else:
        assert (status, json.loads(body)) == (200, {'len': expected})


@FUZZ
@given(segment=segments)
def test_string_path_variables(target: Target, segment: str) -> None:
    """A path variable reaching SQL (a counter's name): NUL or unpaired surrogates are 400 on
    PostgreSQL, never 500 (a name starting with a slash makes repeated slashes: 308)."""
    path = f'/{target.db}/counter/{segment}'
    status = target.answer('GET', path)
    assert status in (200, 400, 404) or (status == 308 and '//' in path), (status, path)


# -- preferences -----------------------------------------------------------------------------
form_values = st.one_of(st.text(max_size=40), st.sampled_from(
    ['', 'alice', ' alice ', 'a\x00b', '\udcff', 'validate', 'cancel', 'delete', '0' * 12,
     'x' * 5000, '%zz', '&=&=']))


@FUZZ
@given(page=st.sampled_from(['login', 'keys', 'logout', '']),
       fields=st.dictionaries(st.sampled_from(['login', 'password', 'csrf_token', 'public_id',
                                               'action', 'extra']), form_values, max_size=6),
       session=st.sampled_from(['none', 'valid', 'garbage']),
       csrf=st.sampled_from(['none', 'valid', 'garbage']),
       raw=st.one_of(st.none(), st.binary(max_size=200)),
       content_type=st.one_of(st.just('application/x-www-form-urlencoded'), content_types),
       cookie_garbage=st.one_of(st.none(), st.text(max_size=60)))
def test_preferences_forms(target: Target, page: str, fields: dict[str, str], session: str,
                           csrf: str, raw: bytes | None, content_type: str | None,
                           cookie_garbage: str | None) -> None:
    """Forged, truncated or garbage forms, cookies and tokens: an HTML 4xx (the page itself
    for a GET), nothing written. A valid session and token with a key that is not hers
    included."""
    token = {'valid': target.session, 'garbage': 'A' * 43}.get(session)
    if csrf != 'none':
        fields['csrf_token'] = target.csrf if csrf == 'valid' else 'B' * 43
    if page == 'login' and csrf == 'valid':  # the login form's own double-submit token
        fields['csrf_token'] = 'C' * 43
        token = None
    cookies = [f'trylite_session={token}'] if token else []
    if page == 'login' and csrf == 'valid':
        cookies.append('trylite_csrf=' + 'C' * 43)
    if cookie_garbage is not None:
        cookies.append(cookie_garbage)
    if page == 'logout' and session == 'valid' and csrf == 'valid':
        fields['csrf_token'] = 'D' * 43  # a valid logout would rightly write
    if page == 'login' and fields.get('login', '').strip() == 'alice':
        fields['password'] = fields.get('password', '') + '!'  # never her password
    headers = {'Cookie': '; '.join(cookies)} if cookies else {}
    if content_type is not None:
        headers['Content-Type'] = content_type
    body = raw if raw is not None else urlencode(
        {k: v.encode('utf-8', 'surrogatepass') for k, v in fields.items()}).encode()
    method = 'GET' if page == '' else 'POST'
    target.reject_page(method, f'/{target.db}/preferences/{page}', headers, body)


# -- headers ---------------------------------------------------------------------------------
@FUZZ
@given(authorization=st.one_of(st.none(), header_values), content_type=content_types,
       content_length=content_lengths, origin=origins,
       extra=st.tuples(st.from_regex(r'X-[A-Za-z-]{1,20}', fullmatch=True), header_values),
       route=st.sampled_from([('GET', '/{db}/acme/whoami'), ('POST', '/{db}/acme/echo'),
                              ('GET', '/{db}/acme/raw'), ('DELETE', '/{db}/user/application/')]))
def test_hostile_headers(target: Target, authorization: str | None, content_type: str | None,
                         content_length: str | None, origin: str | None,
                         extra: tuple[str, str], route: tuple[str, str]) -> None:
    """Without a valid key every guarded answer is a JSON 4xx; so is deleting a wrong key."""
    headers = {extra[0]: extra[1]}
    for name, value in (('Authorization', authorization), ('Content-Type', content_type),
                        ('Origin', origin)):
        if value is not None:
            headers[name] = value
    body = json.dumps({'user': 'alice', 'key': BAD_KEY, 'application': 'acme'}).encode()
    method, path = route
    target.reject(method, path.format(db=target.db), headers, body, content_length)


@FUZZ
@given(content_type=content_types, content_length=content_lengths, origin=origins,
       body=st.one_of(raw_bodies, st.integers(0, 3000).map(lambda n: b'x' * n)))
def test_hostile_requests_with_a_valid_key(target: Target, content_type: str | None,
                                           content_length: str | None, origin: str | None,
                                           body: bytes) -> None:
    """A valid key does not open a way to a 5xx: odd headers and bodies are 2xx or JSON 4xx."""
    headers = {'Authorization': f'Bearer {target.key}'}
    if content_type is not None:
        headers['Content-Type'] = content_type
    if origin is not None:
        headers['Origin'] = origin
    status = target.answer('POST', f'/{target.db}/acme/echo', headers, body, content_length)
    declared = len(body) if content_length is None else content_length
    if str(declared).isdigit() and int(declared) > 1024:
        assert status in (400, 403, 413)


# -- bodies ----------------------------------------------------------------------------------
@FUZZ
@given(value=key_bodies, method=st.sampled_from(['POST', 'DELETE']))
def test_key_routes_json_bodies(target: Target, value: Any, method: str) -> None:
    """Wrong JSON types, missing or unknown fields: 400 naming the field (404 on DELETE)."""
    body = json.dumps(value).encode()
    headers = {'Content-Type': 'application/json'}
    path = f'/{target.db}/user/application/'
    if method == 'POST' and valid_request_body(value):
        assert target.answer(method, path, headers, body) == 200
    else:
        target.reject(method, path, headers, body)


@FUZZ
@given(body=raw_bodies, method=st.sampled_from(['POST', 'DELETE']),
       content_type=st.sampled_from(['application/json', 'application/json; charset=utf-8',
                                     'text/plain']))
def test_key_routes_raw_bodies(target: Target, body: bytes, method: str,
                               content_type: str) -> None:
    """Invalid UTF-8, deep nesting and huge numbers are 400 (415 when not declared JSON)."""
    path, headers = f'/{target.db}/user/application/', {'Content-Type': content_type}
    if content_type == 'text/plain':
        assert target.reject(method, path, headers, body) == 415
        return
    try:
        valid = method == 'POST' and valid_request_body(trylite_json.loads(body))
    except ValueError:
        valid = False
    if valid:
        assert target.answer(method, path, headers, body) == 200
    else:
        target.reject(method, path, headers, body)


# -- real HTTP -------------------------------------------------------------------------------
def raw_http(base: str, request: bytes, shutdown: bool = False) -> tuple[int, bytes]:
    """Send *request* bytes as they are; the status and the body of the answer."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(request)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b''.join(chunks).partition(b'\r\n\r\n')
    return int(head.split()[1]), body


HOSTILE_REQUESTS = [
    b'GET /%zz%/user/application/ HTTP/1.1',
    b'GET /%00/acme/whoami HTTP/1.1',
    b'GET /{db}/acme/%ff%fe HTTP/1.1',
    b'GET /{db}/acme/../acme/whoami HTTP/1.1',
    b'GET /{db}/blob/QQ%3D%3D%3D HTTP/1.1',
    b'POST /{db}/acme/echo HTTP/1.1\r\nContent-Length: 10',
    b'POST /{db}/user/application/ HTTP/1.1\r\nContent-Type: application/json'
    b'\r\nContent-Length: 500',
    b'GET /{db}/acme/whoami HTTP/1.1\r\nAuthorization: Bearer \xff\xfe\x00',
    b'GET /{db}/acme/whoami HTTP/1.1\r\nOrigin: \xc3(',
    b'GET /{db}/acme/whoami HTTP/1.1\r\nX-Big: ' + b'b' * 6000,
]


def test_hostile_bytes_over_http(target: Target, live_server: str) -> None:
    """Raw bytes a client library would refuse to send; bodies shorter than announced."""
    for request_line in HOSTILE_REQUESTS:
        request = request_line.replace(b'{db}', target.db.encode())
        request += b'\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n{"user"'
        status, body = raw_http(live_server, request, shutdown=True)
        assert 400 <= status < 500, (request_line, body[:300])
        assert json.loads(body)['status'] == status, request_line
        assert snapshot(target.db) == target.before, request_line
