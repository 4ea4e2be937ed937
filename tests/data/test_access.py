"""trylite.data.access: model access rows, record rules, field groups and the admin group,
enforced for every caller, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.data_models import Partner, Tag
from tests.helpers import add_to_group, create_user
from trylite.data.models import Group, IrModel, IrModelAccess, IrRule
from trylite.exceptions import AccessError, UserError
from trylite.transaction import Transaction


def model_id(name: str) -> int:
    (found,) = IrModel.search([('model', '=', name)])
    return found


def grant(db: str, model: str, group: str | None = None, **perms: bool) -> None:
    with Transaction.start(db):
        group_id = Group.search([('name', '=', group)])[0] if group else False
        IrModelAccess.create({'name': f'{model} for {group}', 'model_id': model_id(model),
                              'group_id': group_id, **{f'perm_{k}': v for k, v in
                                                      perms.items()}})


def rule(db: str, model: str, domain: str, group: str | None = None, **perms: bool) -> None:
    with Transaction.start(db):
        group_id = Group.search([('name', '=', group)])[0] if group else False
        IrRule.create({'name': f'rule on {model}', 'model_id': model_id(model),
                       'group_id': group_id, 'domain_force': domain, **{
                           f'perm_{k}': v for k, v in perms.items()}})


@pytest.fixture
def people(db):
    """alice (group sales), bob (no group), root (admin); partners P1 (by alice), P2."""
    ids = {login: create_user(db, login) for login in ('alice', 'bob', 'root')}
    for login, group in (('alice', 'sales'), ('root', 'admin')):
        add_to_group(db, ids[login], group)
    with Transaction.start(db) as transaction:
        with transaction.set_user(ids['alice']):
            pass
        ids['p1'], ids['p2'] = Partner.create([{'name': 'P1', 'salary': 10},
                                               {'name': 'P2', 'salary': 20}])
    return ids


def as_user(db: str, user: int, readonly: bool = False):
    return Transaction.start(db, user, readonly=readonly)


def test_no_access_row_means_administrators_only(db, people):
    for login in ('alice', 'bob'):
        with pytest.raises(AccessError) as raised, as_user(db, people[login]):
            Partner.search([])
        assert str(raised.value) == "You may not read records of 'test.partner'."
        assert 'P1' not in str(raised.value)
    with as_user(db, people['root']):
        assert Partner.search([]) == [people['p1'], people['p2']]
    with Transaction.start(db, 0):
        assert len(Partner.search([])) == 2


def test_access_rows_per_group_and_operation(db, people):
    grant(db, 'test.partner', 'sales', read=True)
    with as_user(db, people['alice']):
        assert len(Partner.search([])) == 2
        assert Partner.read([people['p1']], ['name'])[0]['name'] == 'P1'
        for call in (lambda: Partner.write([people['p1']], {'name': 'x'}),
                     lambda: Partner.create({'name': 'new'}),
                     lambda: Partner.unlink([people['p1']])):
            with pytest.raises(AccessError, match=r"You may not (change|create|delete) "
                                                  r"records of 'test.partner'"):
                call()
    with pytest.raises(AccessError), as_user(db, people['bob']):
        Partner.search([])
    grant(db, 'test.partner', None, read=True)  # a row without group: everyone
    with as_user(db, people['bob']):
        assert len(Partner.search([])) == 2
    grant(db, 'test.partner', 'sales', write=True, create=True, unlink=True)
    with as_user(db, people['alice']):
        (new,) = Partner.create({'name': 'by alice'})
        assert Partner.write([new], {'name': 'renamed'}) is True
        assert Partner.unlink([new]) is True


def test_record_rules(db, people):
    grant(db, 'test.partner', None, read=True, write=True, create=True, unlink=True)
    with as_user(db, people['alice']):
        (mine,) = Partner.create({'name': 'mine'})
    rule(db, 'test.partner', "[('create_uid', '=', user.id)]", 'sales')
    with as_user(db, people['alice']):
        assert Partner.search([]) == [mine]  # the rule of her group
        with pytest.raises(UserError, match='do not exist or you may not read them'):
            Partner.read([people['p1']])
        with pytest.raises(AccessError, match="You may not change these records"):
            Partner.write([people['p1']], {'name': 'x'})
        with pytest.raises(AccessError, match="You may not delete these records"):
            Partner.unlink([people['p1']])
        assert Partner.search_count([]) == 1
    with as_user(db, people['bob']):  # no group rule concerns bob
        assert len(Partner.search([])) == 3
    rule(db, 'test.partner', "[('name', '!=', 'P2')]")  # a global rule: everyone
    with as_user(db, people['bob']):
        assert Partner.search([]) == [people['p1'], mine]
    with as_user(db, people['root']):  # administrators are not limited
        assert len(Partner.search([])) == 3


def test_create_rules_check_the_new_record(db, people):
    grant(db, 'test.partner', None, read=True, create=True)
    rule(db, 'test.partner', "[('name', 'like', 'ok')]", None, read=False, write=False,
         unlink=False)
    with as_user(db, people['bob']):
        assert Partner.create({'name': 'ok here'})
        with pytest.raises(AccessError):
            Partner.create({'name': 'refused'})


def test_rules_apply_through_relations(db, people):
    grant(db, 'test.partner', None, read=True)
    grant(db, 'test.tag', None, read=True)
    with Transaction.start(db):
        secret_tag, open_tag = Tag.create([{'name': 'hidden'}, {'name': 'open'}])
        Partner.write([people['p1']], {'tag_ids': [(6, 0, [secret_tag])]})
    rule(db, 'test.tag', "[('name', '!=', 'hidden')]")
    with as_user(db, people['bob']):  # cannot probe hidden tags through partners
        assert Partner.search([('tag_ids.name', '=', 'hidden')]) == []
        assert Tag.search([]) == [open_tag]


@pytest.mark.parametrize('domain', ["[('name', '=', __import__('os').system('x'))]",
                                    "[('create_uid', '=', user.password_hash)]",
                                    'not a list', "[('nope', '=', 1)]"])
def test_bad_rules_are_clear_errors(db, people, domain):
    grant(db, 'test.partner', None, read=True)
    rule(db, 'test.partner', domain)
    with pytest.raises(UserError), as_user(db, people['bob']):
        Partner.search([])


def test_field_groups(db, people):
    grant(db, 'test.partner', None, read=True, write=True)
    with as_user(db, people['bob']):
        assert 'salary' not in Partner.fields_get()
        assert 'salary' not in Partner.read([people['p1']])[0]
        with pytest.raises(AccessError, match="field 'salary'"):
            Partner.read([people['p1']], ['salary'])
        with pytest.raises(AccessError, match="field 'salary'"):
            Partner.search([('salary', '>', 0)])
        with pytest.raises(AccessError, match="field 'salary'"):
            Partner.write([people['p1']], {'salary': 1})
    add_to_group(db, people['bob'], 'hr')
    with as_user(db, people['bob']):
        assert Partner.read([people['p1']], ['salary'])[0]['salary'] == 10
        assert Partner.search([('salary', '>', 15)]) == [people['p2']]


def test_secret_fields_are_readable_by_nobody(db, people):
    with as_user(db, people['root']):
        from trylite.auth.persons import User
        assert 'password_hash' not in User.fields_get()
        assert 'password_hash' not in User.read([people['alice']])[0]
        with pytest.raises(AccessError):
            User.read([people['alice']], ['password_hash'])
        with pytest.raises(AccessError):
            User.search([('password_hash', '!=', False)])
        with pytest.raises(AccessError):
            User.write([people['alice']], {'password_hash': 'x'})
        with pytest.raises(AccessError):
            Partner.search_read([], ['secret_note'])


def test_everyone_reads_the_models_list(db, people):
    with as_user(db, people['bob']):
        models = {r['model'] for r in IrModel.search_read([], ['model'])}
        assert {'test.partner', 'res.user', 'ir.model'} <= models
        assert IrModel.check_access_rights('read') is True
        assert IrModel.check_access_rights('write', raise_exception=False) is False
        with pytest.raises(AccessError):
            IrModel.check_access_rights('unlink')
        with pytest.raises(AccessError):
            IrModelAccess.search([])


def test_membership_changes_apply_at_once(db, people):
    grant(db, 'test.partner', 'sales', read=True)
    with as_user(db, people['bob']), pytest.raises(AccessError):
        Partner.search([])
    add_to_group(db, people['bob'], 'sales')
    with as_user(db, people['bob']):
        assert Partner.search([])
    with Transaction.start(db):
        (sales,) = Group.search([('name', '=', 'sales')])
        Group.write([sales], {'user_ids': [(3, people['bob'])]})
    with pytest.raises(AccessError), as_user(db, people['bob']):
        Partner.search([])
