"""The environment of data-layer work: which database's models, and who is asking.

:func:`current_env` gives the :class:`Env` of the current transaction and user (made once per
transaction and user: the registry's version check and the person's groups cost one query
each, then nothing).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Result, select

from ..pool import metadata
from ..transaction import Transaction
from . import access, registry
from .fields import Field
from .info import ModelInfo

__all__ = ['Env', 'current_env', 'forget_env']


class Env:
    """The registry of the transaction's database and the person working on it."""

    def __init__(self, transaction: Transaction, registry_: registry.Registry, user: int,
                 login: str | None, groups: frozenset[str]) -> None:
        self.transaction = transaction
        self.registry = registry_
        self.user = user
        self.login = login
        self.groups = groups
        #: The system (user 0) or a member of the admin group.
        self.is_admin = user == 0 or access.ADMIN_GROUP in groups
        #: Models whose record rules are being compiled (to refuse rules that loop).
        self.compiling_rules: set[str] = set()

    def execute(self, statement: Any, parameters: Any = None) -> Result[Any]:
        """Run *statement* in the transaction (pending ORM changes are flushed first)."""
        return self.transaction.session.execute(statement, parameters)

    # -- what compiling domains needs (trylite.data.domains.Resolver) -----------------------------
    def model(self, name: str) -> ModelInfo:
        return self.registry.get(name)

    def check_searchable(self, info: ModelInfo, field: Field) -> None:
        access.check_field(self, info, field, 'search')

    def visible(self, info: ModelInfo) -> ColumnElement[bool] | None:
        access.check_model(self, info, 'read')
        return access.rule_filter(self, info, 'read')


def current_env() -> Env:
    """The :class:`Env` of the current transaction and its current user."""
    transaction = Transaction()
    key = f'trylite.data.env.{transaction.user}'
    env: Env | None = transaction.cache.get(key)
    if env is None:
        version, login, group_ids = _version_and_person(transaction)
        reg = registry.load((transaction.backend.uri, transaction.database_name),
                            transaction.connection, version)
        groups = frozenset(reg.groups[g] for g in group_ids if g in reg.groups)
        env = transaction.cache[key] = Env(transaction, reg, transaction.user, login, groups)
    return env


def forget_env() -> None:
    """Forget the environments of the current transaction (after its models, access rows
    or groups changed: the next :func:`current_env` reloads the registry)."""
    cache = Transaction().cache
    for key in [k for k in cache if k.startswith('trylite.data.env.')]:
        del cache[key]


def _version_and_person(transaction: Transaction) -> tuple[int, str | None, list[int]]:
    """The registry version, and the login and group ids of the transaction's user, in one
    round trip."""
    if transaction.user == 0:
        return registry.version(transaction.connection), None, []
    users = metadata.tables['res_user']
    members = metadata.tables['res_group_user_rel']
    version = select(registry.registry_table.c.version).scalar_subquery()
    rows = transaction.connection.execute(
        select(version, users.c.login, members.c.group_id)
        .select_from(users.outerjoin(members, members.c.user_id == users.c.id))
        .where(users.c.id == transaction.user)).all()
    if not rows:  # a user id without a person: no groups
        return registry.version(transaction.connection), None, []
    return rows[0][0] or 0, rows[0][1], [row[2] for row in rows if row[2] is not None]
