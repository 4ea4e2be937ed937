"""The audit log: who did what, from where, for every event of the key flow and of the
preferences — and no key, secret, password or session token in any log record."""

from __future__ import annotations

import logging

from tests.client import make_client
from tests.helpers import PASSWORD, bearer, invoke, public_id, request_key, wrong_secret
from tests.test_preferences import (  # noqa: F401
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    act,
    cheap_argon2,
    cookie,
    create_user,
    csrf,
    log_in,
    prefs,
)
from trylite.auth.tokens import parse_key


def test_every_event_is_logged_without_a_secret(db, settings, caplog):
    settings(throttle={'max_failures': 2}, user_application={'max_pending': 3})
    caplog.set_level(logging.DEBUG)
    alice = create_user(db, 'alice')
    app = make_client(address='203.0.113.1')
    person = make_client(address='198.51.100.2')
    stranger = make_client(address='192.0.2.66')
    keys = [request_key(app, db, 'alice') for _ in range(3)]
    assert app.post(f'/{db}/user/application/',
                    json={'user': 'alice', 'application': 'acme'}).status_code == 429
    decoy = request_key(stranger, db, 'nobody')
    login_form = person.get(prefs(db)).text
    assert log_in(person, db, password='not her password').status_code == 403  # noqa: S106
    assert log_in(person, db).status_code == 303
    session_token = cookie(person, db, SESSION_COOKIE)
    session_csrf = csrf(person.get(prefs(db)).text)
    assert act(person, db, public_id(keys[0]), 'validate').status_code == 303
    assert act(person, db, public_id(keys[1]), 'cancel').status_code == 303
    assert act(person, db, public_id(keys[2]), 'delete').status_code == 303
    assert app.get(f'/{db}/acme/whoami', headers=bearer(keys[0])).status_code == 200
    guess = bearer(wrong_secret(keys[0]))
    assert stranger.get(f'/{db}/acme/whoami', headers=guess).status_code == 401
    assert stranger.delete(f'/{db}/user/application/', json={
        'user': 'alice', 'key': wrong_secret(keys[0]), 'application': 'acme'}
        ).status_code == 404
    assert stranger.get(f'/{db}/acme/whoami', headers=guess).status_code == 429
    assert app.delete(f'/{db}/user/application/', json={
        'user': 'alice', 'key': keys[0], 'application': 'acme'}).status_code == 204
    cli_key = request_key(app, db, 'alice')
    assert invoke('application', 'validate', '-d', db, public_id(cli_key)).exit_code == 0
    assert person.post(prefs(db) + 'logout', data={'csrf_token': session_csrf}
                       ).status_code == 303
    assert invoke('user', 'set-password', '-d', db, 'alice', '--password-stdin',
                  input='a new password\n').exit_code == 0

    events = [(r.audit['event'], r.audit) for r in caplog.records if r.name == 'trylite.audit']
    seen = {event for event, _ in events}
    assert seen == {'key.requested', 'key.request_refused', 'login.failed', 'login.succeeded',
                    'key.validated', 'key.cancelled', 'key.deleted', 'key.refused',
                    'throttle.started', 'key.delete_refused', 'key.revoked', 'logout',
                    'sessions.ended'}
    by_event = {}
    for event, fields in events:
        by_event.setdefault(event, []).append(fields)
    assert {(f['login'], f['address']) for f in by_event['key.requested']} == {
        ('alice', '203.0.113.1'), ('nobody', '192.0.2.66')}
    assert by_event['login.failed'] == [
        {'event': 'login.failed', 'database': db, 'login': 'alice', 'address': '198.51.100.2'}]
    assert by_event['login.succeeded'][0]['person'] == alice
    assert by_event['logout'][0]['person'] == alice
    assert by_event['key.request_refused'][0]['reason'] == 'max_pending'
    assert [(f['key'], f.get('person'), f.get('address'), f.get('by'))
            for f in by_event['key.validated']] == [
        (public_id(keys[0]), alice, '198.51.100.2', None),
        (public_id(cli_key), None, None, 'cli')]
    assert [f['address'] for f in by_event['key.refused']] == ['192.0.2.66']
    assert by_event['key.delete_refused'][0]['login'] == 'alice'
    assert [f['subject'] for f in by_event['throttle.started']] == ['key:192.0.2.66']
    assert by_event['key.revoked'][0]['key'] == public_id(keys[0])
    assert by_event['sessions.ended'] == [
        {'event': 'sessions.ended', 'database': db, 'person': alice, 'reason': 'new password'}]

    secrets = {PASSWORD, 'not her password', 'a new password', session_token, session_csrf,
               csrf(login_form)}
    for key in [*keys, decoy, cli_key]:
        secrets |= {key, parse_key(key).secret}
    for record in caplog.records:
        text = f'{record.getMessage()} {record.__dict__!r}'
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, (record.name, record.getMessage())
