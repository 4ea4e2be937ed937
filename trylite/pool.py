"""The pool: which models exist, and the trylite database a request works in.

Models register once, at import time of the module that defines them::

    Pool.register(Work, Line, module='timesheet')

``Pool(database_name)`` is the pool of one trylite database; ``pool.get('timesheet.work')``
gives the model class registered under that name. Model classes are shared by all databases
(they are plain SQLAlchemy classes); what differs per database is the connection.

:func:`create_database` and :func:`update_database` make a database hold the tables of every
registered model, then run the *setup* functions modules registered
(:meth:`Pool.register_setup`: the data they need, like Tryton's module data), in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy import Connection, MetaData, Table
from sqlalchemy import inspect as sa_inspect

from . import storage
from .exceptions import DatabaseNotFound

__all__ = ['Pool', 'create_database', 'metadata', 'update_database']

#: The tables of every model and internal table (:class:`trylite.model.Model` uses it).
metadata = MetaData(naming_convention={
    'ix': 'ix_%(column_0_label)s',
    'uq': 'uq_%(table_name)s_%(column_0_name)s',
    'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s',
    'pk': 'pk_%(table_name)s',
})
#: Runs in the transaction that creates or updates a database, after its tables exist.
Setup = Callable[[Connection], None]


class Pool:
    """The models of trylite, seen from one database."""

    _models: ClassVar[dict[str, type[Any]]] = {}
    _modules: ClassVar[dict[str, list[str]]] = {}
    _internal: ClassVar[list[Table]] = []
    _setups: ClassVar[list[Setup]] = []

    database_name: str

    def __new__(cls, database_name: str) -> Pool:
        """The pool of *database_name*; :class:`DatabaseNotFound` if it is not a trylite one."""
        if not storage.backend().exists(database_name):
            raise DatabaseNotFound(f'no trylite database named {database_name!r}')
        pool = super().__new__(cls)
        pool.database_name = database_name
        return pool

    def __repr__(self) -> str:
        return f'Pool({self.database_name!r})'

    def get(self, name: str) -> type[Any]:
        """The model class registered as *name* (``KeyError`` naming it otherwise)."""
        try:
            return self._models[name]
        except KeyError:
            raise KeyError(f'no model registered as {name!r}') from None

    @classmethod
    def register(cls, *models: type[Any], module: str) -> None:
        """Register *models* under their ``__model__`` names, as part of *module*.

        Registering the same class again is harmless; another class under a taken name is a
        ``ValueError``.
        """
        for model in models:  # all or nothing
            name = model.__dict__.get('__model__')
            if not name:
                raise TypeError(f'{model.__qualname__} has no __model__ name')
            if cls._models.get(name, model) is not model:
                raise ValueError(f'another model is already registered as {name!r}')
        names = cls._modules.setdefault(module, [])
        for model in models:
            name = model.__dict__['__model__']
            cls._models[name] = model
            if name not in names:
                names.append(name)

    @classmethod
    def register_table(cls, table: Table) -> None:
        """Make trylite create an internal table (not a model) in every database."""
        if table not in cls._internal:
            cls._internal.append(table)

    @classmethod
    def register_setup(cls, setup: Setup) -> None:
        """Run ``setup(connection)`` whenever a database is created or updated, after its
        tables are made (in the same transaction). It must be idempotent."""
        if setup not in cls._setups:
            cls._setups.append(setup)

    @classmethod
    def models(cls) -> dict[str, type[Any]]:
        """Every registered model class, by name."""
        return dict(cls._models)

    @classmethod
    def modules(cls) -> dict[str, list[str]]:
        """Registered module names and the model names each registered."""
        return {module: list(names) for module, names in cls._modules.items()}

    @classmethod
    def tables(cls) -> list[Table]:
        """Every table a trylite database must have: internal tables, the tables of the
        registered models and the link tables of their many-to-many relationships."""
        tables = list(cls._internal)
        for model in cls._models.values():
            tables.append(model.__table__)
            for relationship in sa_inspect(model).relationships:
                if isinstance(relationship.secondary, Table):
                    tables.append(relationship.secondary)
        return list(dict.fromkeys(tables))


def _create_tables(conn: Connection) -> None:
    metadata.create_all(conn, tables=Pool.tables(), checkfirst=True)
    for setup in Pool._setups:
        setup(conn)


def create_database(name: str) -> None:
    """Create the trylite database *name* with the tables of every registered model (and the
    data of their setup functions)."""
    storage.backend().create(name, _create_tables)


def update_database(name: str) -> None:
    """Create the tables of models registered since *name* was created (and run every setup
    function again)."""
    storage.backend().update(name, _create_tables)
