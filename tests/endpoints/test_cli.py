"""``trylite endpoint create|list|show|enable|disable|delete``: definitions read from YAML or
JSON files, one-line errors (command-line behaviour: one backend is enough)."""

from __future__ import annotations

import json

import pytest

from tests.endpoints.conftest import url
from tests.test_cli import run
from tests.test_preferences import create_user

DEFINITION = '''\
name: order
route: /orders/<int:order_id>
method: POST
auth_type: public
exec_as_user: robot
content_type: application/json
request_schema:
  type: object
  required: [qty]
code: |
  result = {'payload': {'order': request.params['order_id'], 'qty': request.json['qty']}}
'''


@pytest.fixture
def robot(db: str, kind: str) -> int:
    if kind != 'sqlite':
        pytest.skip('command-line behaviour: one backend is enough')
    return create_user(db, 'robot')


def test_create_list_show_disable_enable_delete(db, robot, tmp_path, client):
    path = tmp_path / 'order.yaml'
    path.write_text(DEFINITION, encoding='utf-8')
    assert run('endpoint', 'create', '-d', db, str(path)) == (
        f'Created endpoint order: POST /{db}/api/endpoint/orders/<int:order_id>\n')
    assert client.post(url(db, '/orders/4'), json={'qty': 2}).json == {'order': 4, 'qty': 2}
    assert client.post(url(db, '/orders/4'), json={}).status_code == 422
    assert run('endpoint', 'list', '-d', db) == (
        'order\tPOST\t/orders/<int:order_id>\tpublic\t-\tactive\n')
    shown = run('endpoint', 'show', '-d', db, 'order')
    assert shown.startswith('name: order\nroute: /orders/<int:order_id>\n')
    assert "code: |\n  result = {'payload'" in shown and 'exec_as_user: robot\n' in shown
    assert run('endpoint', 'disable', '-d', db, 'order') == 'Disabled endpoint order.\n'
    assert client.post(url(db, '/orders/4'), json={'qty': 2}).status_code == 404
    assert json.loads(run('endpoint', 'list', '-d', db, '--json')) == [
        {'name': 'order', 'method': 'POST', 'route': '/orders/<int:order_id>',
         'auth_type': 'public', 'route_group': '', 'active': False}]
    assert run('endpoint', 'enable', '-d', db, 'order') == 'Enabled endpoint order.\n'
    assert run('endpoint', 'delete', '-d', db, 'order') == 'Deleted endpoint order.\n'
    assert run('endpoint', 'list', '-d', db) == ''
    # what show printed is a definition create reads again, from standard input
    assert run('endpoint', 'create', '-d', db, '-', input=shown).startswith(
        'Created endpoint order')
    assert client.post(url(db, '/orders/5'), json={'qty': 1}).json == {'order': 5, 'qty': 1}


def test_a_json_list_of_definitions(db, robot):
    definitions = [{'name': f'e{i}', 'route': f'/e{i}', 'auth_type': 'public',
                    'exec_as_user': 'robot', 'code': 'result = {}'} for i in range(2)]
    assert run('endpoint', 'create', '-d', db, '-', input=json.dumps(definitions)) == (
        f'Created endpoint e0: GET /{db}/api/endpoint/e0\n'
        f'Created endpoint e1: GET /{db}/api/endpoint/e1\n')


@pytest.mark.parametrize('args, text, error', [
    (('create',), 'name: [x', 'Error: Invalid file: while parsing a flow sequence'),
    (('create',), '- 1', 'Error: Invalid definition: An endpoint is a mapping of name, route'),
    (('create',), 'name: x\nroute: /x\nverb: GET\ncode: "result = {}"',
     'Error: Invalid definition: Unknown keys: verb'),
    (('create',), 'name: x\nroute: /x\nexec_as_user: nobody\ncode: "result = {}"',
     "Error: no user with login 'nobody'"),
    (('create',), 'name: x\nroute: /x\nauth_type: public\ncode: "result = {}"',
     'Error: Run as required: A public endpoint runs as a person: set exec_as_user_id.'),
    (('show', 'nothing'), None, "Error: no endpoint named 'nothing'"),
    (('disable', 'nothing'), None, "Error: no endpoint named 'nothing'"),
])
def test_mistakes_are_one_line(db, robot, args, text, error):
    command = ['endpoint', args[0], '-d', db, *args[1:]]
    if text is not None:
        command.append('-')
    assert run(*command, input=text, ok=False).startswith(error)
