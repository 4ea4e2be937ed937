"""Odoo's own client libraries — and Python's xmlrpc.client running the external API
documentation's sequence — against ``trylite serve`` (gunicorn), on SQLite and PostgreSQL.

The libraries are installed from PyPI as test dependencies (setup.cfg pins them):
odoo-client-lib (JSON-2 named and positional, XML-RPC, JSON-RPC), odooly (an API key over
JSON-2, a password over a web session), odoorpc (JSON-RPC), and plain ``requests`` as Odoo 19's
JSON-2 documentation shows it. Each runs as a person with rights, then as one without any:
the protocol's refusal, and no row leaks. One server per backend serves the whole module.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import odoolib
import odoorpc
import pytest
import requests
from odoolib.tools import AuthenticationError, JsonRPCException

from tests.conftest import ROOT, TEST_MODULES, free_port, wait_for
from tests.helpers import PASSWORD
from tests.protocols.odoo_fixtures import (
    PARTNERS,
    Crew,
    crew_fixture,  # noqa: F401  (fixture)
    partner_names,
)
from trylite.settings import Settings

NAMES = [name for name, _age in PARTNERS]
#: What the server loads besides the suite's modules: the models, cheap password hashing.
SERVED = ['tests.data_models', 'tests.protocols.cheap_hashing']


@pytest.fixture(scope='module')
def server(backend_uri: str, session_database: str, base_settings: Settings
           ) -> Iterator[str]:
    """``trylite serve`` on the session database's backend, for the whole module."""
    port = free_port()
    environ = {**os.environ, **base_settings.replace(database={'uri': backend_uri}).environ(),
               'PYTHONPATH': str(ROOT)}
    command = [sys.executable, '-m', 'trylite', 'serve', '--port', str(port), '--workers', '2',
               *[a for m in [*TEST_MODULES, *SERVED] for a in ('-m', m)]]
    proc = subprocess.Popen(command, env=environ, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        url = f'http://127.0.0.1:{port}'
        wait_for(url + '/web/version', proc=proc)
        yield url
    finally:  # the server's own process group: its master and workers, at once
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def port_of(url: str) -> int:
    return int(url.rpartition(':')[2])


# -- xmlrpc.client: the external API documentation's sequence --------------------------------
def test_xmlrpc_documentation_sequence(server, crew):
    url, db, password = server, crew.db, PASSWORD
    common = xmlrpc.client.ServerProxy(f'{url}/xmlrpc/2/common')
    assert common.version()['server_version'] == '19.0'
    uid = common.authenticate(db, 'boss', password, {})
    assert uid == crew.boss
    models = xmlrpc.client.ServerProxy(f'{url}/xmlrpc/2/object')

    def call(model, method, *args, **kwargs):
        return models.execute_kw(db, uid, password, model, method, list(args), kwargs)

    assert call('test.partner', 'check_access_rights', 'read', raise_exception=False) is True
    assert call('test.partner', 'search', [['age', '>=', 40]]) == crew.partners[1:]
    assert call('test.partner', 'search', [['age', '>=', 30]], offset=1, limit=1) == \
        crew.partners[1:2]
    assert call('test.partner', 'search_count', [['age', '>=', 40]]) == 2
    ids = call('test.partner', 'search', [['age', '>=', 40]], limit=1)
    [record] = call('test.partner', 'read', ids)
    assert record['name'] == 'Bob' and record['country_id'] == [crew.country, 'Belgium']
    assert 'secret_note' not in record
    [record] = call('test.partner', 'read', ids, fields=['name', 'country_id', 'notes'])
    assert record == {'id': ids[0], 'name': 'Bob', 'country_id': [crew.country, 'Belgium'],
                      'notes': False, 'display_name': 'Bob'}
    fields = call('test.partner', 'fields_get', attributes=['string', 'help', 'type'])
    assert fields['name'] == {'type': 'char', 'string': 'Name', 'help': 'Who they are'}
    assert fields['country_id']['type'] == 'many2one'
    found = call('test.partner', 'search_read', [['age', '>=', 40]],
                 fields=['name', 'country_id', 'notes'], limit=5)
    assert [r['name'] for r in found] == ['Bob', 'Carol']
    new = call('test.partner', 'create', {'name': 'New Partner'})
    assert isinstance(new, int)
    assert call('test.partner', 'write', [new], {'name': 'Newer partner'}) is True
    assert call('test.partner', 'read', [new], ['display_name']) == [
        {'id': new, 'display_name': 'Newer partner'}]
    assert call('test.partner', 'unlink', [new]) is True
    assert call('test.partner', 'search', [['id', '=', new]]) == []
    # a model and a field made at run time, then used
    model_id = call('ir.model', 'create', {'name': 'Custom Model', 'model': 'x_custom_model',
                                           'state': 'manual'})
    custom = call('x_custom_model', 'fields_get', attributes=['string', 'help', 'type'])
    assert {'id', 'create_uid', 'create_date', 'write_uid', 'write_date',
            'display_name'} <= set(custom)
    call('ir.model.fields', 'create', {'model_id': model_id, 'name': 'x_name', 'ttype': 'char',
                                       'state': 'manual', 'required': False})
    record_id = call('x_custom_model', 'create', {'x_name': 'test record'})
    assert call('x_custom_model', 'read', [record_id])[0]['x_name'] == 'test record'
    listed = call('ir.model', 'search_read', [['abstract', '=', False]],
                  fields=['model', 'transient'])
    assert {'x_custom_model', 'test.partner'} <= {m['model'] for m in listed}
    # the same as a person without rights
    uid = common.authenticate(crew.db, 'nobody', PASSWORD, {})
    assert models.execute_kw(crew.db, uid, PASSWORD, 'test.partner', 'check_access_rights',
                             ['read'], {'raise_exception': False}) is False
    for method, args in (('search', [[]]), ('read', [crew.partners]),
                         ('create', [{'name': 'x'}]), ('unlink', [crew.partners])):
        with pytest.raises(xmlrpc.client.Fault) as raised:
            models.execute_kw(crew.db, uid, PASSWORD, 'test.partner', method, args)
        assert 'AccessError' in raised.value.faultCode
        assert not any(name in str(raised.value) for name in NAMES)
    assert common.authenticate(crew.db, 'nobody', 'wrong', {}) is False
    assert partner_names(crew.db) == NAMES


# -- odoo-client-lib --------------------------------------------------------------------------
def odoolib_connection(server: str, crew: Crew, mode: str, login: str) -> Any:
    protocol = 'json2' if mode.startswith('json2') else mode
    secret = crew.keys[login] if protocol == 'json2' else PASSWORD
    return odoolib.get_connection(hostname='127.0.0.1', protocol=protocol,
                                  port=port_of(server), database=crew.db, login=login,
                                  password=secret)


def odoolib_operations(connection: Any, mode: str, crew: Crew) -> None:
    """Login, search_read with a domain, create, read, write, unlink."""
    partners = connection.get_model('test.partner')
    domain = [['age', '>=', 40]]
    if mode == 'json2-named':
        found = partners.search_read(domain=domain, fields=['name'], order='age')
        (new,) = partners.create(vals_list=[{'name': 'Lib'}])
        record = partners.read(ids=[new], fields=['name'])
        assert partners.write(ids=[new], vals={'name': 'Lib 2'}) is True
        renamed = partners.read(ids=[new], fields=['name'])
        assert partners.unlink(ids=[new]) is True
    else:
        found = partners.search_read(domain, ['name'])
        new = partners.create({'name': 'Lib'})
        if isinstance(new, list):  # JSON-2 answers a list of ids
            (new,) = new
        record = partners.read([new], ['name'])
        assert partners.write([new], {'name': 'Lib 2'}) is True
        renamed = partners.read([new], ['name'])
        assert partners.unlink([new]) is True
    assert [r['name'] for r in found] == ['Bob', 'Carol']
    for read, name in ((record, 'Lib'), (renamed, 'Lib 2')):
        read = read[0] if isinstance(read, list) else read  # JSON-2 unwraps one record
        assert read['name'] == name


ODOOLIB_MODES = ['json2-named', 'json2-positional', 'xmlrpc', 'jsonrpc']


@pytest.mark.parametrize('mode', ODOOLIB_MODES)
def test_odoo_client_lib(server, crew, mode):
    connection = odoolib_connection(server, crew, mode, 'reader')
    if mode.startswith('json2'):
        assert connection.get_model('res.users').context_get()['uid'] == crew.reader
    else:
        connection.check_login()
        assert connection.user_id == crew.reader
        assert connection.get_user_context()['uid'] == crew.reader
    odoolib_operations(connection, mode, crew)
    assert partner_names(crew.db) == NAMES
    # as a person without rights
    partners = odoolib_connection(server, crew, mode, 'nobody').get_model('test.partner')
    expected = {'json2-named': (ValueError, 'status code 403'),
                'json2-positional': (httpx.HTTPStatusError, '403'),
                'xmlrpc': (xmlrpc.client.Fault, 'AccessError'),
                'jsonrpc': (JsonRPCException, 'odoo.exceptions.AccessError')}[mode]
    with pytest.raises(expected[0], match=expected[1]) as raised:
        if mode == 'json2-named':
            partners.search_read(domain=[], fields=['name'])
        else:
            partners.search_read([], ['name'])
    assert not any(name in str(raised.value) for name in NAMES)
    wrong = odoolib.get_connection(hostname='127.0.0.1', protocol='xmlrpc',
                                   port=port_of(server), database=crew.db, login='nobody',
                                   password='wrong')
    with pytest.raises(AuthenticationError):
        wrong.check_login()


# -- odooly -----------------------------------------------------------------------------------
def import_odooly(stack: str) -> ModuleType:
    """odooly, made to use *stack* (it picks requests or urllib at random when imported)."""
    sys.modules.pop('odooly', None)
    saved = os.environ.pop('ODOOLY_SSL_UNVERIFIED', None)
    real_time_ns = time.time_ns
    try:
        if stack == 'urllib':
            os.environ['ODOOLY_SSL_UNVERIFIED'] = '1'
        else:
            time.time_ns = lambda: 0  # an even number: requests
        module = importlib.import_module('odooly')
    finally:
        time.time_ns = real_time_ns
        os.environ.pop('ODOOLY_SSL_UNVERIFIED', None)
        if saved is not None:
            os.environ['ODOOLY_SSL_UNVERIFIED'] = saved
    assert (module.requests is not None) == (stack == 'requests')
    module.Env._cache.clear()
    return module


ODOOLY_WAYS = [('api key', 'requests'), ('password', 'urllib')]


def odooly_client(server: str, crew: Crew, way: str, stack: str, login: str
                  ) -> tuple[ModuleType, Any]:
    odooly = import_odooly(stack)
    if way == 'api key':
        return odooly, odooly.Client(server, db=crew.db, user=login, api_key=crew.keys[login])
    return odooly, odooly.Client(server, db=crew.db, user=login, password=PASSWORD)


@pytest.mark.parametrize('way, stack', ODOOLY_WAYS)
def test_odooly(server, crew, way, stack):
    odooly, client = odooly_client(server, crew, way, stack, 'reader')
    try:
        env = client.env
        assert env.uid == crew.reader
        partners = env['test.partner']
        found = partners.search_read([('age', '>=', 40)], ['name'])
        assert [r['name'] for r in found] == ['Bob', 'Carol']
        assert partners.search([('age', '>=', 40)]).ids == crew.partners[1:]
        new_id = partners.create({'name': 'Odooly'}).ids[0]
        assert partners.read([new_id], ['name'])[0]['name'] == 'Odooly'
        assert partners.browse(new_id).write({'name': 'Odooly 2'}) is True
        assert partners.read(new_id, 'name') == 'Odooly 2'
        assert partners.browse([new_id]).unlink() is True
    finally:
        odooly.Env._cache.clear()
    assert partner_names(crew.db) == NAMES
    # as a person without rights
    odooly, client = odooly_client(server, crew, way, stack, 'nobody')
    try:
        partners = client.env['test.partner']
        with pytest.raises(odooly.ServerError) as raised:
            partners.search_read([], ['name'])
        error = raised.value.args[0]
        assert error['code'] == (403 if way == 'api key' else 200)
        assert error['data']['name'] == 'odoo.exceptions.AccessError'
        assert not any(name in str(error) for name in NAMES)
        if way == 'password':
            with pytest.raises(odooly.Error, match='Invalid username or password'):
                odooly.Client(server, db=crew.db, user='nobody', password='wrong')
    finally:
        odooly.Env._cache.clear()


# -- odoorpc ----------------------------------------------------------------------------------
def test_odoorpc(server, crew):
    odoo = odoorpc.ODOO('127.0.0.1', port=port_of(server))
    assert odoo.version == '19.0'
    odoo.login(crew.db, 'reader', PASSWORD)
    assert odoo.env.uid == crew.reader
    partners = odoo.env['test.partner']
    found = partners.search_read([('age', '>=', 40)], ['name'])
    assert [r['name'] for r in found] == ['Bob', 'Carol']
    new_id = partners.create({'name': 'RPC', 'country_id': crew.country})
    assert isinstance(new_id, int)
    record = partners.browse(new_id)
    assert record.name == 'RPC' and record.country_id.id == crew.country
    assert partners.read([new_id], ['name'])[0]['name'] == 'RPC'
    assert partners.write([new_id], {'name': 'RPC 2'}) is True
    record.write({'age': 7})
    assert partners.read([new_id], ['name', 'age'])[0] == {
        'id': new_id, 'name': 'RPC 2', 'age': 7, 'display_name': 'RPC 2'}
    assert partners.unlink([new_id]) is True
    odoo.logout()
    assert partner_names(crew.db) == NAMES
    # as a person without rights: fields_get, which odoorpc calls first, needs read access
    odoo.login(crew.db, 'nobody', PASSWORD)
    with pytest.raises(odoorpc.error.RPCError) as raised:
        odoo.env['test.partner'].search_read([], ['name'])
    assert raised.value.info['data']['name'] == 'odoo.exceptions.AccessError'
    assert "may not read records of 'test.partner'" in str(raised.value)
    assert not any(name in str(raised.value.info) for name in NAMES)
    with pytest.raises(odoorpc.error.RPCError):
        odoorpc.ODOO('127.0.0.1', port=port_of(server)).login(crew.db, 'nobody', 'wrong')


# -- requests, as Odoo 19's JSON-2 documentation shows ----------------------------------------
def test_json2_as_the_documentation_shows(server, crew):
    base_url = f'{server}/json/2'
    for login, allowed in (('reader', True), ('nobody', False)):
        headers = {'Authorization': f'bearer {crew.keys[login]}', 'X-Odoo-Database': crew.db,
                   'User-Agent': 'mysoftware ' + requests.utils.default_user_agent()}
        res_search = requests.post(f'{base_url}/test.partner/search', headers=headers, json={
            'context': {'lang': 'en_US'},
            'domain': [['name', 'ilike', '%o%'], ['age', '>=', 30]]}, timeout=10)
        if not allowed:
            assert res_search.status_code == 403
            assert res_search.json()['name'] == 'odoo.exceptions.AccessError'
            assert not any(name in res_search.text for name in NAMES)
            continue
        res_search.raise_for_status()
        ids = res_search.json()
        res_read = requests.post(f'{base_url}/test.partner/read', headers=headers, json={
            'ids': ids, 'context': {'lang': 'en_US'}, 'fields': ['name']}, timeout=10)
        res_read.raise_for_status()
        assert [r['name'] for r in res_read.json()] == ['Bob', 'Carol']
