"""The documentation stays honest: every option is in the README with its default, the two
set-up commands it names exist, and every test docs/security.md cites as proof exists."""

from __future__ import annotations

import ast
import os
import re
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


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith('test_')}


def test_security_doc_cites_existing_tests():
    text = (ROOT / 'docs' / 'security.md').read_text(encoding='utf-8')
    aliases = dict(re.findall(r'`(tests/[\w/]+\.py)`\s+is\s+`(\w+)`', text))
    files = {alias: path for path, alias in aliases.items()}
    cited = re.findall(r'`((?:tests/[\w/]+\.py|\w+))::(test_\w+)', text)
    assert len(cited) > 40
    for file, name in cited:
        path = ROOT / files.get(file, file)
        assert name in _tests_in(path), f'{file}::{name} is cited but does not exist'
