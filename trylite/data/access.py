"""Access rights, enforced by the data layer for every caller (never by each protocol).

* **Model access** (``ir.model.access``): a row gives a group — or everyone, when it names no
  group — the right to read, write, create and/or delete a model's records. A model without a
  row is reachable by administrators only.
* **Record rules** (``ir.rule``): a domain limiting the records of a model for a group (or for
  everyone) and some operations. Rules without a group all apply; of the rules with groups,
  a person meets those of their own groups, any of which may let a record through (Odoo's
  semantics). A rule's domain may name the current person as ``user.id`` (or
  ``user.login``): ``[('create_uid', '=', user.id)]``.
* **Field groups**: a field whose column ``info`` names ``groups`` is readable, searchable and
  writable by members of those groups only; a ``secret`` field (password and token hashes) by
  nobody, administrators included.

Members of the ``admin`` group, and the system (user 0, code running outside any request),
have every right but the secret fields. A refusal is an :class:`~trylite.exceptions.AccessError`
naming the model and operation, never the rows.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, or_

from ..exceptions import AccessError, UserError
from .domains import compile_domain
from .fields import Field
from .info import ModelInfo

if TYPE_CHECKING:
    from .env import Env

__all__ = ['ADMIN_GROUP', 'OPERATIONS', 'VERBS', 'check_field', 'check_model',
           'parse_rule_domain', 'rule_filter']

ADMIN_GROUP = 'admin'
OPERATIONS = ('read', 'write', 'create', 'unlink')
#: How an operation is named to a person.
VERBS = {'read': 'read', 'write': 'change', 'create': 'create', 'unlink': 'delete'}


def check_model(env: Env, info: ModelInfo, operation: str) -> None:
    """Raise :class:`AccessError` unless the person may *operation* records of *info*."""
    if env.is_admin:
        return
    for access in env.registry.access.get(info.name, ()):
        if getattr(access, operation) and (access.group is None or access.group in env.groups):
            return
    raise AccessError(f"You may not {VERBS[operation]} records of '{info.name}'.")


def check_field(env: Env, info: ModelInfo, field: Field, operation: str) -> None:
    """Raise :class:`AccessError` unless the person may *operation* the field."""
    if not readable(env, field):
        verb = 'read' if operation in ('read', 'search') else VERBS[operation]
        raise AccessError(f"You may not {verb} the field '{field.name}' of '{info.name}'.")


def readable(env: Env, field: Field) -> bool:
    """Whether the person may read *field* (listed by ``fields_get``, read by default)."""
    return not field.secret and (not field.groups or env.is_admin
                                 or bool(field.groups & env.groups))


def rule_filter(env: Env, info: ModelInfo, operation: str) -> ColumnElement[bool] | None:
    """The records of *info* the person may *operation*, as a filter (``None``: all)."""
    if env.is_admin:
        return None
    rules = [r for r in env.registry.rules.get(info.name, ()) if getattr(r, operation)]
    if not rules:
        return None
    if info.name in env.compiling_rules:  # a rule reaching back to its own model
        raise UserError('Invalid record rule',
                        f"The record rules of '{info.name}' refer to themselves.")
    env.compiling_rules.add(info.name)
    try:
        conditions = [compile_domain(parse_rule_domain(r.domain, env), info, env)
                      for r in rules if r.group is None]
        mine = [compile_domain(parse_rule_domain(r.domain, env), info, env)
                for r in rules if r.group is not None and r.group in env.groups]
    finally:
        env.compiling_rules.discard(info.name)
    if mine:
        conditions.append(or_(*mine))
    return and_(*conditions) if conditions else None


def parse_rule_domain(text: str, env: Env) -> list[Any]:
    """A rule's domain, written as JSON or as an Odoo domain literal where ``user.id`` and
    ``user.login`` stand for the current person — read by a safe parser, never evaluated."""
    try:
        tree = ast.parse(text.strip() or '[]', mode='eval')
    except SyntaxError:
        raise UserError('Invalid record rule', 'A rule domain must be a list.') from None
    return _literal(tree.body, env)  # type: ignore[no-any-return]


def _literal(node: ast.AST, env: Env) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(item, env) for item in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, int | float):
        return -node.operand.value
    if isinstance(node, ast.Name) and node.id in ('true', 'false', 'null'):  # JSON spelling
        return {'true': True, 'false': False, 'null': None}[node.id]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == 'user' and node.attr in ('id', 'login'):
        return env.user if node.attr == 'id' else env.login
    raise UserError('Invalid record rule',
                    'A rule domain holds lists, constants, user.id and user.login only.')
