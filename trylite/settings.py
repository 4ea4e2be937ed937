"""The one settings object of trylite: frozen, typed, resolved once.

Settings come from three places, the later winning:

1. the defaults declared below (each with its meaning, listed in the README);
2. one INI file, named by ``trylite -c FILE`` or the ``TRYLITE_CONFIG`` environment variable;
3. environment variables ``TRYLITE_<SECTION>__<KEY>``, e.g. ``TRYLITE_DATABASE__URI``.

:meth:`Settings.load` reads and checks them all at once: an unknown option (in the file or the
environment) or a badly typed value is a :class:`~trylite.exceptions.ConfigError` naming it,
at start, never deep inside a request. Code reads settings by attribute::

    settings = current()
    settings.database.retry        # an int, checked
    settings.web.cors              # a tuple of origins

:func:`current` is the process-wide object (loaded from the environment on first use);
:func:`configure` replaces it — the command line does so at start, tests with their own
settings (``current().replace(web={'debug': True})``).
"""

from __future__ import annotations

import configparser
import dataclasses
import math
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, get_type_hints

from .exceptions import ConfigError

__all__ = ['Settings', 'configure', 'current', 'default_data_dir']


def default_data_dir() -> Path:
    """The ``trylite-data`` folder under the user's data directory (XDG on Unix)."""
    if sys.platform == 'win32':
        base = Path(os.environ.get('LOCALAPPDATA', Path.home() / 'AppData' / 'Local'))
    elif sys.platform == 'darwin':
        base = Path.home() / 'Library' / 'Application Support'
    else:
        base = Path(os.environ.get('XDG_DATA_HOME') or Path.home() / '.local' / 'share')
    return base / 'trylite-data'


def option(default: Any, meaning: str) -> Any:
    """A setting with its *default* and its *meaning* (shown in the README)."""
    return field(default=default, metadata={'meaning': meaning})


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    uri: str = option(
        f'sqlite:///{default_data_dir()}',
        'Where databases live: `sqlite:///DIR` (one file per database in DIR) or '
        '`postgresql+psycopg://USER:PASS@HOST:PORT/` (one PostgreSQL database per name).')
    retry: int = option(
        5, 'How many times a write transaction is re-run after a serialization failure, '
        'deadlock or busy database before answering 503.')
    pool_size: int = option(4, 'Connections kept open per database and process.')
    max_overflow: int = option(8, 'Extra connections opened under load, per database.')
    pool_timeout: float = option(
        10.0, 'Seconds to wait for a free connection (or for its turn to re-run a write '
        'transaction after a conflict) before answering 503.')
    connect_timeout: int = option(
        5, 'Seconds to wait when connecting to PostgreSQL before answering 503.')
    sqlite_busy_timeout: float = option(
        5.0, 'Seconds SQLite waits for another writer before the transaction is retried.')


@dataclass(frozen=True, slots=True)
class AppSettings:
    modules: tuple[str, ...] = option(
        (), 'Modules to import (routes and models), separated by spaces; `--module` adds more.')


@dataclass(frozen=True, slots=True)
class WebSettings:
    listen: str = option('127.0.0.1:8000', 'Address `trylite serve` binds to.')
    workers: int = option(2, 'Worker processes of `trylite serve`.')
    threads: int = option(4, 'Threads per worker of `trylite serve` (gthread workers).')
    timeout: int = option(
        30, 'Seconds a worker process may stay unresponsive before the master replaces it '
        '(gthread workers stay responsive while their threads serve long requests).')
    client_timeout: float = option(
        30.0, 'Seconds a client may stay silent in the middle of sending a request (headers '
        'or body) before its connection is closed, so stalled clients cannot hold worker '
        'threads for ever; 0 waits for ever.')
    cors: tuple[str, ...] = option(
        (), 'Foreign origins allowed to call the API, separated by spaces, commas or new '
        'lines (e.g. `https://app.example.com`). Same-origin requests are always allowed.')
    cors_headers: tuple[str, ...] = option(
        ('Authorization', 'Content-Type'),
        'Request headers allowed in CORS preflights (a preflight asking for another is '
        'refused with 403).')
    cors_max_age: int = option(600, 'Seconds browsers may cache a preflight answer.')
    num_proxies: int = option(
        0, 'Reverse proxies in front of trylite whose `X-Forwarded-*` headers are trusted. '
        'Set it only when every request goes through that many proxies: without a proxy, '
        'clients choose their own address with `X-Forwarded-For` and so escape throttling '
        '(trylite logs a warning when a request arrives without the header).')
    trusted_hosts: tuple[str, ...] = option(
        (), 'Host names clients may name in `Host`, separated by spaces or commas '
        '(`.example.com` also accepts its subdomains; ports are ignored). A request naming '
        'another host answers 400. Empty accepts any host: list your names in production.')
    debug: bool = option(
        False, 'Add the exception and traceback to 500 answers. Never in production.')
    dbfilter: str = option(
        '', 'For protocols served at the host root (Odoo, Frappe): a regular expression on '
        'the database names, where `%h` is the request\'s host name and `%d` its first '
        'label (e.g. `^%d$`); used when the request does not name its database. Empty: no '
        'filter.')
    list_databases: bool = option(
        False, 'Whether the protocols may list the databases (Odoo\'s `db.list`, '
        '`/web/database/list`).')


@dataclass(frozen=True, slots=True)
class RequestSettings:
    max_size: int = option(
        2097152, 'Largest request body in bytes, unless a route sets its own '
        '(`set_max_request_size`). Larger bodies get 413.')


@dataclass(frozen=True, slots=True)
class SessionSettings:
    timeout: int = option(
        3600, 'Seconds a login session lasts (preferences pages, Odoo web sessions).')


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    max_failures: int = option(
        10, 'Failures allowed within `window` before answering 429: wrong keys and failed '
        'key deletions per client address; failed preferences logins per address and per '
        'login from that address (separate counters).')
    max_requests: int = option(
        10, 'Key requests allowed within `window` per client address and per login before '
        'answering 429.')
    window: int = option(300, 'Seconds over which failures and key requests are counted.')


@dataclass(frozen=True, slots=True)
class UserApplicationSettings:
    max_pending: int = option(
        5, 'Requested (not yet validated) keys allowed per login and application; past it, '
        'new requests answer 429 until one is validated, cancelled, deleted or expires.')
    request_expiry: int = option(
        86400, 'Seconds a requested key waits for validation before it expires.')
    key_lifetime: int = option(0, 'Seconds a validated key lives; 0 means until revoked.')


@dataclass(frozen=True, slots=True)
class ApiSettings:
    max_limit: int = option(
        1000, 'Most records one search or list answers (a larger or missing limit is cut '
        'to this; never "0 means everything").')
    key_max_days: int = option(
        90, 'Longest life of a personal API key, in days (administrators may make keys that '
        'do not expire).')
    max_upload: int = option(
        10485760, 'Largest file, in bytes, the Frappe API\'s `upload_file` accepts (its '
        'multipart body may be 64 KiB more); larger uploads get 413.')
    upload_dir: str = option(
        '', 'Folder of the uploaded files, one sub-folder per database, outside any web root. '
        'Empty: `files` beside the SQLite files (`sqlite:///DIR` → `DIR/files`), else '
        '`files` in the user data folder (`~/.local/share/trylite-data/files`).')


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    timeout: float = option(
        5.0, 'Seconds an endpoint\'s snippet may run (its data-layer calls included) before '
        'its sandbox process is killed and the request answers 504.')
    memory: int = option(
        256, 'Mebibytes of memory an endpoint\'s snippet may allocate in its sandbox process; '
        'beyond, the snippet fails (500).')
    max_response: int = option(
        8388608, 'Largest answer, in bytes, an endpoint\'s snippet may send back; a larger one '
        'fails (500).')


class Option(NamedTuple):
    """One documented option: where it lives, its default as written in a file, its meaning."""

    section: str
    key: str
    default: str
    meaning: str


@dataclass(frozen=True, slots=True)
class Settings:
    """Every option, by section: ``settings.<section>.<key>``."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    app: AppSettings = field(default_factory=AppSettings)
    web: WebSettings = field(default_factory=WebSettings)
    request: RequestSettings = field(default_factory=RequestSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    user_application: UserApplicationSettings = field(default_factory=UserApplicationSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    #: The INI file the settings were read from, if any.
    path: str | None = None

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None,
             environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, then the INI file at *path*, then ``TRYLITE_<SECTION>__<KEY>`` variables
        of *environ* (default ``os.environ``); :class:`ConfigError` on any unknown option or
        bad value."""
        values: dict[str, dict[str, Any]] = {}
        if path is not None:
            for (section, key), text in _read_file(path).items():
                values.setdefault(section, {})[key] = text
        environ = os.environ if environ is None else environ
        for name, text in environ.items():
            section, key = _env_option(name)
            if section:
                values.setdefault(section, {})[key] = text
        settings = cls().replace(**values)
        return dataclasses.replace(settings, path=None if path is None else os.fspath(path))

    def replace(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with some options changed: ``replace(web={'cors': 'https://a.example'})``.

        Values may be typed or written as in a file; each is checked like a file's.
        """
        changed = {}
        for section, options in sections.items():
            current_section = self._section(section)
            kinds = _kinds(type(current_section))
            updates = {}
            for key, value in options.items():
                if key not in kinds:
                    raise ConfigError(f'unknown option [{section}] {key}')
                updates[key] = _convert(section, key, kinds[key], value)
            changed[section] = dataclasses.replace(current_section, **updates)
        return dataclasses.replace(self, **changed)

    def _section(self, section: str) -> Any:
        if section not in _SECTIONS:
            raise ConfigError(f'unknown section [{section}]')
        return getattr(self, section)

    def environ(self, changed: bool = False) -> dict[str, str]:
        """These settings as ``TRYLITE_<SECTION>__<KEY>`` variables (for a child process);
        only those that differ from the defaults if *changed*."""
        found = {}
        for section, key, default, _meaning in self.options():
            text = _text(getattr(getattr(self, section), key))
            if not changed or text != default:
                found[f'TRYLITE_{section.upper()}__{key.upper()}'] = text
        return found

    @classmethod
    def options(cls) -> Iterator[Option]:
        """Every option with its default (as written in a file) and meaning, in order."""
        defaults = cls()
        for section in _SECTIONS:
            section_settings = getattr(defaults, section)
            for item in dataclasses.fields(section_settings):
                yield Option(section, item.name, _text(getattr(section_settings, item.name)),
                             item.metadata['meaning'])


_SECTIONS = tuple(f.name for f in dataclasses.fields(Settings) if f.name != 'path')
_TRUE = {'1', 'true', 'yes', 'on'}
_FALSE = {'0', 'false', 'no', 'off', ''}


def _kinds(section_class: type) -> dict[str, Any]:
    return get_type_hints(section_class)


def _convert(section: str, key: str, kind: Any, value: Any) -> Any:
    """*value* (typed, or text as in a file) as *kind*; :class:`ConfigError` naming the
    option otherwise."""
    where = f'[{section}] {key}'
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ConfigError(f'{where} must be true or false, not {value!r}')
    if kind in (int, float):
        noun = 'a whole number' if kind is int else 'a number'
        try:
            number = kind(value) if not isinstance(value, bool) else -1
        except (TypeError, ValueError):
            number = -1
        if not 0 <= number < math.inf:
            raise ConfigError(f'{where} must be {noun} (0 or more), not {value!r}')
        return number
    if kind == tuple[str, ...]:
        if isinstance(value, str):
            return tuple(value.replace(',', ' ').split())
        return tuple(str(item) for item in value)
    return str(value)


def _text(value: Any) -> str:
    """A default as it would be written in a file."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ', '.join(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _env_option(name: str) -> tuple[str, str]:
    """``(section, key)`` of a ``TRYLITE_<SECTION>__<KEY>`` variable, else ``('', '')``."""
    if not name.startswith('TRYLITE_') or '__' not in name:
        return '', ''
    section, _, key = name[len('TRYLITE_'):].partition('__')
    section, key = section.lower(), key.lower()
    if section not in _SECTIONS:
        return '', ''  # another program's variable that happens to look like ours
    return section, key


def _read_file(path: str | os.PathLike[str]) -> dict[tuple[str, str], str]:
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
    values = {}
    for section in parser.sections():
        for key, value in parser.items(section):
            if section not in _SECTIONS or key not in _kinds(type(getattr(Settings(), section))):
                raise ConfigError(f'unknown option [{section}] {key} in {path}')
            values[section, key] = value
    return values


_current: Settings | None = None
_lock = threading.Lock()


def current() -> Settings:
    """The process-wide settings (read from ``TRYLITE_CONFIG`` and the environment on first
    use)."""
    settings = _current
    if settings is None:
        with _lock:
            if _current is None:
                configure(Settings.load(os.environ.get('TRYLITE_CONFIG') or None))
            settings = _current
    assert settings is not None
    return settings


def configure(settings: Settings | None) -> None:
    """Make *settings* the process-wide settings (``None``: read them again on next use)."""
    global _current
    _current = settings
