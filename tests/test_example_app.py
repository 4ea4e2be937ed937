"""The timesheet example (example_app): its API on SQLite and PostgreSQL and its static front end
(in process), and ``trylite demo`` (a real server)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.test import Client, TestResponse

from example_app import demo
from example_app.models import Work
from tests.client import make_client
from tests.conftest import ROOT, free_port, stop, wait_for
from tests.helpers import (
    bearer,
    create_user,
    request_key,
    validate,
    validated_key,
    wrong_secret,
)
from trylite.auth.persons import authenticate
from trylite.transaction import Transaction


@dataclass
class Person:
    """A person of the test database and a client holding their timesheet key."""

    client: Client
    db: str
    key: str

    def url(self, path: str) -> str:
        return f'/{self.db}/timesheet/{path}'

    def call(self, method: str, path: str, **kwargs: object) -> TestResponse:
        headers = {**bearer(self.key), **kwargs.pop('headers', {})}  # type: ignore[dict-item]
        return self.client.open(self.url(path), method=method, headers=headers, **kwargs)

    def create(self, **fields: object) -> dict:
        response = self.call('POST', 'lines', json=fields)
        assert response.status_code == 201, response.text
        return response.json


@dataclass
class Setup:
    ada: Person
    bob: Person
    work: int  # active
    other: int  # active
    inactive: int


def add_works(db: str, names: tuple[str, ...] = ('Development', 'Accounting', '-Old project')
              ) -> list[int]:
    """Create works (inactive when the name starts with ``-``) and return their ids."""
    with Transaction.start(db) as transaction:
        works = [Work(name=name.lstrip('-'), active=not name.startswith('-')) for name in names]
        transaction.session.add_all(works)
        transaction.session.flush()
        return [work.id for work in works]


@pytest.fixture
def ts(db: str) -> Setup:
    work, other, inactive = add_works(db)
    people = {}
    for login in ('ada', 'bob'):
        create_user(db, login)
        client = make_client()
        people[login] = Person(client, db, validated_key(client, db, login, 'timesheet'))
    return Setup(people['ada'], people['bob'], work, other, inactive)


def line(ts: Setup, **fields: object) -> dict[str, object]:
    return {'work': ts.work, 'date': '2026-11-23', 'duration': 90, **fields}


def assert_error(response: TestResponse, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers['Content-Type'] == 'application/json'
    body = response.json
    assert body['status'] == status
    assert body.get('field') == field
    return body


# -- the API -------------------------------------------------------------------------------
def test_works_lists_the_active_ones_by_name(ts):
    response = ts.ada.call('GET', 'works')
    assert response.status_code == 200
    assert response.json == [{'id': ts.other, 'name': 'Accounting'},
                               {'id': ts.work, 'name': 'Development'}]


def test_line_lifecycle(ts):
    response = ts.ada.call('POST', 'lines', json=line(ts, description='Reviewing'))
    assert response.status_code == 201
    created = response.json
    assert response.headers['Location'] == f'/{ts.ada.db}/timesheet/lines/{created["id"]}'
    assert created == {'id': created['id'], 'work': ts.work, 'work_name': 'Development',
                       'date': '2026-11-23', 'duration': 90, 'description': 'Reviewing'}
    path = f'lines/{created["id"]}'
    assert ts.ada.call('GET', path).json == created

    patched = ts.ada.call('PATCH', path, json={'duration': 30, 'work': ts.other}).json
    assert (patched['duration'], patched['work_name'], patched['description']) == (
        30, 'Accounting', 'Reviewing')
    replaced = ts.ada.call('PUT', path, json=line(ts, date='2026-11-24')).json
    assert (replaced['date'], replaced['duration'], replaced['description']) == (
        '2026-11-24', 90, '')
    assert ts.ada.call('GET', 'lines').json == [replaced]

    response = ts.ada.call('DELETE', path)
    assert (response.status_code, response.get_data()) == (204, b'')
    assert ts.ada.call('GET', 'lines').json == []
    assert_error(ts.ada.call('DELETE', path), 404)


def test_lines_by_date_range_newest_first(ts):
    ids = {day: ts.ada.create(**line(ts, date=f'2026-11-{day}'))['id'] for day in (20, 22, 25)}
    ts.ada.create(**line(ts, work=ts.other, date='2026-11-22', duration=15))

    def dates(query: str) -> list[str]:
        response = ts.ada.call('GET', f'lines{query}')
        assert response.status_code == 200, response.text
        return [found['date'] for found in response.json]

    assert dates('') == ['2026-11-25', '2026-11-22', '2026-11-22', '2026-11-20']
    assert dates('?from=2026-11-22&to=2026-11-24') == ['2026-11-22', '2026-11-22']
    assert dates('?from=2026-11-22') == ['2026-11-25', '2026-11-22', '2026-11-22']
    assert dates('?to=2026-11-20') == ['2026-11-20']
    assert dates('?from=&to=') == dates('')
    assert ts.ada.call('GET', f'lines/{ids[20]}').json['date'] == '2026-11-20'


def test_lines_of_an_inactive_work_stay_readable(ts):
    created = ts.ada.create(**line(ts))
    with Transaction.start(ts.ada.db) as transaction:
        transaction.session.get(Work, ts.work).active = False
    response = ts.ada.call('PATCH', f'lines/{created["id"]}', json={'duration': 45})
    assert response.status_code == 200, response.text
    assert ts.ada.call('GET', 'lines').json[0]['work_name'] == 'Development'
    assert_error(ts.ada.call('PATCH', f'lines/{created["id"]}', json={'work': ts.work}), 400,
                 'work')


def test_a_person_never_reaches_another_persons_line(ts):
    created = ts.ada.create(**line(ts, description='mine'))
    for method in ('GET', 'PUT', 'PATCH', 'DELETE'):
        body = line(ts) if method in ('PUT', 'PATCH') else None
        assert_error(ts.bob.call(method, f'lines/{created["id"]}', json=body), 404)
    assert ts.bob.call('GET', 'lines').json == []
    assert ts.ada.call('GET', 'lines').json == [created]


def test_each_person_lists_only_their_lines(ts):
    mine = ts.ada.create(**line(ts))
    theirs = ts.bob.create(**line(ts, duration=60))
    assert ts.ada.call('GET', 'lines').json == [mine]
    assert ts.bob.call('GET', 'lines').json == [theirs]


BAD_VALUES = {
    'date': ['2026-13-01', '2026-02-30', '2026-1-1', '20261123', '2026-11-23T10:00', 20261123,
             None, ''],
    'duration': [0, -30, 24 * 60 + 1, 10**20, 1.5, '60', True, None],
    'work': ['inactive', 999999, 0, -1, 2**40, '1', None, 1.0],
    'description': ['x' * 501, 12, '', ['a']],
}


@pytest.mark.parametrize('field', BAD_VALUES)
def test_invalid_field_answers_400_naming_it(ts, field):
    created = ts.ada.create(**line(ts))
    path = f'lines/{created["id"]}'
    for value in BAD_VALUES[field]:
        value = ts.inactive if value == 'inactive' else value
        assert_error(ts.ada.call('POST', 'lines', json=line(ts, **{field: value})), 400, field)
        assert_error(ts.ada.call('PATCH', path, json={field: value}), 400, field)
        assert_error(ts.ada.call('PUT', path, json=line(ts, **{field: value})), 400, field)
    assert ts.ada.call('GET', 'lines').json == [created]


def test_missing_or_unknown_field_answers_400_naming_it(ts):
    path = f'lines/{ts.ada.create(**line(ts))["id"]}'
    for method, body, field in [
        ('POST', {'date': '2026-11-23', 'duration': 60}, 'work'),
        ('POST', {'work': 1, 'duration': 60}, 'date'),
        ('POST', {'work': 1, 'date': '2026-11-23'}, 'duration'),
        ('POST', {'work': 1, 'date': '2026-11-23', 'duration': 60, 'user': 2}, 'user'),
        ('POST', {'work': 1, 'date': '2026-11-23', 'duration': 60, 'id': 7}, 'id'),
        ('PUT', {'duration': 60}, 'work'),
        ('PATCH', {'user': 2}, 'user'),
        ('PATCH', {'work_name': 'x'}, 'work_name'),
    ]:
        assert_error(ts.ada.call(method, 'lines' if method == 'POST' else path, json=body),
                     400, field)


def test_invalid_range_answers_400_naming_it(ts):
    for query, field in [('from=2026-11-31', 'from'), ('from=yesterday', 'from'),
                         ('to=2026-1-1', 'to'), ('from=2026-11-25&to=2026-11-24', 'to')]:
        assert_error(ts.ada.call('GET', f'lines?{query}'), 400, field)


def test_body_not_a_json_object_answers_415_or_400(ts):
    path = f'lines/{ts.ada.create(**line(ts))["id"]}'
    for data, content_type, status in [
        ('work=1', 'application/x-www-form-urlencoded', 415),
        ('{"work": 1}', 'text/plain', 415),
        ('{"work": ', 'application/json', 400),
        ('[1, 2]', 'application/json', 400),
        ('"a string"', 'application/json', 400),
        ('{"work": NaN}', 'application/json', 400),
    ]:
        for method in ('POST', 'PUT', 'PATCH'):
            response = ts.ada.call(method, 'lines' if method == 'POST' else path, data=data,
                                   headers={'Content-Type': content_type})
            assert 'Traceback' not in str(assert_error(response, status))


def test_oversized_body_answers_413(ts):
    body = line(ts, description='x' * 9000)
    assert_error(ts.ada.call('POST', 'lines', json=body), 413)


def test_unknown_line_answers_404(ts):
    for path in ('lines/999999', 'lines/2147483647', 'lines/2147483648',
                 'lines/99999999999999999999', 'lines/-1', 'lines/abc'):
        for method in ('GET', 'PATCH', 'DELETE'):
            assert_error(ts.ada.call(method, path, json={}), 404)


def test_unknown_database_answers_404(ts):
    person = Person(ts.ada.client, 'no_such_database', ts.ada.key)
    assert_error(person.call('GET', 'works'), 404)


def test_without_a_valid_timesheet_key_answers_401(ts):
    client, db = make_client(), ts.ada.db
    revoked = request_key(client, db, 'ada', 'timesheet')
    response = client.delete(f'/{db}/user/application/', json={
        'user': 'ada', 'key': revoked, 'application': 'timesheet'})
    assert response.status_code == 204
    keys = {
        'none': None, 'garbage': 'trylite_000000000000_' + 'x' * 43,
        'pending': request_key(client, db, 'ada', 'timesheet'),
        'other-app': validated_key(client, db, 'ada', 'acme'), 'revoked': revoked,
    }
    routes = itertools.cycle([('GET', 'works'), ('GET', 'lines'), ('POST', 'lines'),
                              ('PUT', 'lines/1'), ('DELETE', 'lines/1')])
    for key, (method, path) in zip(keys.values(), routes, strict=False):  # < 10: no 429
        response = client.open(f'/{db}/timesheet/{path}', method=method,
                               headers=bearer(key) if key else {}, json=line(ts))
        assert_error(response, 401)
        assert response.headers['WWW-Authenticate'].lower().startswith('bearer')


def test_polling_a_pending_key_is_not_a_failure(ts):
    """The front end polls until its key is validated: that must never throttle the client
    (nor lock its person out of the preferences login from the same address)."""
    client, db = ts.ada.client, ts.ada.db
    pending = Person(make_client(), db, request_key(client, db, 'ada', 'timesheet'))
    for _ in range(15):  # more than [throttle] max_failures
        assert_error(pending.call('GET', 'works'), 401)
    validate(db, pending.key)
    assert pending.call('GET', 'works').status_code == 200
    guess = Person(make_client(), db, wrong_secret(pending.key))
    statuses = [guess.call('GET', 'works').status_code for _ in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429  # a wrong secret is a failure


def test_null_origin_is_allowed_with_cors_headers(ts):
    """Browser extensions (Origin: null or moz-extension://) may call the API, preflight too."""
    origin = 'moz-extension://4b2c1d'
    response = ts.ada.call('GET', 'works', headers={'Origin': origin})
    assert response.status_code == 200
    assert response.headers['Access-Control-Allow-Origin'] == origin
    preflight = make_client().options(ts.ada.url('lines'), headers={
        'Origin': 'null', 'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'Authorization, Content-Type'})
    assert preflight.status_code == 204
    assert 'POST' in preflight.headers['Access-Control-Allow-Methods']


# -- the front end -------------------------------------------------------------------------
@pytest.mark.parametrize(('path', 'content_type', 'needle'), [
    ('/timesheet/', 'text/html; charset=utf-8', b'<title>Timesheet</title>'),
    ('/timesheet/app.js', 'text/javascript; charset=utf-8', b"const APPLICATION = 'timesheet'"),
    ('/timesheet/style.css', 'text/css; charset=utf-8', b':root'),
    ('/timesheet/icon.svg', 'image/svg+xml; charset=utf-8', b'<svg'),
])
def test_front_end_files(client, path, content_type, needle):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers['Content-Type'] == content_type
    assert needle in response.get_data()
    assert "default-src 'self'" in response.headers['Content-Security-Policy']
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    again = client.get(path, headers={'If-None-Match': response.headers['ETag']})
    assert again.status_code == 304


@pytest.mark.parametrize('path', [
    '/timesheet/nope.js', '/timesheet/..%2F__init__.py', '/timesheet/%2e%2e%2fmodels.py',
    '/timesheet/../example_app/models.py',  # sent as is (requests would have removed the ..)
    '/example_app/models.py', '/timesheet/static', '/timesheet/.%2e/routes.py',
])
def test_front_end_serves_nothing_else(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b'import' not in response.get_data()


def test_front_end_never_logs_the_key():
    script = (ROOT / 'example_app' / 'static' / 'app.js').read_text()
    assert 'console.' not in script


# -- trylite demo --------------------------------------------------------------------------
def start_demo(data: Path, port: int, out: Path) -> subprocess.Popen:
    env = {**os.environ, 'TRYLITE_DATABASE__URI': f'sqlite:///{data}', 'PYTHONPATH': str(ROOT),
           'TRYLITE_WEB__WORKERS': '1'}
    env.pop('TRYLITE_CONFIG', None)
    return subprocess.Popen([sys.executable, '-m', 'trylite', 'demo', '--port', str(port)],
                            env=env, cwd=ROOT, stdout=out.open('w'), stderr=subprocess.STDOUT,
                            start_new_session=True)


def printed_password(out: Path, proc: subprocess.Popen, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in out.read_text().splitlines():
            if text.strip().startswith('Password'):
                return text.split()[-1]
        assert proc.poll() is None, out.read_text()
        time.sleep(0.1)
    raise TimeoutError(out.read_text())


def test_demo_sets_up_and_serves_the_example(tmp_path, monkeypatch, settings):
    data, port, out = tmp_path / 'data', free_port(), tmp_path / 'demo.txt'
    base = f'http://127.0.0.1:{port}'
    proc = start_demo(data, port, out)
    try:
        password = printed_password(out, proc)
        wait_for(base + '/timesheet/', proc=proc)
        page = requests.get(base + '/timesheet/', timeout=10)
        assert page.status_code == 200 and b'Timesheet' in page.content
        assert request_key(base, 'demo', 'demo', 'timesheet').startswith('trylite_')
    finally:
        stop(proc)
    text = out.read_text()
    for expected in (f'{base}/timesheet/', 'Database     demo', 'Login        demo',
                     f'{base}/demo/preferences/'):
        assert expected in text
    settings(database={'uri': f'sqlite:///{data}'})
    count_works = select(func.count()).select_from(Work)
    with Transaction.start('demo') as transaction:
        assert authenticate(transaction.session, 'demo', password) is not None
        assert transaction.session.scalar(count_works) == len(demo.WORKS)
    again = demo.prepare('demo', 'demo')  # what the next start does: a new password
    with Transaction.start('demo') as transaction:
        assert authenticate(transaction.session, 'demo', again) is not None
        assert authenticate(transaction.session, 'demo', password) is None
        assert transaction.session.scalar(count_works) == len(demo.WORKS)
