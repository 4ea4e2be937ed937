"""trylite.data.dispatch: what may be called, how arguments bind, scopes, one transaction per
call (read-only for reads), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.data_models import Partner
from tests.helpers import create_user
from trylite.data.dispatch import FULL, Scope, call, execute, is_readonly, method_spec
from trylite.data.rpc import RPC
from trylite.exceptions import (
    AccessError,
    BadArguments,
    MethodNotFound,
    ModelNotFound,
    ReadOnlyViolation,
)
from trylite.transaction import Transaction


@pytest.fixture
def partners(db):
    with Transaction.start(db):
        return Partner.create([{'name': 'A', 'age': 1}, {'name': 'B', 'age': 2}])


def test_generic_methods(db, partners):
    assert execute(db, 0, 'test.partner', 'search', [[('age', '>', 1)]]) == partners[1:]
    assert execute(db, 0, 'test.partner', 'search_count', [[]]) == 2
    assert execute(db, 0, 'test.partner', 'read', [partners, ['name']])[0]['name'] == 'A'
    assert execute(db, 0, 'test.partner', 'read', [], {'fields': ['name']},
                   ids=partners[:1])[0]['name'] == 'A'
    assert execute(db, 0, 'test.partner', 'search_read', [], {
        'domain': [], 'fields': ['age'], 'order': 'age desc', 'limit': 1})[0]['age'] == 2
    (new,) = execute(db, 0, 'test.partner', 'create', [{'name': 'C'}])
    assert execute(db, 0, 'test.partner', 'write', [[new], {'age': 9}]) is True
    assert execute(db, 0, 'test.partner', 'unlink', [[new]]) is True
    assert execute(db, 0, 'test.partner', 'fields_get', [], {'attributes': ['type']})[
        'age'] == {'type': 'integer'}
    assert execute(db, 0, 'test.partner', 'name_search', ['B']) == [[partners[1], 'B']]
    assert execute(db, 0, 'test.partner', 'check_access_rights', ['read']) is True
    assert execute(db, 0, 'test.partner', 'default_get', [['active']]) == {'active': True}


def test_rpc_methods(db, partners):
    assert execute(db, 0, 'test.partner', 'total_age', [partners]) == 3
    assert execute(db, 0, 'test.partner', 'total_age', [], ids=partners) == 3
    assert execute(db, 0, 'test.partner', 'rename_all', ['x-']) == 2
    assert execute(db, 0, 'test.partner', 'search', [[('name', '=like', 'x-%')]]) == partners


@pytest.mark.parametrize('method', ['not_marked', '_where', '__class__', 'metadata',
                                    'registry', 'nope', '__init__', 'display_name', 5])
def test_only_public_marked_methods(db, partners, method):
    with pytest.raises(MethodNotFound):
        execute(db, 0, 'test.partner', method, [])


def test_unknown_models(db):
    for model in ('no.such.model', 'test.counter', '', 'res_user'):  # test.counter: no id
        with pytest.raises(ModelNotFound):
            execute(db, 0, model, 'search', [[]])


@pytest.mark.parametrize('method, args, kwargs, ids', [
    ('search', [[]], {'nope': 1}, None),
    ('search', [[], 0, 1, 'id', False, 'extra'], {}, None),
    ('read', [], {}, None),
    ('create', [], {}, [1]),  # ids to a model-level method
    ('search', [[]], {}, [1]),
    ('total_age', [], {'ids': [1], 'x': 2}, None),
    ('search', 'not a list', {}, None),
    ('search', [[]], ['not', 'a', 'dict'], None),
])
def test_arguments_that_do_not_bind(db, partners, method, args, kwargs, ids):
    with pytest.raises(BadArguments):
        execute(db, 0, 'test.partner', method, args, kwargs, ids=ids)


def test_reads_run_read_only(db, partners):
    assert is_readonly('test.partner', 'search') and is_readonly('test.partner', 'total_age')
    assert not is_readonly('test.partner', 'create')
    assert not is_readonly('test.partner', 'rename_all')
    assert not is_readonly('x_anything', 'nope')
    assert method_spec('test.partner', 'not_marked') is None
    assert method_spec('test.partner', '_private') is None
    assert method_spec('test.partner', 'read') == RPC(readonly=True)
    with pytest.raises(ReadOnlyViolation), Transaction.start(db, readonly=True):
        call('test.partner', 'create', [{'name': 'in a read-only transaction'}])


def test_scopes(db, partners):
    read_only = Scope(readonly=True)
    assert execute(db, 0, 'test.partner', 'search_count', [[]], scope=read_only) == 2
    with pytest.raises(AccessError, match='may only read'):
        execute(db, 0, 'test.partner', 'create', [{'name': 'x'}], scope=read_only)
    with pytest.raises(AccessError, match='may only read'):
        execute(db, 0, 'test.partner', 'rename_all', ['x'], scope=read_only)
    lines_only = Scope(models={'test.partner': 'rw', 'test.tag': 'r'})
    assert execute(db, 0, 'test.partner', 'create', [{'name': 'y'}], scope=lines_only)
    assert execute(db, 0, 'test.tag', 'search', [[]], scope=lines_only) == []
    with pytest.raises(AccessError, match='may only read'):
        execute(db, 0, 'test.tag', 'create', [{'name': 't'}], scope=lines_only)
    with pytest.raises(AccessError, match='may not reach'):
        execute(db, 0, 'test.country', 'search', [[]], scope=lines_only)
    assert Scope() == FULL


def test_a_call_is_one_transaction_as_its_person(db, partners):
    alice = create_user(db, 'alice')
    with pytest.raises(AccessError):  # alice has no rights on test.partner
        execute(db, alice, 'test.partner', 'search', [[]])
    with pytest.raises(Exception):  # noqa: B017  (the write of a failed call is undone)
        execute(db, 0, 'test.partner', 'create', [[{'name': 'ok'}, {'name': 5}]])
    assert execute(db, 0, 'test.partner', 'search_count', [[]]) == 2


def test_context_reaches_the_call(db, partners):
    execute(db, 0, 'test.partner', 'write', [partners[:1], {'active': False}])
    assert execute(db, 0, 'test.partner', 'search', [[]]) == partners[1:]
    assert execute(db, 0, 'test.partner', 'search', [[]],
                   context={'active_test': False}) == partners
