"""Personal API keys in the preferences page: made (shown once), listed with their last use,
revoked; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.helpers import add_to_group
from tests.test_preferences import (  # noqa: F401  (cheap_argon2: autouse)
    alice,
    assert_html,
    cheap_argon2,
    csrf,
    log_in,
    prefs,
)
from trylite.auth import apikeys
from trylite.auth.apikeys import ApiKey
from trylite.auth.tokens import PERSONAL_PREFIX, parse_key
from trylite.exceptions import AuthenticationFailed
from trylite.transaction import Transaction


def make(client, db, **form):
    page = client.get(prefs(db))
    return client.post(prefs(db) + 'apikeys', data={
        'csrf_token': csrf(page.text), 'action': 'create', **form})


def shown_key(html: str) -> str:
    (key,) = re.findall(r'trylitepk_[0-9a-f]{12}_[0-9A-Za-z]{49}', html)
    return key


def works(db: str, key: str) -> bool:
    try:
        with Transaction.start(db):
            apikeys.authenticate(key, '192.0.2.1')
    except AuthenticationFailed:
        return False
    return True


def test_make_see_once_and_revoke(db, client, alice):
    log_in(client, db)
    made = make(client, db, name='backup script', scope='read', days='30')
    assert made.status_code == 200 and made.headers['Cache-Control'] == 'no-store'
    key = shown_key(made.text)
    parsed = parse_key(key, PERSONAL_PREFIX)
    assert f'token {parsed.public_id}:{parsed.secret}' in made.text
    assert works(db, key)
    page = client.get(prefs(db)).text
    assert parsed.secret not in page  # shown once only
    assert f'data-api-key="{parsed.public_id}"' in page and 'backup script' in page
    with Transaction.start(db, readonly=True) as transaction:
        row = transaction.session.scalars(select(ApiKey)).one()
        assert (row.name, row.scope, row.user_id) == ('backup script', 'read', alice)
    revoked = client.post(prefs(db) + 'apikeys', data={
        'csrf_token': csrf(page), 'action': 'revoke', 'public_id': parsed.public_id})
    assert revoked.status_code == 303
    assert f'Key {parsed.public_id} revoked.' in client.get(prefs(db)).text
    assert not works(db, key)


@pytest.mark.parametrize('form, status, message', [
    ({'name': 'x'}, 400, 'must expire'),
    ({'name': 'x', 'days': '1000'}, 400, '1 to 90 days'),
    ({'name': 'x', 'days': 'soon'}, 400, 'number of days'),
    ({'name': '', 'days': '3'}, 400, 'needs a name'),
    ({'name': 'x', 'days': '3', 'scope': 'everything'}, 400, 'scope'),
])
def test_mistakes_are_html_errors(db, client, alice, form, status, message):
    log_in(client, db)
    response = make(client, db, **form)
    assert_html(response, status)
    assert message in response.text


def test_administrators_may_make_keys_that_do_not_expire(db, client, alice):
    add_to_group(db, alice, 'admin')
    log_in(client, db)
    key = shown_key(make(client, db, name='forever', days='').text)
    assert works(db, key)
    with Transaction.start(db, readonly=True) as transaction:
        assert transaction.session.scalars(select(ApiKey.expires)).one() is None


def test_revoking_someone_elses_key_is_404(db, client, alice):
    from tests.test_preferences import create_user
    bob = create_user(db, 'bob')
    with Transaction.start(db) as transaction:
        from trylite.auth.persons import User
        person = transaction.session.get(User, bob)
        key = apikeys.create_key(transaction.session, person, 'bob', days=1)
    log_in(client, db)
    page = client.get(prefs(db)).text
    response = client.post(prefs(db) + 'apikeys', data={
        'csrf_token': csrf(page), 'action': 'revoke',
        'public_id': parse_key(key, PERSONAL_PREFIX).public_id})
    assert_html(response, 404)
    assert works(db, key)


@pytest.mark.parametrize('form', [{'action': 'revoke', 'public_id': 'x'}, {'action': 'nope'},
                                  {}])
def test_bad_forms(db, client, alice, form):
    log_in(client, db)
    page = client.get(prefs(db)).text
    assert_html(client.post(prefs(db) + 'apikeys', data={'csrf_token': csrf(page), **form}),
                400)


def test_needs_a_session_and_its_csrf_token(db, client, alice):
    assert_html(client.post(prefs(db) + 'apikeys', data={'action': 'create', 'name': 'x',
                                                         'days': '1'}), 403)
    log_in(client, db)
    assert_html(client.post(prefs(db) + 'apikeys', data={
        'action': 'create', 'name': 'x', 'days': '1', 'csrf_token': 'forged'}), 403)
