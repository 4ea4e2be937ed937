"""trylite.protocols.databases: which database a request at the host root works on."""

from __future__ import annotations

import uuid

import pytest
from werkzeug.test import EnvironBuilder

from trylite import storage
from trylite.exceptions import DatabaseNotFound, UserError
from trylite.pool import create_database
from trylite.protocols.databases import choose, visible_databases
from trylite.web.request import Request


def request(host: str = 'localhost', **headers: str) -> Request:
    return Request(EnvironBuilder(base_url=f'http://{host}/', headers=headers).get_environ())


@pytest.fixture
def other(db):
    name = f'trylite-other-{uuid.uuid4().hex[:6]}'  # a name that is a host name too
    create_database(name)
    yield name
    storage.backend().drop(name)


def test_named_by_the_call_or_a_header(db, other):
    assert choose(request(), db) == db
    assert choose(request(**{'X-Odoo-Database': other})) == other
    assert choose(request(**{'X-Trylite-Database': db})) == db
    with pytest.raises(DatabaseNotFound):
        choose(request(), 'no_such_database')
    with pytest.raises(DatabaseNotFound):
        choose(request(**{'X-Odoo-Database': '../etc'}))


def test_several_databases_need_a_name(db, other):
    with pytest.raises(UserError, match='Several databases'):
        choose(request())


def test_the_only_database(db, other, settings):
    settings(web={'dbfilter': f'^{db}$'})
    assert visible_databases(request()) == [db]
    assert choose(request()) == db
    with pytest.raises(DatabaseNotFound):  # a name must match the filter too
        choose(request(**{'X-Odoo-Database': other}))


def test_dbfilter_on_the_host(db, other, settings):
    settings(web={'dbfilter': '^%d$'})
    assert choose(request(host=f'{other}.example.com')) == other
    assert choose(request(host=f'{other}.example.com:8069')) == other
    with pytest.raises(DatabaseNotFound):
        choose(request(host='nobody.example.com'))
    settings(web={'dbfilter': '^%h$'})
    assert choose(request(host=other)) == other
    with pytest.raises(DatabaseNotFound):
        choose(request(host='x.example.com'))


def test_bad_dbfilter(db, settings):
    settings(web={'dbfilter': '(unclosed'})
    with pytest.raises(UserError, match='dbfilter'):
        choose(request())
