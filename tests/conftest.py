"""Fixtures shared by the whole suite.

Every database test runs twice: on SQLite files and on PostgreSQL
(``TRYLITE_TEST_POSTGRESQL_URI``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/``).
Under ``CI=true`` an unreachable PostgreSQL or a missing Chromium fails the suite instead of
skipping.

* ``settings`` — every test starts from the suite's own settings (defaults, data in a
  temporary folder, no configuration file or environment); ``settings(web={'debug': True})``
  changes them for the rest of the test.
* ``db`` — the name of a fresh trylite database on the current backend (tables emptied after
  each test); ``backend_uri`` — that backend's ``[database] uri``.
* ``client`` — a werkzeug test client of ``trylite.wsgi.app``, in process, keeping cookies
  (``tests/client.py``): what HTTP-level tests use.
* ``live_server`` — base URL of ``trylite.wsgi.app`` served over real HTTP in this process
  (for what needs a real server: raw bytes on the wire, a browser).
* ``start_server`` — starts ``trylite serve`` (gunicorn, real worker processes) and gives its URL.
* ``browser`` — a Selenium driver of headless Chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Connection, create_engine, delete, select, text
from werkzeug.serving import make_server
from werkzeug.test import Client

import tests.data_models  # noqa: F401  (models of every field type)
import tests.routes  # noqa: F401  (test routes and models)
import trylite.auth.apikeys  # noqa: F401  (personal API keys: their table)
from tests.client import make_client
from trylite import storage
from trylite.auth import throttle
from trylite.data.registry import bump
from trylite.pool import Pool, create_database, metadata
from trylite.settings import Settings, configure, current
from trylite.storage import marker
from trylite.wsgi import app

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get('CI', '').lower() == 'true'
PG_URI = os.environ.get('TRYLITE_TEST_POSTGRESQL_URI',
                        'postgresql+psycopg://postgres@127.0.0.1:5432/')
TEST_MODULES = ['tests.routes']

try:  # the example application, when present, is served by the suite too
    import example_app  # noqa: F401
    TEST_MODULES.append('example_app')
except ImportError:
    pass


def missing(reason: str) -> None:
    """Skip for lack of *reason*'s resource — or fail, under CI=true."""
    if CI:
        pytest.fail(f'{reason} (CI=true: required)', pytrace=False)
    pytest.skip(reason)


def postgresql_error() -> str | None:
    try:
        engine = create_engine(PG_URI.rstrip('/') + '/postgres',
                               connect_args={'connect_timeout': 3})
        with engine.connect() as conn:
            conn.execute(text('SELECT 1'))
        engine.dispose()
    except Exception as exc:  # any failure means: not usable
        return f'PostgreSQL unreachable at {PG_URI}: {type(exc).__name__}'
    return None


@contextmanager
def configured(settings: Settings) -> Iterator[Settings]:
    """Run the block with *settings* as the process-wide settings."""
    before = current()
    configure(settings)
    try:
        yield settings
    finally:
        configure(before)


@pytest.fixture(scope='session')
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Defaults, with databases in a temporary folder: no file, no environment."""
    data = tmp_path_factory.mktemp('trylite-data')
    return Settings.load(environ={}).replace(database={'uri': f'sqlite:///{data}'})


@pytest.fixture(autouse=True)
def settings(base_settings: Settings) -> Iterator[Callable[..., Settings]]:
    """Each test starts from the suite's settings; ``settings(section={key: value})``
    changes them (on top of the current ones) for the rest of the test."""
    def change(**sections: dict[str, Any]) -> Settings:
        changed = current().replace(**sections)
        configure(changed)
        return changed

    with configured(base_settings):
        yield change


@pytest.fixture(scope='session', params=['sqlite', 'postgresql'])
def backend_uri(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> str:
    if request.param == 'postgresql':
        error = postgresql_error()
        if error:
            missing(error)
        return PG_URI
    return f'sqlite:///{tmp_path_factory.mktemp("sqlite")}'


@pytest.fixture(scope='session')
def session_database(backend_uri: str, base_settings: Settings) -> Iterator[str]:
    name = f'trylite_test_{uuid.uuid4().hex[:8]}'
    on_backend = base_settings.replace(database={'uri': backend_uri})
    with configured(on_backend):
        create_database(name)
    yield name
    with configured(on_backend):
        storage.backend().drop(name)


@pytest.fixture
def db(session_database: str, backend_uri: str, settings: Callable[..., Settings]
       ) -> Iterator[str]:
    """A trylite database on the current backend, emptied after the test (but for the data
    made when it was created: the admin group, the models list, the default access rows)."""
    settings(database={'uri': backend_uri})
    yield session_database
    with storage.backend().transaction(session_database) as conn:
        empty(conn)
    throttle.forget()


def empty(conn: Connection) -> None:
    """Delete every row a test may have made; drop the models it made at run time."""
    tables = metadata.tables
    models, access, groups = (tables['ir_model'], tables['ir_model_access'],
                              tables['res_group'])
    manual = select(models.c.model).where(models.c.state == 'manual')
    for name in conn.execute(manual).scalars().all():
        conn.exec_driver_sql(f'DROP TABLE "{name.replace(".", "_")}"')
    kept = {'ir_model': models.c.state == 'base',
            'ir_model_fields': tables['ir_model_fields'].c.state == 'base',
            'ir_model_access': access.c.name.like('everyone reads %'),
            'res_group': groups.c.name == 'admin'}
    registered = set(Pool.tables())
    for table in reversed(metadata.sorted_tables):
        if table in registered and table is not marker and table.name != 'ir_registry':
            keep = kept.get(table.name)
            conn.execute(delete(table) if keep is None else delete(table).where(~keep))
    bump(conn)


@pytest.fixture
def kind(db: str, backend_uri: str) -> str:
    """``'sqlite'`` or ``'postgresql'``: the backend of the ``db`` fixture."""
    return 'sqlite' if backend_uri.startswith('sqlite') else 'postgresql'


@pytest.fixture
def client() -> Client:
    """``trylite.wsgi.app`` in process: a werkzeug test client keeping cookies, requests from
    127.0.0.1 to ``http://localhost``."""
    return make_client()


@pytest.fixture(scope='session')
def live_server() -> Iterator[str]:
    """``trylite.wsgi.app`` over real HTTP (threaded Werkzeug server in this process)."""
    server = make_server('127.0.0.1', 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_port}'
    server.shutdown()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f'server exited with {proc.returncode}')
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):  # not up, or still starting
            time.sleep(0.1)
    raise TimeoutError(f'{url} did not answer within {timeout} s')


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Stop a server started in a session of its own: gunicorn's graceful stop (SIGTERM),
    then, after *timeout* seconds, SIGKILL to its whole process group."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def start_server(backend_uri: str) -> Iterator[Callable[..., str]]:
    """Start ``trylite serve`` (gunicorn) with extra options/env; returns its base URL."""
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict[str, str] | None = None, workers: int = 2) -> str:
        port = free_port()
        environ = {**os.environ, **current().environ(), 'TRYLITE_DATABASE__URI': backend_uri,
                   'PYTHONPATH': str(ROOT), **(env or {})}
        command = [sys.executable, '-m', 'trylite', 'serve', '--port', str(port),
                   '--workers', str(workers), *[a for m in TEST_MODULES for a in ('-m', m)],
                   *args]
        proc = subprocess.Popen(command, env=environ, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        started.append(proc)
        url = f'http://127.0.0.1:{port}'
        wait_for(url + '/', proc=proc)
        return url

    yield start
    for proc in started:
        stop(proc)


CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium (Debian's chromium + chromium-driver) driven by Selenium."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        missing('Chromium or chromedriver not installed (apt-get install chromium '
                'chromium-driver)')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
                 f'--user-data-dir={tmp_path / "chromium"}', '--window-size=1000,900'):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
