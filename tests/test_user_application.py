"""User application keys over HTTP (in process), on SQLite and PostgreSQL: request, validate, use,
revoke.

Also the ``trylite application`` commands, and that the secret part of a key is stored nowhere.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from werkzeug.test import Client

from tests.client import make_client
from tests.helpers import bearer, invoke, public_id, request_key, set_active, validated_key
from tests.routes import Counter
from tests.test_preferences import act, cheap_argon2, create_user, log_in  # noqa: F401
from trylite import storage
from trylite.auth.keys import UserApplication
from trylite.auth.tokens import KEY_RE, parse_key
from trylite.model import utcnow
from trylite.pool import Pool
from trylite.transaction import Transaction

CHALLENGE = 'Bearer realm="trylite"'


def url(db: str) -> str:
    return f'/{db}/user/application/'


def keys_in(db: str) -> list[UserApplication]:
    with Transaction.start(db, readonly=True) as transaction:
        return list(transaction.session.scalars(select(UserApplication)))


def set_key(db: str, key: str, **values: object) -> None:
    with Transaction.start(db) as transaction:
        transaction.session.execute(update(UserApplication).where(
            UserApplication.public_id == public_id(key)).values(**values))


def cli(*args: str) -> Result:
    return invoke(*args)


def secret_of(key: str) -> str:
    return parse_key(key).secret


@pytest.fixture
def alice(db: str) -> int:
    return create_user(db, 'alice')


# -- the whole flow ------------------------------------------------------------------------
def test_whole_flow(db, client, alice):
    key = request_key(client, db, 'alice')
    assert KEY_RE.fullmatch(key)
    key_id = public_id(key)
    listed = json.loads(cli('application', 'list', '-d', db, '--json').output)
    assert [(r['id'], r['user'], r['application'], r['state']) for r in listed] == [
        (key_id, 'alice', 'acme', 'requested')]
    whoami = f'/{db}/acme/whoami'
    assert client.get(whoami, headers=bearer(key)).status_code == 401
    person = make_client()  # the person's browser
    log_in(person, db)
    assert act(person, db, key_id, 'validate').status_code == 303
    response = client.get(whoami, headers=bearer(key))
    assert response.status_code == 200
    assert response.json == {'login': 'alice', 'id': alice}
    assert act(person, db, key_id, 'cancel').status_code == 303
    assert client.get(whoami, headers=bearer(key)).status_code == 401
    body = {'user': 'alice', 'key': key, 'application': 'acme'}
    deleted = client.delete(url(db), json=body)
    assert (deleted.status_code, deleted.get_data()) == (204, b'')
    assert keys_in(db) == []
    assert client.delete(url(db), json=body).status_code == 404


def test_request_from_a_browser_extension(db, client, alice):
    response = client.post(url(db), headers={'Origin': 'null'},
                           json={'user': 'alice', 'application': 'acme'})
    assert response.status_code == 200
    assert response.headers['Access-Control-Allow-Origin'] == 'null'


def test_requested_key_is_pending_and_expires(db, client, alice):
    request_key(client, db, 'alice')
    (key,) = keys_in(db)
    assert (key.state, key.user_id, key.application, key.validated, key.last_used) == (
        'requested', alice, 'acme', None, None)
    assert abs(key.expires - key.created - datetime.timedelta(hours=24)) < \
        datetime.timedelta(seconds=1)


# -- POST errors ---------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs, status, field', [
    ({'data': 'user=alice', 'headers': {'Content-Type': 'text/plain'}}, 415, None),
    ({'data': b'', 'headers': {}}, 415, None),
    ({'data': '{bad', 'headers': {'Content-Type': 'application/json'}}, 400, None),
    ({'json': [1, 2]}, 400, None),
    ({'json': 'alice'}, 400, None),
    ({'json': {}}, 400, 'user'),
    ({'json': {'user': 'alice'}}, 400, 'application'),
    ({'json': {'user': 'alice', 'application': 'acme', 'state': 'validated'}}, 400, 'state'),
    ({'json': {'user': 'alice', 'application': 'acme', 'key': 'weak'}}, 400, 'key'),
    ({'json': {'user': 5, 'application': 'acme'}}, 400, 'user'),
    ({'json': {'user': 'alice', 'application': ['acme']}}, 400, 'application'),
    ({'json': {'user': '', 'application': 'acme'}}, 400, 'user'),
    ({'json': {'user': 'alice', 'application': None}}, 400, 'application'),
])
def test_bad_requests(db, client, alice, kwargs, status, field):
    response = client.post(url(db), **kwargs)
    assert response.status_code == status
    body = response.json
    assert body['status'] == status and body['message']
    assert body.get('field') == field
    assert keys_in(db) == []


def test_undeclared_application_is_400_for_anyone(db, client, alice):
    answers = [client.post(url(db), json={'user': login, 'application': 'nope'})
               for login in ('alice', 'nobody')]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json == answers[1].json
    assert answers[0].json['message'] == 'Unknown application'
    assert keys_in(db) == []


@pytest.mark.parametrize('login', ['nobody', 'bob'])
def test_unknown_or_inactive_login_looks_the_same_and_stores_nothing(db, client, alice,
                                                                      login):
    create_user(db, 'bob', active=False)
    answers = [client.post(url(db), json={'user': who, 'application': 'acme'})
               for who in ('alice', login)]
    for answer in answers:
        assert answer.status_code == 200
        assert answer.headers['Content-Type'] == 'application/json'
        assert KEY_RE.fullmatch(answer.json)
    assert len(answers[0].get_data()) == len(answers[1].get_data())
    assert [k.public_id for k in keys_in(db)] == [public_id(answers[0].json)]


# -- guarded routes ------------------------------------------------------------------------
def _basic(user: str, password: str) -> str:
    return 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()


def _refused_header(case: str, client: Client, db: str) -> tuple[str | None, str]:
    """The Authorization header of *case*, and the key involved (to check it never leaks)."""
    if case == 'missing':
        return None, ''
    if case == 'requested':
        key = request_key(client, db, 'alice')
    elif case == 'other application':
        key = validated_key(client, db, 'alice', 'other')
    else:
        key = validated_key(client, db, 'alice')
    if case == 'cancelled':
        set_key(db, key, state='cancelled')
    elif case == 'expired':
        set_key(db, key, expires=utcnow() - datetime.timedelta(seconds=1))
    elif case == 'inactive user':
        set_active(db, 'alice', False)
    elif case == 'deleted':
        assert client.delete(url(db), json={
            'user': 'alice', 'key': key, 'application': 'acme'}).status_code == 204
    headers = {
        'malformed': 'Bearer not-a-key',
        'wrong secret': f'Bearer {key[:-5]}AAAAA',
        'unknown id': f'Bearer trylite_{"0" * 12}_{secret_of(key)}',
        'basic with a user name': _basic('alice', key),
        'other scheme': f'Token {key}',
        'empty bearer': 'Bearer ',
        'broken basic': 'Basic %%%not-base64',
        'basic without a colon': 'Basic ' + base64.b64encode(key.encode()).decode(),
    }
    return headers.get(case, f'Bearer {key}'), key


@pytest.mark.parametrize('case', [
    'missing', 'requested', 'cancelled', 'expired', 'other application', 'inactive user',
    'deleted', 'malformed', 'wrong secret', 'unknown id', 'basic with a user name',
    'other scheme', 'empty bearer', 'broken basic', 'basic without a colon'])
def test_refused_keys_get_401(db, client, alice, case):
    header, key = _refused_header(case, client, db)
    response = client.get(f'/{db}/acme/whoami',
                          headers={'Authorization': header} if header else {})
    assert response.status_code == 401
    assert response.headers['WWW-Authenticate'] == CHALLENGE
    assert response.headers['Content-Type'] == 'application/json'
    body = response.json
    assert body['status'] == 401 and body['message'] == 'Unauthorized'
    if key:
        assert secret_of(key) not in response.text


@pytest.mark.parametrize('scheme', ['Bearer', 'bearer', 'BEARER', 'basic', 'Basic'])
def test_accepted_schemes(db, client, alice, scheme):
    key = validated_key(client, db, 'alice')
    header = (f'{scheme} ' + base64.b64encode(f':{key}'.encode()).decode()
              if scheme.lower() == 'basic' else f'{scheme} {key}')
    response = client.get(f'/{db}/acme/whoami', headers={'Authorization': header})
    assert response.status_code == 200
    assert response.json['login'] == 'alice'


def test_json_true_and_false(db, client, alice):
    key = validated_key(client, db, 'alice')
    encoded = client.get(f'/{db}/acme/whoami', headers=bearer(key))
    assert encoded.headers['Content-Type'] == 'application/json'
    raw = client.get(f'/{db}/acme/raw', headers=bearer(key))
    assert raw.headers['Content-Type'] == 'text/plain; charset=utf-8'
    assert raw.text == f'raw-{alice}'
    assert client.get(f'/{db}/acme/raw').status_code == 401


def test_user_error_is_400_and_rolls_back(db, client, alice):
    key = validated_key(client, db, 'alice')
    response = client.post(f'/{db}/acme/fail', headers=bearer(key))
    assert response.status_code == 400
    assert response.json == {'status': 400, 'message': 'Something is wrong',
                               'description': 'More details here'}
    with Transaction.start(db, readonly=True) as transaction:
        assert transaction.session.get(Counter, 'should-not-exist') is None


def test_last_used_is_written_at_most_once_a_minute(db, client, alice):
    key = validated_key(client, db, 'alice')
    whoami = f'/{db}/acme/whoami'

    def last_used() -> datetime.datetime | None:
        return keys_in(db)[0].last_used

    assert last_used() is None
    assert client.get(whoami, headers=bearer(key)).status_code == 200
    first = last_used()
    assert first is not None
    for _ in range(3):
        assert client.get(whoami, headers=bearer(key)).status_code == 200
    assert last_used() == first
    stale = first - datetime.timedelta(minutes=2)
    set_key(db, key, last_used=stale)
    assert client.get(whoami, headers=bearer(key)).status_code == 200
    assert last_used() > stale


def test_key_lifetime(db, client, alice, monkeypatch, settings):
    settings(user_application={'key_lifetime': '3600'})
    key = validated_key(client, db, 'alice')
    (stored,) = keys_in(db)
    assert abs(stored.expires - stored.validated - datetime.timedelta(hours=1)) < \
        datetime.timedelta(seconds=1)
    whoami = f'/{db}/acme/whoami'
    assert client.get(whoami, headers=bearer(key)).status_code == 200
    set_key(db, key, expires=utcnow() - datetime.timedelta(seconds=1))
    assert client.get(whoami, headers=bearer(key)).status_code == 401


def test_deactivated_then_reactivated_person(db, client, alice):
    key = validated_key(client, db, 'alice')
    whoami = f'/{db}/acme/whoami'
    set_active(db, 'alice', False)
    assert client.get(whoami, headers=bearer(key)).status_code == 401
    set_active(db, 'alice', True)
    assert client.get(whoami, headers=bearer(key)).status_code == 200


# -- the secret is stored nowhere ----------------------------------------------------------
def _dump(db: str, backend_uri: str) -> bytes:
    """Everything the database holds on disk (SQLite) or in a dump (PostgreSQL)."""
    if backend_uri.startswith('sqlite'):
        path = storage.backend().path(db)
        return b''.join(Path(f'{path}{suffix}').read_bytes()
                        for suffix in ('', '-wal') if Path(f'{path}{suffix}').exists())
    if not shutil.which('pg_dump'):
        pytest.skip('pg_dump not installed')
    target = make_url(backend_uri).set(database=db).render_as_string(hide_password=False)
    return subprocess.run(['pg_dump', '--data-only', target.replace('+psycopg', '')],
                          check=True, capture_output=True, timeout=60).stdout


def test_database_never_contains_the_secret(db, client, alice, backend_uri):
    pending = request_key(client, db, 'alice')
    used = validated_key(client, db, 'alice')
    assert client.get(f'/{db}/acme/whoami', headers=bearer(used)).status_code == 200
    assert client.get(f'/{db}/acme/whoami',
                    headers=bearer(used[:-1] + 'x')).status_code == 401
    revoked = validated_key(client, db, 'alice', 'other')
    set_key(db, revoked, state='cancelled')
    keys = [pending, used, revoked]
    stored = {k.public_id: k.secret_hash for k in keys_in(db)}
    assert stored == {public_id(k): hashlib.sha256(secret_of(k).encode()).hexdigest()
                      for k in keys}
    with Transaction.start(db, readonly=True) as transaction:
        for table in Pool.tables():
            for row in transaction.connection.execute(table.select()):
                for value in row:
                    for key in keys:
                        assert secret_of(key) not in str(value), table.name
    data = _dump(db, backend_uri)
    for key in keys:
        assert public_id(key).encode() in data
        assert secret_of(key).encode() not in data


# -- concurrency ---------------------------------------------------------------------------
def test_concurrent_requests_respect_the_cap(db, alice, monkeypatch, settings):
    settings(user_application={'max_pending': '3'})
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: make_client().post(
            url(db), json={'user': 'alice', 'application': 'acme'}), range(20)))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    stored = keys_in(db)
    assert len(stored) == 3
    newest = sorted(stored, key=lambda k: (k.created, k.id))[-1]
    assert newest.public_id in {public_id(a.json) for a in answers}


def test_cap_keeps_the_newest_requests(db, client, alice, monkeypatch, settings):
    settings(user_application={'max_pending': '2'})
    sent = [public_id(request_key(client, db, 'alice')) for _ in range(4)]
    other = validated_key(client, db, 'alice', 'other')
    assert {k.public_id for k in keys_in(db)} == {*sent[-2:], public_id(other)}


# -- DELETE --------------------------------------------------------------------------------
@pytest.mark.parametrize('change', [
    {'user': 'nobody'}, {'key': 'wrong'}, {'application': 'other'}, {'application': 'nope'},
    {'user': 'bob'}, 'wrong secret'])
def test_delete_not_found_looks_the_same(db, client, alice, change):
    create_user(db, 'bob')
    key = validated_key(client, db, 'alice')
    body = {'user': 'alice', 'key': key, 'application': 'acme'}
    body.update({'key': key[:-3] + 'abc'} if change == 'wrong secret' else change)
    reference = client.delete(url(db), json={
        'user': 'nobody', 'key': 'x', 'application': 'acme'})
    response = client.delete(url(db), json=body)
    assert response.status_code == 404
    assert response.get_data() == reference.get_data()
    assert len(keys_in(db)) == 1


@pytest.mark.parametrize('kwargs, status', [
    ({'data': 'x', 'headers': {'Content-Type': 'text/plain'}}, 415),
    ({'json': {'user': 'alice', 'application': 'acme'}}, 400),
    ({'json': ['alice']}, 400),
    ({'json': {'user': 'alice', 'key': 'k', 'application': 'acme', 'x': 1}}, 400),
])
def test_bad_deletes(db, client, alice, kwargs, status):
    response = client.delete(url(db), **kwargs)
    assert response.status_code == status
    assert response.json['status'] == status


def test_any_state_can_be_deleted(db, client, alice):
    for key in (request_key(client, db, 'alice'), validated_key(client, db, 'alice')):
        response = client.delete(url(db), json={
            'user': 'alice', 'key': key, 'application': 'acme'})
        assert response.status_code == 204
    assert keys_in(db) == []


# -- throttling (one process; across processes in test_throttle.py) ------------------------
def test_bad_keys_are_throttled_but_valid_keys_pass(db, client, alice, monkeypatch, settings):
    settings(throttle={'max_failures': '3'})
    key = validated_key(client, db, 'alice')
    whoami = f'/{db}/acme/whoami'
    statuses = [client.get(whoami, headers=bearer(f'trylite_{"a" * 12}_{"b" * 43}')).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    throttled = client.get(whoami, headers=bearer('nonsense'))
    assert throttled.status_code == 429
    assert int(throttled.headers['Retry-After']) > 0
    assert throttled.json['status'] == 429
    assert client.get(whoami, headers=bearer(key)).status_code == 200


def test_valid_delete_works_while_throttled(db, client, alice, monkeypatch, settings):
    settings(throttle={'max_failures': '2'})
    key = validated_key(client, db, 'alice')
    bad = {'user': 'alice', 'key': 'wrong', 'application': 'acme'}
    assert [client.delete(url(db), json=bad).status_code for _ in range(3)] == [
        404, 404, 429]
    good = {'user': 'alice', 'key': key, 'application': 'acme'}
    assert client.delete(url(db), json=good).status_code == 204


# -- CLI -----------------------------------------------------------------------------------
def test_cli_list(db, client, alice):
    create_user(db, 'bob')
    mine = public_id(request_key(client, db, 'alice'))
    bobs = public_id(validated_key(client, db, 'bob', 'other'))
    result = cli('application', 'list', '-d', db)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ['id', 'user', 'application', 'state', 'created', 'last_used']
    assert {tuple(line.split()[:4]) for line in lines[1:]} == {
        (mine, 'alice', 'acme', 'requested'), (bobs, 'bob', 'other', 'validated')}
    only = json.loads(cli('application', 'list', '-d', db, '--user', 'bob', '--json').output)
    assert [(r['id'], r['state'], r['last_used']) for r in only] == [(bobs, 'validated', None)]
    assert set(only[0]) == {'id', 'user', 'application', 'state', 'created', 'last_used',
                            'expires'}


def test_cli_validate_cancel_delete(db, client, alice):
    key = request_key(client, db, 'alice')
    key_id = public_id(key)
    for action, done in [('validate', 'Validated'), ('cancel', 'Cancelled')]:
        result = cli('application', action, '-d', db, key_id)
        assert (result.exit_code, result.output) == (0, f'{done} key {key_id}.\n')
    assert keys_in(db)[0].state == 'cancelled'
    result = cli('application', 'validate', '-d', db, key_id)
    assert result.exit_code == 1
    assert keys_in(db)[0].state == 'cancelled'
    assert cli('application', 'delete', '-d', db, key_id).exit_code == 0
    assert keys_in(db) == []


@pytest.mark.parametrize('args', [
    ('validate', '-d', '{db}', 'ffffffffffff'),
    ('cancel', '-d', '{db}', 'nonsense'),
    ('delete', '-d', '{db}', 'ffffffffffff'),
    ('list', '-d', '{db}', '--user', 'nobody'),
    ('list', '-d', 'no_such_database'),
    ('validate', '-d', 'no_such_database', 'ffffffffffff'),
])
def test_cli_errors(db, args):
    result = cli('application', *(a.format(db=db) for a in args))
    assert result.exit_code == 1
    output = result.output.strip()
    assert output.startswith('Error: ') and '\n' not in output
    assert 'Traceback' not in result.output


# -- wrapper order -------------------------------------------------------------------------
def test_user_application_must_sit_inside_with_transaction():
    from trylite.wrappers import user_application, with_transaction

    with pytest.raises(TypeError, match='inside'):
        user_application('acme')(with_transaction()(lambda request, pool: None))
    bare = user_application('acme')(lambda request: None)
    with pytest.raises(RuntimeError, match='with_transaction'):
        bare(object())
