"""In-process HTTP for the tests: werkzeug's test client, no socket and no server thread.

``make_client()`` is what the ``client`` fixture gives: a :class:`werkzeug.test.Client` of
``trylite.wsgi.app`` that keeps cookies (like a browser, or a ``requests.Session``). Use its API
directly: ``client.get(path, headers=..., json=..., data=...)``, ``response.status_code``,
``response.json`` (a property), ``response.headers``, ``response.get_data()``, ``response.text``.

Differences from ``requests`` to keep in mind:

* redirects are not followed unless ``follow_redirects=True``;
* with cookies kept, the client writes the ``Cookie`` header from its own jar (a ``Cookie`` in
  ``headers=`` is dropped): use ``client.set_cookie(name, value, path=...)``;
* a ``Secure`` cookie is sent back over plain HTTP too;
* the request comes from ``127.0.0.1`` (as from a local server; werkzeug alone would leave
  ``REMOTE_ADDR`` unset), to ``http://localhost``; ``make_client(address=...)`` makes a
  client elsewhere, and ``environ_base={'REMOTE_ADDR': ...}`` or
  ``base_url='https://localhost'`` vary one request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import requests
from werkzeug.test import Client, TestResponse

from trylite.wsgi import app

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def from_address(application: WSGIApp, address: str = '127.0.0.1') -> WSGIApp:
    """*application*, called as a server calls it for a client at *address* (this machine by
    default): ``REMOTE_ADDR`` is *address* unless the request sets it."""
    def local(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ.setdefault('REMOTE_ADDR', address)
        return application(environ, start_response)
    return local


def make_client(application: WSGIApp = app, address: str = '127.0.0.1') -> Client:
    """A test client of *application* (default ``trylite.wsgi.app``) keeping cookies, whose
    requests come from *address*."""
    return Client(from_address(application, address))


def json_of(response: TestResponse | requests.Response) -> Any:
    """The JSON body of an in-process answer or of one over real HTTP (``requests``), for
    assertions shared by both kinds of tests."""
    return response.json() if isinstance(response, requests.Response) else response.json


def assert_json_error(response: TestResponse | requests.Response, status: int) -> dict[str, Any]:
    """The JSON error body: integer status, string message, nothing from Python (of an
    in-process answer, or of one over real HTTP)."""
    assert response.status_code == status, response.text
    assert response.headers['Content-Type'] == 'application/json'
    body = json_of(response)
    assert body['status'] == status
    assert isinstance(body['message'], str) and body['message']
    for leak in ('Traceback', 'SELECT', 'secret', 'Error(', 'File "'):
        assert leak not in response.text
    return body
