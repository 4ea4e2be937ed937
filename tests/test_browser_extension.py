"""A browser-extension-style page in real headless Chromium: a local file (``Origin: null``)
calls every route of Tryton's timesheet protocol as Chronos does — ``Authorization: bearer``,
``Content-Type: application/json`` even on GET and DELETE — at the classic paths and at the
``/r/`` ones. The browser preflights each call; the server records the preflights, so the test
sees that each was asked and answered before the call went through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from example_app.models import Company, Employee, Work
from tests.helpers import validate
from tests.test_example_app_tryton import DAY, FORMS, add
from trylite.auth.persons import User
from trylite.wsgi import app

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><meta charset="utf-8"><title>extension-like page</title>
<script>
// What jQuery.ajax sends for Chronos: its content type on every request, "bearer" in lower case.
async function call(method, url, key, body) {
  const headers = {'Content-Type': 'application/json'};
  if (key) headers['Authorization'] = 'bearer ' + key;
  try {
    const response = await fetch(url, {method, headers,
      body: body === undefined ? undefined : JSON.stringify(body)});
    const text = await response.text();
    return {status: response.status, body: text ? JSON.parse(text) : null};
  } catch (error) {
    return {status: 0, body: String(error)};  // refused by the browser (CORS)
  }
}
</script>"""



@pytest.fixture
def recorded_server(backend_uri: str) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """trylite's app over real HTTP, recording every request's method, path and CORS
    headers, and the status it got."""
    if backend_uri.startswith('postgresql'):
        pytest.skip('HTTP-level behaviour: one backend is enough')
    seen: list[dict[str, str]] = []

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]
                  ) -> Iterable[bytes]:
        entry = {'method': environ['REQUEST_METHOD'], 'path': environ['PATH_INFO'],
                 'origin': environ.get('HTTP_ORIGIN', ''),
                 'headers': environ.get('HTTP_ACCESS_CONTROL_REQUEST_HEADERS', '')}
        seen.append(entry)

        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            entry['status'] = status.split()[0]
            entry['allow_origin'] = dict(headers).get('Access-Control-Allow-Origin', '')
            return start_response(status, headers, *args)
        return app(environ, start)

    server = make_server('127.0.0.1', 0, recording, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_port}', seen
    server.shutdown()


def test_a_null_origin_page_calls_every_timesheet_route(db, recorded_server, browser, tmp_path,
                                                        settings):
    settings(web={'cors_max_age': 0})  # a preflight before every call: none cached
    base, seen = recorded_server
    person = add(db, User(login='ada', name='Ada'))[0]
    [company] = add(db, Company(name='Acme'))
    [employee] = add(db, Employee(name='Ada', user=person, company=company))
    [work] = add(db, Work(name='Development', company=company))
    page = tmp_path / 'extension.html'
    page.write_text(PAGE, encoding='utf-8')
    browser.get(page.as_uri())
    assert browser.execute_script('return self.origin') == 'null'

    def call(method: str, path: str, key: str | None = None, body: Any = None) -> Any:
        before = len(seen)
        args = [method, f'{base}/{db}/{path}', key] + ([] if body is None else [body])
        result = browser.execute_async_script(
            'const done = arguments[arguments.length - 1];'
            'call(...Array.from(arguments).slice(0, -1)).then(done);', *args)
        assert len(seen) - before == 2, (method, path, result, seen[before:])
        preflight, actual = seen[before:]  # one preflight, then the call itself
        assert (preflight['method'], preflight['origin'], preflight['status']) == (
            'OPTIONS', 'null', '204'), preflight
        asked = preflight['headers'].lower().replace(' ', '').split(',')
        assert 'content-type' in asked and ('authorization' in asked) == bool(key)
        assert (actual['method'], actual['path'], actual['allow_origin']) == (
            method, f'/{db}/{path}', 'null')
        assert result['status'] == int(actual['status']), result
        return result

    key = call('POST', 'user/application/', body={'user': 'ada', 'application': 'timesheet'})
    key = key['body']
    validate(db, key)
    for form in FORMS:
        assert call('GET', f'{form}/employees', key)['body'] == [{'id': employee, 'name': 'Ada'}]
        works = call('GET', f'{form}/employee/{employee}/works', key)['body']
        assert [found['id'] for found in works] == [work]
        body = {'employee': str(employee), 'date': DAY, 'id': -1, 'duration': 3600,
                'work': work, 'description': 'from the extension', 'uuid': f'{form}-1',
                'dirty': True}
        line = call('POST', f'{form}/line', key, body)['body']
        assert line['uuid'] == f'{form}-1' and line['duration'] == 3600
        line = call('PUT', f'{form}/line/{line["id"]}', key, {**body, **line, 'duration': 60})
        assert line['body']['duration'] == 60
        lines = call('GET', f'{form}/employee/{employee}/lines/{DAY}', key)['body']
        assert lines == [line['body']]
        assert call('DELETE', f'{form}/line/{line["body"]["id"]}', key)['status'] == 204
        error = call('GET', f'{form}/employee/null/works', key)  # an unconfigured Chronos
        assert (error['status'], error['body']['field']) == (400, 'employee')
    revoked = call('DELETE', 'r/user/application/',
                   body={'user': 'ada', 'key': key, 'application': 'timesheet'})
    assert revoked['status'] == 204
    refused = call('GET', 'timesheet/employees', key)
    assert (refused['status'], refused['body']['status']) == (401, 401)  # readable
