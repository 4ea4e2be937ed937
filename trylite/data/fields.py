"""Fields: what a model's columns and relations are to the outside world.

A :class:`Field` has an Odoo-shaped type — ``char``, ``text``, ``integer``, ``float``,
``numeric``, ``boolean``, ``date``, ``datetime``, ``selection``, ``binary``, ``many2one``,
``one2many``, ``many2many`` — and knows how its values travel (:meth:`Field.to_wire`,
:meth:`Field.from_wire`), following Odoo's habits: an empty value reads as ``False``; dates
are ``YYYY-MM-DD`` and timestamps ``YYYY-MM-DD HH:MM:SS`` (UTC) strings; binary values are
base64; numeric values travel as numbers.

Declarative models describe a field in its column's ``info``: ``string`` (label), ``help``,
``selection`` (``[(value, label), ...]``), ``groups`` (only members of these groups may read
or write it), ``secret`` (nobody reads or searches it, administrators included), ``readonly``
and ``type`` (``'text'`` for a ``String`` without length).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from ..exceptions import UserError

__all__ = ['Field', 'column_type', 'parse_date', 'parse_datetime']

DATETIME_FORMAT = '%Y-%m-%d %H:%M:%S'
#: Largest magnitude an integer field stores (64-bit columns).
MAX_INTEGER = 2**63 - 1


@dataclass(frozen=True, eq=False)
class Field:
    """One field of a model."""

    name: str
    type: str
    string: str
    help: str = ''
    required: bool = False
    readonly: bool = False
    #: The related model's name (``many2one``, ``one2many``, ``many2many``).
    relation: str | None = None
    selection: tuple[tuple[str, str], ...] | None = None
    #: Members of these groups only may read or write it (empty: everyone).
    groups: frozenset[str] = frozenset()
    #: Nobody may read, search or write it through the data layer.
    secret: bool = False
    size: int | None = None
    #: The column holding the value (stored fields; ``many2one`` too).
    column: Column[Any] | None = None
    #: ``one2many``: the ``many2one`` field of *relation* pointing back here.
    inverse: str | None = None
    #: ``many2many``: the link table and its columns to this model and to *relation*.
    link: Table | None = None
    link_local: Column[Any] | None = None
    link_remote: Column[Any] | None = None

    @property
    def stored(self) -> bool:
        """Whether the value is in this model's own table (can be ordered by)."""
        return self.column is not None

    def describe(self) -> dict[str, Any]:
        """The field as ``fields_get`` answers it (Odoo's shape)."""
        description: dict[str, Any] = {
            'type': self.type, 'string': self.string, 'help': self.help,
            'required': self.required, 'readonly': self.readonly,
            'store': self.stored or self.link is not None or self.inverse is not None,
            'searchable': not self.secret, 'sortable': self.stored,
        }
        if self.relation:
            description['relation'] = self.relation
        if self.inverse:
            description['relation_field'] = self.inverse
        if self.selection is not None:
            description['selection'] = [list(item) for item in self.selection]
        if self.size:
            description['size'] = self.size
        return description

    # -- values -------------------------------------------------------------------------------
    def to_wire(self, value: Any) -> Any:
        """A stored value as it travels (``many2one`` and x2many are handled by the reader)."""
        if value is None:
            return False
        kind = self.type
        if kind == 'datetime':
            return value.astimezone(datetime.UTC).strftime(DATETIME_FORMAT)
        if kind == 'date':
            return value.isoformat()
        if kind == 'binary':
            return base64.b64encode(value).decode('ascii')
        if kind == 'numeric':
            return float(value)
        if kind == 'text' or kind == 'char':
            return value if value != '' else False
        return value

    def from_wire(self, value: Any) -> Any:
        """A written value checked and turned into what the column stores; :class:`UserError`
        naming the field when it does not fit."""
        kind = self.type
        if value is False and kind != 'boolean' or value is None:
            if self.required:
                raise UserError('Missing required value', f'The field {self.name!r} is required.')
            return None
        try:
            converted = _CONVERT[kind](self, value)
        except (TypeError, ValueError, ArithmeticError, binascii.Error):
            converted = _INVALID
        if converted is _INVALID:
            raise UserError('Wrong value', f'The field {self.name!r} ({kind}) cannot take '
                            f'{_shown(value)}.')
        return converted


_INVALID = object()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + '...'


def _char(field_: Field, value: Any) -> Any:
    if not isinstance(value, str) or '\x00' in value:
        return _INVALID
    value.encode('utf-8')  # an unpaired surrogate is a ValueError
    if field_.size and len(value) > field_.size:
        raise UserError('Value too long', f'The field {field_.name!r} holds at most '
                        f'{field_.size} characters.')
    return value


def _integer(field_: Field, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INTEGER:
        return _INVALID
    return value


def _float(field_: Field, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str | decimal.Decimal):
        return _INVALID
    number = float(value)
    return number if math.isfinite(number) else _INVALID


def _numeric(field_: Field, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str | decimal.Decimal):
        return _INVALID
    number = decimal.Decimal(str(value))
    return number if number.is_finite() else _INVALID


def _boolean(field_: Field, value: Any) -> Any:
    return value if isinstance(value, bool) else _INVALID


def _date(field_: Field, value: Any) -> Any:
    return parse_date(value) if isinstance(value, str) else _INVALID


def _datetime(field_: Field, value: Any) -> Any:
    return parse_datetime(value) if isinstance(value, str) else _INVALID


def _selection(field_: Field, value: Any) -> Any:
    allowed = {key for key, _label in field_.selection or ()}
    return value if isinstance(value, str) and value in allowed else _INVALID


def _binary(field_: Field, value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        return _INVALID
    return base64.b64decode(value, validate=True)


def _many2one(field_: Field, value: Any) -> Any:
    if isinstance(value, list | tuple) and value:  # [id, name] as read
        value = value[0]
    return _integer(field_, value) if not isinstance(value, bool) and value else _INVALID


_CONVERT = {
    'char': _char, 'text': _char, 'integer': _integer, 'float': _float, 'numeric': _numeric,
    'boolean': _boolean, 'date': _date, 'datetime': _datetime, 'selection': _selection,
    'binary': _binary, 'many2one': _many2one,
}


def parse_date(text: str) -> datetime.date:
    """``YYYY-MM-DD`` (or a timestamp, whose date is taken)."""
    if len(text) == 10:
        return datetime.date.fromisoformat(text)
    return parse_datetime(text).date()


def parse_datetime(text: str) -> datetime.datetime:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) or ISO 8601 with an offset, as an aware UTC datetime."""
    value = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def column_type(sql_type: TypeEngine[Any]) -> str | None:
    """The field type of a column type (``None``: not exposed)."""
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    for kind, name in _SQL_TYPES:
        if isinstance(sql_type, kind):
            return name
    return None


#: Checked in order: a subclass before its base.
_SQL_TYPES: tuple[tuple[type[Any], str], ...] = (
    (Boolean, 'boolean'), (Enum, 'selection'), (Text, 'text'), (String, 'char'),
    (Integer, 'integer'), (Float, 'float'), (Numeric, 'numeric'), (DateTime, 'datetime'),
    (Date, 'date'), (LargeBinary, 'binary'),
)
