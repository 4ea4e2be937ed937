"""Turning what handlers return into responses.

A handler returns a Werkzeug :class:`~werkzeug.wrappers.Response` (sent as is), ``str``
(``text/plain; charset=utf-8``), ``bytes`` (``application/octet-stream``), or anything
:func:`trylite.json.dumps` encodes (``application/json``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Response

from .. import json as json_module

__all__ = ['Response', 'json_response', 'make_response']


def json_response(value: Any, status: int = 200,
                  headers: Iterable[tuple[str, str]] | None = None) -> Response:
    """A response whose body is *value* in JSON."""
    return Response(json_module.dumps(value), status, headers, content_type='application/json')


def make_response(rv: Any) -> Response:
    """A handler's return value as a response (see the module doc)."""
    if isinstance(rv, Response):
        return rv
    if isinstance(rv, str):
        return Response(rv, content_type='text/plain; charset=utf-8')
    if isinstance(rv, bytes | bytearray):
        return Response(bytes(rv), content_type='application/octet-stream')
    return json_response(rv)
