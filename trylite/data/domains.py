"""Domains: Odoo's and Tryton's search filters, compiled to SQLAlchemy expressions.

A domain is a list of conditions ``(field, operator, value)`` in prefix notation with the
operators ``'&'`` (and, implicit between conditions), ``'|'`` (or) and ``'!'`` (not)::

    ['|', ('name', 'ilike', 'dev'), '&', ('active', '=', True), ('country_id.code', '=', 'BE')]

Operators: ``= != < > <= >= in not in like ilike not like not ilike =like =ilike child_of
parent_of``. ``=``/``!=`` with ``False`` or ``None`` mean "is (not) set"; ``like`` and
``ilike`` match anywhere in the text (``%value%``), ``=like``/``=ilike`` take the pattern as
given. A field may be a dotted path through relations (``country_id.code``); a relational field
compared with text compares its records' display names. ``child_of``/``parent_of`` follow the
model's parent field.

Everything is compiled to expressions with bound values — never SQL text. A malformed domain,
an unknown field or operator, a value of the wrong kind or a domain too large
(:data:`MAX_TERMS` conditions, :data:`MAX_VALUES` values in one list, :data:`MAX_DEPTH` levels)
is a :class:`~trylite.exceptions.UserError` naming what is wrong.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true

from ..exceptions import UserError
from .fields import MAX_INTEGER, Field, parse_date, parse_datetime
from .info import ModelInfo

__all__ = ['MAX_DEPTH', 'MAX_TERMS', 'MAX_VALUES', 'OPERATORS', 'Resolver', 'compile_domain',
           'normalize']

OPERATORS = frozenset({'=', '!=', '<', '>', '<=', '>=', 'in', 'not in', 'like', 'ilike',
                       'not like', 'not ilike', '=like', '=ilike', 'child_of', 'parent_of'})
LOGICAL = {'&': 2, '|': 2, '!': 1}
#: Conditions and operators in one domain, at most.
MAX_TERMS = 1000
#: Values in one ``in`` list, at most.
MAX_VALUES = 10_000
#: Levels of nested logical operators, at most (a flat series of ``&`` or ``|`` is one).
MAX_DEPTH = 64
_NEGATIVE = {'!=': '=', 'not in': 'in', 'not like': 'like', 'not ilike': 'ilike'}


class Resolver(Protocol):
    """What compiling needs from the models around it."""

    def model(self, name: str) -> ModelInfo:
        """The model *name* (``UserError`` if unknown)."""

    def check_searchable(self, info: ModelInfo, field: Field) -> None:
        """Raise if the current user may not filter on *field*."""

    def visible(self, info: ModelInfo) -> ColumnElement[bool] | None:
        """The records of *info* the current user may see (``None``: all); raise if none."""


def _bad(description: str) -> UserError:
    return UserError('Invalid domain', description)


def normalize(domain: Any) -> list[Any]:
    """*domain* with its implicit ``'&'`` made explicit; :class:`UserError` if malformed."""
    if not isinstance(domain, list | tuple):
        raise _bad('A domain must be a list.')
    if len(domain) > MAX_TERMS:
        raise _bad(f'A domain may hold at most {MAX_TERMS} terms.')
    result: list[Any] = []
    expected = 1
    for term in domain:
        if expected == 0:  # a new condition after a complete expression: and them
            result.insert(0, '&')
            expected = 1
        if isinstance(term, str):
            if term not in LOGICAL:
                raise _bad(f'Unknown logical operator {term!r}.')
            expected += LOGICAL[term] - 1
        elif isinstance(term, list | tuple) and len(term) == 3 and isinstance(term[0], str):
            expected -= 1
        else:
            raise _bad(f'A condition must be (field, operator, value), not {_shown(term)}.')
        result.append(term)
    if result and expected != 0:
        raise _bad('An operator misses its operands.')
    return result


def compile_domain(domain: Any, info: ModelInfo, resolver: Resolver) -> ColumnElement[bool]:
    """The filter *domain* stands for on *info*'s table (``true()`` for an empty domain)."""
    terms = normalize(domain)
    if not terms:
        return true()
    # Prefix notation evaluated from the end with a stack (no recursion); each node is
    # (operator, children, depth) so that series of one operator stay flat.
    stack: list[tuple[str, list[Any], int]] = []
    for term in reversed(terms):
        if term == '!':
            child = stack.pop()
            stack.append(('!', [child], child[2] + 1))
        elif term in ('&', '|'):
            first, second = stack.pop(), stack.pop()
            children = [*_flat(term, first), *_flat(term, second)]
            depth = max(node[2] if node[0] == term else node[2] + 1 for node in (first, second))
            stack.append((term, children, depth))
        else:
            stack.append(('leaf', [_leaf(term, info, resolver)], 0))
        if stack[-1][2] > MAX_DEPTH:
            raise _bad(f'A domain may nest at most {MAX_DEPTH} levels of operators.')
    (root,) = stack
    return _build(root)


def _flat(operator: str, node: tuple[str, list[Any], int]) -> list[Any]:
    return node[1] if node[0] == operator else [node]


def _build(node: tuple[str, list[Any], int]) -> ColumnElement[bool]:
    kind, children, _depth = node
    if kind == 'leaf':
        return cast(ColumnElement[bool], children[0])
    built = [_build(child) for child in children]
    if kind == '!':
        return not_(built[0])
    return and_(*built) if kind == '&' else or_(*built)


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return 'a list nested too deeply'
    return text if len(text) <= 60 else text[:57] + '...'


# -- conditions -------------------------------------------------------------------------------
def _leaf(term: Sequence[Any], info: ModelInfo, resolver: Resolver) -> ColumnElement[bool]:
    path, operator, value = term
    if not isinstance(operator, str) or operator.lower() not in OPERATORS:
        raise _bad(f'Unknown operator {_shown(operator)}.')
    operator = operator.lower()
    name, _, rest = path.partition('.')
    if name == 'id' and not rest:
        return _on_ids(info, operator, value)
    field = info.field(name)
    resolver.check_searchable(info, field)
    if rest:
        return _through(info, field, (rest, operator, value), resolver)
    if operator in ('child_of', 'parent_of'):
        if field.type != 'many2one':
            raise _bad(f'{operator} needs a many2one field or id, not {name!r}.')
        target = resolver.model(field.relation or '')
        assert field.column is not None
        return field.column.in_(_hierarchy(target, operator, value))
    if field.type in ('one2many', 'many2many'):
        return _on_x2many(info, field, operator, value, resolver)
    if field.type == 'many2one' and isinstance(value, str) and operator not in ('in', 'not in'):
        return _by_display_name(info, field, operator, value, resolver)
    assert field.column is not None
    return _compare(field, field.column, operator, value)


def _compare(field: Field, column: Any, operator: str, value: Any) -> ColumnElement[bool]:
    """``column <operator> value`` for a stored field, with Odoo's meaning of ``False``."""
    if operator in _NEGATIVE:
        positive = _compare(field, column, _NEGATIVE[operator], value)
        if value is False or value is None or operator in ('not in',) and (
                False in _values(value) or None in _values(value)):
            return not_(positive)
        return or_(not_(positive), column.is_(None))
    if operator == '=':
        if value is False or value is None:
            if field.type == 'boolean':
                return or_(column == false(), column.is_(None))
            return cast(ColumnElement[bool], column.is_(None))
        return cast(ColumnElement[bool], column == _value(field, value))
    if operator == 'in':
        values = _values(value)
        unset = [v for v in values if v is False or v is None]
        if field.type == 'boolean':
            unset = [v for v in values if v is None]
        wanted = [_value(field, v) for v in values if not any(v is u for u in unset)]
        condition = column.in_(wanted)
        return or_(condition, column.is_(None)) if unset else condition
    if operator in ('like', 'ilike', '=like', '=ilike'):
        if not isinstance(value, str):
            raise _bad(f'{operator} needs text, not {_shown(value)}.')
        if field.type not in ('char', 'text', 'selection'):
            raise _bad(f'{operator} works on text fields, not {field.name!r}.')
        pattern = value if operator.startswith('=') else f'%{value}%'
        if operator.endswith('ilike'):
            return cast(ColumnElement[bool], column.ilike(pattern))
        return cast(ColumnElement[bool], column.like(pattern))
    if value is False or value is None:
        raise _bad(f'{operator} needs a value, not {value!r}.')
    converted = _value(field, value)
    comparisons = {'<': column.__lt__, '>': column.__gt__, '<=': column.__le__,
                   '>=': column.__ge__}
    return cast(ColumnElement[bool], comparisons[operator](converted))


def _values(value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        value = [value]
    if len(value) > MAX_VALUES:
        raise _bad(f'A list in a domain may hold at most {MAX_VALUES} values.')
    return list(value)


def _value(field: Field, value: Any) -> Any:
    """*value* as the column compares it: dates from text, ids from ``[id, name]``."""
    kind = field.type
    try:
        if kind == 'date' and isinstance(value, str):
            return parse_date(value)
        if kind == 'datetime' and isinstance(value, str):
            return parse_datetime(value)
    except ValueError:
        raise _bad(f'{field.name!r} compares with a date written YYYY-MM-DD[ HH:MM:SS], '
                   f'not {_shown(value)}.') from None
    if kind in ('integer', 'many2one'):
        if isinstance(value, list | tuple) and value and kind == 'many2one':
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INTEGER:
            raise _bad(f'{field.name!r} compares with whole numbers, not {_shown(value)}.')
    elif kind in ('float', 'numeric'):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(f'{field.name!r} compares with numbers, not {_shown(value)}.')
    elif kind == 'boolean':
        if not isinstance(value, bool):
            raise _bad(f'{field.name!r} compares with true or false, not {_shown(value)}.')
    elif kind in ('char', 'text', 'selection'):
        if not isinstance(value, str) or '\x00' in value:
            raise _bad(f'{field.name!r} compares with text, not {_shown(value)}.')
    elif kind in ('date', 'datetime'):
        if not isinstance(value, datetime.date):
            raise _bad(f'{field.name!r} compares with dates, not {_shown(value)}.')
    elif kind == 'binary':
        raise _bad(f'Binary fields like {field.name!r} can only be compared with False.')
    return value


def _ids(value: Any) -> list[int]:
    ids = _values(value)
    if not all(isinstance(i, int) and not isinstance(i, bool) and abs(i) <= MAX_INTEGER
               for i in ids):
        raise _bad(f'Ids are whole numbers, not {_shown(value)}.')
    return ids


def _on_ids(info: ModelInfo, operator: str, value: Any) -> ColumnElement[bool]:
    if operator in ('child_of', 'parent_of'):
        return info.id.in_(_hierarchy(info, operator, value))
    id_field = Field('id', 'integer', 'ID', column=info.id)
    return _compare(id_field, info.id, operator, value)


def _hierarchy(info: ModelInfo, operator: str, value: Any) -> Any:
    """The ids of the records under (``child_of``) or above (``parent_of``) *value*'s, them
    included: a recursive query on the parent field."""
    if info.parent is None:
        raise _bad(f'The model {info.name!r} has no parent field for {operator}.')
    parent = info.fields[info.parent].column
    assert parent is not None
    table = info.table
    start = select(table.c.id.label('id'), parent.label('parent')).where(
        table.c.id.in_(_ids(value))).cte(recursive=True)
    if operator == 'child_of':
        step = select(table.c.id, parent).where(parent == start.c.id)
    else:
        step = select(table.c.id, parent).where(table.c.id == start.c.parent)
    tree = start.union(step)  # union, not union all: a cycle in the data ends the recursion
    return select(tree.c.id).correlate(None)


def _through(info: ModelInfo, field: Field, rest: tuple[str, str, Any], resolver: Resolver
             ) -> ColumnElement[bool]:
    """A condition on a dotted path: the records whose related records match the rest."""
    if field.relation is None:
        raise _bad(f'{field.name!r} is not a relational field: it has no {rest[0]!r}.')
    target = resolver.model(field.relation)
    matching = select(target.id).where(_on_target(target, [rest], resolver)).correlate(None)
    return _related_in(info, field, matching, resolver)


def _on_target(target: ModelInfo, domain: list[Any], resolver: Resolver
               ) -> ColumnElement[bool]:
    condition = compile_domain(domain, target, resolver)
    visible = resolver.visible(target)
    return condition if visible is None else and_(condition, visible)


def _related_in(info: ModelInfo, field: Field, target_ids: Any, resolver: Resolver
                ) -> ColumnElement[bool]:
    """The records of *info* whose *field* holds one of *target_ids*."""
    if field.type == 'many2one':
        assert field.column is not None
        return field.column.in_(target_ids)
    if field.type == 'one2many':
        target = resolver.model(field.relation or '')
        inverse = target.fields[field.inverse or ''].column
        assert inverse is not None
        return info.id.in_(select(inverse).where(target.id.in_(target_ids), inverse.isnot(None))
                           .correlate(None))  # no NULL in the list: NOT IN must stay true
    assert field.link_local is not None and field.link_remote is not None
    return info.id.in_(select(field.link_local).where(field.link_remote.in_(target_ids))
                       .correlate(None))


def _on_x2many(info: ModelInfo, field: Field, operator: str, value: Any,
               resolver: Resolver) -> ColumnElement[bool]:
    target = resolver.model(field.relation or '')
    if operator in _NEGATIVE:
        return not_(_on_x2many(info, field, _NEGATIVE[operator], value, resolver))
    if operator == '=' and (value is False or value is None):
        return not_(_related_in(info, field, select(target.id).correlate(None), resolver))
    if isinstance(value, str) and operator in ('=', 'like', 'ilike', '=like', '=ilike'):
        return _related_in(info, field, _names_matching(target, operator, value, resolver),
                           resolver)
    if operator in ('=', 'in'):
        return _related_in(info, field, _ids(value), resolver)
    raise _bad(f'{operator} does not apply to the list field {field.name!r}.')


def _by_display_name(info: ModelInfo, field: Field, operator: str, value: str,
                     resolver: Resolver) -> ColumnElement[bool]:
    target = resolver.model(field.relation or '')
    negative = operator in _NEGATIVE
    matching = _names_matching(target, _NEGATIVE.get(operator, operator), value, resolver)
    assert field.column is not None
    condition = field.column.in_(matching)
    return or_(not_(condition), field.column.is_(None)) if negative else condition


def _names_matching(target: ModelInfo, operator: str, value: str, resolver: Resolver) -> Any:
    if target.rec_name is None:
        raise _bad(f'The records of {target.name!r} have no name to compare with {value!r}.')
    return select(target.id).where(
        _on_target(target, [(target.rec_name, operator, value)], resolver)).correlate(None)
