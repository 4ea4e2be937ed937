"""trylite.config: defaults, one INI file, environment overrides, typed getters."""

from __future__ import annotations

import pytest

from trylite.config import OPTIONS, Config
from trylite.exceptions import ConfigError


@pytest.fixture
def ini(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / 'trylite.ini'
        path.write_text(text)
        return str(path)
    return write


def test_defaults():
    config = Config()
    config.load(None)
    assert config.getint('request', 'max_size') == 2 * 1024 * 1024
    assert config.getint('database', 'retry') == 5
    assert config.getlist('web', 'cors') == []
    assert config.getlist('web', 'cors_headers') == ['Authorization', 'Content-Type']
    assert config.getboolean('web', 'debug') is False
    assert config.get('database', 'uri').startswith('sqlite:///')
    assert config.get('database', 'uri').endswith('trylite-data')


def test_every_option_documented_and_typed():
    config = Config()
    config.load(None)
    config.check()
    for (section, key), (default, meaning) in OPTIONS.items():
        assert section and key and meaning.endswith('.'), (section, key)
        assert config.get(section, key) == default


def test_file_then_environment(ini, monkeypatch):
    config = Config()
    config.load(ini('[web]\ncors = https://a.example\n    https://b.example\n'
                    '[request]\nmax_size = 10\n'))
    assert config.getlist('web', 'cors') == ['https://a.example', 'https://b.example']
    assert config.getint('request', 'max_size') == 10
    monkeypatch.setenv('TRYLITE_REQUEST__MAX_SIZE', '20')
    assert config.getint('request', 'max_size') == 20


def test_trylite_config_read_on_first_use(ini, monkeypatch):
    monkeypatch.setenv('TRYLITE_CONFIG', ini('[database]\nretry = 9\n'))
    assert Config().getint('database', 'retry') == 9


@pytest.mark.parametrize('text, message', [
    ('[database]\nretry = lots\n', r'\[database\] retry must be a whole number'),
    ('[database]\nretry = -1\n', r'\[database\] retry must be a whole number'),
    ('[database]\npool_timeout = nan\n', r'\[database\] pool_timeout must be a number'),
    ('[web]\ndebug = maybe\n', r'\[web\] debug must be true or false'),
])
def test_bad_values_name_the_option(ini, text, message):
    config = Config()
    config.load(ini(text))
    with pytest.raises(ConfigError, match=message):
        config.check()


@pytest.mark.parametrize('text, message', [
    ('[web]\ncros = x\n', r'unknown option \[web\] cros'),
    ('no section\n', 'invalid configuration file'),
])
def test_bad_files(ini, text, message):
    with pytest.raises(ConfigError, match=message):
        Config().load(ini(text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match='cannot read configuration file'):
        Config().load(tmp_path / 'missing.ini')


def test_unknown_option():
    with pytest.raises(ConfigError, match=r'unknown option \[web\] nope'):
        Config().get('web', 'nope')
