"""``trylite serve``: gunicorn worker processes and the development server, over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.client import assert_json_error
from tests.conftest import ROOT, free_port, wait_for
from tests.helpers import bearer, create_user, validated_key


def test_serve_with_gunicorn_workers(db, start_server, http):
    create_user(db, 'alice')
    base = start_server(workers=2)
    key = validated_key(base, db, 'alice')
    response = http.get(f'{base}/{db}/acme/whoami', headers=bearer(key))
    assert response.status_code == 200
    assert response.json()['login'] == 'alice'
    assert http.get(f'{base}/{db}/users').json() == ['alice']
    assert_json_error(http.get(f'{base}/{db}/acme/whoami'), 401)
    assert_json_error(http.get(f'{base}/nosuchdb/users'), 404)


def test_serve_dev_starts(db, backend_uri, http):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, '-m', 'trylite', 'serve', '--dev', '--port', str(port),
         '-m', 'tests.routes'], cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, 'PYTHONPATH': str(ROOT), 'TRYLITE_DATABASE__URI': backend_uri})
    try:
        wait_for(f'http://127.0.0.1:{port}/', proc=proc)
        assert http.get(f'http://127.0.0.1:{port}/{db}/users').json() == []
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the reloader's child is in our session
        proc.wait(10)
