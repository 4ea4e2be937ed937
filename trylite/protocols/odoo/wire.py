"""XML-RPC on the wire: reading calls safely, writing answers as Odoo does.

Reading. The body is parsed by expat into the standard library's
:class:`xmlrpc.client.Unmarshaller`, with every document type declaration refused: XML-RPC
never needs one, and refusing it refuses entity expansion ("billion laughs") and external
entities whatever expat's own limits are. The body is bounded before it is read
(``[request] max_size``). A call that is not well-formed XML-RPC, nests deeper than
:data:`MAX_DEPTH` or holds numbers beyond reason is a 400 (drawn as a fault). Arguments come
as Python values; ``<dateTime.iso8601>`` values become Odoo's timestamp strings
(``YYYY-MM-DD HH:MM:SS``), as the data layer takes them; ``<base64>`` values become bytes.

Writing follows Odoo's marshaller: ``None`` travels as ``False``, dates and timestamps as
Odoo's strings, bytes as base64 strings, decimals as doubles; integers beyond 32 bits as
``<i8>`` (beyond 64 bits: as doubles); dictionary keys as strings; characters XML cannot
carry as U+FFFD.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import re
import xmlrpc.client
from collections.abc import Callable
from typing import Any, NoReturn
from xml.parsers import expat

from werkzeug.exceptions import BadRequest

from ...web.responses import Response

__all__ = ['MAX_DEPTH', 'dump_fault', 'dump_result', 'load_call', 'xml_response']

#: Deepest nesting of arrays and structs a call may have.
MAX_DEPTH = 64
_I8 = 2**63
_TIMESTAMP = '%Y-%m-%d %H:%M:%S'
#: Characters XML 1.0 cannot carry (written as U+FFFD rather than breaking the answer).
_NOT_XML = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]')


def _refuse(*args: Any) -> NoReturn:
    raise BadRequest('XML-RPC calls may not declare a document type or entities.')


def load_call(body: bytes) -> tuple[str, tuple[Any, ...]]:
    """``(method name, arguments)`` of an XML-RPC call; 400 when it is not one."""
    unmarshaller = xmlrpc.client.Unmarshaller(use_datetime=True, use_builtin_types=True)
    unmarshaller.xml(None, None)  # type: ignore[arg-type]  # expat gives text (no decoding)
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartElementHandler = unmarshaller.start
    parser.EndElementHandler = unmarshaller.end
    parser.CharacterDataHandler = unmarshaller.data
    try:
        parser.Parse(body, True)
        params = unmarshaller.close()
        method = unmarshaller.getmethodname()
    except (expat.ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError,
            IndexError, KeyError, OverflowError, AttributeError):
        method = None
    if not isinstance(method, str) or not method:
        raise BadRequest('The body is not an XML-RPC call.')
    return method, tuple(_from_xml(value, 0) for value in params)


def _from_xml(value: Any, depth: int) -> Any:
    """An argument as the data layer takes it (see the module doc)."""
    if depth > MAX_DEPTH:
        raise BadRequest(f'XML-RPC values may nest {MAX_DEPTH} levels deep at most.')
    if isinstance(value, list):
        return [_from_xml(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: _from_xml(item, depth + 1) for key, item in value.items()}
    if isinstance(value, datetime.datetime):
        return value.strftime(_TIMESTAMP)
    return value


class _Marshaller(xmlrpc.client.Marshaller):
    """The standard marshaller, with Odoo's habits (see the module doc)."""

    dispatch: dict[Any, Callable[..., None]] = dict(xmlrpc.client.Marshaller.dispatch)

    def _dump(self, value: Any, write: Callable[[str], Any]) -> None:
        self._Marshaller__dump(value, write)  # type: ignore[attr-defined]

    def dump_nil(self, value: None, write: Callable[[str], Any]) -> None:
        self.dump_bool(False, write)

    def dump_long(self, value: int, write: Callable[[str], Any]) -> None:
        if xmlrpc.client.MININT <= value <= xmlrpc.client.MAXINT:
            write(f'<value><int>{value}</int></value>\n')
        elif -_I8 <= value < _I8:
            write(f'<value><i8>{value}</i8></value>\n')
        else:
            self.dump_double(float(value), write)

    def dump_unicode(self, value: str, write: Callable[[str], Any],
                     escape: Callable[[str], str] = xmlrpc.client.escape) -> None:
        super().dump_unicode(_NOT_XML.sub('\ufffd', value), write, escape)

    def dump_base64(self, value: bytes, write: Callable[[str], Any]) -> None:
        self.dump_unicode(base64.b64encode(value).decode('ascii'), write)

    def dump_timestamp(self, value: datetime.datetime, write: Callable[[str], Any]) -> None:
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        self.dump_unicode(value.strftime(_TIMESTAMP), write)

    def dump_date(self, value: datetime.date, write: Callable[[str], Any]) -> None:
        self.dump_unicode(value.isoformat(), write)

    def dump_decimal(self, value: decimal.Decimal, write: Callable[[str], Any]) -> None:
        self.dump_double(float(value), write)

    def dump_set(self, value: set[Any] | frozenset[Any], write: Callable[[str], Any]) -> None:
        self.dump_array(list(value), write)

    def dump_dict(self, value: dict[Any, Any], write: Callable[[str], Any]) -> None:
        if any(not isinstance(key, str) for key in value):
            value = {str(key): item for key, item in value.items()}
        self.dump_struct(value, write)

    dispatch[type(None)] = dump_nil
    dispatch[str] = dump_unicode
    dispatch[int] = dump_long
    dispatch[bytes] = dump_base64
    dispatch[bytearray] = dump_base64
    dispatch[datetime.datetime] = dump_timestamp
    dispatch[datetime.date] = dump_date
    dispatch[decimal.Decimal] = dump_decimal
    dispatch[set] = dump_set
    dispatch[frozenset] = dump_set
    dispatch[dict] = dump_dict


def _response(params: Any) -> str:
    return ("<?xml version='1.0'?>\n<methodResponse>\n"
            f'{_Marshaller(allow_none=False).dumps(params)}</methodResponse>\n')


def dump_result(value: Any) -> str:
    """An XML-RPC answer carrying *value*."""
    return _response((value,))


def dump_fault(code: str, message: str) -> str:
    """An XML-RPC fault answer."""
    # Odoo's /xmlrpc/ faults have string codes; Python's client takes any type.
    return _response(xmlrpc.client.Fault(code, message))  # type: ignore[arg-type]


def xml_response(text: str) -> Response:
    """An XML-RPC answer: always HTTP 200 (see :mod:`.errors`)."""
    return Response(text, 200, content_type='text/xml; charset=utf-8')
