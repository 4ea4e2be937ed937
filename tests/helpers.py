"""Small helpers shared by tests: making persons and keys without going through HTTP, and
running the command line in this process, asking for keys as an application does (in
process, or over real HTTP)."""

from __future__ import annotations

import os
import time

import requests
from click.testing import CliRunner, Result
from sqlalchemy import select
from werkzeug.test import Client

from trylite.auth import keys, throttle
from trylite.auth.persons import User
from trylite.auth.tokens import KEY_PREFIX, checksum, new_secret
from trylite.cli import main
from trylite.data.models import Group
from trylite.settings import configure, current
from trylite.transaction import Transaction

PASSWORD = 'correct horse battery'


def create_user(db: str, login: str, password: str = PASSWORD, active: bool = True) -> int:
    """Create a person and return their id."""
    with Transaction.start(db) as transaction:
        user = User(login=login, name=login.title(), active=active)
        user.set_password(password)
        transaction.session.add(user)
        transaction.session.flush()
        return user.id


def add_to_group(db: str, user_id: int, group: str) -> None:
    """Make the person *user_id* a member of *group* (created if need be)."""
    with Transaction.start(db):
        groups = Group.search([('name', '=', group)]) or Group.create({'name': group})
        Group.write(groups, {'user_ids': [(4, user_id)]})


def set_active(db: str, login: str, active: bool) -> None:
    with Transaction.start(db) as transaction:
        transaction.session.scalars(select(User).where(User.login == login)).one().active = active


def public_id(key: str) -> str:
    return key.split('_')[1]


def request_key(via: Client | str, db: str, login: str, application: str = 'acme') -> str:
    """Ask for a key over HTTP, as an application does: through *via*, a test client (in
    process) or the base URL of a real server."""
    path = f'/{db}/user/application/'
    body = {'user': login, 'application': application}
    if isinstance(via, str):
        response = requests.post(via + path, json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()
    answer = via.post(path, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json


def validate(db: str, key: str) -> None:
    """Validate *key* as its person would in preferences."""
    with Transaction.start(db) as transaction:
        keys.validate(transaction.session, public_id(key))


def validated_key(via: Client | str, db: str, login: str, application: str = 'acme') -> str:
    """A key asked for through *via* (see :func:`request_key`), validated by its person."""
    key = request_key(via, db, login, application)
    validate(db, key)
    return key


def forged_key(public_id: str = '0' * 12) -> str:
    """A well-formed key, right checksum included, that matches no stored key: a guess."""
    body = f'{KEY_PREFIX}_{public_id}_{new_secret()}'
    return body + checksum(body)


def wrong_secret(key: str) -> str:
    """*key* with another secret (and the checksum that goes with it): a guess at its secret."""
    return forged_key(public_id(key))


def mistyped(key: str) -> str:
    """*key* with its last character changed: its checksum no longer matches."""
    return key[:-1] + ('y' if key.endswith('x') else 'x')


def throttle_counts(db: str) -> dict[str, int]:
    """Every throttle counter of *db*: subject -> count."""
    with Transaction.start(db, readonly=True) as transaction:
        return dict(transaction.connection.execute(
            select(throttle.table.c.subject, throttle.table.c.failures)).all())


def bearer(key: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {key}'}


def invoke(*args: str, input: str | None = None, env: dict[str, str | None] | None = None
           ) -> Result:
    """``trylite ARGS`` in this process, with the test's settings as its environment (unless
    *env* is given); variables the test set itself win. The test's settings are restored
    afterwards (the command line replaces them)."""
    before = current()
    if env is None:
        env = {**before.environ(changed=True),
               **{k: v for k, v in os.environ.items() if k.startswith('TRYLITE_')}}
    try:
        return CliRunner().invoke(main, list(args), input=input, env=env)
    finally:
        configure(before)


def pinned_sessions(base: str, workers: int = 2, timeout: float = 20.0
                    ) -> dict[str, requests.Session]:
    """One kept-alive connection per worker process, keyed by the worker's pid. New
    connections are opened (the extra ones kept open meanwhile, with a pause after each) until
    every worker has taken one, or *timeout* seconds have passed: on a busy machine one
    worker may take every connection for a while."""
    pinned: dict[str, requests.Session] = {}
    spare: list[requests.Session] = []
    deadline = time.monotonic() + timeout
    while len(pinned) < workers and time.monotonic() < deadline:
        session = requests.Session()
        worker = session.get(f'{base}/test/pid', timeout=10).text
        if worker in pinned:
            spare.append(session)
            time.sleep(0.05)
        else:
            pinned[worker] = session
    for session in spare:
        session.close()
    return pinned
