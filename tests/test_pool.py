"""trylite.pool.Pool: databases it opens, models it knows, registration rules."""

from __future__ import annotations

import pytest

from tests.routes import Counter
from trylite.auth.persons import User
from trylite.exceptions import DatabaseNotFound
from trylite.pool import Pool


def test_pool_of_a_trylite_database(db):
    pool = Pool(db)
    assert pool.database_name == db
    assert repr(pool) == f'Pool({db!r})'
    assert pool.get('res.user') is User
    assert pool.get('test.counter') is Counter


@pytest.mark.parametrize('name', ['nosuchdb', '..', '', 'x' * 64, 'a/b', 'postgres'])
def test_pool_of_anything_else(db, name):
    with pytest.raises(DatabaseNotFound):
        Pool(name)


def test_get_unknown_model(db):
    with pytest.raises(KeyError, match="no model registered as 'no.such'"):
        Pool(db).get('no.such')


def test_register_again_is_harmless():
    before = Pool.modules()
    Pool.register(User, module='res')
    assert Pool.modules() == before
    assert 'res.user' in Pool.modules()['res']


def test_register_conflicts_change_nothing():
    class Impostor:
        __model__ = 'res.user'

    class Nameless:
        pass

    before, tables = Pool.modules(), Pool.tables()
    with pytest.raises(ValueError, match="already registered as 'res.user'"):
        Pool.register(Impostor, module='impostor')
    with pytest.raises(TypeError, match='has no __model__'):
        Pool.register(Counter, Nameless, module='nameless')
    assert (Pool.modules(), Pool.tables()) == (before, tables)
    assert 'impostor' not in Pool.modules()
