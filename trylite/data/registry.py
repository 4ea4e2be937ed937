"""The registry: the models of one database, and what every worker caches of them.

Code models (declarative classes registered with :meth:`trylite.pool.Pool.register`) are the
same in every database; models and fields made at run time (``ir.model`` rows with
``state='manual'``) and the access rows and record rules differ per database. A worker keeps,
per database, a :class:`Registry` built from those rows, tagged with the database's
*registry version* (the table ``ir_registry``). Every change to ``ir.model``,
``ir.model.fields``, ``ir.model.access``, ``ir.rule`` and ``res.group`` bumps the version in
the same transaction (:func:`bump`); before a worker uses the data layer in a transaction it
reads the version — one small query — and rebuilds its registry when the version moved. So a
model, field, access row or rule made through one worker is seen by every worker of every
server at their next request on that database, without a restart or a "sync".
"""

from __future__ import annotations

import ast
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    select,
    update,
)

from ..exceptions import ModelNotFound, UserError
from ..pool import Pool, metadata
from ..storage.types import UTCDateTime
from .fields import Field
from .info import ModelInfo, info_of_class, reachable

__all__ = ['RUNTIME_TYPES', 'Access', 'Registry', 'Rule', 'bump', 'code_models', 'load',
           'runtime_column', 'table_name', 'valid_runtime_name']

registry_table = Table(
    'ir_registry', metadata,
    Column('id', Integer, primary_key=True),
    Column('version', Integer, nullable=False),
)
Pool.register_table(registry_table)

#: Field types a field made at run time may have.
RUNTIME_TYPES = ('char', 'text', 'integer', 'float', 'numeric', 'boolean', 'date', 'datetime',
                 'selection', 'binary', 'many2one')
_RUNTIME_NAME = re.compile(r'x_[a-z0-9_]{1,60}')
_RUNTIME_MODEL = re.compile(r'x_[a-z0-9_.]{1,60}')


@dataclass(frozen=True)
class Access:
    """One ``ir.model.access`` row: a group (``None``: everyone) and its rights."""

    group: str | None
    read: bool
    write: bool
    create: bool
    unlink: bool


@dataclass(frozen=True)
class Rule:
    """One ``ir.rule`` row: a domain limiting a group's (``None``: everyone's) records."""

    id: int
    group: str | None
    domain: str
    read: bool
    write: bool
    create: bool
    unlink: bool


class Registry:
    """The models, access rows and record rules of one database at one version."""

    def __init__(self, version: int, code: dict[str, ModelInfo], models: dict[str, ModelInfo],
                 access: dict[str, list[Access]], rules: dict[str, list[Rule]],
                 groups: dict[int, str]) -> None:
        self.version = version
        self.code = code
        self.models = models
        self.access = access
        self.rules = rules
        self.groups = groups

    def get(self, name: str) -> ModelInfo:
        """The model *name*; :class:`ModelNotFound` if there is none."""
        try:
            return self.models[name]
        except KeyError:
            raise ModelNotFound(f"The model '{name}' does not exist.") from None


# -- code models ------------------------------------------------------------------------------
_code: tuple[frozenset[str], dict[str, ModelInfo]] | None = None
_code_lock = threading.Lock()


def code_models() -> dict[str, ModelInfo]:
    """The :class:`ModelInfo` of every registered class with an integer ``id``, built once
    per set of registered models."""
    global _code
    registered = Pool.models()
    names = frozenset(registered)
    cached = _code
    if cached is not None and cached[0] == names:
        return cached[1]
    with _code_lock:
        by_table = {cls.__table__.name: name for name, cls in registered.items()
                    if reachable(cls)}
        infos = {name: info_of_class(cls, name, by_table)
                 for name, cls in registered.items() if reachable(cls)}
        _code = (names, infos)
    return infos


# -- runtime models ---------------------------------------------------------------------------
def valid_runtime_name(name: str, model: bool = False) -> bool:
    """Whether *name* may name a model (``x_…``, dots allowed) or a field made at run time."""
    return (_RUNTIME_MODEL if model else _RUNTIME_NAME).fullmatch(name) is not None


def table_name(model: str) -> str:
    """The table of a model made at run time: its name with ``_`` for ``.``."""
    return model.replace('.', '_')


def runtime_column(name: str, ttype: str, size: int | None = None) -> Column[Any]:
    """The column of a field made at run time."""
    kinds: dict[str, Any] = {
        'char': String(size) if size else String(), 'text': Text(), 'integer': Integer(),
        'float': Float(), 'numeric': Numeric(), 'boolean': Boolean(), 'date': Date(),
        'datetime': UTCDateTime(), 'selection': String(128), 'binary': LargeBinary(),
        'many2one': Integer(),
    }
    return Column(name, kinds[ttype])


def parse_selection(text: str | None) -> tuple[tuple[str, str], ...] | None:
    """A selection written as Odoo stores it (``[('a', 'A'), ...]``) or as JSON."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
    if not isinstance(value, list | tuple) or not all(
            isinstance(item, list | tuple) and len(item) == 2 for item in value):
        raise UserError('Invalid selection',
                        "A selection is a list of (value, label) pairs: [('a', 'A')].")
    return tuple((str(key), str(label)) for key, label in value)


def _runtime_models(conn: Connection) -> dict[str, ModelInfo]:
    models_table = metadata.tables['ir_model']
    fields_table = metadata.tables['ir_model_fields']
    rows = conn.execute(select(models_table.c.id, models_table.c.model, models_table.c.name)
                        .where(models_table.c.state == 'manual')).all()
    if not rows:
        return {}
    field_rows = conn.execute(
        select(fields_table).where(fields_table.c.model_id.in_([r.id for r in rows]))
        .order_by(fields_table.c.id)).all()
    own = MetaData()
    infos = {}
    for row in rows:
        columns: list[Column[Any]] = [Column('id', Integer, primary_key=True),
                   Column('create_uid', Integer), Column('create_date', UTCDateTime),
                   Column('write_uid', Integer), Column('write_date', UTCDateTime)]
        declared = [f for f in field_rows if f.model_id == row.id]
        columns += [runtime_column(f.name, f.ttype, f.size) for f in declared]
        table = Table(table_name(row.model), own, *columns)
        fields = {
            'id': Field('id', 'integer', 'ID', readonly=True, column=table.c.id),
            'create_uid': Field('create_uid', 'many2one', 'Created by', readonly=True,
                                relation='res.user', column=table.c.create_uid),
            'create_date': Field('create_date', 'datetime', 'Created on', readonly=True,
                                 column=table.c.create_date),
            'write_uid': Field('write_uid', 'many2one', 'Last updated by', readonly=True,
                               relation='res.user', column=table.c.write_uid),
            'write_date': Field('write_date', 'datetime', 'Last updated on', readonly=True,
                                column=table.c.write_date),
        }
        for f in declared:
            fields[f.name] = Field(
                f.name, f.ttype, f.field_description or f.name, f.help or '',
                required=bool(f.required), readonly=bool(f.readonly),
                relation=f.relation or None, selection=parse_selection(f.selection),
                size=f.size if f.ttype == 'char' else None, column=table.c[f.name])
        infos[row.model] = ModelInfo(
            name=row.model, table=table, fields=fields, description=row.name or row.model,
            rec_name='x_name' if 'x_name' in fields else None)
    return infos


# -- loading ----------------------------------------------------------------------------------
_registries: dict[tuple[str, str], Registry] = {}
_lock = threading.Lock()


def version(conn: Connection) -> int:
    """The registry version of the database of *conn* (a driver-level statement: it is run
    once per transaction that uses the data layer)."""
    return conn.exec_driver_sql('SELECT version FROM ir_registry').scalar() or 0


def load(key: tuple[str, str], conn: Connection, current_version: int) -> Registry:
    """The registry of the database *key* (``(backend URI, database name)``) as of the
    current transaction on *conn*, whose registry version is *current_version*: the cached
    one if its version is current, else rebuilt."""
    cached = _registries.get(key)
    code = code_models()
    if cached is not None and cached.version == current_version and cached.code is code:
        return cached
    built = _build(conn, current_version, code)
    with _lock:
        _registries[key] = built
    return built


def _build(conn: Connection, current_version: int, code: dict[str, ModelInfo]) -> Registry:
    models = {**_runtime_models(conn), **code}
    groups_table = metadata.tables['res_group']
    groups = dict(conn.execute(select(groups_table.c.id, groups_table.c.name)).all())
    model_names = dict(conn.execute(select(metadata.tables['ir_model'].c.id,
                                           metadata.tables['ir_model'].c.model)).all())
    access: dict[str, list[Access]] = {}
    access_table = metadata.tables['ir_model_access']
    for row in conn.execute(select(access_table)):
        access.setdefault(model_names.get(row.model_id, ''), []).append(Access(
            groups.get(row.group_id), row.perm_read, row.perm_write, row.perm_create,
            row.perm_unlink))
    rules: dict[str, list[Rule]] = {}
    rule_table = metadata.tables['ir_rule']
    for row in conn.execute(select(rule_table).where(rule_table.c.active)):
        rules.setdefault(model_names.get(row.model_id, ''), []).append(Rule(
            row.id, groups.get(row.group_id), row.domain_force or '[]', row.perm_read,
            row.perm_write, row.perm_create, row.perm_unlink))
    return Registry(current_version, code, models, access, rules, groups)


def bump(conn: Connection) -> None:
    """Tell every worker that the models, fields, access rows, rules or groups of this
    database changed (they rebuild their registry before their next request on it)."""
    changed = conn.execute(update(registry_table).values(version=registry_table.c.version + 1))
    if not changed.rowcount:
        conn.execute(registry_table.insert().values(id=1, version=1))

