"""What the Odoo protocol tests share: a crew of persons — with every right, with rights on
test.partner through an access row, without any right — their personal API keys, a few
partners; and small helpers to speak the protocols in process."""

from __future__ import annotations

import xmlrpc.client
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.test import Client, TestResponse

from tests.data_models import Country, Partner
from tests.helpers import add_to_group
from tests.test_preferences import _PASSWORD_HASH
from trylite.auth.apikeys import create_key
from trylite.auth.persons import User
from trylite.data.models import Group, IrModel, IrModelAccess
from trylite.transaction import Transaction

#: The partners every crew starts with: (name, age).
PARTNERS = (('Alice', 30), ('Bob', 40), ('Carol', 50))


@dataclass
class Crew:
    """Persons (ids), their keys and the partners of a test."""

    db: str
    boss: int          # member of admin: every right
    reader: int        # group staff: an access row on test.partner (all) and test.country
    nobody: int        # no group, no access row
    keys: dict[str, str] = field(default_factory=dict)  # login -> personal key (rpc)
    read_key: str = ''  # a read-only personal key of reader
    partners: list[int] = field(default_factory=list)
    country: int = 0


def make_crew(db: str, password_hash: str) -> Crew:
    """A crew on *db* whose passwords all have *password_hash*."""
    ids = {}
    with Transaction.start(db) as transaction:
        for login in ('boss', 'reader', 'nobody'):
            user = User(login=login, name=login.title(), password_hash=password_hash)
            transaction.session.add(user)
            transaction.session.flush()
            ids[login] = user.id
    add_to_group(db, ids['boss'], 'admin')
    add_to_group(db, ids['reader'], 'staff')
    crew = Crew(db, ids['boss'], ids['reader'], ids['nobody'])
    with Transaction.start(db) as transaction:
        (staff,) = Group.search([('name', '=', 'staff')])
        for model, perms in (('test.partner', ('read', 'write', 'create', 'unlink')),
                             ('test.country', ('read',))):
            (model_id,) = IrModel.search([('model', '=', model)])
            IrModelAccess.create({'name': f'staff on {model}', 'model_id': model_id,
                                  'group_id': staff, **{f'perm_{p}': True for p in perms}})
        (crew.country,) = Country.create({'name': 'Belgium', 'code': 'BE'})
        crew.partners = Partner.create([{'name': name, 'age': age, 'country_id': crew.country}
                                        for name, age in PARTNERS])
        session = transaction.session
        for login in ids:
            person = session.scalars(select(User).where(User.login == login)).one()
            crew.keys[login] = create_key(session, person, 'tests', 'rpc', days=1)
            if login == 'reader':
                crew.read_key = create_key(session, person, 'read only', 'read', days=1)
    return crew


@pytest.fixture(name='crew')
def crew_fixture(db: str) -> Crew:
    """A crew on the test's database; every password is ``PASSWORD``, hashed with the suite's
    cheap argon2 settings."""
    return make_crew(db, _PASSWORD_HASH)


def partner_names(db: str) -> list[str]:
    """The names of every partner, as the system sees them (to check nothing changed)."""
    with Transaction.start(db, readonly=True):
        return [r['name'] for r in Partner.search_read([], ['name'], order='id')]


# -- speaking the protocols in process --------------------------------------------------------
def json2(client: Client, db: str, key: str | None, model: str, method: str,
          body: Any = None, **headers: str) -> TestResponse:
    """``POST /json/2/<model>/<method>`` with *body* (default ``{}``)."""
    sent = {'X-Odoo-Database': db, **headers}
    if key is not None:
        sent.setdefault('Authorization', f'Bearer {key}')
    return client.post(f'/json/2/{model}/{method}', json={} if body is None else body,
                       headers=sent)


def xmlrpc_call(client: Client, path: str, method: str, *args: Any) -> Any:
    """One XML-RPC call in process: its result, or the :class:`xmlrpc.client.Fault` raised
    (the answer must be a 200 XML-RPC answer either way)."""
    answer = client.post(path, data=xmlrpc.client.dumps(args, method),
                         content_type='text/xml')
    return xmlrpc_answer(answer)


def xmlrpc_answer(answer: TestResponse) -> Any:
    """The result of an in-process XML-RPC answer (raising its fault)."""
    assert answer.status_code == 200, answer.text
    assert answer.headers['Content-Type'].startswith('text/xml')
    assert 'Traceback' not in answer.text
    (result,), _method = xmlrpc.client.loads(answer.get_data())
    return result


def jsonrpc(client: Client, path: str, params: Any, call_id: Any = 7) -> dict[str, Any]:
    """One JSON-RPC call in process: the whole answer (HTTP 200 always)."""
    answer = client.post(path, json={'jsonrpc': '2.0', 'method': 'call', 'params': params,
                                     'id': call_id})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json
    assert body['jsonrpc'] == '2.0'
    assert ('result' in body) != ('error' in body)
    return body


def assert_jsonrpc_error(body: dict[str, Any], name: str, code: int = 200) -> str:
    """The message of a JSON-RPC error of the Odoo exception *name*."""
    error = body['error']
    assert error['code'] == code, error
    data = error['data']
    assert data['name'] == name, error
    assert data['debug'] == '' and data['arguments'] == [data['message']]
    assert isinstance(data['message'], str) and data['message']
    for leak in ('Traceback', 'SELECT', 'File "'):
        assert leak not in str(error)
    return str(data['message'])
