"""The generic record methods every model answers, under the current person's rights.

``search``, ``search_count``, ``read``, ``search_read``, ``create``, ``write``, ``unlink``,
``fields_get`` and ``name_search`` take a model's name and Odoo-shaped arguments, and run in
the current transaction as its user (user 0, the system, has every right). Reads follow Odoo's
wire habits (see :mod:`.fields`): ``many2one`` values read as ``[id, display_name]``,
``one2many`` and ``many2many`` as lists of ids, an empty value as ``False``; every record has
a ``display_name``. Writes take ``many2one`` values as ids and x2many values as Odoo's command
tuples::

    (0, 0, vals)   create a related record        (1, id, vals)  change it
    (2, id)        delete it                      (3, id)        unlink it (keep the record)
    (4, id)        link an existing record        (5,)           unlink every record
    (6, 0, ids)    replace the links by ids

(a plain list of ids is ``(6, 0, ids)``). ``limit`` is cut to ``[api] max_limit``; ``order``
is ``"name desc, id"`` on stored fields. On a model with a boolean ``active`` field, searches
leave inactive records out unless the domain names ``active`` or the context has
``active_test: False`` (Odoo's and Tryton's habit). Every record carries ``create_uid``,
``create_date``, ``write_uid`` and ``write_date``, set here.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, select, update

from ..exceptions import AccessError, UserError
from ..settings import current
from ..storage.types import utcnow
from . import access
from .domains import MAX_VALUES, compile_domain
from .env import Env
from .fields import MAX_INTEGER, Field
from .info import ModelInfo

__all__ = ['check_access_rights', 'create', 'default_get', 'display_names', 'fields_get',
           'name_search', 'read', 'search', 'search_count', 'search_read', 'unlink', 'write']

_ORDER_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s+(asc|desc))?\s*', re.IGNORECASE)
DISPLAY_NAME = {'type': 'char', 'string': 'Display Name', 'help': '', 'required': False,
                'readonly': True, 'store': False, 'searchable': False, 'sortable': False}


# -- reading ----------------------------------------------------------------------------------
def search(env: Env, model: str, domain: Any = (), offset: int = 0, limit: int | None = None,
           order: str | None = None, count: bool = False) -> list[int] | int:
    """The ids of the records matching *domain* (their number if *count*)."""
    if count:
        return search_count(env, model, domain)
    info = env.model(model)
    access.check_model(env, info, 'read')
    statement = (select(info.id).where(_where(env, info, domain, 'read'))
                 .order_by(*_order(env, info, order))
                 .offset(_offset(offset)).limit(_limit(limit)))
    return list(env.execute(statement).scalars())


def search_count(env: Env, model: str, domain: Any = (), limit: int | None = None) -> int:
    """How many records match *domain* (not cut by any limit)."""
    info = env.model(model)
    access.check_model(env, info, 'read')
    statement = select(func.count()).select_from(info.table).where(
        _where(env, info, domain, 'read'))
    return int(env.execute(statement).scalar_one())


def read(env: Env, model: str, ids: Any, fields: Any = None) -> list[dict[str, Any]]:
    """The values of *fields* (default: every field the person may read) of the records
    *ids*, in that order; a record that does not exist or is not readable is a
    :class:`UserError`."""
    info = env.model(model)
    access.check_model(env, info, 'read')
    wanted = _ids(ids)
    if not wanted:
        return []
    condition = info.id.in_(wanted)
    rule = access.rule_filter(env, info, 'read')
    rows = _read(env, info, condition if rule is None else and_(condition, rule),
                 _fields(env, info, fields))
    by_id = {row['id']: row for row in rows}
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise _missing(info, missing)
    return [by_id[i] for i in dict.fromkeys(wanted)]


def search_read(env: Env, model: str, domain: Any = (), fields: Any = None, offset: int = 0,
                limit: int | None = None, order: str | None = None) -> list[dict[str, Any]]:
    """``read`` of ``search``, in one query."""
    info = env.model(model)
    access.check_model(env, info, 'read')
    return _read(env, info, _where(env, info, domain, 'read'), _fields(env, info, fields),
                 _order(env, info, order), _offset(offset), _limit(limit))


def fields_get(env: Env, model: str, fields: Any = None, attributes: Any = None
               ) -> dict[str, dict[str, Any]]:
    """The fields the person may read, described as Odoo's ``fields_get`` does (only
    *attributes*, if given)."""
    info = env.model(model)
    access.check_model(env, info, 'read')
    described = {name: field.describe() for name, field in info.fields.items()
                 if access.readable(env, field)}
    described['display_name'] = dict(DISPLAY_NAME)
    if fields:
        described = {name: value for name, value in described.items() if name in fields}
    if attributes:
        described = {name: {key: value for key, value in description.items()
                            if key in attributes}
                     for name, description in described.items()}
    return described


def name_search(env: Env, model: str, name: str = '', domain: Any = None,
                operator: str = 'ilike', limit: int | None = 100) -> list[list[Any]]:
    """``[[id, display_name], ...]`` of the records whose name matches *name*."""
    info = env.model(model)
    if not isinstance(name, str):
        raise UserError('Invalid name', 'name_search takes a name as text.')
    condition = list(domain or [])
    if name and info.rec_name:
        condition = ['&', (info.rec_name, operator, name), *condition] if condition else [
            (info.rec_name, operator, name)]
    ids = search(env, model, condition, limit=limit, order=info.rec_name or None)
    assert isinstance(ids, list)
    names = display_names(env, info, ids)
    return [[i, names[i]] for i in ids]


def check_access_rights(env: Env, model: str, operation: str, raise_exception: bool = True
                        ) -> bool:
    """Whether the person may *operation* (``read``, ``write``, ``create``, ``unlink``)
    records of the model; an :class:`AccessError` instead of ``False`` if
    *raise_exception*."""
    if operation not in access.OPERATIONS:
        raise UserError('Invalid operation', f'The operations are {", ".join(access.OPERATIONS)}.')
    try:
        access.check_model(env, env.model(model), operation)
    except AccessError:
        if raise_exception:
            raise
        return False
    return True


def default_get(env: Env, model: str, fields_list: Any = None) -> dict[str, Any]:
    """The default values of *fields_list* (default: every field) that have a constant
    default."""
    info = env.model(model)
    access.check_model(env, info, 'read')
    found = {}
    for name, field in info.fields.items():
        if fields_list and name not in fields_list or field.column is None or field.readonly:
            continue
        default = field.column.default
        if default is not None and default.is_scalar:
            found[name] = field.to_wire(default.arg)  # type: ignore[attr-defined]
    return found


def display_names(env: Env, info: ModelInfo, ids: Iterable[int]) -> dict[int, str]:
    """The display name of each record: its name field, else ``model,id``."""
    ids = list(ids)
    if info.rec_name is None or info.fields[info.rec_name].column is None:
        return {i: f'{info.name},{i}' for i in ids}
    column = info.fields[info.rec_name].column
    assert column is not None
    rows: Any = env.execute(select(info.id, column).where(info.id.in_(ids)))
    found: dict[int, Any] = {row[0]: row[1] for row in rows}
    return {i: _name(info, i, found.get(i)) for i in ids}


def _name(info: ModelInfo, record_id: int, value: Any) -> str:
    return str(value) if value not in (None, '') else f'{info.name},{record_id}'


def _read(env: Env, info: ModelInfo, where: ColumnElement[bool], fields: list[Field],
          order: Sequence[Any] = (), offset: int = 0, limit: int | None = None
          ) -> list[dict[str, Any]]:
    """The rows of *info* matching *where*, with *fields*, as dicts (one query for the
    stored fields and the names of ``many2one`` targets; one more per x2many field)."""
    columns: list[Any] = [info.id]
    joined: Any = info.table
    # (field, position of its value, its target model, position of the target's name)
    plan: list[tuple[Field, int, ModelInfo | None, int | None]] = []
    for field in fields:
        if field.column is None:
            continue
        position = len(columns)
        columns.append(field.column)
        target = env.model(field.relation or '') if field.type == 'many2one' else None
        name = _target_name(target, field) if target is not None else None
        if name is not None:
            alias, column = name
            joined = joined.outerjoin(alias, alias.c.id == field.column)
            columns.append(column)
        plan.append((field, position, target, position + 1 if name is not None else None))
    own = info.fields.get(info.rec_name or '')
    own_position = None
    if own is not None and own.column is not None:
        own_position = len(columns)
        columns.append(own.column)
    statement = select(*columns).select_from(joined).where(where)
    if order:
        statement = statement.order_by(*order)
    if offset:
        statement = statement.offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    result = []
    for row in env.execute(statement).all():
        record: dict[str, Any] = {'id': row[0]}
        for field, position, target, name_position in plan:
            value = row[position]
            if target is None:
                record[field.name] = field.to_wire(value)
            elif value is None:
                record[field.name] = False
            else:
                record[field.name] = [value, _name(
                    target, value, row[name_position] if name_position is not None else None)]
        record['display_name'] = _name(
            info, row[0], row[own_position] if own_position is not None else None)
        result.append(record)
    ids = [record['id'] for record in result]
    for field in fields:
        if field.type in ('one2many', 'many2many') and ids:
            linked = _linked(env, info, field, ids)
            for record in result:
                record[field.name] = linked.get(record['id'], [])
    return result


#: Per target table, per field: an alias of the table and its name column (aliases are
#: immutable, so one serves every query; tables of rebuilt registries drop out).
_aliases: weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, Any]]] = (
    weakref.WeakKeyDictionary())


def _target_name(target: ModelInfo, field: Field) -> tuple[Any, Any] | None:
    """An alias of a ``many2one``'s target table and its name column in that alias, if the
    target's name is a stored field."""
    per_field = _aliases.setdefault(target.table, {})
    found = per_field.get(field.name)
    if found is None:
        rec = target.fields.get(target.rec_name or '')
        if rec is None or rec.column is None:
            return None
        alias = target.table.alias()
        found = per_field.setdefault(field.name, (alias, alias.c[rec.column.name]))
    return found


def _linked(env: Env, info: ModelInfo, field: Field, ids: list[int]) -> dict[int, list[int]]:
    """The related ids of each record for an x2many field."""
    target = env.model(field.relation or '')
    if field.type == 'one2many':
        inverse = target.fields[field.inverse or ''].column
        assert inverse is not None
        statement = select(inverse, target.id).where(inverse.in_(ids)).order_by(
            *_order(env, target, None))
    else:
        assert field.link_local is not None and field.link_remote is not None
        statement = select(field.link_local, field.link_remote).where(
            field.link_local.in_(ids)).order_by(field.link_remote)
    linked: dict[int, list[int]] = {}
    rows: Any = env.execute(statement)
    for row in rows:
        linked.setdefault(row[0], []).append(row[1])
    return linked


def _fields(env: Env, info: ModelInfo, names: Any) -> list[Field]:
    """The fields to read: *names* (checked), else every field the person may read."""
    if not names:
        return [f for name, f in info.fields.items()
                if name != 'id' and access.readable(env, f)]
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise UserError('Invalid fields', 'fields must be a list of field names.')
    chosen = []
    for name in dict.fromkeys(names):
        if name in ('id', 'display_name'):
            continue
        field = info.field(name)
        access.check_field(env, info, field, 'read')
        chosen.append(field)
    return chosen


# -- writing ----------------------------------------------------------------------------------
def create(env: Env, model: str, vals_list: Any) -> list[int]:
    """Create a record per dict of *vals_list* (or the one dict); their ids."""
    info = env.model(model)
    access.check_model(env, info, 'create')
    if isinstance(vals_list, dict):
        vals_list = [vals_list]
    if not isinstance(vals_list, list | tuple):
        raise UserError('Invalid values', 'create takes a dict of values or a list of them.')
    ids = []
    for vals in vals_list:
        values, relations = _prepare(env, info, vals)
        missing = [name for name, field in info.fields.items()
                   if field.required and field.column is not None
                   and field.column not in values]
        if missing:
            raise UserError('Missing required value',
                            f"The field '{missing[0]}' of '{info.name}' is required.")
        values.update(_audit(env, info, created=True))
        record_id = env.execute(insert(info.table).values(values).returning(info.id)).scalar_one()
        for field, commands in relations:
            _write_x2many(env, info, record_id, field, commands)
        ids.append(record_id)
    _check_rules(env, info, ids, 'create')
    return ids


def write(env: Env, model: str, ids: Any, vals: Any) -> bool:
    """Change the records *ids* with *vals*."""
    info = env.model(model)
    access.check_model(env, info, 'write')
    wanted = _ids(ids)
    _check_rules(env, info, wanted, 'write')
    values, relations = _prepare(env, info, vals)
    if wanted:
        values.update(_audit(env, info, created=False))
        env.execute(update(info.table).where(info.id.in_(wanted)).values(values))
    for record_id in wanted:
        for field, commands in relations:
            _write_x2many(env, info, record_id, field, commands)
    return True


def unlink(env: Env, model: str, ids: Any) -> bool:
    """Delete the records *ids*."""
    info = env.model(model)
    access.check_model(env, info, 'unlink')
    wanted = _ids(ids)
    _check_rules(env, info, wanted, 'unlink')
    if wanted:
        env.execute(delete(info.table).where(info.id.in_(wanted)))
    return True


def _prepare(env: Env, info: ModelInfo, vals: Any
             ) -> tuple[dict[Any, Any], list[tuple[Field, Any]]]:
    """The column values and the x2many commands of *vals*, checked."""
    if not isinstance(vals, dict):
        raise UserError('Invalid values', 'Values must be an object of field names.')
    values: dict[Any, Any] = {}
    relations = []
    for name, value in vals.items():
        field = info.field(name)
        access.check_field(env, info, field, 'write')
        if field.readonly:
            raise UserError('Read-only field',
                            f"The field '{name}' of '{info.name}' cannot be written.")
        if field.type in ('one2many', 'many2many'):
            relations.append((field, value))
            continue
        converted = field.from_wire(value)
        if field.type == 'many2one' and converted is not None:
            _check_exists(env, env.model(field.relation or ''), [converted], field)
        assert field.column is not None
        values[field.column] = converted
    return values, relations


def _audit(env: Env, info: ModelInfo, created: bool) -> dict[Any, Any]:
    user = env.user or None
    now = utcnow()
    names = ('create_uid', 'create_date', 'write_uid', 'write_date') if created else (
        'write_uid', 'write_date')
    values = {'create_uid': user, 'write_uid': user, 'create_date': now, 'write_date': now}
    return {info.fields[name].column: values[name] for name in names
            if name in info.fields and info.fields[name].column is not None}


def _check_exists(env: Env, target: ModelInfo, ids: list[int], field: Field) -> None:
    found = set(env.execute(select(target.id).where(target.id.in_(ids))).scalars())
    absent = [i for i in ids if i not in found]
    if absent:
        raise UserError('Wrong value', f"The field '{field.name}' refers to a record of "
                        f"'{target.name}' that does not exist: {absent[0]}.")


def _check_rules(env: Env, info: ModelInfo, ids: list[int], operation: str) -> None:
    """Raise unless every record of *ids* exists (:class:`UserError`) and passes the record
    rules of *operation* (:class:`AccessError`)."""
    if not ids:
        return
    unique = list(dict.fromkeys(ids))
    existing = set(env.execute(select(info.id).where(info.id.in_(unique))).scalars())
    missing = [i for i in unique if i not in existing]
    rule = access.rule_filter(env, info, operation)
    if rule is not None:
        allowed = set(env.execute(
            select(info.id).where(and_(info.id.in_(unique), rule))).scalars())
        if existing - allowed:
            if operation == 'read':
                raise _missing(info, sorted(existing - allowed))
            raise AccessError(f"You may not {access.VERBS[operation]} these records of "
                              f"'{info.name}'.")
    if missing:
        raise _missing(info, missing)



def _missing(info: ModelInfo, ids: list[int]) -> UserError:
    shown = ', '.join(str(i) for i in ids[:10])
    return UserError('Missing records', f"These records of '{info.name}' do not exist or "
                     f'you may not read them: {shown}.')


def _write_x2many(env: Env, info: ModelInfo, record_id: int, field: Field, value: Any) -> None:
    """Apply Odoo's command tuples (or a plain list of ids) to one record's x2many field."""
    if not isinstance(value, list | tuple):
        raise UserError('Wrong value', f"The field '{field.name}' takes a list of commands.")
    if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        value = [(6, 0, list(value))]
    target = env.model(field.relation or '')
    for command in value:
        if not isinstance(command, list | tuple) or not command or command[0] not in range(7):
            raise UserError('Wrong value', f"The field '{field.name}' takes commands like "
                            '(4, id) or (6, 0, ids).')
        code, *rest = command
        operand = rest[0] if rest else None
        payload = rest[1] if len(rest) > 1 else None
        if code == 0:
            vals = dict(payload or {})
            if field.type == 'one2many':
                vals[field.inverse] = record_id
                create(env, target.name, [vals])
            else:
                _link(field, record_id, create(env, target.name, [vals]), env)
        elif code == 1:
            write(env, target.name, [_one_id(operand, field)], payload or {})
        elif code == 2:
            unlink(env, target.name, [_one_id(operand, field)])
        elif code == 3:
            _unlink(env, info, target, field, record_id, [_one_id(operand, field)])
        elif code == 4:
            _attach(env, target, field, record_id, [_one_id(operand, field)])
        elif code == 5:
            _unlink(env, info, target, field, record_id, None)
        else:  # 6: replace
            ids = _ids(payload if payload is not None else [])
            _unlink(env, info, target, field, record_id, None)
            _attach(env, target, field, record_id, ids)


def _one_id(value: Any, field: Field) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_INTEGER:
        raise UserError('Wrong value', f"The commands of '{field.name}' name records by id.")
    return value


def _attach(env: Env, target: ModelInfo, field: Field, record_id: int, ids: list[int]) -> None:
    if not ids:
        return
    _check_rules(env, target, ids, 'read')
    if field.type == 'one2many':
        write(env, target.name, ids, {field.inverse: record_id})
    else:
        _link(field, record_id, ids, env)


def _link(field: Field, record_id: int, ids: list[int], env: Env) -> None:
    assert field.link is not None and field.link_local is not None
    assert field.link_remote is not None
    present = set(env.execute(select(field.link_remote).where(
        field.link_local == record_id, field.link_remote.in_(ids))).scalars())
    new = [i for i in dict.fromkeys(ids) if i not in present]
    if new:
        env.execute(insert(field.link).values(
            [{field.link_local.name: record_id, field.link_remote.name: i} for i in new]))


def _unlink(env: Env, info: ModelInfo, target: ModelInfo, field: Field, record_id: int,
            ids: list[int] | None) -> None:
    """Detach *ids* (``None``: every related record) from the record, keeping them."""
    if field.type == 'many2many':
        assert field.link is not None and field.link_local is not None
        assert field.link_remote is not None
        condition = field.link_local == record_id
        if ids is not None:
            condition = and_(condition, field.link_remote.in_(ids))
        env.execute(delete(field.link).where(condition))
        return
    inverse = target.fields[field.inverse or '']
    assert inverse.column is not None
    children = list(env.execute(select(target.id).where(inverse.column == record_id)).scalars())
    if ids is not None:
        children = [i for i in children if i in ids]
    if not children:
        return
    if inverse.required:  # a child cannot live without its parent: delete it
        unlink(env, target.name, children)
    else:
        write(env, target.name, children, {inverse.name: False})


# -- arguments --------------------------------------------------------------------------------
def _ids(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or len(value) > MAX_VALUES or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_INTEGER
            for i in value):
        raise UserError('Invalid ids', f'ids must be a list of at most {MAX_VALUES} '
                        'positive whole numbers.')
    return list(value)


def _offset(offset: Any) -> int:
    if offset is None or offset is False:
        return 0
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_INTEGER:
        raise UserError('Invalid offset', 'offset must be a whole number, 0 or more.')
    return offset


def _limit(limit: Any) -> int:
    """*limit* cut to ``[api] max_limit`` (missing, ``False`` or 0: the maximum)."""
    cap = current().api.max_limit
    if limit is None or limit is False or limit == 0:
        return cap
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise UserError('Invalid limit', 'limit must be a whole number, 0 or more.')
    return min(limit, cap)


def _order(env: Env, info: ModelInfo, order: Any) -> list[Any]:
    """``"name desc, id"`` as ORDER BY clauses (stored fields only), ending with the id."""
    text = order or info.order or 'id'
    if not isinstance(text, str) or len(text) > 500:
        raise UserError('Invalid order', 'order must be text like "name desc, id".')
    clauses = []
    has_id = False
    for part in text.split(','):
        match = _ORDER_RE.fullmatch(part)
        if match is None:
            raise UserError('Invalid order', f'Cannot order by {part.strip()!r}: write '
                            '"field" or "field desc".')
        name, direction = match[1], (match[2] or 'asc').lower()
        field = info.field(name)
        access.check_field(env, info, field, 'read')
        if field.column is None:
            raise UserError('Invalid order', f"Cannot order by '{name}': it is not stored.")
        clauses.append(field.column.desc() if direction == 'desc' else field.column.asc())
        has_id = has_id or name == 'id'
    if not has_id:
        clauses.append(info.id.asc())
    return clauses


def _where(env: Env, info: ModelInfo, domain: Any, operation: str) -> ColumnElement[bool]:
    """The filter of a search: *domain*, active records only (see the module doc), and the
    record rules of *operation*."""
    domain = list(domain) if isinstance(domain, list | tuple) else domain
    active = info.fields.get('active')
    if (active is not None and active.type == 'boolean' and isinstance(domain, list)
            and env.transaction.context.get('active_test', True) is not False
            and not any(isinstance(t, list | tuple) and t and isinstance(t[0], str)
                        and t[0].split('.')[0] == 'active' for t in domain)):
        domain = ['&', ('active', '=', True), *domain] if domain else [('active', '=', True)]
    condition = compile_domain(domain if domain is not None else [], info, env)
    rule = access.rule_filter(env, info, operation)
    return condition if rule is None else and_(condition, rule)

