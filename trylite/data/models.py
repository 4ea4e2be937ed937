"""The data layer's own models: groups, the models registry, access rows and record rules.

* ``res.group`` — groups of persons (``user_ids``); members of ``admin`` have every right.
* ``ir.model`` / ``ir.model.fields`` — every model and its fields (Flectra's shape: ``name``,
  ``model``, ``state`` ``base``/``manual``, ``field_id``; ``name``, ``field_description``,
  ``ttype``, ``required``, ``readonly``, ``relation``, ``selection``, ``model_id``). Code
  models are listed with ``state='base'`` (written when a database is created or updated).
  Creating an ``ir.model`` with ``state='manual'`` and a name starting ``x_`` creates its table;
  creating an ``ir.model.fields`` named ``x_…`` on such a model adds the column; deleting them
  drops the table or column. Code models cannot be changed this way.
* ``ir.model.access`` — rights per model and group; ``ir.rule`` — record rules.

Every change to these models bumps the registry version (see :mod:`.registry`), so every worker
sees it before its next request on the database.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..exceptions import UserError
from ..model import Model
from ..pool import Pool, metadata
from ..transaction import Transaction
from . import registry
from .access import ADMIN_GROUP
from .env import current_env, forget_env
from .registry import RUNTIME_TYPES, runtime_column, table_name, valid_runtime_name

__all__ = ['Group', 'IrModel', 'IrModelAccess', 'IrModelFields', 'IrRule', 'RegistryModel',
           'membership']

membership = Table(
    'res_group_user_rel', metadata,
    Column('group_id', ForeignKey('res_group.id', ondelete='CASCADE'), primary_key=True),
    Column('user_id', ForeignKey('res_user.id', ondelete='CASCADE'), primary_key=True,
           index=True),
)


class RegistryModel(Model):
    """A model whose changes every worker must see at once: writes bump the registry."""

    __abstract__ = True

    @classmethod
    def create(cls, vals_list: Any) -> list[int]:
        ids = super().create(vals_list)
        _changed()
        return ids

    @classmethod
    def write(cls, ids: Any, vals: Any) -> bool:
        super().write(ids, vals)
        _changed()
        return True

    @classmethod
    def unlink(cls, ids: Any) -> bool:
        super().unlink(ids)
        _changed()
        return True


def _changed() -> None:
    registry.bump(Transaction().connection)
    forget_env()


class Group(RegistryModel):
    """A group of persons."""

    __model__ = 'res.group'
    __tablename__ = 'res_group'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    user_ids: Mapped[list[Any]] = relationship(
        'User', secondary=membership, back_populates='group_ids', info={'string': 'Users'})


class IrModel(RegistryModel):
    """A model."""

    __model__ = 'ir.model'
    __tablename__ = 'ir_model'
    _rec_name = 'model'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), info={'string': 'Model Description'})
    model: Mapped[str] = mapped_column(String(128), unique=True)
    state: Mapped[str] = mapped_column(String(16), default='manual', info={
        'type': 'selection', 'selection': [('manual', 'Custom Object'),
                                           ('base', 'Base Object')]})
    transient: Mapped[bool] = mapped_column(default=False, info={'readonly': True})
    abstract: Mapped[bool] = mapped_column(default=False, info={'readonly': True})
    info: Mapped[str | None] = mapped_column(Text, default=None)
    field_id: Mapped[list[Any]] = relationship(
        'IrModelFields', back_populates='model_rel', info={'string': 'Fields'},
        passive_deletes=True)

    @classmethod
    def create(cls, vals_list: Any) -> list[int]:
        """Create custom models (``state='manual'``, names ``x_…``) and their tables."""
        items = [vals_list] if isinstance(vals_list, dict) else list(vals_list)
        for vals in items:
            name = vals.get('model') if isinstance(vals, dict) else None
            if not isinstance(name, str) or not valid_runtime_name(name, model=True):
                raise UserError('Invalid model name', "A custom model's name starts with 'x_' "
                                'and holds lower-case letters, digits, _ and . only.')
            if vals.get('state', 'manual') != 'manual':
                raise UserError('Invalid model', "Models made at run time are 'manual'.")
            if table_name(name) in metadata.tables:
                raise UserError('Invalid model name', f'The name {name!r} is taken.')
        ids = super().create(items)
        transaction = Transaction()
        for vals in items:
            table = Table(table_name(vals['model']), MetaData(),
                          Column('id', Integer, primary_key=True),
                          *(runtime_column(f, t) for f, t in (
                              ('create_uid', 'many2one'), ('create_date', 'datetime'),
                              ('write_uid', 'many2one'), ('write_date', 'datetime'))))
            table.create(transaction.connection)
        return ids

    @classmethod
    def write(cls, ids: Any, vals: Any) -> bool:
        """Change a custom model's description (its name and state stay)."""
        if isinstance(vals, dict) and ({'model', 'state'} & set(vals) or 'field_id' in vals):
            raise UserError('Invalid change', "A model's name and state cannot change; "
                            'create or delete its fields through ir.model.fields.')
        _manual_rows(cls, ids, 'Models')
        return super().write(ids, vals)

    @classmethod
    def unlink(cls, ids: Any) -> bool:
        """Delete custom models, their fields and their tables with all their records."""
        rows = _manual_rows(cls, ids, 'Models')
        super().unlink(ids)
        transaction = Transaction()
        for row in rows:
            transaction.backend.drop_table(transaction.connection, table_name(row.model))
        return True


def _manual_rows(cls: type[Any], ids: Any, noun: str) -> list[Any]:
    """The rows of the records *ids*; :class:`UserError` if any is defined in code."""
    table = cast(Table, cls.__table__)
    rows = current_env().execute(select(table).where(table.c.id.in_(
        ids if isinstance(ids, list | tuple) else [ids]))).all()
    if any(row.state != 'manual' for row in rows):
        raise UserError('Invalid change', f'{noun} defined in code cannot be changed this way.')
    return list(rows)


class IrModelFields(RegistryModel):
    """A field of a model."""

    __model__ = 'ir.model.fields'
    __tablename__ = 'ir_model_fields'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), info={'string': 'Field Name'})
    field_description: Mapped[str] = mapped_column(String(256), default='',
                                                   info={'string': 'Field Label'})
    ttype: Mapped[str] = mapped_column(String(32), info={
        'string': 'Field Type', 'type': 'selection',
        'selection': [(t, t) for t in (*RUNTIME_TYPES, 'one2many', 'many2many')]})
    required: Mapped[bool] = mapped_column(default=False)
    readonly: Mapped[bool] = mapped_column(default=False)
    relation: Mapped[str | None] = mapped_column(String(128), default=None)
    selection: Mapped[str | None] = mapped_column(Text, default=None)
    help: Mapped[str | None] = mapped_column(Text, default=None)
    size: Mapped[int | None] = mapped_column(default=None)
    model_id: Mapped[int] = mapped_column(
        ForeignKey('ir_model.id', ondelete='CASCADE'), index=True, info={'string': 'Model'})
    model: Mapped[str] = mapped_column(String(128), default='')  # set from model_id
    state: Mapped[str] = mapped_column(String(16), default='manual', info={
        'type': 'selection', 'selection': [('manual', 'Custom Field'),
                                           ('base', 'Base Field')]})
    model_rel: Mapped[Any] = relationship('IrModel', back_populates='field_id')

    @classmethod
    def create(cls, vals_list: Any) -> list[int]:
        """Add custom fields (``x_…``) to custom models, and their columns."""
        items = [vals_list] if isinstance(vals_list, dict) else list(vals_list)
        env = current_env()
        models_table = _table(IrModel)
        added = []
        for vals in items:
            if not isinstance(vals, dict):
                raise UserError('Invalid values', 'Values must be an object of field names.')
            row = env.execute(select(models_table.c.model, models_table.c.state).where(
                models_table.c.id == vals.get('model_id'))).first()
            if row is None or row.state != 'manual':
                raise UserError('Invalid model', 'Fields can be added to custom models '
                                '(ir.model with state manual) only.')
            name, ttype = vals.get('name'), vals.get('ttype')
            if not isinstance(name, str) or not valid_runtime_name(name):
                raise UserError('Invalid field name', "A custom field's name starts with 'x_' "
                                'and holds lower-case letters, digits and _ only.')
            if ttype not in RUNTIME_TYPES:
                raise UserError('Invalid field type', f"Custom fields may be of the types "
                                f"{', '.join(RUNTIME_TYPES)}.")
            if vals.get('state', 'manual') != 'manual':
                raise UserError('Invalid field', "Fields made at run time are 'manual'.")
            if ttype == 'many2one':
                if not vals.get('relation'):
                    raise UserError('Invalid field', 'A many2one field needs a relation '
                                    '(the name of the model it refers to).')
                env.model(vals['relation'])  # ModelNotFound if not a model
            if ttype == 'selection':
                registry.parse_selection(vals.get('selection'))
            if vals.get('required'):
                raise UserError('Invalid field', 'A field added to a table with records '
                                'cannot be required; make it required in your checks.')
            added.append((table_name(row.model), {**vals, 'model': row.model}))
        ids = super().create([vals for _table, vals in added])
        transaction = Transaction()
        for table, vals in added:
            transaction.backend.add_column(transaction.connection, table, runtime_column(
                vals['name'], vals['ttype'], vals.get('size')))
        return ids

    @classmethod
    def write(cls, ids: Any, vals: Any) -> bool:
        """Change a custom field's label, help, read-only flag or selection."""
        allowed = {'field_description', 'help', 'readonly', 'selection'}
        if isinstance(vals, dict) and set(vals) - allowed:
            raise UserError('Invalid change', 'Only the label, help, read-only flag and '
                            'selection of a custom field can change.')
        _manual_rows(cls, ids, 'Fields')
        return super().write(ids, vals)

    @classmethod
    def unlink(cls, ids: Any) -> bool:
        """Delete custom fields and their columns with their values."""
        rows = _manual_rows(cls, ids, 'Fields')
        super().unlink(ids)
        transaction = Transaction()
        for row in rows:
            transaction.backend.drop_column(transaction.connection, table_name(row.model),
                                            row.name)
        return True


class IrModelAccess(RegistryModel):
    """What a group (or everyone) may do with a model's records."""

    __model__ = 'ir.model.access'
    __tablename__ = 'ir_model_access'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    model_id: Mapped[int] = mapped_column(ForeignKey('ir_model.id', ondelete='CASCADE'),
                                          index=True, info={'string': 'Model'})
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey('res_group.id', ondelete='CASCADE'), default=None, info={'string': 'Group'})
    perm_read: Mapped[bool] = mapped_column(default=False, info={'string': 'Read Access'})
    perm_write: Mapped[bool] = mapped_column(default=False, info={'string': 'Write Access'})
    perm_create: Mapped[bool] = mapped_column(default=False, info={'string': 'Create Access'})
    perm_unlink: Mapped[bool] = mapped_column(default=False, info={'string': 'Delete Access'})


class IrRule(RegistryModel):
    """A domain limiting the records of a model for a group (or for everyone)."""

    __model__ = 'ir.rule'
    __tablename__ = 'ir_rule'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    model_id: Mapped[int] = mapped_column(ForeignKey('ir_model.id', ondelete='CASCADE'),
                                          index=True, info={'string': 'Model'})
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey('res_group.id', ondelete='CASCADE'), default=None, info={'string': 'Group'})
    domain_force: Mapped[str] = mapped_column(Text, default='[]', info={'string': 'Domain'})
    perm_read: Mapped[bool] = mapped_column(default=True, info={'string': 'Apply for Read'})
    perm_write: Mapped[bool] = mapped_column(default=True, info={'string': 'Apply for Write'})
    perm_create: Mapped[bool] = mapped_column(default=True,
                                              info={'string': 'Apply for Create'})
    perm_unlink: Mapped[bool] = mapped_column(default=True,
                                              info={'string': 'Apply for Delete'})


Pool.register(Group, IrModel, IrModelFields, IrModelAccess, IrRule, module='ir')


#: Models everyone may read through the data layer (what clients look at first).
READABLE_BY_EVERYONE = ('ir.model', 'ir.model.fields', 'res.group', 'res.user')


def _table(model: type[Model]) -> Table:
    return cast(Table, model.__table__)


def setup(conn: Connection) -> None:
    """A database's own data: the admin group, an ``ir.model`` row (and its fields) per code
    model, and the access rows letting everyone read :data:`READABLE_BY_EVERYONE`."""
    groups = _table(Group)
    if conn.execute(select(groups.c.id).where(groups.c.name == ADMIN_GROUP)).first() is None:
        conn.execute(insert(groups).values(name=ADMIN_GROUP, comment='Every right.'))
    models, fields = _table(IrModel), _table(IrModelFields)
    code = registry.code_models()
    known = dict(conn.execute(select(models.c.model, models.c.id)
                              .where(models.c.state == 'base')).all())
    gone = [model_id for name, model_id in known.items() if name not in code]
    if gone:
        conn.execute(delete(models).where(models.c.id.in_(gone)))
    for name, info in code.items():
        model_id = known.get(name)
        if model_id is None:
            model_id = conn.execute(insert(models).values(
                name=info.description, model=name, state='base').returning(models.c.id)
            ).scalar_one()
        else:
            conn.execute(update(models).where(models.c.id == model_id).values(
                name=info.description))
        conn.execute(delete(fields).where(fields.c.model_id == model_id))
        conn.execute(insert(fields), [
            {'name': f.name, 'field_description': f.string, 'ttype': f.type,
             'required': f.required, 'readonly': f.readonly, 'relation': f.relation,
             'help': f.help, 'model_id': model_id, 'model': name, 'state': 'base',
             'size': f.size, 'selection': repr([list(s) for s in f.selection])
             if f.selection else None}
            for f in info.fields.values() if not f.secret])
    access = _table(IrModelAccess)
    ids = dict(conn.execute(select(models.c.model, models.c.id)).all())
    for name in READABLE_BY_EVERYONE:
        label = f'everyone reads {name}'
        if name in ids and conn.execute(select(access.c.id).where(
                access.c.name == label)).first() is None:
            conn.execute(insert(access).values(name=label, model_id=ids[name],
                                               perm_read=True))
    registry.bump(conn)


Pool.register_setup(setup)
