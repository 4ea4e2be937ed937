"""``@rpc``: which model methods may be called from outside (by any wire protocol).

Nothing is callable from outside unless it is one of the generic record methods or marked
``@rpc``; a name starting with ``_`` never is. A marked method is a classmethod of a model::

    class Line(Model):
        @classmethod
        @rpc(readonly=True)
        def total(cls, ids):            # called with the ids of records
            ...

        @classmethod
        @rpc(model=True)
        def import_lines(cls, text):    # called on the model, without ids
            ...

``readonly=True`` says it only reads: it runs in a read-only transaction, and a read-only
key may call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

__all__ = ['RPC', 'rpc', 'rpc_of']

F = TypeVar('F', bound=Callable[..., Any])


@dataclass(frozen=True)
class RPC:
    """How a method may be called from outside."""

    #: It only reads.
    readonly: bool = False
    #: It is called on the model, without ids (Odoo's ``@api.model``).
    model: bool = False


@overload
def rpc(func: F, /) -> F: ...
@overload
def rpc(*, readonly: bool = False, model: bool = False) -> Callable[[F], F]: ...


def rpc(func: Any = None, /, *, readonly: bool = False, model: bool = False) -> Any:
    """Mark a model method as callable from outside (see the module doc)."""
    def mark(target: Any) -> Any:
        inner = target.__func__ if isinstance(target, classmethod) else target
        setattr(inner, '__rpc__', RPC(readonly=readonly, model=model))  # noqa: B010
        return target
    return mark(func) if func is not None else mark


def rpc_of(method: Any) -> RPC | None:
    """How *method* (a function or bound method) may be called from outside, if it may."""
    return getattr(getattr(method, '__func__', method), '__rpc__', None)
