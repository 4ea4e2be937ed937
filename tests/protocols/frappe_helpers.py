"""What the Frappe API tests share: persons with and without rights, personal keys in
Frappe's ``token`` form, and the check of Frappe's error body."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.client import assert_json_error
from tests.data.test_access import grant
from tests.helpers import add_to_group, create_user
from trylite.auth import apikeys
from trylite.auth.persons import User
from trylite.auth.tokens import PERSONAL_PREFIX, parse_key
from trylite.transaction import Transaction


def people(db: str) -> dict[str, int]:
    """root (admin), alice (group sales: every right on test.partner), bob (no right)."""
    ids = {login: create_user(db, login) for login in ('root', 'alice', 'bob')}
    add_to_group(db, ids['root'], 'admin')
    add_to_group(db, ids['alice'], 'sales')
    grant(db, 'test.partner', 'sales', read=True, write=True, create=True, unlink=True)
    return ids


def key_pair(db: str, login: str, scope: str = 'rpc') -> tuple[str, str, str]:
    """A new personal key of *login*: (api_key, api_secret, the whole key)."""
    with Transaction.start(db) as transaction:
        person = transaction.session.scalars(select(User).where(User.login == login)).one()
        whole = apikeys.create_key(transaction.session, person, 'frappe', scope, 1)
    parsed = parse_key(whole, PERSONAL_PREFIX)
    assert parsed is not None
    return parsed.public_id, parsed.secret, whole


def token(db: str, login: str, scope: str = 'rpc') -> dict[str, str]:
    """``Authorization: token <api_key>:<api_secret>`` of a new key of *login*."""
    api_key, api_secret, _whole = key_pair(db, login, scope)
    return {'Authorization': f'token {api_key}:{api_secret}'}


def frappe_error(response: Any, status: int, exc_type: str) -> dict[str, Any]:
    """The error body, checked: trylite's envelope, Frappe's ``exc_type``, a truthy short
    ``exc`` and ``_server_messages`` as a JSON list of JSON strings."""
    body = assert_json_error(response, status)
    assert body['exc_type'] == exc_type, body
    assert body['exc'] and 'Traceback' not in body['exc']
    (message,) = [json.loads(item) for item in json.loads(body['_server_messages'])]
    assert message['message'] == body.get('description', body['message'])
    return body
