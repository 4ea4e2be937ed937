"""The ``trylite`` command: db and user management, config, and one-line errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from tests.conftest import ROOT
from tests.helpers import invoke
from trylite import storage
from trylite.auth.persons import User, authenticate
from trylite.transaction import Transaction


def run(*args: str, input: str | None = None, ok: bool = True,
        env: dict[str, str | None] | None = None) -> str:
    result = invoke(*args, input=input, env=env)
    if ok:
        assert result.exit_code == 0, result.output
    return result.output if ok else _one_error_line(result)


def _one_error_line(result) -> str:
    """A mistake: non-zero exit, one line ``Error: …``, no traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('Error: '), result.output
    return lines[0]


def trylite(*args: str, env: dict[str, str], cwd: Path = ROOT
            ) -> subprocess.CompletedProcess[str]:
    """``trylite ARGS`` in a new process (for modules that must not load into the suite)."""
    command = [str(Path(sys.executable).with_name('trylite')), *args]  # the console script
    return subprocess.run(command, cwd=cwd, text=True, capture_output=True, timeout=60,
                          env={**os.environ, 'PYTHONPATH': str(ROOT), **env})


@pytest.fixture
def new_name(db):
    """A database name on the current backend, dropped after the test if it was created."""
    name = f'trylite_cli_{uuid.uuid4().hex[:8]}'
    yield name
    if storage.backend().exists(name):
        storage.backend().drop(name)


# -- db ------------------------------------------------------------------------------------
def test_db_create_list_update_drop(new_name, backend_uri):
    assert run('db', 'create', new_name) == f'Created database {new_name}.\n'
    assert new_name in run('db', 'list').split()
    assert 'already exists' in run('db', 'create', new_name, ok=False)

    result = trylite('db', 'update', new_name, '-m', 'tests.extra_model',
                     env={'TRYLITE_DATABASE__URI': backend_uri})
    assert result.returncode == 0, result.stderr
    with storage.backend().engine(new_name).connect() as conn:
        assert 'test_note' in inspect(conn).get_table_names()

    assert 'add --yes' in run('db', 'drop', new_name, ok=False)
    assert storage.backend().exists(new_name)
    assert run('db', 'drop', new_name, '--yes') == f'Dropped database {new_name}.\n'
    assert new_name not in run('db', 'list').split()


def test_modules_found_in_the_current_directory(tmp_path):
    (tmp_path / 'here_routes.py').write_text('from trylite.wsgi import app\n')
    result = trylite('db', 'create', 'here', '-m', 'here_routes', cwd=tmp_path,
                     env={'TRYLITE_DATABASE__URI': f'sqlite:///{tmp_path}'})
    assert (result.returncode, result.stdout) == (0, 'Created database here.\n'), result.stderr


@pytest.mark.parametrize('args', [
    ('db', 'update', 'nosuchdb'),
    ('db', 'drop', 'nosuchdb', '--yes'),
    ('user', 'list', '-d', 'nosuchdb'),
    ('user', 'create', '-d', 'nosuchdb', 'alice', '--password-stdin'),
])
def test_unknown_database(db, args):
    assert "no trylite database named 'nosuchdb'" in run(*args, input='x' * 10, ok=False)


@pytest.mark.parametrize('name', ['..', 'a/b', 'x' * 64, '1abc'])
def test_invalid_database_name(db, name):
    assert 'invalid database name' in run('db', 'create', name, ok=False)


def test_module_that_does_not_import(db):
    assert "cannot import module 'no_such_module'" in run(
        'db', 'create', 'x', '-m', 'no_such_module', ok=False)


# -- user ----------------------------------------------------------------------------------
def test_user_commands(db):
    run('user', 'create', '-d', db, 'alice', '--name', 'Alice A', '--password-stdin',
        input='first password\n')
    run('user', 'create', '-d', db, 'bob', '--password-stdin', input='bob password\n')
    assert run('user', 'list', '-d', db) == 'alice\tAlice A\tactive\nbob\tbob\tactive\n'
    assert 'already exists' in run('user', 'create', '-d', db, 'alice', '--password-stdin',
                                   input='other password\n', ok=False)

    run('user', 'set-password', '-d', db, 'alice', '--password-stdin', input='second pass\n')
    with Transaction.start(db) as transaction:
        assert authenticate(transaction.session, 'alice', 'second pass') is not None
        assert authenticate(transaction.session, 'alice', 'first password') is None

    assert run('user', 'deactivate', '-d', db, 'bob') == 'Deactivated user bob.\n'
    assert run('user', 'list', '-d', db).splitlines()[1] == 'bob\tbob\tinactive'


@pytest.mark.parametrize('args, message', [
    (('user', 'set-password', 'nobody', '--password-stdin'), "no user with login 'nobody'"),
    (('user', 'deactivate', 'nobody'), "no user with login 'nobody'"),
    (('user', 'create', 'carol', '--password-stdin'), 'Password too short'),
    (('user', 'set-password', 'carol'), 'no password given'),
])
def test_user_mistakes(db, args, message):
    group, command, *rest = args
    assert message in run(group, command, '-d', db, *rest, input='short\n', ok=False)
    with Transaction.start(db) as transaction:
        assert transaction.session.scalars(select(User)).all() == []


@pytest.mark.parametrize('args, piped', [
    ((), 'a piped password\n'),  # piped without --password-stdin: never a person without one
    (('--password-stdin',), '\n'),  # an empty line
    (('--password-stdin',), ''),  # nothing at all
])
def test_user_create_refuses_to_make_a_person_without_a_password(db, args, piped):
    line = run('user', 'create', '-d', db, 'carol', *args, input=piped, ok=False)
    assert line.startswith('Error: no password given')
    if not args:
        assert '--password-stdin' in line
    with Transaction.start(db) as transaction:
        assert transaction.session.scalars(select(User)).all() == []


# -- configuration and backends -------------------------------------------------------------
@pytest.mark.parametrize('uri, message', [
    ('mysql://x/', '[database] uri must be'),
    ('sqlite:///', 'must name a folder'),
    ('postgresql+psycopg://postgres@127.0.0.1:1/', 'database error: connection'),
])
def test_bad_or_unreachable_database(monkeypatch, uri, message):
    monkeypatch.setenv('TRYLITE_DATABASE__URI', uri)
    assert message in run('db', 'list', ok=False)


def test_config_file_option_and_variable(db, tmp_path, monkeypatch, backend_uri):
    path = tmp_path / 'trylite.ini'
    path.write_text(f'[database]\nuri = {backend_uri}\n')
    assert db in run('-c', str(path), 'db', 'list', env={}).split()
    assert db in run('db', 'list', env={'TRYLITE_CONFIG': str(path)}).split()
    assert '[database] uri must be' in run(  # the environment wins
        'db', 'list', ok=False, env={'TRYLITE_CONFIG': str(path),
                                     'TRYLITE_DATABASE__URI': 'mysql://x/'})


@pytest.mark.parametrize('text, message', [
    ('[database]\nretry = often\n', '[database] retry must be a whole number'),
    ('[web]\ncros = x\n', 'unknown option [web] cros'),
    ('[web\n', 'invalid configuration file'),
    (None, 'cannot read configuration file'),
])
def test_bad_config_file(tmp_path, monkeypatch, text, message):
    path = tmp_path / 'trylite.ini'
    if text is not None:
        path.write_text(text)
    assert message in run('-c', str(path), 'db', 'list', ok=False)
    monkeypatch.setenv('TRYLITE_CONFIG', str(path))
    assert message in run('db', 'list', ok=False)


@pytest.mark.parametrize('uri', [
    'postgresql+psycopg://admin:s3cret-pw@db.example:notaport/',
    'postgresql://admin:s3cret-pw@db.example/',
    'mysql://admin:s3cret-pw@db.example/',
    'sqlite://admin:s3cret-pw@relative',
])
@pytest.mark.parametrize('command', [('db', 'list'), ('serve', '--port', '1')])
def test_malformed_uri_is_one_line_without_the_password(settings, uri, command):
    settings(database={'uri': uri})
    result = invoke(*command)
    line = _one_error_line(result)
    assert 's3cret' not in result.output and 'Traceback' not in result.output
    assert line.startswith('Error: [database] uri')


def test_bad_environment_value(monkeypatch):
    monkeypatch.setenv('TRYLITE_WEB__DEBUG', 'perhaps')
    assert '[web] debug must be true or false' in run('db', 'list', ok=False)


def test_serve_port_in_use():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert f'port {port} on 127.0.0.1 is already in use' in run(
            'serve', '--port', str(port), ok=False)


def test_serve_bad_uri(monkeypatch):
    monkeypatch.setenv('TRYLITE_DATABASE__URI', 'mysql://x/')
    assert '[database] uri must be' in run('serve', '--port', '1', ok=False)


def test_version():
    assert run('--version').startswith('trylite, version ')
