"""Frappe's client libraries, written by others, against ``trylite serve`` on SQLite and
PostgreSQL: frappe-connector, frappe-client (the ``frappeclient`` module, as pyfrappeclient
ships it) and ``requests`` following the Dodock REST documentation. One server per backend
serves the whole module."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from frappe_connector import FrappeConnector, FrappeException, LoginFailedError, ServerError
from frappeclient import FrappeClient
from frappeclient.frappeclient import AuthError
from frappeclient.frappeclient import FrappeException as ClientException

from tests.conftest import ROOT, free_port, stop, wait_for
from tests.helpers import PASSWORD
from tests.protocols.frappe_helpers import key_pair, people
from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)

PNG = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4


@pytest.fixture(scope='module')
def site(backend_uri, session_database, base_settings, tmp_path_factory) -> Iterator[str]:
    """``trylite serve`` (one gunicorn worker) on the test database; the site's base URL,
    ``http://127.0.0.1:<port>/<db>``."""
    port = free_port()
    environ = {**os.environ, **base_settings.environ(), 'PYTHONPATH': str(ROOT),
               'TRYLITE_DATABASE__URI': backend_uri,
               'TRYLITE_API__UPLOAD_DIR': str(tmp_path_factory.mktemp('uploads'))}
    proc = subprocess.Popen(
        [sys.executable, '-m', 'trylite', 'serve', '--port', str(port), '--workers', '1',
         '-m', 'tests.data_models'], env=environ, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(f'http://127.0.0.1:{port}/', proc=proc)
        yield f'http://127.0.0.1:{port}/{session_database}'
    finally:
        stop(proc)


def test_frappe_connector(site, db):
    people(db)
    api_key, api_secret, _key = key_pair(db, 'alice')
    with FrappeConnector(site, username='alice', password=PASSWORD) as by_password:
        ann = by_password.create_doc({'doctype': 'test.partner', 'title': 'Ann', 'age': 30})
        ben = by_password.create_doc({'doctype': 'test.partner', 'title': 'Ben', 'age': 40})
        assert (ann['name'], ann['title']) == (str(ann['id']), 'Ann')
        assert by_password.get_list('test.partner', fields=['name', 'title'],
                                    filters={'age': ['>', 35]}, page_size=5) == [
            {'name': ben['name'], 'title': 'Ben'}]
        assert [d['title'] for d in by_password.get_list(
            'test.partner', filters=[['title', 'like', '%n']], order_by='title desc',
            page_size=0)] == ['Ben', 'Ann']
        assert by_password.get_doc('test.partner', ann['name'])['age'] == 30
        assert by_password.get_doc('test.partner', filters={'title': 'Ben'})['name'] == ben[
            'name']
        updated = by_password.update_doc({'doctype': 'test.partner', 'name': ann['name'],
                                          'age': 31})
        assert updated['age'] == 31
        assert by_password.get_api('test.partner.total_age', {
            'ids': [ann['id'], ben['id']]}) == 71
        assert by_password.post_api('test.partner.rename_all', {'prefix': 'Dr '}) == 2
        assert by_password.get_api('frappe.client.get_count', {'doctype': 'test.partner'}) == 2
        assert by_password.delete_doc('test.partner', ben['name']) is None
    with FrappeConnector(site, api_key=api_key, api_secret=api_secret) as by_token:
        assert [d['title'] for d in by_token.get_list('test.partner', fields=['title'])] == [
            'Dr Ann']
        with pytest.raises(FrappeException) as raised:
            by_token.create_doc({'doctype': 'test.partner', 'age': 'old'})
        assert raised.value.response.status_code == 400
    bob_key, bob_secret, _key = key_pair(db, 'bob')
    with FrappeConnector(site, api_key=bob_key, api_secret=bob_secret) as bob:
        with pytest.raises(ServerError) as refused:
            bob.get_list('test.partner', fields=['title'])
        assert refused.value.exc_type == 'PermissionError'
        assert refused.value.response.status_code == 403
        assert 'Dr Ann' not in refused.value.response.text
    with pytest.raises(LoginFailedError):
        FrappeConnector(site, username='alice', password='wrong')


def test_frappe_client(site, db):
    people(db)
    client = FrappeClient(site, username='alice', password=PASSWORD)
    ann = client.insert({'doctype': 'test.partner', 'title': 'Ann', 'age': 30})
    client.insert({'doctype': 'test.partner', 'title': 'Ben', 'age': 40})
    everything = client.get_list('test.partner')  # fields: the JSON string "*"
    assert [d['title'] for d in everything] == ['Ann', 'Ben'] and 'age' in everything[0]
    assert client.get_list('test.partner', fields=['title'], filters=[['age', '<', 35]],
                           limit_page_length=5) == [{'name': ann['name'], 'title': 'Ann'}]
    document = client.get_doc('test.partner', ann['name'])
    document['age'] = 33
    assert client.update(document)['age'] == 33  # a document read, sent back whole
    assert client.get_value('test.partner', 'age', {'title': 'Ann'}) == {'age': 33}
    assert client.get_api('test.partner.total_age', {'ids': f'[{ann["id"]}]'}) == 33
    assert client.post_api('test.partner.rename_all', {'prefix': 'Ms '}) == 2
    client.delete('test.partner', ann['name'])
    assert [d['title'] for d in client.get_list('test.partner', fields=['title'])] == ['Ms Ben']
    client.logout()
    with pytest.raises(ClientException):  # the session ended
        client.get_list('test.partner')
    api_key, api_secret, _key = key_pair(db, 'alice')
    by_token = FrappeClient(site, api_key=api_key, api_secret=api_secret)
    assert by_token.get_list('test.partner', fields=['title']) == [
        {'name': str(int(ann['name']) + 1), 'title': 'Ms Ben'}]
    bob_key, bob_secret, _key = key_pair(db, 'bob')
    with pytest.raises(ClientException) as refused:
        FrappeClient(site, api_key=bob_key, api_secret=bob_secret).get_list('test.partner')
    assert 'PermissionError' in str(refused.value) and 'Ms Ben' not in str(refused.value)
    with pytest.raises(AuthError):
        FrappeClient(site, username='alice', password='wrong')


def test_requests_following_the_dodock_documentation(site, db):
    people(db)
    session = requests.Session()
    login = session.post(f'{site}/api/method/login', json={'usr': 'alice', 'pwd': PASSWORD})
    assert login.json()['message'] == 'Logged In' and 'sid' in session.cookies
    made = session.post(f'{site}/api/resource/test.partner', json={'title': 'Ann', 'age': 30})
    name = made.json()['data']['name']
    api_key, api_secret, _key = key_pair(db, 'alice')
    auth = {'Authorization': f'token {api_key}:{api_secret}'}
    listed = requests.get(f'{site}/api/resource/test.partner', headers=auth, params={
        'fields': '["name", "title"]', 'filters': '[["age", ">=", 30]]'}, timeout=10)
    assert listed.json() == {'data': [{'name': name, 'title': 'Ann'}]}
    changed = requests.put(f'{site}/api/resource/test.partner/{name}', headers=auth,
                           json={'age': 31}, timeout=10)
    assert changed.json()['data']['age'] == 31
    assert requests.get(f'{site}/api/method/test.partner.total_age', headers=auth,
                        params={'ids': f'[{name}]'}, timeout=10).json() == {'message': 31}
    uploaded = requests.post(f'{site}/api/method/upload_file', headers=auth, files={
        'file': ('logo.png', PNG, 'application/octet-stream')}, data={
        'doctype': 'test.partner', 'docname': name, 'is_private': '1'}, timeout=10)
    file = uploaded.json()['message']
    assert (file['content_type'], file['attached_to_name'], file['file_size']) == (
        'image/png', name, len(PNG))
    fetched = requests.get(site + file['file_url'], headers=auth, timeout=10)
    assert (fetched.status_code, fetched.content) == (200, PNG)
    bob_key, bob_secret, _key = key_pair(db, 'bob')
    bob = {'Authorization': f'token {bob_key}:{bob_secret}'}
    assert requests.get(site + file['file_url'], headers=bob, timeout=10).status_code == 403
    refused = requests.get(f'{site}/api/resource/test.partner', headers=bob, timeout=10)
    assert refused.status_code == 403 and 'Ann' not in refused.text
    deleted = requests.delete(f'{site}/api/resource/test.partner/{name}', headers=auth,
                              timeout=10)
    assert (deleted.status_code, deleted.json()) == (202, {'data': 'ok'})
    assert session.get(f'{site}/api/method/logout').status_code == 200
