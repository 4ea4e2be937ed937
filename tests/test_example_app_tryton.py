"""Tryton's timesheet protocol in the example app (example_app.tryton), in process, on SQLite and
PostgreSQL: the requests Chronos and Timyton send, at the classic paths and at trytond 8's
``/r/`` paths, and every way they can go wrong.

The bodies below are the ones those clients send (see the module doc of example_app.tryton):
Timyton ``{"id", "uuid", "work", "date", "duration", "description"}`` with a float duration,
Chronos the same plus ``employee`` as a string, ``work.name`` and ``dirty: true``, with
``Content-Type: application/json`` on every request.
"""

from __future__ import annotations

import datetime
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from werkzeug.test import TestResponse

from example_app import demo
from example_app.models import Company, Employee, Line, Work
from tests.client import make_client
from tests.helpers import invoke, validated_key
from tests.test_example_app import assert_error
from trylite import storage
from trylite.auth.persons import User, authenticate
from trylite.transaction import Transaction

DAY = '2026-11-22'
FORMS = ['timesheet', 'r/timesheet']
ORIGINS = ['null', 'chrome-extension://abcdefghijklmnop', 'moz-extension://4b2c1d6e-77aa']


@dataclass
class Client:
    """A Tryton client of one person: sends what Chronos sends (``bearer``, JSON content type
    on every request) to the classic paths or to the ``/r/`` ones (*form*)."""

    db: str
    key: str
    form: str = 'timesheet'
    http: Any = field(default_factory=make_client)

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> TestResponse:
        return self.http.open(
            f'/{self.db}/{self.form}/{path}', method=method,
            data=None if body is None else json.dumps(body),
            headers={'Authorization': f'bearer {self.key}',
                     'Content-Type': 'application/json', **headers})

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.call(method, path, body)
        assert response.status_code == 200, response.text
        assert response.headers['Content-Type'] == 'application/json'
        return response.json


@dataclass
class World:
    """Two companies, three employees of two persons, works of every kind."""

    db: str
    ada: Client
    bob: Client
    acme: int  # ada's employee at Acme (open-ended)
    globex: int  # ada's employee at Globex, only in the first half of 2026
    bob_acme: int
    works: dict[str, int]

    def line(self, **fields: Any) -> dict[str, Any]:
        """A line as Timyton sends it to create it."""
        return {'id': -2, 'uuid': str(uuid.uuid4()), 'work': self.works['beta'], 'date': DAY,
                'duration': 5400.0, 'description': 'new', **fields}

    def stored(self) -> list[Line]:
        with Transaction.start(self.db, readonly=True) as transaction:
            return list(transaction.session.scalars(select(Line).order_by(Line.id)))


def add(db: str, *records: Any) -> list[int]:
    with Transaction.start(db) as transaction:
        transaction.session.add_all(records)
        transaction.session.flush()
        return [record.id for record in records]


@pytest.fixture
def world(db: str) -> World:
    ada, bob = add(db, User(login='ada', name='Ada'), User(login='bob', name='Bob'))
    acme, globex = add(db, Company(name='Acme'), Company(name='Globex'))
    employees = add(db, Employee(name='Ada at Acme', user=ada, company=acme),
                    Employee(name='Ada at Globex', user=ada, company=globex,
                             start_date=datetime.date(2026, 1, 1),
                             end_date=datetime.date(2026, 6, 30)),
                    Employee(name='Bob', user=bob, company=acme))
    day = datetime.date.fromisoformat
    names = ['zeta', 'Alpha', 'beta', 'old', 'closed', 'Globex work', 'Internal']
    works = add(db, Work(name='zeta', company=acme),
                Work(name='Alpha', company=acme, timesheet_start_date=day('2026-01-01')),
                Work(name='beta', company=acme, timesheet_end_date=day('2030-12-31')),
                Work(name='old', company=acme, active=False),
                Work(name='closed', company=acme, timesheet_end_date=day('2025-12-31')),
                Work(name='Globex work', company=globex),
                Work(name='Internal'))
    return World(db, Client(db, validated_key(make_client(), db, 'ada', 'timesheet')),
                 Client(db, validated_key(make_client(), db, 'bob', 'timesheet')),
                 employees[0], employees[1], employees[2], dict(zip(names, works, strict=True)))


# -- reading -------------------------------------------------------------------------------
@pytest.mark.parametrize('form', FORMS)
def test_employees_works_and_lines_as_trytond_answers(world, form):
    ada = Client(world.db, world.ada.key, form)
    assert ada.ok('GET', 'employees') == [{'id': world.acme, 'name': 'Ada at Acme'},
                                          {'id': world.globex, 'name': 'Ada at Globex'}]
    w = world.works
    assert ada.ok('GET', f'employee/{world.acme}/works') == [  # active, Acme's, by lower name
        {'id': w['Alpha'], 'name': 'Alpha', 'start': '2026-01-01', 'end': None},
        {'id': w['beta'], 'name': 'beta', 'start': None, 'end': '2030-12-31'},
        {'id': w['closed'], 'name': 'closed', 'start': None, 'end': '2025-12-31'},
        {'id': w['zeta'], 'name': 'zeta', 'start': None, 'end': None}]
    assert ada.ok('GET', f'employee/{world.globex}/works') == [
        {'id': w['Globex work'], 'name': 'Globex work', 'start': None, 'end': None}]

    first = ada.ok('POST', 'line', world.line(description=None))
    second = ada.ok('POST', 'line', world.line(work=w['zeta'], duration=60))
    world.bob.ok('POST', 'line', world.line())  # bob's: another employee
    ada.ok('POST', 'line', world.line(date='2026-11-23'))  # another day
    lines = ada.ok('GET', f'employee/{world.acme}/lines/{DAY}')
    assert lines == [first, second]
    assert [list(line) for line in lines] == [
        ['id', 'work', 'work.name', 'duration', 'description', 'uuid']] * 2
    assert lines[0]['work.name'] == 'beta' and lines[0]['description'] == ''
    assert lines[1]['duration'] == 60.0 and isinstance(lines[1]['duration'], float)
    assert ada.ok('GET', f'employee/{world.globex}/lines/{DAY}') == []
    assert ada.ok('GET', f'employee/{world.acme}/lines/2026-11-21') == []


def test_another_persons_employee_is_403(world):
    for employee in (world.bob_acme, 999999, 2**31 - 1):
        for path in (f'employee/{employee}/works', f'employee/{employee}/lines/{DAY}'):
            assert_error(world.ada.call('GET', path), 403)
        assert_error(world.ada.call('POST', 'line', world.line(employee=employee)), 403)
    assert world.stored() == []


def test_employee_that_is_no_id_is_400_that_a_browser_can_read(world):
    """An unconfigured Chronos calls ``/employee/null/…``: a clear 400, readable cross-origin."""
    for employee in ('null', 'undefined', 'abc', '0', '-1', '1.5', '99999999999', '%20'):
        for path in (f'employee/{employee}/works', f'employee/{employee}/lines/{DAY}'):
            response = world.ada.call('GET', path, Origin='null')
            assert assert_error(response, 400, 'employee')['message'] == 'Bad Request'
            assert response.headers['Access-Control-Allow-Origin'] == 'null'


def test_bad_date_of_lines_is_400(world):
    for date in ('2026-13-01', '2026-02-30', '22-11-2026', '2026-1-1', 'date', '20261122'):
        assert_error(world.ada.call('GET', f'employee/{world.acme}/lines/{date}'), 400, 'date')


# -- writing -------------------------------------------------------------------------------
@pytest.mark.parametrize('form', FORMS)
def test_timyton_creates_edits_and_deletes_a_line(world, form):
    ada = Client(world.db, world.ada.key, form)
    body = world.line()
    created = ada.ok('POST', 'line', body)
    assert created == {'id': created['id'], 'work': world.works['beta'], 'work.name': 'beta',
                       'duration': 5400.0, 'description': 'new', 'uuid': body['uuid']}
    [line] = world.stored()
    assert (line.employee, line.user, line.date, line.duration, line.uuid) == (
        world.acme, line.user, datetime.date(2026, 11, 22), 5400, body['uuid'])

    edited = ada.ok('PUT', f'line/{created["id"]}', {
        'id': created['id'], 'uuid': None, 'work': world.works['zeta'], 'date': DAY,
        'duration': 7200.0, 'description': 'edited'})
    assert edited == {**created, 'work': world.works['zeta'], 'work.name': 'zeta',
                      'duration': 7200.0, 'description': 'edited'}  # the uuid stays
    response = ada.call('DELETE', f'line/{created["id"]}')
    assert (response.status_code, response.get_data()) == (204, b'')
    assert world.stored() == []


def test_chronos_bodies_are_accepted(world):
    """Chronos sends its employee as a string, its own negative id, the line's ``work.name``
    and ``dirty`` — and ``Content-Type: application/json`` with no body on DELETE."""
    body = {'employee': str(world.globex), 'date': '2026-03-02', 'id': -1, 'duration': 90.5,
            'work': world.works['Globex work'], 'work.name': 'Globex work',
            'description': 'meeting', 'uuid': str(uuid.uuid4()), 'dirty': True, 'deleted': False,
            'anything': {'else': [1]}}
    created = world.ada.ok('POST', 'line', body)
    assert created['duration'] == 90.5
    updated = world.ada.ok('PUT', f'line/{created["id"]}', {
        **body, **created, 'employee': str(world.globex), 'date': '2026-03-02',
        'description': 'long meeting', 'dirty': True})
    assert updated == {**created, 'description': 'long meeting'}
    [line] = world.stored()
    assert (line.employee, line.duration) == (world.globex, 90.5)
    assert world.ada.call('DELETE', f'line/{created["id"]}').status_code == 204
    assert world.stored() == []


def test_a_known_uuid_updates_instead_of_duplicating(world):
    """A client that lost the answer to its create sends it again: one line, updated."""
    body = world.line()
    first = world.ada.ok('POST', 'line', body)
    again = world.ada.ok('POST', 'line', {**body, 'id': -3, 'description': 'retried'})
    assert again == {**first, 'description': 'retried'}
    theirs = world.bob.ok('POST', 'line', body)  # the same uuid for another person: theirs
    assert theirs['id'] != first['id']
    assert [(line.uuid, line.description) for line in world.stored()] == [
        (body['uuid'], 'retried'), (body['uuid'], 'new')]
    for empty in (None, ''):  # no uuid: a new line each time
        world.ada.ok('POST', 'line', world.line(uuid=empty))
        world.ada.ok('POST', 'line', world.line(uuid=empty))
    assert len(world.stored()) == 6


def test_the_same_create_sent_at_once_many_times_is_one_line(world):
    """Retries racing each other: a unique violation re-runs the create, which then finds
    the line and updates it."""
    body = world.line()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: Client(world.db, world.ada.key).call(
            'POST', 'line', {**body, 'description': f'try {n}'}), range(8)))
    assert [answer.status_code for answer in answers] == [200] * 8, [a.text for a in answers]
    [line] = world.stored()
    assert {answer.json['id'] for answer in answers} == {line.id}


def test_another_persons_line_is_never_touched(world):
    theirs = world.bob.ok('POST', 'line', world.line())
    for method, body in (('PUT', world.line(description='mine now')), ('DELETE', None)):
        response = world.ada.call(method, f'line/{theirs["id"]}', body)
        assert (response.status_code, response.get_data()) == (204, b'')
    for missing in (999999, 2**31 - 1):  # and a line that does not exist: the same
        assert world.ada.call('PUT', f'line/{missing}', world.line()).status_code == 204
        assert world.ada.call('DELETE', f'line/{missing}').status_code == 204
    [line] = world.stored()
    assert (line.id, line.description) == (theirs['id'], 'new')


def test_update_keeps_the_employee_and_moves_only_when_told(world):
    created = world.ada.ok('POST', 'line', world.line(employee=world.globex, date='2026-02-02',
                                                      work=world.works['Globex work']))
    world.ada.ok('PUT', f'line/{created["id"]}', {'description': 'kept'})
    assert world.stored()[0].employee == world.globex
    world.ada.ok('PUT', f'line/{created["id"]}', {'employee': str(world.acme),
                                                  'work': world.works['zeta']})
    assert world.stored()[0].employee == world.acme
    # ada has no Globex employee in November: the work alone cannot move the line there
    assert_error(world.ada.call('PUT', f'line/{created["id"]}', {
        'work': world.works['Globex work'], 'date': DAY}), 400, 'employee')


W = 'works'  # a value in BAD_BODIES naming a work of World.works
BAD_BODIES: list[tuple[str, dict[str, Any]]] = [
    ('date', {'date': '2026-02-30'}), ('date', {'date': '22-11-2026'}),
    ('date', {'date': 20261122}), ('date', {'date': None}),
    ('duration', {'duration': -1}), ('duration', {'duration': 86400.5}),
    ('duration', {'duration': '5400'}), ('duration', {'duration': True}),
    ('duration', {'duration': 10**30}), ('duration', {'duration': None}),
    ('work', {'work': 0}), ('work', {'work': 999999}), ('work', {'work': 'beta'}),
    ('work', {'work': None}), ('work', {'work': 1.5}), ('work', {W: 'old'}),
    ('work', {W: 'closed'}), ('work', {W: 'Globex work', 'employee': 'acme'}),
    ('employee', {W: 'Globex work'}), ('employee', {W: 'Internal'}),
    ('description', {'description': 12}), ('description', {'description': 'x' * 501}),
    ('description', {'description': 'a\x00b'}),
    ('uuid', {'uuid': 12}), ('uuid', {'uuid': 'x' * 101}), ('uuid', {'uuid': ['a']}),
    ('employee', {'employee': None}), ('employee', {'employee': 'null'}),
    ('employee', {'employee': True}), ('employee', {'employee': ''}),
    ('employee', {'employee': 'globex', 'date': '2026-07-01',
                  W: 'Globex work'}),  # not employed on that day
]


def test_bad_body_is_400_naming_the_field(world):
    existing = world.ada.ok('POST', 'line', world.line())
    for name, change in BAD_BODIES:
        change = dict(change)
        if W in change:
            change['work'] = world.works[change.pop(W)]
        if change.get('employee') in ('acme', 'globex'):
            change['employee'] = getattr(world, change['employee'])
        assert_error(world.ada.call('POST', 'line', world.line(**change)), 400, name)
        if name != 'uuid':  # an update leaves the uuid alone
            body = {**change, 'date': change.get('date', DAY)} if 'work' in change else change
            assert_error(world.ada.call('PUT', f'line/{existing["id"]}', body), 400, name)
    assert [line.description for line in world.stored()] == ['new']


def test_a_date_the_work_is_closed_on_is_400(world):
    """Naming the work when the body names one, else the date."""
    created = world.ada.ok('POST', 'line', world.line(work=world.works['Alpha']))
    assert_error(world.ada.call('PUT', f'line/{created["id"]}', {'date': '2025-12-31'}), 400,
                 'date')
    assert_error(world.ada.call('POST', 'line', world.line(
        work=world.works['Alpha'], date='2025-12-31')), 400, 'work')


def test_create_needs_work_date_and_duration(world):
    for missing in ('work', 'date', 'duration'):
        body = world.line()
        del body[missing]
        assert_error(world.ada.call('POST', 'line', body), 400, missing)
    assert world.stored() == []


def test_a_person_without_employee_cannot_book(world):
    add(world.db, User(login='eve'))
    eve = Client(world.db, validated_key(make_client(), world.db, 'eve', 'timesheet'))
    assert eve.ok('GET', 'employees') == []
    assert_error(eve.call('POST', 'line', world.line()), 400, 'employee')
    assert world.stored() == []


def test_body_that_is_no_json_object(world):
    for body, content_type, status in [
            ('{"work": ', 'application/json', 400), ('[1, 2]', 'application/json', 400),
            ('"line"', 'application/json', 400),
            ('work=1', 'application/x-www-form-urlencoded', 415)]:
        for method, path in (('POST', 'line'), ('PUT', 'line/1')):
            response = world.ada.http.open(f'/{world.db}/timesheet/{path}', method=method,
                                           data=body, headers={
                                               'Authorization': f'bearer {world.ada.key}',
                                               'Content-Type': content_type})
            assert_error(response, status)


def test_oversized_body_is_413(world):
    assert_error(world.ada.call('POST', 'line', world.line(description='x' * 9000)), 413)


# -- one storage, two protocols -------------------------------------------------------------
def test_both_protocols_see_the_same_lines_each_in_its_unit(world):
    ours = world.ada.http.post(f'/{world.db}/timesheet/lines', json={
        'work': world.works['zeta'], 'date': DAY, 'duration': 45},
        headers={'Authorization': f'Bearer {world.ada.key}'}).json
    tryton = world.ada.ok('POST', 'line', world.line(duration=5430.0))
    assert world.ada.ok('GET', f'employee/{world.acme}/lines/{DAY}') == [
        {'id': ours['id'], 'work': world.works['zeta'], 'work.name': 'zeta', 'duration': 2700.0,
         'description': '', 'uuid': None}, tryton]
    listed = world.ada.http.get(f'/{world.db}/timesheet/lines',
                                headers={'Authorization': f'Bearer {world.ada.key}'}).json
    assert [(line['id'], line['duration']) for line in listed] == [
        (tryton['id'], 91), (ours['id'], 45)]  # minutes, rounded
    assert [line.employee for line in world.stored()] == [world.acme, world.acme]


# -- keys, schemes, origins ----------------------------------------------------------------
def test_the_bearer_scheme_in_any_case(world):
    for scheme in ('bearer', 'Bearer', 'BEARER', 'bEaReR'):
        response = world.ada.call('GET', 'employees', Authorization=f'{scheme} {world.ada.key}')
        assert response.status_code == 200, scheme


def test_without_a_valid_key_is_401(world):
    for key in ('', 'trylite_000000000000_' + 'x' * 43, world.ada.key[:-1]):
        response = world.ada.call('GET', 'employees', Authorization=f'bearer {key}')
        assert_error(response, 401)
    assert_error(world.ada.call('POST', 'line', world.line(), Authorization=''), 401)


@pytest.mark.parametrize('path', ['user/application/', 'r/user/application/'])
def test_key_route_at_both_paths_as_the_clients_call_it(world, path):
    """Timyton asks with ``{"user": "nicoe", …}`` and gets the key as a JSON string; httpx
    sends the DELETE's JSON body with its content type. Never a redirect."""
    add(world.db, User(login='nicoe'))
    client, url = make_client(), f'/{world.db}/{path}'
    response = client.post(url, json={'user': 'nicoe', 'application': 'timesheet'},
                           headers={'Origin': 'null'})
    assert response.status_code == 200 and response.headers['Content-Type'] == 'application/json'
    assert response.headers['Access-Control-Allow-Origin'] == 'null'
    key = response.json
    assert isinstance(key, str) and key.startswith('trylite_')
    response = client.delete(url, json={'user': 'nicoe', 'key': key, 'application': 'timesheet'})
    assert response.status_code == 204
    assert client.delete(url, json={'user': 'nicoe', 'key': key,
                                     'application': 'timesheet'}).status_code == 404


ROUTES = [('GET', 'employees'), ('GET', 'employee/1/works'),
          ('GET', f'employee/1/lines/{DAY}'), ('GET', 'employee/null/works'),
          ('POST', 'line'), ('PUT', 'line/1'), ('DELETE', 'line/1')]


@pytest.mark.parametrize('origin', ORIGINS)
@pytest.mark.parametrize('form', FORMS)
def test_preflights_of_extensions_and_null_origins(origin, form):
    """What a browser asks before each of Chronos's calls, answered without touching a
    database (so this needs none)."""
    client = make_client()
    key_route = ('POST', form.replace('timesheet', 'user/application/'))
    for method, path in [*[(m, f'{form}/{p}') for m, p in ROUTES], key_route]:
        response = client.options(f'/any_db/{path}', headers={
            'Origin': origin, 'Access-Control-Request-Method': method,
            'Access-Control-Request-Headers': 'authorization,content-type'})
        assert response.status_code == 204, (path, response.text)
        assert response.headers['Access-Control-Allow-Origin'] == origin
        assert method in response.headers['Access-Control-Allow-Methods']
        allowed = response.headers['Access-Control-Allow-Headers'].lower()
        assert 'authorization' in allowed and 'content-type' in allowed
        assert 'Origin' in response.headers['Vary']


def test_every_route_answers_extensions_and_null_origins(world):
    for origin in ORIGINS:
        line = world.ada.ok('POST', 'line', world.line())
        for method, path, body in [
                ('GET', 'employees', None), ('GET', f'employee/{world.acme}/works', None),
                ('GET', f'employee/{world.acme}/lines/{DAY}', None),
                ('POST', 'line', world.line()), ('PUT', f'line/{line["id"]}', {'duration': 6}),
                ('DELETE', f'line/{line["id"]}', None)]:
            response = world.ada.call(method, path, body, Origin=origin)
            assert response.status_code in (200, 204), (origin, path, response.text)
            assert response.headers['Access-Control-Allow-Origin'] == origin


# -- trylite demo --no-serve -----------------------------------------------------------------
@pytest.fixture
def fresh_database(db: str) -> Any:
    """A database name not taken yet on the current backend, dropped after the test."""
    name = f'{db}_demo'
    yield name
    if storage.backend().exists(name):
        storage.backend().drop(name)


def test_demo_without_serving_sets_up_a_tryton_person(fresh_database):
    for _ in range(2):  # a second run keeps the data, with a new password
        result = invoke('demo', '--database', fresh_database, '--login', 'nicoe', '--no-serve')
        assert result.exit_code == 0, result.output
        assert f'Database     {fresh_database}' in result.output
        assert 'Login        nicoe' in result.output
        password = next(line.split()[-1] for line in result.output.splitlines()
                        if line.strip().startswith('Password'))
    with Transaction.start(fresh_database, readonly=True) as transaction:
        session = transaction.session
        person = authenticate(session, 'nicoe', password)
        assert person is not None
        [employee] = session.scalars(select(Employee)).all()
        [company] = session.scalars(select(Company)).all()
        assert (employee.user, employee.company) == (person.id, company.id)
        works = session.scalars(select(Work).order_by(Work.name)).all()
        assert [(work.name, work.company) for work in works] == [
            (name, company.id) for name in demo.WORKS]


def test_demo_refuses_a_database_of_an_older_example(fresh_database):
    storage.backend().create(fresh_database, lambda conn: conn.execute(text(
        'CREATE TABLE timesheet_work (id INTEGER PRIMARY KEY, name VARCHAR(100))')))
    result = invoke('demo', '--database', fresh_database, '--no-serve')
    assert result.exit_code == 1
    assert f'trylite db drop {fresh_database} --yes' in result.output
    assert not inspect(storage.backend().engine(fresh_database)).has_table('res_user')
