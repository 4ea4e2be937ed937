"""The one configuration object of trylite.

Settings come from three places, the later winning:

1. the defaults in :data:`OPTIONS` (each with its meaning, listed in the README);
2. one INI file, named by ``trylite -c FILE`` or the ``TRYLITE_CONFIG`` environment variable;
3. environment variables ``TRYLITE_<SECTION>__<KEY>``, e.g. ``TRYLITE_DATABASE__URI``.

Values are read through typed getters (:meth:`Config.get`, :meth:`Config.getint`, …) so that
every module agrees on types, and a bad value is a :class:`~trylite.exceptions.ConfigError`
naming the option instead of a traceback deep inside a request.
"""

from __future__ import annotations

import configparser
import functools
import os
import sys
from pathlib import Path
from typing import TypeVar

from .exceptions import ConfigError


def default_data_dir() -> Path:
    """The ``trylite-data`` folder under the user's data directory (XDG on Unix)."""
    if sys.platform == 'win32':
        base = Path(os.environ.get('LOCALAPPDATA', Path.home() / 'AppData' / 'Local'))
    elif sys.platform == 'darwin':
        base = Path.home() / 'Library' / 'Application Support'
    else:
        base = Path(os.environ.get('XDG_DATA_HOME') or Path.home() / '.local' / 'share')
    return base / 'trylite-data'


#: Every option: ``(section, key) -> (default, meaning)``. The README's table is this dict.
OPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ('database', 'uri'): (
        f'sqlite:///{default_data_dir()}',
        'Where databases live: `sqlite:///DIR` (one file per database in DIR) or '
        '`postgresql+psycopg://USER:PASS@HOST:PORT/` (one PostgreSQL database per name).'),
    ('database', 'retry'): (
        '5', 'How many times a write transaction is re-run after a serialization failure, '
        'deadlock or busy database before answering 503.'),
    ('database', 'pool_size'): ('4', 'Connections kept open per database and process.'),
    ('database', 'max_overflow'): ('8', 'Extra connections opened under load, per database.'),
    ('database', 'pool_timeout'): (
        '10', 'Seconds to wait for a free connection (or for its turn to re-run a write '
        'transaction after a conflict) before answering 503.'),
    ('database', 'connect_timeout'): (
        '5', 'Seconds to wait when connecting to PostgreSQL before answering 503.'),
    ('database', 'sqlite_busy_timeout'): (
        '5', 'Seconds SQLite waits for another writer before the transaction is retried.'),
    ('app', 'modules'): (
        '', 'Modules to import (routes and models), separated by spaces; `--module` adds more.'),
    ('web', 'listen'): ('127.0.0.1:8000', 'Address `trylite serve` binds to.'),
    ('web', 'workers'): ('2', 'Worker processes of `trylite serve`.'),
    ('web', 'threads'): ('4', 'Threads per worker of `trylite serve` (gthread workers).'),
    ('web', 'timeout'): (
        '30', 'Seconds a worker process may stay unresponsive before the master replaces it '
        '(gthread workers stay responsive while their threads serve long requests).'),
    ('web', 'client_timeout'): (
        '30', 'Seconds a client may stay silent in the middle of sending a request (headers '
        'or body) before its connection is closed, so stalled clients cannot hold worker '
        'threads for ever; 0 waits for ever.'),
    ('web', 'cors'): (
        '', 'Foreign origins allowed to call the API, separated by spaces, commas or new lines '
        '(e.g. `https://app.example.com`). Same-origin requests are always allowed.'),
    ('web', 'cors_headers'): (
        'Authorization, Content-Type', 'Request headers allowed in CORS preflights.'),
    ('web', 'cors_max_age'): ('600', 'Seconds browsers may cache a preflight answer.'),
    ('web', 'num_proxies'): (
        '0', 'Reverse proxies in front of trylite whose `X-Forwarded-*` headers are trusted.'),
    ('web', 'debug'): (
        'false', 'Add the exception and traceback to 500 answers. Never in production.'),
    ('request', 'max_size'): (
        '2097152', 'Largest request body in bytes, unless a route sets its own '
        '(`set_max_request_size`). Larger bodies get 413.'),
    ('session', 'timeout'): ('3600', 'Seconds a preferences login lasts.'),
    ('throttle', 'max_failures'): (
        '10', 'Failures (bad keys, failed key deletions, failed logins) allowed per client '
        'address and per login within `window` before answering 429.'),
    ('throttle', 'window'): ('300', 'Seconds over which failures are counted.'),
    ('user_application', 'max_pending'): (
        '5', 'Requested (not yet validated) keys kept per person and application; '
        'the oldest is dropped.'),
    ('user_application', 'request_expiry'): (
        '86400', 'Seconds a requested key waits for validation before it expires.'),
    ('user_application', 'key_lifetime'): (
        '0', 'Seconds a validated key lives; 0 means until revoked.'),
}

N = TypeVar('N', int, float)

_TRUE = {'1', 'true', 'yes', 'on'}
_FALSE = {'0', 'false', 'no', 'off', ''}
#: Options read with :meth:`Config.getfloat` (other options with a numeric default are read
#: with :meth:`Config.getint`): :meth:`Config.check` validates each with its getter.
_FLOATS = {('database', 'pool_timeout'), ('database', 'sqlite_busy_timeout'),
           ('web', 'client_timeout')}


@functools.cache
def _env_name(section: str, key: str) -> str:
    return f'TRYLITE_{section.upper()}__{key.upper()}'


class Config:
    """Settings, read from defaults, one INI file and the environment (in that order)."""

    def __init__(self) -> None:
        self._file: dict[tuple[str, str], str] = {}
        self.path: str | None = None
        self._pending = True  # TRYLITE_CONFIG is read on first use, not at import

    def load(self, path: str | os.PathLike[str] | None) -> None:
        """Read the INI file at *path* (``None``: forget any file read before).

        :class:`ConfigError` if the file cannot be read, is not INI, or names an option that
        does not exist (a typo would otherwise be silently ignored).
        """
        self._file = {}
        self.path = None
        self._pending = False
        if path is None:
            return
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with open(path, encoding='utf-8') as fp:
                parser.read_file(fp)
        except OSError as exc:
            raise ConfigError(f'cannot read configuration file {path}: {exc.strerror}') from None
        except configparser.Error as exc:  # its message spans lines: keep the first
            line = getattr(exc, 'lineno', None) or (getattr(exc, 'errors', None) or [[0]])[0][0]
            where = f', line {line}' if line else ''
            raise ConfigError(f'invalid configuration file {path}{where}: '
                              f'{exc.message.splitlines()[0]}') from None
        for section in parser.sections():
            for key, value in parser.items(section):
                if (section, key) not in OPTIONS:
                    raise ConfigError(f'unknown option [{section}] {key} in {path}')
                self._file[section, key] = value
        self.path = os.fspath(path)

    def check(self) -> None:
        """Raise :class:`ConfigError` for the first option whose value has the wrong type."""
        for (section, key), (default, _meaning) in OPTIONS.items():
            if (section, key) in _FLOATS:
                self.getfloat(section, key)
            elif default.isdigit():
                self.getint(section, key)
            elif default in ('true', 'false'):
                self.getboolean(section, key)

    def get(self, section: str, key: str) -> str:
        """The option as a string: environment, else file, else default."""
        if self._pending:
            self.load(os.environ.get('TRYLITE_CONFIG') or None)
        env = os.environ.get(_env_name(section, key))
        if env is not None:
            return env
        if (section, key) in self._file:
            return self._file[section, key]
        try:
            return OPTIONS[section, key][0]
        except KeyError:
            raise ConfigError(f'unknown option [{section}] {key}') from None

    def getint(self, section: str, key: str) -> int:
        return self._number(section, key, int, 'a whole number')

    def getfloat(self, section: str, key: str) -> float:
        return self._number(section, key, float, 'a number')

    def _number(self, section: str, key: str, kind: type[N], noun: str) -> N:
        """The option as a finite *kind* of 0 or more; :class:`ConfigError` otherwise."""
        value = self.get(section, key)
        try:
            number = kind(value)
        except ValueError:
            number = kind(-1)
        if not 0 <= number < float('inf'):
            raise ConfigError(f'[{section}] {key} must be {noun} (0 or more), not {value!r}')
        return number

    def getboolean(self, section: str, key: str) -> bool:
        value = self.get(section, key).strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f'[{section}] {key} must be true or false, not {value!r}')

    def getlist(self, section: str, key: str) -> list[str]:
        """Items separated by commas, spaces or new lines."""
        return self.get(section, key).replace(',', ' ').split()


#: The process-wide configuration.
config = Config()
