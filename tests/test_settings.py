"""trylite.settings: defaults, one INI file, environment overrides, checked once, frozen."""

from __future__ import annotations

import dataclasses

import pytest

from trylite.exceptions import ConfigError
from trylite.settings import Settings, configure, current


@pytest.fixture
def ini(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / 'trylite.ini'
        path.write_text(text)
        return str(path)
    return write


def test_defaults():
    settings = Settings.load(environ={})
    assert settings.request.max_size == 2 * 1024 * 1024
    assert settings.database.retry == 5
    assert settings.web.cors == ()
    assert settings.web.cors_headers == ('Authorization', 'Content-Type')
    assert settings.web.debug is False
    assert settings.database.pool_timeout == 10.0
    assert settings.database.uri.startswith('sqlite:///')
    assert settings.database.uri.endswith('trylite-data')
    assert settings.path is None


def test_every_option_documented_and_typed():
    defaults = Settings.load(environ={})
    for section, key, default, meaning in Settings.options():
        assert section and key and meaning.endswith('.'), (section, key)
        value = getattr(getattr(defaults, section), key)
        assert Settings.load(environ={}).replace(**{section: {key: default}}) == defaults
        assert isinstance(value, bool | int | float | str | tuple), (section, key)


def test_frozen_and_typos_fail():
    settings = Settings.load(environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.web.debug = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.web.cros  # type: ignore[attr-defined]  # noqa: B018


def test_file_then_environment(ini):
    path = ini('[web]\ncors = https://a.example\n    https://b.example\n'
               '[request]\nmax_size = 10\n')
    settings = Settings.load(path, environ={})
    assert settings.web.cors == ('https://a.example', 'https://b.example')
    assert settings.request.max_size == 10
    assert settings.path == path
    assert Settings.load(path, environ={'TRYLITE_REQUEST__MAX_SIZE': '20'}).request.max_size == 20


def test_other_programs_variables_are_ignored():
    assert Settings.load(environ={'TRYLITE_TEST_POSTGRESQL_URI': 'x', 'TRYLITE_CONFIG': 'y',
                                  'TRYLITE_FOO__BAR': 'z'}) == Settings.load(environ={})


def test_replace_checks_and_converts():
    settings = Settings.load(environ={}).replace(web={'cors': 'https://a.example, https://b',
                                                      'debug': 'yes'},
                                                 database={'retry': 2})
    assert settings.web.cors == ('https://a.example', 'https://b')
    assert settings.web.debug is True
    assert settings.database.retry == 2
    with pytest.raises(ConfigError, match=r'unknown option \[web\] nope'):
        settings.replace(web={'nope': 1})
    with pytest.raises(ConfigError, match=r'unknown section \[nope\]'):
        settings.replace(nope={'x': 1})


def test_environ_round_trip():
    settings = Settings.load(environ={}).replace(web={'cors': ('https://a.example',)},
                                                 database={'pool_timeout': 2.5})
    assert Settings.load(environ=settings.environ()) == settings


def test_current_reads_trylite_config_on_first_use(ini, monkeypatch):
    before = current()
    monkeypatch.setenv('TRYLITE_CONFIG', ini('[database]\nretry = 9\n'))
    configure(None)
    try:
        assert current().database.retry == 9
    finally:
        configure(before)


@pytest.mark.parametrize('text, message', [
    ('[database]\nretry = lots\n', r'\[database\] retry must be a whole number'),
    ('[database]\nretry = -1\n', r'\[database\] retry must be a whole number'),
    ('[database]\npool_timeout = nan\n', r'\[database\] pool_timeout must be a number'),
    ('[web]\ndebug = maybe\n', r'\[web\] debug must be true or false'),
    ('[web]\ncros = x\n', r'unknown option \[web\] cros'),
    ('[nope]\nx = 1\n', r'unknown option \[nope\] x'),
    ('no section\n', 'invalid configuration file'),
])
def test_bad_files_name_the_option(ini, text, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(ini(text), environ={})


def test_bad_environment_names_the_option():
    with pytest.raises(ConfigError, match=r'\[web\] debug must be true or false'):
        Settings.load(environ={'TRYLITE_WEB__DEBUG': 'perhaps'})
    with pytest.raises(ConfigError, match=r'unknown option \[web\] cros'):
        Settings.load(environ={'TRYLITE_WEB__CROS': 'x'})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match='cannot read configuration file'):
        Settings.load(tmp_path / 'missing.ini', environ={})
