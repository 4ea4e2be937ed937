"""The one JSON encoder and decoder of trylite.

Every JSON body trylite writes goes through :func:`dumps`: compact separators, UTF-8, and these
types beyond JSON's own:

=====================  ================================================================
Python                 JSON
=====================  ================================================================
``datetime.datetime``  ISO 8601 string, e.g. ``"2026-11-22T12:50:36+00:00"``
``datetime.date``      ISO 8601 string, e.g. ``"2026-11-22"``
``datetime.time``      ISO 8601 string, e.g. ``"12:50:36"``
``decimal.Decimal``    string, so no precision is lost: ``"12.30"``
``bytes``              standard base64 string
``set``, ``tuple``     array
=====================  ================================================================

:func:`loads` turns every malformed input (invalid UTF-8, too deep nesting, numbers too long
to convert) into :class:`ValueError`, the one exception callers have to expect.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from typing import Any

__all__ = ['dumps', 'loads']


def _default(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode('ascii')
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f'{type(value).__name__} is not JSON serializable')


_encoder = json.JSONEncoder(
    separators=(',', ':'), ensure_ascii=False, allow_nan=False, default=_default)


def dumps(value: Any) -> str:
    """Encode *value* as compact JSON text."""
    return _encoder.encode(value)


def loads(data: str | bytes) -> Any:
    """Decode JSON text; any malformed input raises :class:`ValueError`."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError('JSON nested too deeply') from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f'{name} is not valid JSON')
