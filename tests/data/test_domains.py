"""trylite.data.domains: every operator, dotted paths, hierarchies and hostile domains, on
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.data_models import Country, Partner, Tag
from trylite.data.domains import MAX_TERMS, MAX_VALUES, normalize
from trylite.exceptions import AccessError, UserError
from trylite.transaction import Transaction


@pytest.fixture
def people(db):
    """Partners: Alice (BE, tags a b, 41), Bob (FR, tag b, child of Alice, 30), carol (no
    country, no age, child of Bob) and Dave (inactive)."""
    with Transaction.start(db):
        be, fr = Country.create([{'name': 'Belgium', 'code': 'BE'},
                                 {'name': 'France', 'code': 'FR'}])
        a, b = Tag.create([{'name': 'a'}, {'name': 'b'}])
        alice, = Partner.create({'name': 'Alice', 'age': 41, 'country_id': be,
                                 'tag_ids': [(6, 0, [a, b])], 'birthday': '1985-04-02',
                                 'seen': '2026-11-22 12:00:00', 'kind': 'person',
                                 'notes': '100% sure'})
        bob, = Partner.create({'name': 'Bob', 'age': 30, 'country_id': fr, 'parent_id': alice,
                               'tag_ids': [(4, b)], 'kind': 'company', 'score': 1.5})
        carol, = Partner.create({'name': 'carol', 'parent_id': bob})
        dave, = Partner.create({'name': 'Dave', 'active': False, 'age': 50})
    return {'alice': alice, 'bob': bob, 'carol': carol, 'dave': dave}


def found(db, domain, **context):
    with Transaction.start(db, readonly=True, context=context):
        return sorted(Partner.search_read(domain, ['name']), key=lambda r: r['id'])


def names(db, domain, **context):
    return [r['name'] for r in found(db, domain, **context)]


@pytest.mark.parametrize('domain, expected', [
    ([], ['Alice', 'Bob', 'carol']),
    ([('name', '=', 'Bob')], ['Bob']),
    ([('name', '!=', 'Bob')], ['Alice', 'carol']),
    ([('age', '<', 35)], ['Bob']),
    ([('age', '>', 35)], ['Alice']),
    ([('age', '<=', 30)], ['Bob']),
    ([('age', '>=', 30)], ['Alice', 'Bob']),
    ([('age', 'in', [30, 41])], ['Alice', 'Bob']),
    ([('age', 'not in', [30])], ['Alice', 'carol']),
    ([('age', 'in', [30, False])], ['Bob', 'carol']),
    ([('name', 'like', 'o')], ['Bob', 'carol']),
    ([('name', 'ilike', 'C')], ['Alice', 'carol']),
    ([('name', 'not like', 'o')], ['Alice']),
    ([('name', 'not ilike', 'AL')], ['Bob', 'carol']),
    ([('name', '=like', 'B%')], ['Bob']),
    ([('name', '=ilike', 'c%')], ['carol']),
    ([('notes', 'like', '%')], ['Alice']),
    ([('age', '=', False)], ['carol']),
    ([('age', '!=', False)], ['Alice', 'Bob']),
    ([('age', '=', None)], ['carol']),
    ([('country_id', '=', False)], ['carol']),
    ([('active', '=', False)], ['Dave']),
    ([('birthday', '=', '1985-04-02')], ['Alice']),
    ([('birthday', '<', '2000-01-01')], ['Alice']),
    ([('seen', '>=', '2026-11-22 11:59:59')], ['Alice']),
    ([('seen', '>=', '2026-11-22T12:00:01+00:00')], []),
    ([('kind', '=', 'company')], ['Bob']),
    ([('score', '>', 1.0)], ['Bob']),
    (['|', ('name', '=', 'Bob'), ('name', '=', 'carol')], ['Bob', 'carol']),
    (['!', ('name', '=', 'Bob')], ['Alice', 'carol']),
    (['&', ('age', '>', 20), ('age', '<', 35)], ['Bob']),
    ([('age', '>', 20), ('age', '<', 35)], ['Bob']),
    (['|', '&', ('age', '>', 40), ('name', '=', 'Alice'), '!', ('age', '!=', False)],
     ['Alice', 'carol']),
    ([('country_id.code', '=', 'BE')], ['Alice']),
    ([('country_id.name', 'ilike', 'fran')], ['Bob']),
    ([('country_id', 'ilike', 'belg')], ['Alice']),
    ([('country_id', 'not ilike', 'belg')], ['Bob', 'carol']),
    ([('parent_id.parent_id.name', '=', 'Alice')], ['carol']),
    ([('tag_ids.name', '=', 'a')], ['Alice']),
    ([('tag_ids', '=', 'b')], ['Alice', 'Bob']),
    ([('tag_ids', '=', False)], ['carol']),
    ([('tag_ids', '!=', False)], ['Alice', 'Bob']),
    ([('child_ids.name', '=', 'carol')], ['Bob']),
    ([('child_ids', '=', False)], ['carol']),
    ([('name', '=', "'; DROP TABLE test_partner; --")], []),
    ([('name', 'ilike', "%' OR 1=1 --")], []),
])
def test_operators(db, people, domain, expected):
    assert names(db, domain) == expected


def test_ids_and_relations_by_id(db, people):
    assert names(db, [('id', '=', people['bob'])]) == ['Bob']
    assert names(db, [('id', 'in', [people['bob'], people['carol']])]) == ['Bob', 'carol']
    assert names(db, [('parent_id', '=', people['alice'])]) == ['Bob']
    assert names(db, [('parent_id', 'in', [people['alice'], people['bob']])]) == ['Bob', 'carol']
    assert names(db, [('tag_ids', 'in', [])]) == []


def test_child_of_and_parent_of(db, people):
    assert names(db, [('id', 'child_of', people['alice'])]) == ['Alice', 'Bob', 'carol']
    assert names(db, [('id', 'child_of', [people['bob']])]) == ['Bob', 'carol']
    assert names(db, [('id', 'parent_of', people['carol'])]) == ['Alice', 'Bob', 'carol']
    assert names(db, [('parent_id', 'child_of', people['alice'])]) == ['Bob', 'carol']
    with pytest.raises(UserError, match='no parent field'), \
            Transaction.start(db, readonly=True):
        Country.search([('id', 'child_of', 1)])


def test_active_test_context(db, people):
    assert names(db, [], active_test=False) == ['Alice', 'Bob', 'carol', 'Dave']


def test_normalize():
    assert normalize([]) == []
    assert normalize([('a', '=', 1), ('b', '=', 2)]) == ['&', ('a', '=', 1), ('b', '=', 2)]
    assert normalize(['|', ('a', '=', 1), ('b', '=', 2), ('c', '=', 3)]) == [
        '&', '|', ('a', '=', 1), ('b', '=', 2), ('c', '=', 3)]


@pytest.mark.parametrize('domain, message', [
    ('name = Bob', 'must be a list'),
    ({'name': 'Bob'}, 'must be a list'),
    ([('name', '=')], 'condition must be'),
    ([('name', 'equals', 'Bob')], 'Unknown operator'),
    ([('nope', '=', 1)], 'no field'),
    ([('country_id.nope', '=', 1)], 'no field'),
    ([('name.length', '=', 1)], 'not a relational field'),
    (['|', ('name', '=', 'Bob')], 'misses its operands'),
    (['!'], 'misses its operands'),
    (['^', ('name', '=', 'Bob')], 'Unknown logical operator'),
    ([5], 'condition must be'),
    ([['name', '=', 'a', 'b']], 'condition must be'),
    ([('age', '=', 'forty')], 'whole numbers'),
    ([('age', '<', False)], 'needs a value'),
    ([('birthday', '=', 'yesterday')], 'date written'),
    ([('active', '=', 'yes')], 'true or false'),
    ([('name', 'like', 5)], 'needs text'),
    ([('age', 'like', '4')], 'text fields'),
    ([('name', '=', 'a\x00b')], 'compares with text'),
    ([('photo', '=', 'AAE=')], 'Binary'),
    ([('tag_ids', '<', 3)], 'does not apply'),
    ([('id', 'in', ['x'])], 'whole numbers'),
    ([('age', 'in', list(range(MAX_VALUES + 1)))], 'at most'),
    ([('name', '=', 'x')] * (MAX_TERMS + 1), 'at most'),
    (['!'] * 100 + [('name', '=', 'x')], 'nest at most'),
    (['|'] * 99 + [('name', '=', str(i)) for i in range(100)], None),
    ([('age', '=', 2**80)], 'whole numbers'),
])
def test_bad_domains_are_user_errors(db, people, domain, message):
    with Transaction.start(db, readonly=True):
        if message is None:  # a long flat series of one operator is fine
            assert Partner.search(domain) == []
            return
        with pytest.raises(UserError, match=message):
            Partner.search(domain)


def test_deeply_nested_lists_are_refused(db, people):
    nested: list = [('name', '=', 'x')]
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(UserError), Transaction.start(db, readonly=True):
        Partner.search(nested)


def test_a_large_in_list_works(db, people):
    with Transaction.start(db, readonly=True):
        assert Partner.search([('id', 'in', list(range(1, MAX_VALUES + 1)))])


def test_secret_fields_cannot_be_searched(db, people):
    with pytest.raises(AccessError), Transaction.start(db, readonly=True):
        Partner.search([('secret_note', '=', 'x')])
