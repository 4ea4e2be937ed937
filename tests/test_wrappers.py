"""set_max_request_size and with_pool over HTTP, in process (transactions:
test_transaction.py)."""

from __future__ import annotations

import io
import sqlite3
import uuid
from collections.abc import Iterable

import pytest
from sqlalchemy import text
from werkzeug.serving import DechunkedInput
from werkzeug.test import Client, EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from tests.client import assert_json_error
from tests.core_routes import CALLS
from tests.helpers import bearer, create_user, validated_key
from trylite import storage
from trylite.pool import create_database
from trylite.wrappers import set_max_request_size

MiB = 1024 * 1024


def chunks(size: int, chunk: int = 64 * 1024):
    """A body of *size* bytes, in pieces of *chunk* bytes (sent chunked: no Content-Length)."""
    for start in range(0, size, chunk):
        yield b'x' * min(chunk, size - start)


def post_chunked(client: Client, path: str, pieces: Iterable[bytes]) -> TestResponse:
    """POST *pieces* with ``Transfer-Encoding: chunked``, handed to the application as
    Werkzeug's HTTP server hands such a body over: no ``CONTENT_LENGTH``,
    ``wsgi.input_terminated`` set, and the chunked bytes decoded as they are read."""
    wire = b''.join(b'%x\r\n%s\r\n' % (len(piece), piece) for piece in pieces) + b'0\r\n\r\n'
    environ = EnvironBuilder(path=path, method='POST',
                             headers={'Transfer-Encoding': 'chunked'}).get_environ()
    assert 'CONTENT_LENGTH' not in environ
    environ['wsgi.input'] = DechunkedInput(io.BytesIO(wire))
    environ['wsgi.input_terminated'] = True
    return client.open(Request(environ))


# -- set_max_request_size ------------------------------------------------------------------
def test_under_the_route_limit(client):
    assert client.post('/_core/limited', data=b'x' * 100).json == {'len': 100}


def test_over_the_route_limit_413_before_the_handler(client):
    before = CALLS['limited']
    body = assert_json_error(client.post('/_core/limited', data=b'x' * 101), 413)
    assert '100 bytes' in body['description']
    assert CALLS['limited'] == before


@pytest.mark.parametrize('size, status', [(100, 200), (101, 413), (MiB, 413)])
def test_chunked_body_cut_at_the_limit(client, size, status):
    response = post_chunked(client, '/_core/limited', chunks(size, 37))
    assert response.status_code == status, response.text
    if status == 413:
        assert_json_error(response, 413)
    else:
        assert response.json == {'len': size}


def test_default_limit_is_2_mib(client):
    before = CALLS['unlimited']
    assert client.post('/_core/unlimited', data=b'x' * 2 * MiB).json == {'len': 2 * MiB}
    assert_json_error(client.post('/_core/unlimited', data=b'x' * (2 * MiB + 1)), 413)
    assert CALLS['unlimited'] == before + 1


def test_default_limit_from_config(client, monkeypatch, settings):
    settings(request={'max_size': '10'})
    assert_json_error(client.post('/_core/unlimited', data=b'x' * 11), 413)
    assert_json_error(post_chunked(client, '/_core/unlimited', chunks(11, 3)), 413)
    assert client.post('/_core/unlimited', data=b'x' * 10).status_code == 200


@pytest.mark.parametrize('size', [0, -1, 1.5, '10', True])
def test_bad_limit_refused_at_import(size):
    with pytest.raises(ValueError, match='positive number of bytes'):
        set_max_request_size(size)


# -- with_pool -----------------------------------------------------------------------------
@pytest.mark.parametrize('name', [
    '%2E%2E', '.', 'x' * 64, 'x' * 5000, 'a$b', 'a%20b', '%C3%A9t%C3%A9', "a'b", 'a%00b',
    'nosuchdb', 'postgres', 'template1'])
def test_invalid_or_unknown_database_404(db, client, name):
    assert_json_error(client.get(f'/{name}/counter/x'), 404)


@pytest.fixture
def foreign_database(db, backend_uri):
    """A database on the same backend without trylite's marker (made here, dropped after)."""
    name = f'foreign_{uuid.uuid4().hex[:8]}'
    backend = storage.backend()
    if backend_uri.startswith('sqlite'):
        backend.folder.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(backend.path(name)) as conn:
            conn.execute('CREATE TABLE test_counter (name TEXT, value INTEGER)')
        yield name
        backend.path(name).unlink()
        return
    with backend.admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield name
    with backend.admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_database_without_marker_404(foreign_database, client):
    for _ in range(2):  # the refusal is not cached into an acceptance
        assert_json_error(client.get(f'/{foreign_database}/counter/x'), 404)
    assert foreign_database not in storage.backend().databases()


def test_file_that_is_no_database_404(db, backend_uri, client):
    if not backend_uri.startswith('sqlite'):
        pytest.skip('SQLite files only')
    path = storage.backend().path('notadb')
    path.write_bytes(b'not a database' * 100)
    try:
        assert_json_error(client.get('/notadb/counter/x'), 404)
    finally:
        path.unlink()


def test_database_created_while_serving(db, client):
    name = f'trylite_new_{uuid.uuid4().hex[:8]}'
    assert_json_error(client.get(f'/{name}/counter/x'), 404)
    create_database(name)
    try:
        assert client.post(f'/{name}/counter/x').json == {'name': 'x', 'value': 1}
    finally:
        storage.backend().drop(name)
    assert_json_error(client.get(f'/{name}/counter/x'), 404)


def _terminate_connections(db: str) -> None:
    """Make PostgreSQL drop every connection to *db*, as a restart would."""
    with storage.backend().admin.connect() as conn:
        killed = conn.execute(text(
            'SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity '
            'WHERE datname = :db AND pid <> pg_backend_pid()'), {'db': db}).scalar()
    assert killed >= 1


def test_dead_pooled_connections_are_replaced_without_an_error(db, kind, client):
    """After PostgreSQL dropped every connection (a restart), the next request still succeeds:
    with_transaction re-runs it once on a new connection."""
    if kind != 'postgresql':
        pytest.skip('PostgreSQL only: its server closes connections')
    for _ in range(3):
        assert client.get(f'/{db}/users').status_code == 200
    _terminate_connections(db)
    for method in ('GET', 'POST'):
        response = client.open(f'/{db}/counter/after-restart', method=method)
        assert response.status_code == 200, response.text


def test_dead_pooled_connection_found_by_the_key_check(db, kind, client):
    """The key check, the first statement of a guarded request (run before BEGIN), finds the
    pooled connection dead: the request is re-run on a new one, and the key still works."""
    if kind != 'postgresql':
        pytest.skip('PostgreSQL only: its server closes connections')
    create_user(db, 'alice')
    key = validated_key(client, db, 'alice')
    assert client.get(f'/{db}/acme/whoami', headers=bearer(key)).status_code == 200
    _terminate_connections(db)
    response = client.get(f'/{db}/acme/whoami', headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json['login'] == 'alice'
