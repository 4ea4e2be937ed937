"""Models and fields made at run time (``ir.model``, ``ir.model.fields``), and every worker
seeing them at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import inspect

from tests.helpers import pinned_sessions
from trylite import storage
from trylite.data.dispatch import call
from trylite.data.models import IrModel, IrModelFields
from trylite.exceptions import ModelNotFound, UserError
from trylite.transaction import Transaction


def make_model(name: str = 'x_custom_model', **fields: str) -> int:
    """Create a custom model with *fields* (name → type) in the current transaction."""
    (model_id,) = IrModel.create({'name': 'Custom Model', 'model': name, 'state': 'manual'})
    for field, ttype in fields.items():
        IrModelFields.create({'model_id': model_id, 'name': field, 'ttype': ttype,
                              'state': 'manual', 'field_description': field.title()})
    return model_id


def columns(db: str, table: str) -> set[str]:
    with storage.backend().transaction(db, readonly=True) as conn:
        if not inspect(conn).has_table(table):
            return set()
        return {c['name'] for c in inspect(conn).get_columns(table)}


def test_create_use_and_drop_a_custom_model(db):
    with Transaction.start(db):
        model_id = make_model(x_name='char', x_count='integer', x_when='date',
                              x_kind='selection', x_flag='boolean',
                              x_amount='float', x_note='text', x_blob='binary',
                              x_at='datetime', x_price='numeric')
    assert columns(db, 'x_custom_model') >= {'id', 'x_name', 'x_count', 'create_uid'}
    with Transaction.start(db):
        described = call('x_custom_model', 'fields_get', [], {'attributes': ['type']})
        assert described['x_count'] == {'type': 'integer'}
        assert described['create_date'] == {'type': 'datetime'}
        (record,) = call('x_custom_model', 'create', [{'x_name': 'test record', 'x_count': 3,
                                                        'x_when': '2026-11-22'}])
        assert call('x_custom_model', 'read', [[record]], {'fields': ['x_name', 'x_when']}) == [
            {'id': record, 'x_name': 'test record', 'x_when': '2026-11-22',
             'display_name': 'test record'}]
        assert call('x_custom_model', 'search', [[('x_count', '>', 2)]]) == [record]
        call('x_custom_model', 'write', [[record], {'x_count': 4}])
        assert call('x_custom_model', 'search_count', [[('x_count', '=', 4)]]) == 1
        listed = IrModel.search_read([('model', '=', 'x_custom_model')],
                                     ['state', 'transient', 'abstract', 'field_id'])
        assert listed[0]['state'] == 'manual' and listed[0]['transient'] is False
        assert listed[0]['abstract'] is False and len(listed[0]['field_id']) == 10
    with Transaction.start(db):
        (count_field,) = IrModelFields.search([('model_id', '=', model_id),
                                               ('name', '=', 'x_count')])
        IrModelFields.unlink([count_field])
    assert 'x_count' not in columns(db, 'x_custom_model')
    with Transaction.start(db):
        assert 'x_count' not in call('x_custom_model', 'fields_get', [])
        IrModel.unlink([model_id])
    assert columns(db, 'x_custom_model') == set()
    with pytest.raises(ModelNotFound), Transaction.start(db):
        call('x_custom_model', 'search', [[]])


def test_many2one_custom_field(db):
    with Transaction.start(db):
        make_model('x_team', x_name='char')
        model_id = make_model('x_member', x_name='char')
        IrModelFields.create({'model_id': model_id, 'name': 'x_team_id', 'ttype': 'many2one',
                              'relation': 'x_team'})
        (team,) = call('x_team', 'create', [{'x_name': 'Blue'}])
        (member,) = call('x_member', 'create', [{'x_name': 'Ann', 'x_team_id': team}])
        assert call('x_member', 'read', [[member], ['x_team_id']])[0]['x_team_id'] == [
            team, 'Blue']
        assert call('x_member', 'search', [[('x_team_id.x_name', '=', 'Blue')]]) == [member]
        with pytest.raises(UserError, match='does not exist'):
            call('x_member', 'create', [{'x_name': 'Bo', 'x_team_id': 999}])


@pytest.mark.parametrize('vals, message', [
    ({'name': 'M', 'model': 'custom'}, "starts with 'x_'"),
    ({'name': 'M', 'model': 'x_Bad Name'}, "starts with 'x_'"),
    ({'name': 'M', 'model': 'x_"; DROP TABLE res_user; --'}, "starts with 'x_'"),
    ({'name': 'M', 'model': 'x_m', 'state': 'base'}, 'manual'),
    ({'name': 'M', 'model': 'x_' + 'a' * 80}, "starts with 'x_'"),
])
def test_model_names_are_checked(db, vals, message):
    with pytest.raises(UserError, match=message), Transaction.start(db):
        IrModel.create(vals)


@pytest.mark.parametrize('vals, message', [
    ({'name': 'count', 'ttype': 'integer'}, "starts with 'x_'"),
    ({'name': 'x_a"b', 'ttype': 'integer'}, "starts with 'x_'"),
    ({'name': 'x_c', 'ttype': 'json'}, 'types'),
    ({'name': 'x_c', 'ttype': 'many2one', 'relation': 'no.such'}, 'does not exist'),
    ({'name': 'x_c', 'ttype': 'many2one'}, 'needs a relation'),
    ({'name': 'x_c', 'ttype': 'selection', 'selection': 'nope'}, 'selection'),
    ({'name': 'x_c', 'ttype': 'char', 'required': True}, 'required'),
])
def test_field_definitions_are_checked(db, vals, message):
    with Transaction.start(db):
        model_id = make_model()
    with pytest.raises((UserError, ModelNotFound), match=message), Transaction.start(db):
        IrModelFields.create({'model_id': model_id, **vals})


def test_code_models_cannot_be_altered(db):
    with Transaction.start(db):
        (partner,) = IrModel.search([('model', '=', 'test.partner')])
        (name,) = IrModelFields.search([('model_id', '=', partner), ('name', '=', 'name')])
    for action in (lambda: IrModelFields.create({'model_id': partner, 'name': 'x_extra',
                                                 'ttype': 'char'}),
                   lambda: IrModel.unlink([partner]),
                   lambda: IrModel.write([partner], {'name': 'Renamed'}),
                   lambda: IrModelFields.unlink([name]),
                   lambda: IrModelFields.write([name], {'field_description': 'x'})):
        with pytest.raises(UserError), Transaction.start(db):
            action()
    assert 'name' in columns(db, 'test_partner')


def test_a_rolled_back_model_leaves_nothing(db):
    with pytest.raises(RuntimeError), Transaction.start(db):
        make_model('x_gone', x_name='char')
        raise RuntimeError('undo')
    assert columns(db, 'x_gone') == set()
    with pytest.raises(ModelNotFound), Transaction.start(db):
        call('x_gone', 'search', [[]])


def test_every_worker_sees_a_new_model_at_once(db, start_server):
    """Made through one worker process, used through the other at its next request."""
    base = start_server(workers=2)
    pinned = pinned_sessions(base)
    assert len(pinned) == 2, 'could not reach both workers'
    first, second = pinned.values()

    def rpc(session: requests.Session, model: str, method: str, *args, **kwargs):
        answer = session.post(f'{base}/{db}/test/call/{model}/{method}',
                              json={'args': list(args), 'kwargs': kwargs}, timeout=20)
        return answer.status_code, answer.json()

    assert rpc(second, 'x_live', 'search', [])[0] == 404  # the second worker looked first
    status, (model_id,) = rpc(first, 'ir.model', 'create',
                              {'name': 'Live', 'model': 'x_live', 'state': 'manual'})
    assert status == 200
    assert rpc(first, 'ir.model.fields', 'create', {
        'model_id': model_id, 'name': 'x_name', 'ttype': 'char'})[0] == 200
    status, (record,) = rpc(second, 'x_live', 'create', {'x_name': 'seen'})
    assert status == 200
    assert rpc(first, 'x_live', 'read', [record], ['x_name'])[1][0]['x_name'] == 'seen'
    assert rpc(second, 'ir.model.fields', 'create', {
        'model_id': model_id, 'name': 'x_size', 'ttype': 'integer'})[0] == 200
    assert rpc(first, 'x_live', 'write', [record], {'x_size': 3}) == (200, True)
    assert rpc(first, 'ir.model', 'unlink', [model_id]) == (200, True)
    assert rpc(second, 'x_live', 'search', [])[0] == 404
    for session in pinned.values():
        session.close()
