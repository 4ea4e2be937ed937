"""Endpoints under ``trylite serve`` (gunicorn, two worker processes), on SQLite and
PostgreSQL: a change made through one worker is served by the other at its next request, and
a runaway snippet leaves its worker serving."""

from __future__ import annotations

from typing import Any

import requests

from tests.endpoints.conftest import WHOAMI
from tests.helpers import pinned_sessions
from tests.test_preferences import create_user


def test_every_worker_serves_a_change_at_once(db, start_server, settings):
    alice = create_user(db, 'alice')
    settings(endpoint={'timeout': 1})
    base = start_server(workers=2)
    pinned = pinned_sessions(base)
    assert len(pinned) == 2, 'could not reach both workers'
    first, second = pinned.values()

    def get(session: requests.Session, route: str) -> requests.Response:
        return session.get(f'{base}/{db}/api/endpoint{route}', timeout=20)

    def call(method: str, *args: Any) -> Any:
        answer = first.post(f'{base}/{db}/test/call/endpoint.endpoint/{method}',
                            json={'args': list(args)}, timeout=20)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert get(second, '/live').status_code == 404  # the second worker looked first
    (endpoint,) = call('create', {'name': 'live', 'route': '/live', 'auth_type': 'public',
                                  'exec_as_user_id': alice, 'code': WHOAMI})
    assert get(second, '/live').json() == {'login': 'alice', 'caller': None}
    call('write', [endpoint], {'route': '/moved'})
    assert get(second, '/live').status_code == 404
    assert get(second, '/moved').status_code == 200
    call('write', [endpoint], {'code': 'while True:\n    pass'})
    assert get(second, '/moved').status_code == 504
    call('write', [endpoint], {'code': "result = {'payload': 'served'}"})
    assert get(second, '/moved').json() == 'served'  # the same worker, serving on
    call('write', [endpoint], {'active': False})
    assert get(second, '/moved').status_code == 404
    for session in pinned.values():
        session.close()
