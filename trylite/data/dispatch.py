"""The one dispatcher: (model, method, args, kwargs, context) → result, for every protocol.

Wire protocols (Odoo's JSON-2, XML-RPC and JSON-RPC, Frappe's REST) are thin adapters over
:func:`execute`: it runs one call in one transaction — read-only when the method only reads —
as the caller's person, under their access rights and their key's :class:`Scope`, re-running
it after a conflict like every transaction. Callable are the generic record methods
(:data:`GENERIC`) and the methods a model marks :func:`~trylite.data.rpc.rpc`; nothing whose
name starts with ``_``. Mistakes are typed: :class:`~trylite.exceptions.ModelNotFound`,
:class:`~trylite.exceptions.MethodNotFound`, :class:`~trylite.exceptions.BadArguments` (ids
given to a model-level method, arguments that do not bind), :class:`AccessError`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import AccessError, BadArguments, MethodNotFound
from ..pool import Pool
from ..settings import current
from ..transaction import Transaction
from . import records
from .env import Env, current_env
from .rpc import RPC, rpc_of

__all__ = ['FULL', 'GENERIC', 'Scope', 'call', 'execute', 'execute_as', 'is_readonly',
           'method_spec']

#: Says who calls, inside the call's transaction: ``(user id, scope)`` (e.g. by checking a
#: key, which raises when it is not valid).
Caller = Callable[[], tuple[int, 'Scope']]

#: The generic record methods every model answers, and how they may be called.
GENERIC: dict[str, RPC] = {
    'search': RPC(readonly=True, model=True),
    'search_count': RPC(readonly=True, model=True),
    'search_read': RPC(readonly=True, model=True),
    'fields_get': RPC(readonly=True, model=True),
    'name_search': RPC(readonly=True, model=True),
    'check_access_rights': RPC(readonly=True, model=True),
    'default_get': RPC(readonly=True, model=True),
    'read': RPC(readonly=True),
    'create': RPC(model=True),
    'write': RPC(),
    'unlink': RPC(),
}


@dataclass(frozen=True)
class Scope:
    """What a key may reach: only read-only methods (*readonly*), and only the models of
    *models* (``{'timesheet.line': 'rw', 'timesheet.work': 'r'}``; ``None``: every model)."""

    readonly: bool = False
    models: Mapping[str, str] | None = None

    def check(self, model: str, spec: RPC) -> None:
        """Raise :class:`AccessError` unless a call of *spec* on *model* is in this scope."""
        if self.models is not None and model not in self.models:
            raise AccessError(f"This key may not reach the model '{model}'.")
        allowed = self.models.get(model, 'rw') if self.models is not None else 'rw'
        if not spec.readonly and (self.readonly or 'w' not in allowed):
            raise AccessError(f"This key may only read the model '{model}'.")


#: No restriction beyond the person's rights.
FULL = Scope()


def method_spec(model: str, method: str) -> RPC | None:
    """How *method* of *model* may be called, as far as code tells (``None``: not callable,
    or a model made at run time, known only inside a transaction)."""
    if not isinstance(method, str) or method.startswith('_'):
        return None
    cls = Pool.models().get(model)
    if cls is not None and method not in GENERIC:
        return rpc_of(getattr(cls, method, None))
    return GENERIC.get(method)


def is_readonly(model: str, method: str) -> bool:
    """Whether a call may run in a read-only transaction (decided before it starts)."""
    spec = method_spec(model, method)
    return spec is not None and spec.readonly


def call(model: str, method: str, args: Any = (), kwargs: Any = None, *,
         ids: Any = None, scope: Scope = FULL) -> Any:
    """Call *method* of *model* in the current transaction; *ids*, if given, go first
    (to a record-level method only)."""
    env = current_env()
    info = env.model(model)
    spec = method_spec(model, method)
    if spec is None:
        raise MethodNotFound(f"The model '{model}' has no public method '{method}'.")
    scope.check(model, spec)
    if not isinstance(args, list | tuple):
        raise BadArguments('args must be a list.')
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise BadArguments('kwargs must be an object of named arguments.')
    if ids is not None:
        if spec.model:
            raise BadArguments(f"cannot call {model}.{method} with ids")
        args = [ids, *args]
    function = _function(env, info.cls, model, method)
    try:
        inspect.signature(function).bind(*args, **kwargs)
    except TypeError as exc:
        raise BadArguments(f'{model}.{method}: {exc}') from None
    return function(*args, **kwargs)


def _function(env: Env, cls: type[Any] | None, model: str, method: str) -> Callable[..., Any]:
    """What runs *method*: the class's own, or, for a model made at run time (no class), the
    generic method of :mod:`.records` of that name (one of :data:`GENERIC`)."""
    if cls is not None:
        return getattr(cls, method)  # type: ignore[no-any-return]
    return functools.partial(getattr(records, method), env, model)


def execute(database_name: str, user: int, model: str, method: str, args: Any = (),
            kwargs: Any = None, *, ids: Any = None, context: Mapping[str, Any] | None = None,
            scope: Scope = FULL) -> Any:
    """:func:`call` in a transaction of its own on *database_name* as *user* — read-only when
    the method only reads — committed when it returns, re-run after a conflict."""
    return execute_as(database_name, lambda: (user, scope), model, method, args, kwargs,
                      ids=ids, context=context)


def execute_as(database_name: str, caller: Caller, model: str, method: str,
               args: Any = (), kwargs: Any = None, *, ids: Any = None,
               context: Mapping[str, Any] | None = None) -> Any:
    """Like :func:`execute`, *caller* saying who calls, in the call's own transaction (so
    that checking a key and making the call cost one transaction)."""
    readonly = is_readonly(model, method)

    def run() -> Any:
        transaction = Transaction()
        user, scope = caller()
        with transaction.set_user(user):
            return call(model, method, args, kwargs, ids=ids, scope=scope)

    return Transaction.run(database_name, 0, run, readonly=readonly,
                           context=dict(context or {}),
                           retries=0 if readonly else current().database.retry)
