"""The endpoints page of the preferences site, over HTTP in process (HTML-level behaviour: one
backend is enough): administrators only, the preferences session and CSRF, forms that keep
what was typed when a definition is refused."""

from __future__ import annotations

import pytest

from tests.endpoints.conftest import url
from tests.helpers import add_to_group
from tests.test_preferences import assert_html, create_user, csrf, log_in, prefs
from trylite.endpoints.models import Endpoint
from trylite.transaction import Transaction

FORM = {'name': 'hello', 'route': '/hello', 'method': 'GET', 'auth_type': 'public',
        'run_as': 'alice', 'route_group': '', 'content_type': '', 'request_schema': '',
        'code': "result = {'payload': 'hello'}", 'active': 'on'}


@pytest.fixture
def admin(db, kind, client):
    """alice, an administrator, logged in."""
    if kind != 'sqlite':
        pytest.skip('HTML-level behaviour: one backend is enough')
    alice = create_user(db, 'alice')
    add_to_group(db, alice, 'admin')
    log_in(client, db)
    return alice


def page(db: str) -> str:
    return prefs(db) + 'endpoints/'


def test_create_edit_disable_enable_delete(db, client, admin):
    listed = client.get(page(db))
    assert_html(listed, 200)
    assert 'No endpoint yet.' in listed.text
    form = client.get(page(db) + 'new')
    assert_html(form, 200)
    answer = client.post(page(db) + 'save', data={**FORM, 'csrf_token': csrf(form.text)})
    assert answer.status_code == 303
    assert answer.headers['Location'] == f'{page(db)}?done=saved&name=hello'
    assert client.get(url(db, '/hello')).json == 'hello'
    listed = client.get(answer.headers['Location'])
    assert 'Endpoint hello saved.' in listed.text and 'data-endpoint="hello"' in listed.text
    with Transaction.start(db):
        (endpoint,) = Endpoint.search([])
    form = client.get(f'{page(db)}{endpoint}')
    assert 'value="/hello"' in form.text and 'value="alice"' in form.text
    client.post(page(db) + 'save', data={**FORM, 'id': str(endpoint), 'route': '/hi',
                                         'csrf_token': csrf(form.text)})
    assert client.get(url(db, '/hi')).json == 'hello'
    for action, status in (('disable', 404), ('enable', 200)):
        answer = client.post(page(db) + 'action', data={
            'id': str(endpoint), 'action': action, 'csrf_token': csrf(listed.text)})
        assert answer.headers['Location'] == f'{page(db)}?done={action}&name=hello'
        assert client.get(url(db, '/hi')).status_code == status
    client.post(page(db) + 'action', data={'id': str(endpoint), 'action': 'delete',
                                           'csrf_token': csrf(listed.text)})
    assert client.get(url(db, '/hi')).status_code == 404
    assert_html(client.get(f'{page(db)}{endpoint}'), 404)


def test_a_refused_definition_shows_the_form_again(db, client, admin):
    token = csrf(client.get(page(db) + 'new').text)
    answer = client.post(page(db) + 'save', data={
        **FORM, 'route': '/a b', 'code': 'import os', 'csrf_token': token})
    assert_html(answer, 400)
    assert "Invalid route: &#39;/a b&#39;: a route is a path" in answer.text
    assert 'value="/a b"' in answer.text and '>import os</textarea>' in answer.text
    answer = client.post(page(db) + 'save', data={**FORM, 'run_as': 'nobody',
                                                  'csrf_token': token})
    assert "There is no person with the login &#39;nobody&#39;" in answer.text
    with Transaction.start(db):
        assert Endpoint.search([]) == []


def test_only_administrators_with_a_valid_form(db, client, admin):
    token = csrf(client.get(page(db)).text)
    for data in ({'csrf_token': 'x' * 64}, {}):
        assert_html(client.post(page(db) + 'save', data={**FORM, **data}), 403)
    assert_html(client.post(page(db) + 'action', data={
        'id': 'x', 'action': 'delete', 'csrf_token': token}), 400)
    create_user(db, 'bob')
    client.post(prefs(db) + 'logout', data={'csrf_token': token})
    assert 'name="password"' in client.get(page(db)).text  # the login form
    log_in(client, db, 'bob')
    answer = client.get(page(db))
    assert_html(answer, 403)
    assert 'Only administrators manage endpoints.' in answer.text
