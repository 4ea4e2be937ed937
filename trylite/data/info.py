"""What the data layer knows of a model: :class:`ModelInfo`, built from a declarative class
(code models) or from ``ir.model`` rows (models made at run time, see :mod:`.registry`).

A model is reachable through the data layer when it has an integer primary key named ``id``.
Its fields are its columns (a foreign key makes a ``many2one``) and its one-to-many and
many-to-many relationships. Class attributes refine it: ``_rec_name`` (the field whose value
is the display name; default ``name`` when there is one), ``_parent_name`` (the ``many2one``
to the parent, for ``child_of``/``parent_of``; default ``parent_id``), ``_description`` and
``_order`` (default ``id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, Table
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import RelationshipDirection

from ..exceptions import UserError
from .fields import Field, column_type

__all__ = ['AUDIT_FIELDS', 'ModelInfo', 'info_of_class', 'reachable']

#: Set by trylite on every record, never by a client.
AUDIT_FIELDS = ('create_uid', 'create_date', 'write_uid', 'write_date')


@dataclass(eq=False)
class ModelInfo:
    """A model as the data layer sees it."""

    name: str
    table: Table
    fields: dict[str, Field]
    description: str = ''
    rec_name: str | None = None
    parent: str | None = None
    order: str = 'id'
    #: The declarative class of a code model.
    cls: type[Any] | None = None

    @property
    def id(self) -> Column[Any]:
        return self.table.c.id

    def field(self, name: str) -> Field:
        """The field *name*; :class:`UserError` naming it when there is none."""
        try:
            return self.fields[name]
        except KeyError:
            raise UserError('Unknown field',
                            f'The model {self.name!r} has no field {name!r}.') from None


def reachable(cls: type[Any]) -> bool:
    """Whether a declarative class has the integer ``id`` primary key the data layer needs."""
    table = getattr(cls, '__table__', None)
    if not isinstance(table, Table) or 'id' not in table.c:
        return False
    column = table.c.id
    return bool(column.primary_key) and isinstance(column.type, Integer)


def info_of_class(cls: type[Any], name: str, models_by_table: Mapping[str, str]) -> ModelInfo:
    """The :class:`ModelInfo` of the declarative class *cls*, registered as *name*.

    *models_by_table* names the model of each table (for the ``relation`` of foreign keys).
    """
    mapper = sa_inspect(cls)
    fields: dict[str, Field] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        found = _column_field(prop.key, column, models_by_table)
        if found is not None:
            fields[prop.key] = found
    for rel in mapper.relationships:
        target = getattr(rel.mapper.class_, '__model__', None)
        if target is None or rel.viewonly:
            continue
        label = rel.info.get('string') or _label(rel.key)
        if rel.secondary is not None:
            fields[rel.key] = Field(
                rel.key, 'many2many', label, rel.info.get('help', ''), relation=target,
                link=rel.secondary,
                link_local=rel.synchronize_pairs[0][1],
                link_remote=rel.secondary_synchronize_pairs[0][1],
                groups=frozenset(rel.info.get('groups', ())))
        elif rel.direction is RelationshipDirection.ONETOMANY:
            remote = rel.synchronize_pairs[0][1]
            inverse = rel.mapper.get_property_by_column(remote).key
            fields[rel.key] = Field(
                rel.key, 'one2many', label, rel.info.get('help', ''), relation=target,
                inverse=inverse, groups=frozenset(rel.info.get('groups', ())))
    doc = (cls.__doc__ or '').strip().splitlines()
    rec_name = getattr(cls, '_rec_name', None) or ('name' if 'name' in fields else None)
    parent = getattr(cls, '_parent_name', None) or (
        'parent_id' if getattr(fields.get('parent_id'), 'relation', None) == name else None)
    return ModelInfo(
        name=name, table=cls.__table__, fields=fields,
        description=getattr(cls, '_description', None) or (doc[0] if doc else name),
        rec_name=rec_name, parent=parent, order=getattr(cls, '_order', 'id'), cls=cls)


def _column_field(key: str, column: Column[Any], models_by_table: Mapping[str, str]
                  ) -> Field | None:
    info = column.info
    foreign = next(iter(column.foreign_keys), None)
    relation = info.get('relation') or (
        models_by_table.get(foreign.column.table.name) if foreign else None)
    kind = 'many2one' if relation else info.get('type') or column_type(column.type)
    if kind is None:
        return None
    selection = info.get('selection')
    if selection is None and kind == 'selection':
        selection = [(value, value) for value in getattr(column.type, 'enums', ())]
    has_default = column.default is not None or column.server_default is not None
    return Field(
        key, kind, info.get('string') or _label(key), info.get('help') or column.doc or '',
        required=not column.nullable and not column.primary_key and not has_default,
        readonly=bool(column.primary_key or info.get('readonly') or key in AUDIT_FIELDS),
        relation=relation,
        selection=tuple((str(v), str(label)) for v, label in selection) if selection else None,
        groups=frozenset(info.get('groups', ())), secret=bool(info.get('secret')),
        size=getattr(column.type, 'length', None) if kind == 'char' else None,
        column=column)


def _label(key: str) -> str:
    """``write_uid`` → ``Write Uid``, ``partner_id`` → ``Partner``."""
    key = key.removeprefix('x_')
    if key.endswith('_id') and key != 'id':
        key = key[:-3]
    return key.replace('_', ' ').strip().title() or key
