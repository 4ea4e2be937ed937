"""Frappe's filters as data-layer domains: :func:`to_domain`, the one translation.

``filters`` (all must hold) and ``or_filters`` (one must) take any of Frappe's forms:

* an object ``{"age": 30}``, ``{"age": [">", 30]}``;
* a list of conditions ``[["age", ">", 30], ["name", "like", "%al%"]]`` — a condition may name
  the doctype first (``["test.partner", "age", ">", 30]``; another doctype is a 400), and
  ``[field, value]`` means ``=``.

=================  ===========================================================================
Frappe             domain
=================  ===========================================================================
``=`` ``!=``       ``=`` ``!=`` (``None`` means "not set", as in domains)
``<`` ``>``        ``<`` ``>``
``<=`` ``=<``      ``<=``
``>=`` ``=>``      ``>=``
``like``           ``=ilike``: the pattern as given (``%`` and ``_`` are wildcards), any case —
                   Frappe's ``like`` on MariaDB and PostgreSQL
``not like``       its negation (records without a value match too)
``in`` ``not in``  ``in`` ``not in``; the values a list or a comma-separated text
``is``             ``"set"``: ``!= False``; ``"not set"``: ``= False``
``between``        ``>=`` the first and ``<=`` the second of ``[from, to]``
=================  ===========================================================================

Any other operator, or a condition of another shape, is a :class:`~trylite.exceptions.UserError`
(400) naming it. Field names go through the model's :class:`~.documents.Shape` (``name`` is the
id); what the field takes is then checked by the data layer, like every domain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...exceptions import UserError

__all__ = ['OPERATORS', 'to_domain']

#: Frappe's comparison operators and the data layer's.
OPERATORS = {'=': '=', '!=': '!=', '<': '<', '>': '>', '<=': '<=', '=<': '<=', '>=': '>=',
             '=>': '>=', 'in': 'in', 'not in': 'not in'}
_SUPPORTED = ', '.join([*OPERATORS, 'like', 'not like', 'is', 'between'])


def to_domain(filters: Any, or_filters: Any, model: str,
              field: Callable[[str], str]) -> list[Any]:
    """The domain of *filters* and *or_filters* on *model*, field names translated by
    *field*."""
    required = [_condition(c, model, field) for c in _conditions(filters, 'filters')]
    either = [_condition(c, model, field) for c in _conditions(or_filters, 'or_filters')]
    domain = _join('&', required)
    if either:
        domain = _join('&', [domain, _join('|', either)]) if domain else _join('|', either)
    return domain


def _join(operator: str, domains: list[list[Any]]) -> list[Any]:
    """The prefix-notation combination of *domains* with *operator*."""
    domains = [d for d in domains if d]
    joined: list[Any] = [operator] * (len(domains) - 1)
    for domain in domains:
        joined.extend(domain)
    return joined


def _conditions(filters: Any, name: str) -> list[list[Any]]:
    """Each condition of *filters* as ``[field, operator, value]`` (or shorter/longer lists,
    checked later)."""
    if filters is None or filters == '' or filters == [] or filters == {}:
        return []
    if isinstance(filters, dict):
        return [[key, *value] if isinstance(value, list) and len(value) == 2
                and isinstance(value[0], str) and value[0].lower() in _KNOWN else
                [key, '=', value] for key, value in filters.items()]
    if isinstance(filters, list):
        if filters and all(not isinstance(item, list) for item in filters):
            filters = [filters]  # one condition given on its own
        return [list(item) if isinstance(item, list) else _bad_shape(item) for item in filters]
    raise UserError('Invalid filters', f'{name} must be an object or a list of conditions.')


_KNOWN = {*OPERATORS, 'like', 'not like', 'is', 'between', 'regex', 'timespan',
          'descendants of', 'ancestors of', 'not descendants of', 'not ancestors of',
          'descendants of (inclusive)'}


def _bad_shape(item: Any) -> list[Any]:
    raise UserError('Invalid filters', f'A condition is a list like ["field", "=", value], '
                    f'not {str(item)[:60]!r}.')


def _ids(value: Any) -> Any:
    """Document names (ids as text) as ids, in a value or a list of values."""
    if isinstance(value, list):
        return [_ids(item) for item in value]
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value


def _condition(condition: list[Any], model: str, field: Callable[[str], str]) -> list[Any]:
    """One condition as a domain."""
    if len(condition) == 4:
        doctype, *condition = condition
        if doctype != model:
            raise UserError('Invalid filters', f'Conditions on another doctype ({doctype!r}) '
                            'are not supported.')
    if len(condition) == 2:
        condition = [condition[0], '=', condition[1]]
    if len(condition) != 3 or not isinstance(condition[0], str) or not isinstance(
            condition[1], str):
        _bad_shape(condition)
    key, operator, value = condition
    name, operator = field(key), operator.strip().lower()
    if operator in ('in', 'not in') and isinstance(value, str):
        value = [part.strip() for part in value.split(',') if part.strip()]
    if name == 'id':
        value = _ids(value)
    if operator in OPERATORS:
        return [(name, OPERATORS[operator], value)]
    if operator == 'like':
        return [(name, '=ilike', value)]
    if operator == 'not like':
        return ['|', '!', (name, '=ilike', value), (name, '=', False)]
    if operator == 'is' and value in ('set', 'not set'):
        return [(name, '!=' if value == 'set' else '=', False)]
    if operator == 'between' and isinstance(value, list) and len(value) == 2:
        return ['&', (name, '>=', value[0]), (name, '<=', value[1])]
    if operator in ('is', 'between'):
        raise UserError('Invalid filters', f'{operator!r} takes '
                        f'{"set or not set" if operator == "is" else "[from, to]"}, '
                        f'not {str(value)[:60]!r}.')
    raise UserError('Unknown operator', f'The filter operator {operator!r} is not supported '
                    f'(supported: {_SUPPORTED}).')
