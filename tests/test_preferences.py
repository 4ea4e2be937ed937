"""The preferences page over HTTP (in process): login, CSRF, sessions, the person's keys, HTML
errors."""

from __future__ import annotations

import datetime
import hashlib
import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from werkzeug.test import Client, TestResponse

import trylite.auth.persons
from tests.client import assert_json_error, make_client
from tests.helpers import (
    PASSWORD,
    invoke,
    public_id,
    request_key,
    set_active,
    throttle_counts,
)
from trylite.auth.keys import UserApplication
from trylite.auth.persons import User
from trylite.auth.sessions import UserSession
from trylite.model import utcnow
from trylite.preferences import LOGIN_CSRF_COOKIE, NOTICE_COOKIE, SESSION_COOKIE
from trylite.transaction import Transaction

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Cheap argon2 settings: these tests are about pages, not about hashing (see test_user.py).
_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_PASSWORD_HASH = _HASHER.hash(PASSWORD)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trylite.auth.persons, '_hasher', _HASHER)


def create_user(db: str, login: str, active: bool = True) -> int:
    """A person whose password is ``PASSWORD``."""
    with Transaction.start(db) as transaction:
        user = User(login=login, name=login.title(), active=active,
                    password_hash=_PASSWORD_HASH)
        transaction.session.add(user)
        transaction.session.flush()
        return user.id


def csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, html
    return match[1]


def prefs(db: str) -> str:
    return f'/{db}/preferences/'


def cookie(client: Client, db: str, name: str) -> str | None:
    """The value of the cookie *name* the client holds for the preferences page."""
    found = client.get_cookie(name, path=prefs(db))
    return found.value if found is not None else None


def set_cookies(response: TestResponse) -> str:
    """The response's ``Set-Cookie`` headers, joined (as ``requests`` shows them)."""
    return ', '.join(response.headers.getlist('Set-Cookie'))


def log_in(client: Client, db: str, login: str = 'alice', password: str = PASSWORD,
           headers: dict[str, str] | None = None) -> TestResponse:
    """Log in through the form, as a browser does (GET the form, POST it with its token)."""
    page = client.get(prefs(db), headers=headers)
    return client.post(prefs(db) + 'login', headers=headers,
                       data={'login': login, 'password': password, 'csrf_token': csrf(page.text)})


def act(client: Client, db: str, key_id: str, action: str) -> TestResponse:
    """Press *action* (validate, cancel, delete) on the row of *key_id*."""
    page = client.get(prefs(db))
    return client.post(prefs(db) + 'keys',
                       data={'csrf_token': csrf(page.text), 'public_id': key_id,
                             'action': action})


def state_of(db: str, key_id: str) -> str | None:
    with Transaction.start(db, readonly=True) as transaction:
        return transaction.session.scalars(select(UserApplication.state).where(
            UserApplication.public_id == key_id)).first()


def assert_html(response: TestResponse, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers['Content-Type'] == 'text/html; charset=utf-8'
    assert 'Traceback' not in response.text
    assert response.headers['X-Frame-Options'] == 'DENY'
    policy = response.headers['Content-Security-Policy']
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert 'script-src' not in policy  # no script may run
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    assert response.headers['Cache-Control'] == 'no-store'


@pytest.fixture
def alice(db: str) -> int:
    return create_user(db, 'alice')


def test_login_page(db, client, alice):
    response = client.get(prefs(db))
    assert_html(response, 200)
    assert 'name="login"' in response.text and 'name="password"' in response.text
    assert 'name="viewport"' in response.text
    assert response.headers['Cache-Control'] == 'no-store'
    header = set_cookies(response)
    assert header.startswith(f'{LOGIN_CSRF_COOKIE}=')
    for attribute in ('HttpOnly', 'SameSite=Strict', f'Path=/{db}/preferences/'):
        assert attribute in header
    assert 'Secure' not in header
    # a second visit keeps the same double-submit token (several tabs keep working)
    assert csrf(client.get(prefs(db)).text) == csrf(response.text)


def test_login_sets_a_session_cookie_and_stores_only_its_hash(db, client, alice,
                                                               monkeypatch, settings):
    settings(session={'timeout': '600'})
    response = log_in(client, db)
    assert response.status_code == 303
    assert response.headers['Location'] == f'/{db}/preferences/'
    header = next(c for c in response.headers.getlist('Set-Cookie')
                  if c.startswith(f'{SESSION_COOKIE}='))
    for attribute in ('HttpOnly', 'SameSite=Strict', 'Max-Age=600', f'Path=/{db}/preferences/'):
        assert attribute in header
    assert 'Secure' not in header
    token = cookie(client, db, SESSION_COOKIE)
    assert token is not None
    with Transaction.start(db, readonly=True) as transaction:
        stored = transaction.session.scalars(select(UserSession)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert datetime.timedelta(seconds=590) < stored.expires - utcnow() <= \
        datetime.timedelta(seconds=600)
    page = client.get(prefs(db))
    assert_html(page, 200)
    assert 'Log out' in page.text and 'Alice' in page.text
    # logging in again (from another tab's form) replaces the session
    form_token = 'A' * 43
    client.set_cookie(LOGIN_CSRF_COOKIE, form_token, path=f'/{db}/preferences/')
    again = client.post(prefs(db) + 'login',
                        data={'login': 'alice', 'password': PASSWORD, 'csrf_token': form_token})
    assert again.status_code == 303
    assert cookie(client, db, SESSION_COOKIE) not in (None, token)
    with Transaction.start(db, readonly=True) as transaction:
        (again,) = transaction.session.scalars(select(UserSession)).all()
    assert again.token_hash == hashlib.sha256(
        cookie(client, db, SESSION_COOKIE).encode()).hexdigest()


def test_session_cookie_is_secure_over_https(db, client, alice, monkeypatch, settings):
    settings(web={'num_proxies': '1'})
    https = {'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.9'}
    page = client.get(prefs(db), headers=https)
    assert 'Secure' in set_cookies(page)
    token = csrf(page.text)  # a Secure cookie is not sent back over plain HTTP: send it
    client.set_cookie(LOGIN_CSRF_COOKIE, token, path=prefs(db))
    response = client.post(prefs(db) + 'login', headers=https,
                           data={'login': 'alice', 'password': PASSWORD, 'csrf_token': token})
    assert response.status_code == 303
    cookies = response.headers.getlist('Set-Cookie')
    assert any(c.startswith(f'{SESSION_COOKIE}=') and 'Secure' in c for c in cookies)


@pytest.mark.parametrize('login, password', [
    ('alice', 'wrong password'), ('nobody', PASSWORD), ('<b>x</b>', PASSWORD)])
def test_wrong_login_or_password(db, client, alice, login, password):
    response = log_in(client, db, login, password)
    assert_html(response, 403)
    assert 'Wrong login or password.' in response.text
    assert '<b>x</b>' not in response.text  # autoescaped
    assert cookie(client, db, SESSION_COOKIE) is None


def test_empty_login_form(db, client, alice):
    assert_html(log_in(client, db, '', ''), 400)


def test_inactive_person_cannot_log_in_and_loses_sessions(db, client, alice):
    assert log_in(client, db).status_code == 303
    set_active(db, 'alice', False)
    page = client.get(prefs(db))
    assert_html(page, 200)
    assert 'name="password"' in page.text  # the login form again
    assert_html(log_in(client, db), 403)
    assert_html(log_in(make_client(), db), 403)  # nor from a new session


def test_expired_session(db, client, alice):
    assert log_in(client, db).status_code == 303
    with Transaction.start(db) as transaction:
        transaction.session.execute(update(UserSession).values(
            expires=utcnow() - datetime.timedelta(seconds=1)))
    assert 'name="password"' in client.get(prefs(db)).text


def test_logout(db, client, alice):
    assert log_in(client, db).status_code == 303
    token = cookie(client, db, SESSION_COOKIE)
    assert token is not None
    page = client.get(prefs(db))
    response = client.post(prefs(db) + 'logout', data={'csrf_token': csrf(page.text)})
    assert response.status_code == 303
    assert cookie(client, db, SESSION_COOKIE) is None
    with Transaction.start(db, readonly=True) as transaction:
        assert transaction.session.scalar(select(func.count()).select_from(UserSession)) == 0
    replaying = make_client()
    replaying.set_cookie(SESSION_COOKIE, token, path=prefs(db))
    assert 'name="password"' in replaying.get(prefs(db)).text


@pytest.mark.parametrize('form', [
    {}, {'csrf_token': 'forged'}, {'csrf_token': ''}])
def test_login_needs_the_double_submit_token(db, client, alice, form):
    client.get(prefs(db))  # sets the cookie
    response = client.post(prefs(db) + 'login',
                           data={'login': 'alice', 'password': PASSWORD, **form})
    assert_html(response, 403)
    token = csrf(client.get(prefs(db)).text)  # a token without the cookie is refused too
    response = make_client().post(prefs(db) + 'login',
                                  data={'login': 'alice', 'password': PASSWORD,
                                        'csrf_token': token})
    assert_html(response, 403)


def test_keys_page_lists_only_own_keys(db, client, alice):
    create_user(db, 'bob')
    mine = public_id(request_key(client, db, 'alice'))
    other_app = public_id(request_key(client, db, 'alice', 'other'))
    bobs = public_id(request_key(client, db, 'bob'))
    log_in(client, db)
    page = client.get(prefs(db))
    assert_html(page, 200)
    assert f'data-public-id="{mine}"' in page.text
    assert f'data-public-id="{other_app}"' in page.text
    assert 'ACME test application' in page.text and 'Another application' in page.text
    assert bobs not in page.text
    assert 'requested' in page.text


def test_validate_cancel_delete(db, client, alice):
    key_id = public_id(request_key(client, db, 'alice'))
    log_in(client, db)
    for action, state in [('validate', 'validated'), ('cancel', 'cancelled')]:
        response = act(client, db, key_id, action)
        assert response.status_code == 303
        assert response.headers['Location'] == f'/{db}/preferences/'
        assert state_of(db, key_id) == state
        page = client.get(response.headers['Location'])
        assert f'Key {key_id} {state}.' in page.text
        assert f'Key {key_id}' not in client.get(prefs(db)).text  # shown once
    refused = act(client, db, key_id, 'validate')  # never re-validated
    assert_html(refused, 400)
    assert state_of(db, key_id) == 'cancelled'
    assert act(client, db, key_id, 'delete').status_code == 303
    assert state_of(db, key_id) is None


def test_expired_request_shows_expired_and_cannot_be_validated(db, client, alice):
    key_id = public_id(request_key(client, db, 'alice'))
    with Transaction.start(db) as transaction:
        transaction.session.execute(update(UserApplication).values(
            expires=utcnow() - datetime.timedelta(seconds=1)))
    log_in(client, db)
    assert 'data-state="expired"' in client.get(prefs(db)).text
    assert_html(act(client, db, key_id, 'validate'), 400)
    assert state_of(db, key_id) == 'requested'


@pytest.mark.parametrize('target', ['bob', 'unknown'])
def test_acting_on_a_key_not_ones_own_is_404(db, client, alice, target):
    create_user(db, 'bob')
    key_id = public_id(request_key(client, db, 'bob')) if target == 'bob' else 'f' * 12
    log_in(client, db)
    for action in ('validate', 'cancel', 'delete'):
        assert_html(act(client, db, key_id, action), 404)
    if target == 'bob':
        assert state_of(db, key_id) == 'requested'


@pytest.mark.parametrize('form, status', [
    ({'action': 'explode'}, 400),
    ({'action': ''}, 400),
    ({'public_id': ''}, 400),
    ({'csrf_token': 'forged'}, 403),
    ({'csrf_token': ''}, 403),
])
def test_bad_key_forms(db, client, alice, form, status):
    key_id = public_id(request_key(client, db, 'alice'))
    log_in(client, db)
    token = csrf(client.get(prefs(db)).text)
    data = {'csrf_token': token, 'public_id': key_id, 'action': 'validate', **form}
    response = client.post(prefs(db) + 'keys', data=data)
    assert_html(response, status)
    assert state_of(db, key_id) == 'requested'


def test_csrf_token_of_another_session_is_refused(db, client, alice):
    key_id = public_id(request_key(client, db, 'alice'))
    other = make_client()
    log_in(other, db)
    foreign = csrf(other.get(prefs(db)).text)
    log_in(client, db)
    response = client.post(prefs(db) + 'keys', data={
        'csrf_token': foreign, 'public_id': key_id, 'action': 'validate'})
    assert_html(response, 403)


def test_actions_need_a_session(db, client, alice):
    key_id = public_id(request_key(client, db, 'alice'))
    response = client.post(prefs(db) + 'keys', data={
        'csrf_token': 'x', 'public_id': key_id, 'action': 'validate'})
    assert_html(response, 403)
    assert state_of(db, key_id) == 'requested'


def test_inactive_person_session_cannot_act(db, client, alice):
    key_id = public_id(request_key(client, db, 'alice'))
    log_in(client, db)
    token = csrf(client.get(prefs(db)).text)
    set_active(db, 'alice', False)
    response = client.post(prefs(db) + 'keys', data={
        'csrf_token': token, 'public_id': key_id, 'action': 'validate'})
    assert_html(response, 403)
    assert state_of(db, key_id) == 'requested'


@pytest.mark.parametrize('method, path, status', [
    ('GET', 'keys', 405), ('GET', 'login', 405), ('PUT', '', 405), ('GET', 'nothing', 404)])
def test_html_errors(db, client, alice, method, path, status):
    response = client.open(prefs(db) + path, method=method)
    assert response.status_code == status
    if status == 405:
        assert_html(response, 405)
        assert response.headers['Allow']


def test_unknown_database_is_an_html_404(client):
    assert_html(client.get(prefs('no_such_database')), 404)


def _attempt(db: str, address: str, login: str, password: str = 'wrong password'  # noqa: S107
             ) -> TestResponse:
    """A login from a browser at *address*."""
    return log_in(make_client(address=address), db, login, password)


def test_failures_from_elsewhere_never_keep_the_right_password_out(db, alice, settings):
    """Wrong passwords for alice from many addresses (ten here, one each) throttle none of
    them, and her right password from her own address gets in."""
    settings(throttle={'max_failures': '2'})
    for n in range(10):
        assert _attempt(db, f'198.51.100.{n + 1}', 'alice').status_code == 403
    assert _attempt(db, '203.0.113.5', 'alice', PASSWORD).status_code == 303


def test_failed_logins_are_throttled_per_address_and_per_login_from_it(db, alice, settings):
    settings(throttle={'max_failures': '2'})
    # one login from one address: past the limit even the right password waits there...
    assert _attempt(db, '198.51.100.1', 'alice').status_code == 403
    assert _attempt(db, '198.51.100.1', 'alice').status_code == 403
    throttled = _attempt(db, '198.51.100.1', 'alice', PASSWORD)
    assert_html(throttled, 429)
    assert 0 < int(throttled.headers['Retry-After']) <= 300
    # ...but not from another address
    assert _attempt(db, '198.51.100.2', 'alice', PASSWORD).status_code == 303
    # one address trying several logins waits, for any login
    assert _attempt(db, '198.51.100.9', 'x1').status_code == 403
    assert _attempt(db, '198.51.100.9', 'x2').status_code == 403
    assert_html(_attempt(db, '198.51.100.9', 'alice', PASSWORD), 429)
    assert throttle_counts(db) == {
        'login:198.51.100.1': 2, 'login-pair:198.51.100.1 alice': 2,
        'login:198.51.100.9': 2, 'login-pair:198.51.100.9 x1': 1,
        'login-pair:198.51.100.9 x2': 1}  # the 429s wrote nothing


def test_ipv6_clients_are_counted_by_their_64(db, alice, settings):
    """Hopping between the addresses of one /64 does not escape the limit."""
    settings(throttle={'max_failures': '2'})
    assert _attempt(db, '2001:db8:0:1::1', 'x1').status_code == 403
    assert _attempt(db, '2001:db8:0:1::2', 'x2').status_code == 403
    assert_html(_attempt(db, '2001:db8:0:1:abcd::3', 'x3'), 429)
    assert _attempt(db, '2001:db8:0:2::1', 'alice', PASSWORD).status_code == 303


# -- notices come from the action -----------------------------------------------------------
def test_a_link_cannot_make_the_page_report_an_action(db, client, alice):
    key_id = public_id(request_key(client, db, 'alice'))
    log_in(client, db)
    for query in (f'?done=validate&key={key_id}', '?done=delete&key=ffffffffffff'):
        page = client.get(prefs(db) + query)
        assert_html(page, 200)
        assert 'class="notice"' not in page.text
    # a notice cookie not signed by this session (forged, or another person's) is ignored
    other = make_client()
    log_in(other, db)
    assert act(other, db, key_id, 'validate').status_code == 303
    foreign = cookie(other, db, NOTICE_COOKIE)
    for value in (foreign, f'delete.{key_id}.' + '0' * 64, 'garbage'):
        client.set_cookie(NOTICE_COOKIE, value, path=prefs(db))
        assert 'class="notice"' not in client.get(prefs(db)).text


# -- a new password or a deactivation ends sessions ----------------------------------------
def _logged_in(client: Client, db: str) -> bool:
    return 'Log out' in client.get(prefs(db)).text


def test_a_new_password_ends_every_session_of_the_person(db, alice):
    create_user(db, 'bob')
    browsers = [make_client(), make_client()]
    for browser in browsers:
        assert log_in(browser, db).status_code == 303
    bobs = make_client()
    log_in(bobs, db, 'bob')
    result = invoke('user', 'set-password', '-d', db, 'alice', '--password-stdin',
                    input='a brand new password\n')
    assert result.exit_code == 0, result.output
    assert not any(_logged_in(browser, db) for browser in browsers)
    assert _logged_in(bobs, db)  # nobody else's
    assert log_in(make_client(), db, password='a brand new password').status_code == 303  # noqa: S106


def test_deactivation_ends_sessions_for_good(db, client, alice):
    assert log_in(client, db).status_code == 303
    result = invoke('user', 'deactivate', '-d', db, 'alice')
    assert result.exit_code == 0, result.output
    set_active(db, 'alice', True)  # reactivated: the old session does not come back
    assert not _logged_in(client, db)
    with Transaction.start(db, readonly=True) as transaction:
        assert transaction.session.scalar(select(func.count()).select_from(UserSession)) == 0


# -- hosts ------------------------------------------------------------------------------------
def test_unknown_hosts_get_an_html_400(db, client, alice, settings):
    settings(web={'trusted_hosts': 'localhost, .example.com'})
    assert_html(client.get(prefs(db)), 200)
    assert_html(client.get(prefs(db), headers={'Host': 'www.example.com'}), 200)
    for path in (prefs(db), f'/{db}/preferences'):
        refused = client.get(path, headers={'Host': 'evil.example'})
        assert_html(refused, 400)
        assert 'Location' not in refused.headers
    assert_json_error(client.get(prefs(db) + 'nothing', headers={'Host': 'evil.example'}),
                      400)  # no page there: the JSON error


def test_redirects_never_name_the_host_the_client_sent(db, client, alice):
    redirect = client.get(f'/{db}/preferences', headers={'Host': 'evil.example'})
    assert redirect.status_code == 308
    assert redirect.headers['Location'] == f'/{db}/preferences/'
