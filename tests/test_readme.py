"""The README stays honest: every option is documented with its default, and the two
set-up commands it names exist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trylite.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / 'README.md').read_text(encoding='utf-8')


@pytest.mark.parametrize('section, key, default', [
    (option.section, option.key, option.default) for option in Settings.options()])
def test_every_option_documented_with_its_default(section, key, default):
    row = next((line for line in README.splitlines()
                if line.startswith(f'| `[{section}]` | `{key}` |')), None)
    assert row is not None, f'[{section}] {key} is missing from the README'
    if (section, key) != ('database', 'uri'):
        assert (f'`{default}`' if default else '(empty)') in row


@pytest.mark.parametrize('script', ['scripts/demo', 'scripts/test'])
def test_set_up_commands_exist(script):
    assert f'./{script}' in README
    assert os.access(ROOT / script, os.X_OK)


def test_ci_runs_the_readme_test_command():
    assert './scripts/test' in (ROOT / '.ci' / 'run').read_text(encoding='utf-8')
