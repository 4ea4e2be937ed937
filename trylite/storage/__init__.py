"""The storage layer: where databases live, their engines, transactions and typed errors.

``[database] uri`` picks a backend:

* ``sqlite:///DIR`` — :class:`~trylite.storage.sqlite.SQLiteBackend`, one file
  ``DIR/NAME.sqlite`` per database;
* ``postgresql+psycopg://USER:PASS@HOST:PORT/`` —
  :class:`~trylite.storage.postgresql.PostgreSQLBackend`, one PostgreSQL database per name.

This layer imports nothing of trylite above :mod:`trylite.settings` and
:mod:`trylite.exceptions`: every backend-specific statement of trylite is here.
"""

from __future__ import annotations

import threading

from ..exceptions import ConfigError
from ..settings import DatabaseSettings, current
from .backend import Backend, marker, valid_name
from .postgresql import PostgreSQLBackend
from .sqlite import SQLiteBackend

__all__ = ['Backend', 'PostgreSQLBackend', 'SQLiteBackend', 'backend', 'marker', 'reset',
           'valid_name']

_backends: dict[DatabaseSettings, Backend] = {}
_backends_lock = threading.Lock()


def backend() -> Backend:
    """The backend of the current ``[database]`` settings (one object per settings and
    process)."""
    options = current().database
    try:
        return _backends[options]
    except KeyError:
        pass
    uri = options.uri
    if uri.startswith('sqlite:///'):
        new: Backend = SQLiteBackend(uri, options)
    elif uri.startswith('postgresql'):
        new = PostgreSQLBackend(uri, options)
    else:
        raise ConfigError(
            '[database] uri must be sqlite:///DIR or postgresql+psycopg://USER@HOST:PORT/')
    with _backends_lock:
        return _backends.setdefault(options, new)


def reset() -> None:
    """Close every pool of this process (after a fork, or at the end of tests)."""
    with _backends_lock:
        for item in _backends.values():
            item.close()
        _backends.clear()
