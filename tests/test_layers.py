"""The package's layers: imports go one way, and nothing imports in a circle.

Every ``import`` of every module of ``trylite`` is read with :mod:`ast` — inside functions too;
only imports under ``if TYPE_CHECKING:`` are left out. A module may import from its own layer
and the layers below it, never from a layer above; the auth and web layers stand side by side
and do not import each other. ``docs/architecture.md`` draws the same layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / 'trylite'

#: Lowest first: (layer, module-name prefixes). A name matches the longest prefix listed.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ('base', ('trylite', 'trylite.exceptions', 'trylite.settings', 'trylite.json',
              'trylite.converters', 'trylite.formatting')),
    ('storage', ('trylite.storage',)),
    ('orm', ('trylite.pool', 'trylite.transaction')),
    ('data', ('trylite.model', 'trylite.data')),
    ('auth', ('trylite.auth',)),
    ('web', ('trylite.web',)),
    ('wrappers', ('trylite.wrappers',)),
    ('features', ('trylite.user_application', 'trylite.preferences', 'trylite.protocols',
                  'trylite.openapi', 'trylite.endpoints')),
    ('app', ('trylite.wsgi',)),
    ('entry', ('trylite.server', 'trylite.cli', 'trylite.__main__')),
]
#: Layers of the same height, which must not import each other.
SIDE_BY_SIDE = {frozenset({'auth', 'web'}), frozenset({'data', 'web'})}
RANK = {'base': 0, 'storage': 1, 'orm': 2, 'data': 3, 'auth': 4, 'web': 4, 'wrappers': 5,
        'features': 6, 'app': 7, 'entry': 8}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob('*.py'):
        parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
        name = '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)
        found[name] = path
    return found


MODULES = modules()


def layer_of(name: str) -> str:
    best, best_length = None, -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + '.')) and len(prefix) > best_length:
                best, best_length = layer, len(prefix)
    assert best is not None, f'{name} belongs to no layer: add it to LAYERS'
    return best


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and 'TYPE_CHECKING' in ast.unparse(node.test):
            for child in node.body:
                lines.update(n.lineno for n in ast.walk(child) if hasattr(n, 'lineno'))
    return lines


def imports_of(name: str, source: str | None = None, is_package: bool | None = None
               ) -> set[str]:
    """The trylite modules *name* imports (every import statement, inside functions too)."""
    if source is None:
        source = MODULES[name].read_text(encoding='utf-8')
        is_package = MODULES[name].name == '__init__.py'
    tree = ast.parse(source)
    skip = _type_checking_lines(tree)
    package = name if is_package else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(tree):
        if getattr(node, 'lineno', None) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join([*parts, node.module] if node.module else parts)
            targets = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in MODULES else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition('.')[0]
            if target and target != name and target != 'trylite':
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def violations(name: str, targets: set[str]) -> list[str]:
    mine = layer_of(name)
    found = []
    for target in sorted(targets):
        theirs = layer_of(target)
        if RANK[theirs] > RANK[mine] or frozenset({mine, theirs}) in SIDE_BY_SIDE:
            found.append(f'{name} ({mine}) imports {target} ({theirs})')
    return found


@pytest.mark.parametrize('name', sorted(MODULES))
def test_imports_go_down(name):
    assert violations(name, GRAPH[name]) == []


def test_no_cycles():
    """Tarjan's strongly connected components: none larger than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            visit(name)
    assert cycles == []


@pytest.mark.parametrize('source, found', [
    ('def f():\n    from ..wsgi import app\n', ['trylite.wsgi']),  # late, relative
    ('import trylite.web.app as a\n', ['trylite.web.app']),  # side by side
    ('from trylite import preferences\n', ['trylite.preferences']),
    ('from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..wsgi import app\n', []),
    ('from ..exceptions import UserError\n', []),  # down is fine
])
def test_the_check_catches_upward_imports(source, found):
    """As if ``trylite/auth/fake.py`` held *source*."""
    targets = imports_of('trylite.auth.fake', source, is_package=False)
    assert [v.split(' imports ')[1].split(' ')[0]
            for v in violations('trylite.auth.fake', targets)] == found
