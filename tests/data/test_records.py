"""trylite.data.records through the Model methods, on SQLite and PostgreSQL: every field type,
read and write habits, command tuples, limits and orders."""

from __future__ import annotations

import base64
import decimal

import pytest
from sqlalchemy import select

from tests.data_models import Country, Partner, Tag
from tests.helpers import add_to_group, create_user
from trylite.exceptions import AccessError, UserError
from trylite.transaction import Transaction


def system(db, **options):
    """A transaction as the system (user 0: every right)."""
    return Transaction.start(db, 0, **options)


def test_create_read_every_field_type(db):
    with system(db):
        (be,) = Country.create({'name': 'Belgium', 'code': 'BE'})
        tags = Tag.create([{'name': 'a'}, {'name': 'b'}])
        (alice,) = Partner.create({
            'name': 'Alice', 'notes': 'Long text', 'age': 41, 'score': 2.5, 'balance': '12.30',
            'active': True, 'birthday': '1985-04-02', 'seen': '2026-11-22 12:50:36',
            'kind': 'person', 'photo': base64.b64encode(b'\x00\x01').decode(),
            'country_id': be, 'tag_ids': [(6, 0, tags)]})
        (bob,) = Partner.create({'name': 'Bob', 'parent_id': alice})
        (record,) = Partner.read([alice])
        assert record == {
            'id': alice, 'name': 'Alice', 'notes': 'Long text', 'age': 41, 'score': 2.5,
            'balance': 12.3, 'active': True, 'birthday': '1985-04-02',
            'seen': '2026-11-22 12:50:36', 'kind': 'person', 'photo': 'AAE=',
            'country_id': [be, 'Belgium'], 'parent_id': False, 'salary': False,
            'child_ids': [bob], 'tag_ids': tags, 'display_name': 'Alice',
            'create_uid': False, 'write_uid': False,
            'create_date': record['create_date'], 'write_date': record['write_date']}
        assert 'secret_note' not in record  # secret fields are read by nobody
        assert len(record['create_date']) == 19
        (empty,) = Partner.read([bob], ['notes', 'age', 'birthday', 'country_id', 'tag_ids',
                                        'photo', 'parent_id'])
        assert empty == {'id': bob, 'notes': False, 'age': False, 'birthday': False,
                         'country_id': False, 'tag_ids': [], 'photo': False,
                         'parent_id': [alice, 'Alice'], 'display_name': 'Bob'}


def test_create_takes_one_dict_or_a_list(db):
    with system(db):
        assert len(Tag.create({'name': 'one'})) == 1
        assert len(Tag.create([{'name': 'two'}, {'name': 'three'}])) == 2
        assert Tag.create([]) == []


def test_display_name_of_a_record_without_a_name(db):
    with system(db):
        ids = Partner.create([{'name': ''}])
        assert Partner.read(ids, ['name'])[0]['display_name'] == f'test.partner,{ids[0]}'


@pytest.mark.parametrize('field, value', [
    ('age', 'forty'), ('age', 1.5), ('age', True), ('age', 2**70), ('score', 'x'),
    ('score', float('nan')), ('balance', 'abc'), ('active', 'yes'), ('birthday', '2026-13-01'),
    ('birthday', 20261122), ('seen', 'yesterday'), ('kind', 'robot'), ('photo', '***'),
    ('country_id', 'BE'), ('country_id', 999999), ('name', 5), ('name', 'x' * 101),
    ('name', 'nul\x00'), ('tag_ids', 'all'), ('tag_ids', [(9, 1)]), ('tag_ids', [(4, 999999)]),
])
def test_wrong_values_are_user_errors_naming_the_field(db, field, value):
    with pytest.raises(UserError) as raised, system(db):
        Partner.create({'name': 'x', field: value} if field != 'name' else {field: value})
    assert 'field' in raised.value.description or 'record' in raised.value.description


def test_unknown_readonly_and_required_fields(db):
    with pytest.raises(UserError, match='Unknown field'), system(db):
        Partner.create({'name': 'x', 'nope': 1})
    with pytest.raises(UserError, match='Read-only'), system(db):
        Partner.create({'name': 'x', 'create_uid': 1})
    with pytest.raises(UserError, match='Missing required'), system(db):
        Country.create({'name': 'No code'})
    with pytest.raises(UserError, match='Missing required'), system(db):
        Country.create({'name': 'Empty code', 'code': False})


def test_write_and_unlink(db):
    with system(db):
        ids = Partner.create([{'name': 'A', 'age': 1}, {'name': 'B', 'age': 2}])
        assert Partner.write(ids, {'age': 5, 'notes': False}) is True
        assert [r['age'] for r in Partner.read(ids, ['age'])] == [5, 5]
        assert Partner.unlink(ids[:1]) is True
        assert Partner.search([('id', 'in', ids)]) == ids[1:]
        assert Partner.delete(ids[1:]) is True
        with pytest.raises(UserError, match='do not exist'):
            Partner.read(ids)
        with pytest.raises(UserError, match='do not exist'):
            Partner.write(ids, {'age': 1})


def test_audit_fields(db):
    alice = create_user(db, 'audit-alice')
    add_to_group(db, alice, 'admin')
    with system(db) as transaction:
        ids = Partner.create({'name': 'A'})
        with transaction.set_user(alice):
            Partner.write(ids, {'age': 3})
        (record,) = Partner.read(ids, ['create_uid', 'write_uid', 'create_date', 'write_date'])
        assert record['create_uid'] is False
        assert record['write_uid'] == [alice, 'Audit-Alice']
        assert record['write_date'] >= record['create_date']


def test_many2many_commands(db):
    with system(db):
        tags = Tag.create([{'name': n} for n in 'abcd'])
        (p,) = Partner.create({'name': 'P', 'tag_ids': [(4, tags[0]), (4, tags[1])]})

        def linked():
            return Partner.read([p], ['tag_ids'])[0]['tag_ids']

        assert linked() == tags[:2]
        Partner.write([p], {'tag_ids': [(3, tags[0])]})
        assert linked() == tags[1:2]
        Partner.write([p], {'tag_ids': [(0, 0, {'name': 'new'})]})
        (new,) = Tag.search([('name', '=', 'new')])
        assert linked() == [tags[1], new]
        Partner.write([p], {'tag_ids': [(1, new, {'name': 'renamed'})]})
        assert Tag.read([new], ['name'])[0]['name'] == 'renamed'
        Partner.write([p], {'tag_ids': [(2, new)]})
        assert Tag.search([('id', '=', new)]) == []
        Partner.write([p], {'tag_ids': [(6, 0, tags[2:])]})
        assert linked() == tags[2:]
        Partner.write([p], {'tag_ids': [(5,)]})
        assert linked() == []
        Partner.write([p], {'tag_ids': tags[:1]})  # a plain list of ids replaces
        assert linked() == tags[:1]
        Partner.write([p], {'tag_ids': [(4, tags[0])]})  # linking twice is harmless
        assert linked() == tags[:1]


def test_one2many_commands(db):
    with system(db):
        (parent,) = Partner.create({'name': 'Parent', 'child_ids': [
            (0, 0, {'name': 'c1'}), (0, 0, {'name': 'c2'})]})
        children = Partner.read([parent], ['child_ids'])[0]['child_ids']
        assert len(children) == 2
        (loose,) = Partner.create({'name': 'loose'})
        Partner.write([parent], {'child_ids': [(4, loose), (3, children[0])]})
        assert Partner.read([parent], ['child_ids'])[0]['child_ids'] == [children[1], loose]
        assert Partner.read([children[0]], ['parent_id'])[0]['parent_id'] is False
        Partner.write([parent], {'child_ids': [(1, loose, {'age': 9}), (2, children[1])]})
        assert Partner.search([('id', '=', children[1])]) == []
        Partner.write([parent], {'child_ids': [(6, 0, [children[0]])]})
        assert Partner.read([parent], ['child_ids'])[0]['child_ids'] == [children[0]]
        Partner.write([parent], {'child_ids': [(5,)]})
        assert Partner.read([parent], ['child_ids'])[0]['child_ids'] == []


def test_search_offset_limit_order_count(db, settings):
    settings(api={'max_limit': 3})
    with system(db):
        ids = Partner.create([{'name': n, 'age': a} for n, a in
                              [('c', 1), ('a', 3), ('b', 2), ('d', 2), ('e', 5)]])
        assert Partner.search([], order='name') == [ids[1], ids[2], ids[0]]  # cut to 3
        assert Partner.search([], order='age desc, name', limit=2) == [ids[4], ids[1]]
        assert Partner.search([], order='age, name desc', offset=1, limit=2) == [
            ids[3], ids[2]]
        assert Partner.search([], limit=0) == Partner.search([])  # 0 is not "everything"
        assert Partner.search_count([]) == 5  # a count is not cut
        assert Partner.search([], count=True) == 5
        assert [r['name'] for r in Partner.search_read([('age', '=', 2)], ['name'],
                                                         order='name desc')] == ['d', 'b']


@pytest.mark.parametrize('order', ['nope', 'name; DROP TABLE x', 'name sideways', 'child_ids',
                                   5, 'x' * 600])
def test_bad_orders(db, order):
    with pytest.raises(UserError), system(db):
        Partner.search([], order=order)
    with pytest.raises(AccessError), system(db):
        Partner.search([], order='secret_note')


@pytest.mark.parametrize('kwargs', [{'limit': -1}, {'limit': 'all'}, {'offset': -5},
                                    {'offset': 1.5}])
def test_bad_limits(db, kwargs):
    with pytest.raises(UserError), system(db):
        Partner.search([], **kwargs)


def test_inactive_records_are_left_out_of_searches(db):
    with system(db) as transaction:
        active, inactive = Partner.create([{'name': 'on'}, {'name': 'off', 'active': False}])
        assert Partner.search([]) == [active]
        assert Partner.search([('active', '=', False)]) == [inactive]
        assert Partner.read([inactive], ['name'])[0]['name'] == 'off'  # read by id works
        with transaction.set_context(active_test=False):
            assert Partner.search([]) == [active, inactive]


def test_fields_get(db):
    with system(db):
        described = Partner.fields_get()
        assert 'secret_note' not in described
        assert described['name'] == {
            'type': 'char', 'string': 'Name', 'help': 'Who they are', 'required': True,
            'readonly': False, 'store': True, 'searchable': True, 'sortable': True,
            'size': 100}
        assert described['country_id']['relation'] == 'test.country'
        assert described['child_ids'] == {**described['child_ids'], 'type': 'one2many',
                                          'relation': 'test.partner',
                                          'relation_field': 'parent_id'}
        assert described['tag_ids']['type'] == 'many2many'
        assert described['kind']['selection'] == [['person', 'Person'],
                                                  ['company', 'Company']]
        assert described['create_uid']['readonly'] is True
        assert {described[name]['type'] for name in described} >= {
            'char', 'text', 'integer', 'float', 'numeric', 'boolean', 'date', 'datetime',
            'selection', 'binary', 'many2one', 'one2many', 'many2many'}
        assert Partner.fields_get(['name'], ['type']) == {'name': {'type': 'char'}}


def test_name_search_and_display_name(db):
    with system(db):
        ids = Partner.create([{'name': 'Alice'}, {'name': 'Alfred'}, {'name': 'Bob'}])
        assert Partner.name_search('al') == [[ids[1], 'Alfred'], [ids[0], 'Alice']]
        assert Partner.name_search('al', [('name', '!=', 'Alfred')]) == [[ids[0], 'Alice']]
        assert Partner.name_search('', limit=1) == [[ids[1], 'Alfred']]
        assert Partner.name_search('Bob', operator='=') == [[ids[2], 'Bob']]


def test_default_get_and_numeric_precision(db):
    with system(db):
        assert Partner.default_get(['active', 'name']) == {'active': True}
        (p,) = Partner.create({'name': 'N', 'balance': decimal.Decimal('12.35')})
        assert Partner.read([p], ['balance'])[0]['balance'] == 12.35


def test_orm_and_data_layer_share_the_transaction(db):
    with system(db) as transaction:
        transaction.session.add(Tag(name='orm'))
        assert Tag.search([('name', '=', 'orm')])  # pending ORM changes are flushed first
        (i,) = Tag.create({'name': 'layer'})
        assert transaction.session.scalars(select(Tag.name).where(Tag.id == i)).one() == 'layer'
