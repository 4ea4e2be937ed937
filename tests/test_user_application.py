"""User application keys over HTTP (in process), on SQLite and PostgreSQL: request, validate, use,
revoke.

Also the ``trylite application`` commands, and that the secret part of a key is stored nowhere.
"""

from __future__ import annotations

import base64
import datetime
import gc
import hashlib
import itertools
import json
import random
import shutil
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import event, select, update
from sqlalchemy.engine import make_url
from werkzeug.test import Client

from tests.client import assert_json_error, make_client
from tests.helpers import (
    bearer,
    forged_key,
    invoke,
    mistyped,
    public_id,
    request_key,
    set_active,
    throttle_counts,
    validate,
    validated_key,
    wrong_secret,
)
from tests.routes import Counter
from tests.test_preferences import act, cheap_argon2, create_user, log_in  # noqa: F401
from trylite import storage
from trylite.auth import keys
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


# -- who exists cannot be told: decoys ----------------------------------------------------
@pytest.mark.parametrize('login', ['nobody', 'bob'])
def test_unknown_or_inactive_login_gets_a_decoy_that_looks_the_same(db, client, alice, login):
    create_user(db, 'bob', active=False)
    answers = [client.post(url(db), json={'user': who, 'application': 'acme'})
               for who in ('alice', login)]
    for answer in answers:
        assert answer.status_code == 200
        assert answer.headers['Content-Type'] == 'application/json'
        assert answer.headers['Cache-Control'] == 'no-store'
        assert KEY_RE.fullmatch(answer.json)
    assert len(answers[0].get_data()) == len(answers[1].get_data())
    stored = {k.public_id: (k.login, k.user_id, k.state) for k in keys_in(db)}
    assert stored == {public_id(answers[0].json): ('alice', alice, 'requested'),
                      public_id(answers[1].json): (login, None, 'requested')}
    listed = json.loads(cli('application', 'list', '-d', db, '--json').output)
    assert [r['id'] for r in listed] == [public_id(answers[0].json)]  # decoys are no keys


@pytest.mark.parametrize('login', ['alice', 'nobody', 'bob'])
def test_delete_answers_alike_for_any_login(db, client, alice, login):
    """Request a key, then delete it: 204 whether the login exists, is inactive or not."""
    create_user(db, 'bob', active=False)
    key = request_key(client, db, login)
    body = {'user': login, 'key': key, 'application': 'acme'}
    assert client.delete(url(db), json=body).status_code == 204
    assert keys_in(db) == []
    assert client.delete(url(db), json=body).status_code == 404


def test_polling_answers_alike_for_any_login(db, client, alice, settings):
    """An application polls its pending key: 401, never a failure, whoever it was asked for."""
    settings(throttle={'max_failures': 3})
    create_user(db, 'bob', active=False)
    for login in ('alice', 'nobody', 'bob'):
        key = request_key(client, db, login)
        answers = [client.get(f'/{db}/acme/whoami', headers=bearer(key)) for _ in range(8)]
        assert [(a.status_code, a.get_data()) for a in answers] == \
            [(401, answers[0].get_data())] * 8
    assert throttle_counts(db) == {'request:127.0.0.1': 3, 'request-login:alice': 1,
                                 'request-login:nobody': 1, 'request-login:bob': 1}


def test_decoys_can_never_be_validated(db, client, alice):
    key = request_key(client, db, 'carol')
    create_user(db, 'carol')  # the login exists now: the decoy stays a decoy
    result = cli('application', 'validate', '-d', db, public_id(key))
    assert result.exit_code == 1 and 'No such key' in result.output
    person = make_client()
    log_in(person, db, 'carol')
    assert public_id(key) not in person.get(f'/{db}/preferences/').text
    assert act(person, db, public_id(key), 'validate').status_code == 404
    assert client.get(f'/{db}/acme/whoami', headers=bearer(key)).status_code == 401


def test_key_requests_take_as_long_for_any_login(db, alice, settings):
    """Timing: requests for an existing login and for an unknown one, interleaved in random
    order, take the same time — neither the medians nor the ranks tell them apart (before
    decoys, an existing login took 65 % longer, and every one of its requests was slower)."""
    settings(throttle={'max_requests': 10_000},
             user_application={'max_pending': 10_000})
    client = make_client()
    body = {login: json.dumps({'user': login, 'application': 'acme'})
            for login in ('alice', 'nobody')}

    def timed(login: str) -> float:
        started = time.perf_counter()
        response = client.post(url(db), data=body[login], content_type='application/json')
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        return elapsed

    for _ in range(10):  # warm up both paths
        timed('alice'), timed('nobody')
    times: dict[str, list[float]] = {'alice': [], 'nobody': []}
    order = random.Random(7)
    gc.disable()
    try:
        for _ in range(80):
            pair = ['alice', 'nobody']
            order.shuffle(pair)
            for login in pair:
                times[login].append(timed(login))
    finally:
        gc.enable()
    existing, unknown = times['alice'], times['nobody']
    ratio = statistics.median(existing) / statistics.median(unknown)
    # Mann-Whitney: the chance that a request for the existing login is the slower of a
    # pair; 0.5 when both take the same time, 1.0 when every one of them is slower.
    slower = sum((a > b) + 0.5 * (a == b) for a in existing for b in unknown) / (
        len(existing) * len(unknown))
    assert 0.8 < ratio < 1.25 and 0.25 < slower < 0.75, (ratio, slower)


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
                    headers=bearer(mistyped(used))).status_code == 401
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


# -- the cap on pending requests -----------------------------------------------------------
def test_a_full_queue_refuses_new_requests_instead_of_evicting(db, alice):
    """A stranger asking for keys for alice cannot push her application's request out."""
    hers, stranger = make_client(address='203.0.113.1'), make_client(address='198.51.100.7')
    pending = request_key(hers, db, 'alice')
    for _ in range(4):
        request_key(stranger, db, 'alice')
    refused = stranger.post(url(db), json={'user': 'alice', 'application': 'acme'})
    assert_json_error(refused, 429)
    assert 86_000 < int(refused.headers['Retry-After']) <= 86_400
    assert public_id(pending) in {k.public_id for k in keys_in(db)}
    assert len(keys_in(db)) == 5
    other = request_key(stranger, db, 'alice', 'other')  # another application: its own cap
    polls = [hers.get(f'/{db}/acme/whoami', headers=bearer(pending)).status_code
             for _ in range(15)]
    assert polls == [401] * 15  # her application polls on, never throttled
    validate(db, pending)
    assert hers.get(f'/{db}/acme/whoami', headers=bearer(pending)).status_code == 200
    assert log_in(make_client(address='203.0.113.1'), db).status_code == 303
    assert public_id(other) in {k.public_id for k in keys_in(db)}
    # an unknown login is refused alike, past as many requests
    another = make_client(address='198.51.100.8')
    for _ in range(5):
        request_key(another, db, 'nobody')
    unknown = another.post(url(db), json={'user': 'nobody', 'application': 'acme'})
    assert_json_error(unknown, 429)
    assert unknown.json == refused.json


def test_concurrent_requests_respect_the_cap(db, alice, settings):
    settings(user_application={'max_pending': '3'})
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda n: make_client(address=f'192.0.2.{n + 1}').post(
            url(db), json={'user': 'alice', 'application': 'acme'}), range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 3 + [429] * 17, [a.text for a in answers]
    assert {k.public_id for k in keys_in(db)} == {
        public_id(a.json) for a in answers if a.status_code == 200}


def test_cancelled_deleted_or_expired_requests_free_their_place(db, client, alice, settings):
    settings(user_application={'max_pending': '2'})
    first, second = request_key(client, db, 'alice'), request_key(client, db, 'alice')
    assert client.post(url(db), json={'user': 'alice', 'application': 'acme'}
                       ).status_code == 429
    assert cli('application', 'cancel', '-d', db, public_id(first)).exit_code == 0
    third = request_key(client, db, 'alice')
    set_key(db, third, expires=utcnow() - datetime.timedelta(seconds=1))
    request_key(client, db, 'alice')
    assert client.delete(url(db), json={'user': 'alice', 'key': second,
                                        'application': 'acme'}).status_code == 204
    request_key(client, db, 'alice')
    assert client.post(url(db), json={'user': 'alice', 'application': 'acme'}
                       ).status_code == 429


def test_expired_requests_are_swept(db, client, alice, monkeypatch):
    old = request_key(client, db, 'nobody')
    set_key(db, old, expires=utcnow() - datetime.timedelta(seconds=1))
    monkeypatch.setattr(keys, '_requested', itertools.count())  # the next request sweeps
    new = request_key(client, db, 'alice')
    assert [k.public_id for k in keys_in(db)] == [public_id(new)]


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


# -- throttling (one process; across processes in tests/auth/test_throttle.py) -------------
def test_wrong_keys_are_throttled_but_valid_keys_pass(db, client, alice, settings):
    settings(throttle={'max_failures': '3'})
    key = validated_key(client, db, 'alice')
    whoami = f'/{db}/acme/whoami'
    statuses = [client.get(whoami, headers=bearer(forged_key())).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    throttled = client.get(whoami, headers=bearer(wrong_secret(key)))
    assert_json_error(throttled, 429)
    assert int(throttled.headers['Retry-After']) > 0
    assert client.get(whoami, headers=bearer(key)).status_code == 200


def test_valid_delete_works_while_throttled(db, client, alice, settings):
    settings(throttle={'max_failures': '2'})
    key = validated_key(client, db, 'alice')
    bad = {'user': 'alice', 'key': wrong_secret(key), 'application': 'acme'}
    assert [client.delete(url(db), json=bad).status_code for _ in range(3)] == [
        404, 404, 429]
    good = {'user': 'alice', 'key': key, 'application': 'acme'}
    assert client.delete(url(db), json=good).status_code == 204


def test_a_throttled_client_writes_nothing(db, client, alice, settings):
    """Past the limit, 429 without a write: 30 wrong keys leave the count at 3, and 30
    deletions naming random logins make one counter, not 30."""
    settings(throttle={'max_failures': '3'})
    statuses = [client.get(f'/{db}/acme/whoami', headers=bearer(forged_key())).status_code
                for _ in range(30)]
    assert statuses == [401] * 3 + [429] * 27
    stranger = make_client(address='192.0.2.5')
    statuses = [stranger.delete(url(db), json={
        'user': f'random-{n}', 'key': forged_key(), 'application': 'acme'}).status_code
        for n in range(30)]
    assert statuses == [404] * 3 + [429] * 27
    assert throttle_counts(db) == {'key:127.0.0.1': 3, 'key:192.0.2.5': 3}


def test_missing_or_malformed_keys_are_no_failures(db, client, alice, settings):
    """No Authorization header (a cross-site <img> sends none), another scheme, or a key
    whose checksum is wrong: 401 without a database look-up, and nothing counted."""
    settings(throttle={'max_failures': '2'})
    key = validated_key(client, db, 'alice')
    mistyped = key[:20] + ('x' if key[20] != 'x' else 'y') + key[21:]
    statements = []
    engine = storage.backend().engine(db)
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, 'before_cursor_execute', listener)
    try:
        for headers in [{}, {'Authorization': f'Token {key}'}, bearer(mistyped),
                        bearer(key[:-1]), bearer('nonsense')] * 5:
            assert client.get(f'/{db}/acme/whoami', headers=headers).status_code == 401
    finally:
        event.remove(engine, 'before_cursor_execute', listener)
    assert not [s for s in statements if 'res_user_application' in s or 'throttle' in s]
    assert throttle_counts(db) == {'request:127.0.0.1': 1, 'request-login:alice': 1}


def test_failed_deletions_never_keep_a_person_out_of_her_preferences(db, alice, settings):
    """A stranger failing to delete keys 'for alice', from her address or another one,
    feeds no login counter: her right password still gets in."""
    settings(throttle={'max_failures': '3'})
    for address in ('198.51.100.20', '127.0.0.1'):
        stranger = make_client(address=address)
        for _ in range(10):
            stranger.delete(url(db), json={'user': 'alice', 'key': forged_key(),
                                           'application': 'acme'})
    assert log_in(make_client(), db).status_code == 303


def test_key_failures_and_logins_count_apart(db, client, alice, settings):
    """An address throttled for wrong keys may still log in to preferences (and the other
    way round): the two kinds have separate counters."""
    settings(throttle={'max_failures': '2'})
    for _ in range(3):
        client.get(f'/{db}/acme/whoami', headers=bearer(forged_key()))
    assert client.get(f'/{db}/acme/whoami', headers=bearer(forged_key())).status_code == 429
    assert log_in(make_client(), db).status_code == 303
    for _ in range(3):
        log_in(make_client(), db, password='wrong password')  # noqa: S106
    key = validated_key(client, db, 'alice')
    assert client.get(f'/{db}/acme/whoami', headers=bearer(key)).status_code == 200


def test_key_requests_are_throttled_per_address_and_per_login(db, alice, settings):
    settings(throttle={'max_requests': '3'})
    one = make_client(address='192.0.2.1')
    for login in ('x1', 'x2', 'x3'):
        request_key(one, db, login)
    throttled = one.post(url(db), json={'user': 'x4', 'application': 'acme'})
    assert_json_error(throttled, 429)
    assert 0 < int(throttled.headers['Retry-After']) <= 300
    for n in range(3):  # one login, from three addresses
        request_key(make_client(address=f'198.51.100.{n + 1}'), db, 'alice')
    elsewhere = make_client(address='203.0.113.9')
    assert elsewhere.post(url(db), json={'user': 'alice', 'application': 'acme'}
                          ).status_code == 429
    assert elsewhere.post(url(db), json={'user': 'nobody', 'application': 'acme'}
                          ).status_code == 200
    assert len(keys_in(db)) == 7  # the refused requests stored nothing
    assert throttle_counts(db)['request:192.0.2.1'] == 3


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
