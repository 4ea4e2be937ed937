"""Personal API keys (and user-application keys reaching the data layer): making, scopes,
expiry, revocation, the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import select, update

from tests.data_models import Partner
from tests.helpers import add_to_group, create_user, invoke, request_key, validate
from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)
from trylite.auth import apikeys
from trylite.auth.apikeys import ApiKey
from trylite.auth.keys import application_scope, register_application
from trylite.auth.persons import User
from trylite.auth.tokens import PERSONAL_PREFIX, hash_secret, parse_key
from trylite.data.dispatch import Scope, execute
from trylite.exceptions import AccessError, AuthenticationFailed, Throttled, UserError
from trylite.model import utcnow
from trylite.transaction import Transaction

register_application('acme-data', 'ACME with data', scopes={'test.partner': 'rw',
                                                            'test.tag': 'r'})


def make_key(db: str, login: str, **options) -> str:
    with Transaction.start(db) as transaction:
        user = transaction.session.scalars(select(User).where(User.login == login)).one()
        return apikeys.create_key(transaction.session, user, options.pop('name', 'script'),
                                  **options)


def identity(db: str, token: str | None, address: str = '192.0.2.1') -> apikeys.Identity:
    with Transaction.start(db) as transaction:
        found = apikeys.authenticate(token, address)
        transaction.session.expunge_all()
        return found


@pytest.fixture
def alice(db):
    return create_user(db, 'alice')


def test_make_and_use_a_key(db, alice):
    key = make_key(db, 'alice', days=30)
    parsed = parse_key(key, PERSONAL_PREFIX)
    assert parsed is not None and key.startswith('trylitepk_')
    found = identity(db, key)
    assert (found.user.id, found.scope) == (alice, Scope())
    with Transaction.start(db) as transaction:
        (row,) = transaction.session.scalars(select(ApiKey)).all()
        assert (row.name, row.scope, row.public_id) == ('script', 'rpc', parsed.public_id)
        assert row.secret_hash == hash_secret(parsed.secret) and parsed.secret not in str(
            row.__dict__)
        assert datetime.timedelta(days=29) < row.expires - utcnow() <= datetime.timedelta(
            days=30)


def test_read_scope(db, alice):
    add_to_group(db, alice, 'admin')
    found = identity(db, make_key(db, 'alice', scope='read', days=1))
    assert found.scope == Scope(readonly=True)
    assert execute(db, alice, 'test.partner', 'search', [[]], scope=found.scope) == []
    with pytest.raises(AccessError, match='may only read'):
        execute(db, alice, 'test.partner', 'create', [{'name': 'x'}], scope=found.scope)


@pytest.mark.parametrize('options, message', [
    ({'days': None}, 'must expire within 90 days'),
    ({'days': 91}, '1 to 90 days'),
    ({'days': 0}, '1 to 90 days'),
    ({'days': 10, 'scope': 'admin'}, 'scope'),
    ({'days': 10, 'name': '  '}, 'needs a name'),
    ({'days': 10, 'name': 'x' * 101}, 'needs a name'),
])
def test_rules_for_making_keys(db, alice, options, message):
    with pytest.raises(UserError, match=message):
        make_key(db, 'alice', **options)


def test_key_max_days_setting_and_admins(db, alice, settings):
    settings(api={'key_max_days': 5})
    with pytest.raises(UserError, match='1 to 5 days'):
        make_key(db, 'alice', days=6)
    add_to_group(db, alice, 'admin')
    make_key(db, 'alice', days=None)  # administrators may make keys that do not expire
    with Transaction.start(db) as transaction:
        assert transaction.session.scalars(select(ApiKey.expires)).one() is None


def test_refusals(db, alice, settings):
    key = make_key(db, 'alice', days=1)
    for token in (None, '', 'garbage', key[:-1] + ('A' if key[-1] != 'A' else 'B'),
                  key.replace('trylitepk_', 'trylite_')):
        with pytest.raises(AuthenticationFailed):
            identity(db, token)
    with Transaction.start(db) as transaction:
        transaction.session.execute(update(ApiKey).values(expires=utcnow()))
    with pytest.raises(AuthenticationFailed):
        identity(db, key)
    other = make_key(db, 'alice', days=1, name='other')
    with Transaction.start(db) as transaction:
        transaction.session.execute(update(User).values(active=False))
    with pytest.raises(AuthenticationFailed):
        identity(db, other)


def test_revoked_keys_stop_at_once(db, alice):
    key = make_key(db, 'alice', days=1)
    assert identity(db, key).user.id == alice
    with Transaction.start(db) as transaction:
        apikeys.revoke(transaction.session, parse_key(key, PERSONAL_PREFIX).public_id, alice)
    with pytest.raises(AuthenticationFailed):
        identity(db, key)


def test_wrong_secrets_are_throttled(db, alice, settings):
    settings(throttle={'max_failures': 2})
    key = make_key(db, 'alice', days=1)
    wrong = key.split('_')[0] + '_' + key.split('_')[1] + '_' + 'x' * 49
    outcomes = []
    for _ in range(3):
        try:
            identity(db, wrong, '192.0.2.9')
        except (AuthenticationFailed, Throttled) as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ['AuthenticationFailed', 'AuthenticationFailed', 'Throttled']
    assert identity(db, key, '192.0.2.10').user.id == alice


def test_frappe_pair(db, alice):
    key = make_key(db, 'alice', days=1)
    parsed = parse_key(key, PERSONAL_PREFIX)
    with Transaction.start(db):
        assert apikeys.authenticate_pair(parsed.public_id, parsed.secret, None).user.id == alice
        with pytest.raises(AuthenticationFailed):
            apikeys.authenticate_pair(parsed.public_id, 'x' * 43, None)
        with pytest.raises(AuthenticationFailed):
            apikeys.authenticate_pair(None, None, None)


def test_user_application_keys_reach_the_models_they_declared(db, client, alice):
    key = request_key(client, db, 'alice', 'acme-data')
    validate(db, key)
    found = identity(db, key)
    assert found.user.id == alice
    assert found.scope == application_scope('acme-data') == Scope(models={
        'test.partner': 'rw', 'test.tag': 'r'})
    other = request_key(client, db, 'alice', 'acme')
    validate(db, other)
    assert identity(db, other).scope == Scope(models={})  # declared no data
    add_to_group(db, alice, 'admin')
    with pytest.raises(AccessError, match='may not reach'):
        execute(db, alice, 'test.partner', 'search', [[]], scope=identity(db, other).scope)
    assert execute(db, alice, 'test.partner', 'create', [{'name': 'p'}],
                   scope=found.scope)
    with pytest.raises(AccessError, match='may only read'):
        execute(db, alice, 'test.tag', 'create', [{'name': 't'}], scope=found.scope)
    with Transaction.start(db):
        assert Partner.search_count([]) == 1


def test_register_application_checks_scopes():
    with pytest.raises(ValueError, match="'r' or 'rw'"):
        register_application('bad-scopes', scopes={'test.partner': 'write'})


# -- the command line ------------------------------------------------------------------------
def test_cli_create_list_revoke(db, alice):
    created = invoke('apikey', 'create', '-d', db, 'alice', '--name', 'backup',
                     '--scope', 'read', '--days', '7')
    assert created.exit_code == 0, created.output
    key, token = created.output.splitlines()
    parsed = parse_key(key, PERSONAL_PREFIX)
    assert token == f'token {parsed.public_id}:{parsed.secret}'
    assert identity(db, key).scope == Scope(readonly=True)
    listed = invoke('apikey', 'list', '-d', db, '--user', 'alice')
    assert listed.exit_code == 0
    row = listed.output.splitlines()[0].split('\t')
    assert row[:4] == [parsed.public_id, 'alice', 'backup', 'read']
    assert parsed.secret not in listed.output
    revoked = invoke('apikey', 'revoke', '-d', db, parsed.public_id)
    assert revoked.output == f'Revoked key {parsed.public_id}.\n'
    with pytest.raises(AuthenticationFailed):
        identity(db, key)


@pytest.mark.parametrize('args, message', [
    (['create', 'nobody', '--name', 'x', '--days', '1'], "no user with login 'nobody'"),
    (['create', 'alice', '--name', 'x'], 'must expire'),
    (['create', 'alice', '--name', 'x', '--days', '100'], '1 to 90 days'),
    (['revoke', 'abcdefabcdef'], 'There is no key'),
])
def test_cli_mistakes(db, alice, args, message):
    result = invoke('apikey', args[0], '-d', db, *args[1:])
    assert result.exit_code == 1
    assert result.output.startswith('Error: ') and message in result.output


def test_cli_admin_flag(db):
    result = invoke('user', 'create', '-d', db, 'root', '--admin', '--password-stdin',
                    input='a long password\n')
    assert result.exit_code == 0, result.output
    created = invoke('apikey', 'create', '-d', db, 'root', '--name', 'forever')
    assert created.exit_code == 0, created.output  # administrators need no expiry
