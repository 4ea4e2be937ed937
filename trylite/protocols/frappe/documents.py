"""Frappe documents over the data layer: how they look, and the calls that read and write them.

**Names.** A Frappe document is known by its ``name``; a trylite record by its ``id``. Here a
document's ``name`` *is* its id, written as text (``"7"``); URLs, bodies and filters take it as
text or as a number. In filters and ``order_by``, ``name`` means the id. Every document read
carries ``name`` besides its fields (and ``id``, ``display_name``).

A model's own field called ``name`` (its title, what ``display_name`` shows) cannot also be
``name`` on this wire: it is read, written, filtered and sorted as ``title`` — Frappe's usual
field for a document's title — unless the model has a field ``title`` of its own (then its
``name`` field is not reachable here). Frappe's standard fields are the audit fields:
``modified`` is ``write_date``, ``creation`` ``create_date``, ``owner`` ``create_uid``,
``modified_by`` ``write_uid`` (in filters, ``order_by`` and ``fields``).

**Writing.** A body's ``doctype`` and ``name`` are dropped (the name is the id, given by the
database), and so are the fields trylite sets (``id``, ``display_name``, the audit fields and
their Frappe names, ``docstatus``, ``idx``, keys starting with ``_``), so a document read may
be sent back as it is. Other fields must exist: an unknown field is a 400 naming it.

Every function here makes its calls through :func:`trylite.data.dispatch.execute_as`, one
transaction each, as the person of the request (:mod:`.auth`): access rights, record rules,
limits and errors are the data layer's.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.exceptions import BadRequest, NotFound

from ...data.dispatch import execute_as
from ...data.registry import code_models
from ...exceptions import AccessError
from ...pool import Pool
from ...settings import current
from ...web.request import Request
from .auth import caller
from .filters import to_domain
from .site import int_param, json_param, text_param

__all__ = ['BY_ID', 'DEFAULT_PAGE', 'Listing', 'Shape', 'count', 'delete', 'domain',
           'execute', 'get', 'get_by_filters', 'insert', 'record_id', 'search', 'update']

#: Frappe's default page size.
DEFAULT_PAGE = 20
#: Frappe's standard fields and the data layer's.
STANDARD = {'modified': 'write_date', 'creation': 'create_date', 'owner': 'create_uid',
            'modified_by': 'write_uid'}
#: Keys of a written body that trylite sets itself (dropped).
_SET_BY_TRYLITE = {'doctype', 'name', 'id', 'display_name', 'create_uid', 'create_date',
                   'write_uid', 'write_date'}
_FRAPPE_ONLY = {*STANDARD, 'docstatus', 'idx'}
_ORDER_RE = re.compile(r'\s*(?:`tab[^`]*`\.|tab[^`.\s]*\.)?`?([A-Za-z_][A-Za-z0-9_]*)`?'
                       r'(\s+(?:asc|desc))?\s*', re.IGNORECASE)


class Shape:
    """How the documents of one model look on the Frappe wire (see the module doc)."""

    def __init__(self, model: str) -> None:
        info = code_models().get(model) if isinstance(model, str) else None
        #: The model's fields when it is defined in code (``None``: made at run time, whose
        #: fields are all ``x_…``).
        self.fields = frozenset(info.fields) if info is not None else None
        #: Whether its ``name`` field is ``title`` here.
        self.title = self.fields is not None and 'name' in self.fields and (
            'title' not in self.fields)
        self._pairs: dict[tuple[str, ...], list[tuple[str, str]]] = {}

    def _own(self, key: str) -> bool:
        return self.fields is not None and key in self.fields

    def field(self, key: str) -> str:
        """The data-layer field a wire key names."""
        if key == 'name':
            return 'id'
        if key == 'title' and self.title:
            return 'name'
        if key in STANDARD and not self._own(key):
            return STANDARD[key]
        return key

    def document(self, record: dict[str, Any], keys: list[str] | None = None
                 ) -> dict[str, Any]:
        """A data-layer record as a document: every field (*keys* ``None``) or those keys."""
        document: dict[str, Any] = {'name': str(record['id'])}
        if keys is not None:
            document.update((key, record[field]) for key, field in self.pairs(keys))
            return document
        for key, value in record.items():
            if key != 'name':
                document[key] = value
            elif self.title:
                document['title'] = value
        return document

    def pairs(self, keys: list[str]) -> list[tuple[str, str]]:
        """Each wire key of *keys* but ``name``, with the data-layer field it names (worked out
        once per list of keys)."""
        cached = self._pairs.get(tuple(keys))
        if cached is None:
            cached = self._pairs[tuple(keys)] = [(key, self.field(key)) for key in keys
                                                 if key != 'name']
        return cached

    def values(self, body: Any) -> dict[str, Any]:
        """A written body as data-layer values (see the module doc)."""
        if not isinstance(body, dict):
            raise BadRequest('A document must be a JSON object of field values.')
        return {self.field(key): value for key, value in body.items()
                if not (key in _SET_BY_TRYLITE or (key in _FRAPPE_ONLY or key.startswith('_'))
                        and not self._own(key))}

    def order(self, text: str) -> str | None:
        """Frappe's ``order_by`` (``"modified desc"``, ``"`tabToDo`.`name` asc"``) as the
        data layer's (a part it cannot read is passed on, for the data layer to refuse)."""
        parts = []
        for part in text.split(','):
            match = _ORDER_RE.fullmatch(part)
            parts.append(f'{self.field(match[1])}{match[2] or ""}' if match else part)
        return ', '.join(parts) if text.strip() else None

    def fields_of(self, wanted: Any) -> tuple[list[str] | None, list[str] | None]:
        """The data-layer fields to read and the wire keys to answer for Frappe's ``fields``
        (``["*"]`` or ``"*"``: every readable field; missing: ``name`` only)."""
        if wanted is None:
            wanted = ['name']
        if wanted == '*' or isinstance(wanted, list) and '*' in wanted:
            return None, None
        if isinstance(wanted, str):
            wanted = [wanted]
        if not isinstance(wanted, list) or not wanted or not all(
                isinstance(key, str) for key in wanted):
            raise BadRequest('fields must be a list of field names, or ["*"].')
        keys = list(dict.fromkeys(wanted))
        return [self.field(key) for key in keys], keys


#: The context of reading a record by its id: inactive records too.
BY_ID = {'active_test': False}


def execute(request: Request, pool: Pool, model: str, method: str, args: Any = (),
            kwargs: Any = None, ids: Any = None, context: dict[str, Any] | None = None
            ) -> Any:
    """One data-layer call as the request's person, in a transaction of its own."""
    return execute_as(pool.database_name, caller(request), model, method, args, kwargs,
                      ids=ids, context=context)


def record_id(model: str, name: Any) -> int:
    """The id a document name stands for (404 when it cannot be one)."""
    if isinstance(name, str) and name.isascii() and name.isdigit():
        name = int(name)
    if isinstance(name, bool) or not isinstance(name, int) or name < 1:
        raise NotFound(f'{model} {name!r} not found.')
    return name


class Listing:
    """What a list request asks for, read from Frappe's parameters."""

    def __init__(self, model: str, found: dict[str, Any], start: tuple[str, ...],
                 limit: tuple[str, ...]) -> None:
        self.model = model
        self.shape = Shape(model)
        wanted = found.get('fields')
        self.read, self.keys = self.shape.fields_of(
            '*' if wanted == '*' else json_param(found, 'fields'))
        self.domain = to_domain(json_param(found, 'filters'), json_param(found, 'or_filters'),
                                model, self.shape.field)
        self.order = self.shape.order(text_param(found, 'order_by', ''))
        self.start = int_param(found, start, 0)
        cap = current().api.max_limit
        #: The page size: Frappe's 20 by default, cut to ``[api] max_limit``; 0 means that
        #: maximum, never "everything".
        self.limit = min(int_param(found, limit, DEFAULT_PAGE) or cap, cap)


def search(request: Request, pool: Pool, listing: Listing, extra: int = 0
           ) -> list[dict[str, Any]]:
    """The documents of one page of *listing* (and *extra* more, to tell whether there is a
    next page)."""
    rows = execute(request, pool, listing.model, 'search_read', [listing.domain], {
        'fields': listing.read, 'offset': listing.start, 'limit': listing.limit + extra,
        'order': listing.order})
    return [listing.shape.document(row, listing.keys) for row in rows]


def domain(model: str, filters: Any, or_filters: Any = None) -> list[Any]:
    """The domain of Frappe's *filters* and *or_filters* on *model*."""
    return to_domain(filters, or_filters, model, Shape(model).field)


def count(request: Request, pool: Pool, model: str, condition: list[Any]) -> int:
    """How many documents match the domain *condition*."""
    return int(execute(request, pool, model, 'search_count', [condition]))


def _one(request: Request, pool: Pool, model: str, condition: list[Any], what: str,
         context: dict[str, Any] | None = None) -> dict[str, Any]:
    rows = execute(request, pool, model, 'search_read', [condition], {'limit': 1},
                   context=context)
    if not rows:
        raise NotFound(f'{model} {what} not found.')
    return {**Shape(model).document(rows[0]), 'doctype': model}


def get(request: Request, pool: Pool, model: str, name: Any) -> dict[str, Any]:
    """The document *name*, with every field the person may read, active or not (404 when
    they may not read it or it does not exist)."""
    return _one(request, pool, model, [('id', '=', record_id(model, name))], repr(name),
                BY_ID)


def get_by_filters(request: Request, pool: Pool, model: str, filters: Any
                   ) -> dict[str, Any]:
    """The first document matching *filters*."""
    return _one(request, pool, model, domain(model, filters), 'matching the filters')


def _read_back(request: Request, pool: Pool, model: str, record: int) -> dict[str, Any]:
    """The document just written — or its name alone, if the person may write it but not
    read it."""
    try:
        return get(request, pool, model, record)
    except (AccessError, NotFound):
        return {'name': str(record), 'doctype': model}


def insert(request: Request, pool: Pool, model: str, body: Any) -> dict[str, Any]:
    """Create a document; the document created."""
    (created,) = execute(request, pool, model, 'create', [Shape(model).values(body)])
    return _read_back(request, pool, model, created)


def update(request: Request, pool: Pool, model: str, name: Any, body: Any
           ) -> dict[str, Any]:
    """Change the document *name*; the document changed."""
    record = record_id(model, name)
    execute(request, pool, model, 'write', [Shape(model).values(body)], ids=[record])
    return _read_back(request, pool, model, record)


def delete(request: Request, pool: Pool, model: str, name: Any) -> None:
    """Delete the document *name*."""
    execute(request, pool, model, 'unlink', ids=[record_id(model, name)])
