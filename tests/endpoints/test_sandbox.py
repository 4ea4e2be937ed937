"""The sandbox on its own (no database): escapes tried, runaway snippets stopped, the result
contract checked."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from trylite.endpoints import sandbox
from trylite.exceptions import UserError

JOB = {'request': {'method': 'GET', 'path': '/x/api/endpoint/y', 'args': {'a': '1'},
                   'headers': {'accept': '*/*'}, 'params': {'n': 3}, 'content_type': None,
                   'form': {}, 'json': None},
       'user': {'id': 7, 'login': 'alice', 'name': 'Alice'}, 'caller': None}
MIB = 1024 * 1024


def run(source: str, timeout: float = 5.0, memory: int = 64 * MIB, max_response: int = MIB,
        call: sandbox.Call | None = None, logged: list[tuple[str, str]] | None = None,
        body: bytes = b'') -> sandbox.Answer:
    def no_call(*args: Any) -> Any:
        raise AssertionError('no data-layer call expected')

    return sandbox.run(sandbox.compile_snippet(source), JOB, body,
                       sandbox.Limits(timeout, memory, max_response), call or no_call,
                       lambda level, message: (logged if logged is not None else []).append(
                           (level, message)))


def payload(source: str, **options: Any) -> bytes:
    return run(source + '\nresult = {"payload": value}', **options).body


@pytest.mark.parametrize('source, refused', [
    ('value = ().__class__.__base__.__subclasses__()', '"__class__" is an invalid attribute'),
    ("os = __import__('os')", '"__import__" is an invalid variable name'),
    ('import os', 'Imports are not allowed'),
    ('from os import path', 'Imports are not allowed'),
    ("value = f'{request.__class__}'", '"__class__" is an invalid attribute'),
    ('g = (x for x in [1])\nvalue = g.gi_frame.f_back', '"gi_frame" is a restricted name'),
    ('try:\n    1 / 0\nexcept Exception as e:\n    value = e.__traceback__.tb_frame',
     '"__traceback__" is an invalid attribute'),
    ('value = __builtins__', '"__builtins__" is an invalid variable name'),
    ('class A:\n    pass', 'Class statements are not allowed'),
    ('async def f():\n    pass', 'AsyncFunctionDef statements are not allowed'),
    ("value = eval('1')", 'Eval calls are not allowed'),
    ("exec('1')", 'Exec calls are not allowed'),
    ("value = datetime.datetime.strptime('x', '%Y').__class__", 'invalid attribute'),
    ('value = (', 'SyntaxError'),
    ('   ', 'needs a Python snippet'),
])
def test_escapes_are_refused_when_compiled(source, refused):
    with pytest.raises(UserError) as caught:
        sandbox.compile_snippet(source)
    assert refused in caught.value.description


@pytest.mark.parametrize('source, error', [
    ("value = open('/etc/passwd').read()", "NameError: name 'open' is not defined"),
    ("value = '{0.__class__}'.format(1)", "'format' may not be used"),
    ("value = str.format('{0.__class__.__base__}', 1)", "'format' may not be used"),
    ("value = '{a.__class__}'.format_map({'a': 1})", "'format_map' may not be used"),
    ("value = getattr(1, '__class__')", "name 'getattr' is not defined"),
    ('value = type(1)', "name 'type' is not defined"),
    ('value = vars()', "name 'vars' is not defined"),
    ('value = globals()', "name 'globals' is not defined"),
    ('value = locals()', "name 'locals' is not defined"),
    ("value = compile('1', 'x', 'eval')", "name 'compile' is not defined"),
    ('value = object()', "name 'object' is not defined"),
    ('value = dir()', "name 'dir' is not defined"),
    ("value = hasattr(1, 'real')", "name 'hasattr' is not defined"),
    ('value = int.mro()', "'mro' may not be used"),
    ('raise SystemExit(0)', "name 'SystemExit' is not defined"),
])
def test_escapes_fail_when_run(source, error):
    with pytest.raises(sandbox.SnippetFailed) as caught:
        payload(source)
    assert error in str(caught.value)


@pytest.mark.parametrize('name', ['__class__', '_private', 'gi_frame', 'f_globals', 'tb_frame',
                                  'format', 'format_map', 'mro'])
def test_attribute_guard_at_run_time(name):
    """The guard the compiled code calls refuses these names whatever the object."""
    with pytest.raises(AttributeError):
        sandbox._guarded_getattr('text', name)
    assert sandbox._guarded_getattr('text', 'upper')() == 'TEXT'


@pytest.mark.parametrize('source', [
    "request.method = 'POST'",
    'user.id = 0',
    'datetime.datetime = None',
    "env.call = 1",
])
def test_a_snippet_writes_only_its_own_objects(source):
    with pytest.raises(sandbox.SnippetFailed, match='attribute-less object'):
        run(source)
    assert payload('value = {}\nvalue["a"] = [1]\nvalue["a"].append(2)') == b'{"a":[1,2]}'


@pytest.mark.parametrize('source', [
    "value = 'x' * (10 ** 10)",
    'value = bytes(10 ** 10)',
    "value = []\nwhile True:\n    value.append('x' * 1000000)",
])
def test_huge_allocations_fail(source):
    with pytest.raises(sandbox.SnippetFailed, match='MemoryError'):
        payload(source, memory=32 * MIB)


@pytest.mark.parametrize('source', [
    'while True:\n    pass',
    'value = 10 ** 10 ** 8',
    'while True:\n    try:\n        while True:\n            pass\n'
    '    except BaseException:\n        pass',
])
def test_runaway_snippets_are_stopped_at_the_timeout(source):
    started = time.monotonic()
    with pytest.raises(sandbox.SnippetTimeout):
        payload(source, timeout=0.5)
    assert time.monotonic() - started < 3
    assert payload('value = 1') == b'1'  # and the next run is served


def test_deep_recursion_fails():
    with pytest.raises(sandbox.SnippetFailed, match='RecursionError'):
        payload('def f(n):\n    return f(n + 1)\nvalue = f(0)')


def test_what_a_snippet_sees():
    assert payload(
        "value = [user.id, user.login, user.name, caller, request.method, request.path, "
        "request.args, request.headers, request.params, request.json, request.data]"
    ) == b'[7,"alice","Alice",null,"GET","/x/api/endpoint/y",{"a":"1"},{"accept":"*/*"},' \
        b'{"n":3},null,""]'
    assert payload("value = [datetime.datetime(2026, 11, 22, tzinfo=datetime.UTC), "
                   "datetime.date(2026, 1, 2) + datetime.timedelta(days=1), "
                   "datetime.datetime.strptime('2026-03-04', '%Y-%m-%d').date()]"
                   ) == b'["2026-11-22T00:00:00+00:00","2026-01-03","2026-03-04"]'
    assert payload("value = json.loads(json.dumps({'b': 1, 'a': [1, 2]}, indent=1, "
                   "sort_keys=True))") == b'{"a":[1,2],"b":1}'
    assert payload("value = hmac.compare_digest(hmac.new(b'k', b'm', 'sha256').hexdigest(), "
                   "hashlib.sha256(b'x').hexdigest())") == b'false'
    assert payload('total = 0\nfor a, b in [(1, 2), (3, 4)]:\n    total += a * b\n'
                   'value = sorted({total, 1, *[5]})') == b'[1,5,14]'


def test_log_and_print_reach_the_log():
    logged: list[tuple[str, str]] = []
    run("print('printed', 1)\nlog('careful', 'warning')\nlog({'a': 1})\nresult = {}",
        logged=logged)
    assert logged == [('warning', 'careful'), ('info', "{'a': 1}"), ('info', 'printed 1\n')]
    with pytest.raises(sandbox.SnippetFailed, match='level is one of'):
        run("log('x', 'loud')")


def test_data_layer_calls_go_to_the_worker():
    calls = []

    def call(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        calls.append((model, method, args, kwargs))
        return [{'id': 1, 'name': 'Admin'}]

    answer = run("result = {'payload': env['res.group'].search_read([('name', '=', 'admin')],"
                 " ['name'], limit=1)}", call=call)
    assert answer.body == b'[{"id":1,"name":"Admin"}]'
    assert calls == [('res.group', 'search_read', [[['name', '=', 'admin']], ['name']],
                      {'limit': 1})]


def test_a_failing_call_ends_the_snippet():
    def refuse(*args: Any) -> Any:
        raise UserError('Refused', 'by the data layer')

    with pytest.raises(UserError, match='Refused'):
        run("try:\n    env['x'].search([])\nexcept Exception:\n    result = {'payload': 1}",
            call=refuse)


def test_the_result_contract():
    answer = run("result = {'payload': {'a': 1}, 'status_code': 201, 'headers': {'X-A': 'b'}}")
    assert (answer.status, answer.headers, answer.content_type, answer.body) == (
        201, [('X-A', 'b')], 'application/json', b'{"a":1}')
    answer = run("result = Response('<p>é</p>', 202, {'X-B': 'c'}, 'text/html')")
    assert (answer.status, answer.headers, answer.content_type, answer.body) == (
        202, [('X-B', 'c')], 'text/html', '<p>é</p>'.encode())
    answer = run("result = {'status_code': 204}")
    assert (answer.status, answer.body) == (204, b'')


@pytest.mark.parametrize('source, message', [
    ('value = 1', 'must set result'),
    ("result = 'text'", 'must set result'),
    ("result = {'body': 1}", 'unknown keys: body'),
    ("result = {'status_code': 99}", 'status_code must be 200 to 599'),
    ("result = {'status_code': True}", 'status_code must be 200 to 599'),
    ("result = {'status_code': '200'}", 'status_code must be 200 to 599'),
    ("result = {'headers': {'X-A': 'b\\r\\nSet-Cookie: x=1'}}", 'one-line text'),
    ("result = {'headers': {'Content-Length': '1'}}", 'may not set Content-Length'),
    ("result = {'headers': ['x']}", 'must be a dict'),
    ("result = {'payload': lambda: 1}", 'not JSON serializable'),
    ("result = {'payload': 'x' * 2000}", 'max_response'),
])
def test_bad_results_fail(source, message):
    with pytest.raises(sandbox.SnippetFailed, match=message):
        run(source, max_response=1000)


@pytest.mark.parametrize('source, raised', [
    ("raise UserError('Closed', 'The order is closed.')",
     ('UserError', 'Closed', 'The order is closed.')),
    ("raise NotFound('No such order.')", ('NotFound', '', 'No such order.')),
    ('raise Forbidden()', ('Forbidden', '', '')),
])
def test_raised_errors(source, raised):
    with pytest.raises(sandbox.SnippetRaised) as caught:
        run(source)
    assert (caught.value.kind, caught.value.message, caught.value.description) == raised


def test_the_zygote_has_an_empty_environment():
    run('result = {}')
    pid = sandbox._zygote().process.pid
    with open(f'/proc/{pid}/environ', 'rb') as environ:
        assert environ.read() == b''
    assert os.getpid() != pid


def test_a_dead_zygote_is_replaced():
    run('result = {}')
    zygote = sandbox._zygote()
    zygote.process.kill()
    zygote.process.wait()
    assert run("result = {'payload': 'again'}").body == b'"again"'
    assert sandbox._zygote() is not zygote


def test_deeply_nested_values_fail_in_the_snippet_not_in_the_worker():
    with pytest.raises(sandbox.SnippetFailed, match='RecursionError'):
        run("value = []\nfor i in range(100000):\n    value = [value]\n"
            "env['x'].search(value)", call=lambda *args: [])
    with pytest.raises(sandbox.SnippetFailed):
        sandbox._message(b'[' * 100000 + b']' * 100000)
