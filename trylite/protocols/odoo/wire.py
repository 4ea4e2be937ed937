"""XML-RPC on the wire: reading calls safely, writing answers as Odoo does.

Reading. The body is parsed by expat into the standard library's
:class:`xmlrpc.client.Unmarshaller`, with every document type declaration refused: XML-RPC
never needs one, and refusing it refuses entity expansion ("billion laughs") and external
entities whatever expat's own limits are. The body is bounded before it is read
(``[request] max_size``). A call that is not well-formed XML-RPC, nests deeper than
:data:`MAX_DEPTH` or holds numbers beyond reason is a 400 (drawn as a fault). Arguments come
as Python values; ``<dateTime.iso8601>`` values become Odoo's timestamp strings
(``YYYY-MM-DD HH:MM:SS``), as the data layer takes them; ``<base64>`` values become bytes.

Writing follows Odoo's marshaller (written here for speed: answers of many records are
large): ``None`` travels as ``False``, dates and timestamps as
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


def _text(value: str) -> str:
    """*value* escaped for XML (characters XML cannot carry as U+FFFD)."""
    if not (value.isascii() and value.isprintable()):
        value = _NOT_XML.sub('\ufffd', value)
    if '&' in value:
        value = value.replace('&', '&amp;')
    if '<' in value:
        value = value.replace('<', '&lt;')
    if '>' in value:
        value = value.replace('>', '&gt;')
    return value


def _integer(value: int) -> str:
    if xmlrpc.client.MININT <= value <= xmlrpc.client.MAXINT:
        return f'<value><int>{value}</int></value>'
    if -_I8 <= value < _I8:
        return f'<value><i8>{value}</i8></value>'
    return _double(float(value))


def _string(value: str) -> str:
    return f'<value><string>{_text(value)}</string></value>'


def _double(value: float) -> str:
    return f'<value><double>{value!r}</double></value>'


def _boolean(value: bool | None) -> str:
    return '<value><boolean>1</boolean></value>' if value else \
        '<value><boolean>0</boolean></value>'


#: The writers of the common scalar types, by exact type.
_SCALARS: dict[type[Any], Callable[[Any], str]] = {
    str: _string, int: _integer, bool: _boolean, float: _double, type(None): _boolean}


def _dump(value: Any, out: Callable[[str], Any]) -> None:
    """Write *value* as an XML-RPC ``<value>``."""
    scalar = _SCALARS.get(type(value))
    if scalar is not None:
        out(scalar(value))
    elif type(value) is dict:
        out('<value><struct>')
        for key, item in value.items():
            out(f'<member><name>{_text(key if type(key) is str else str(key))}</name>')
            _dump(item, out)
            out('</member>')
        out('</struct></value>')
    elif type(value) is list or type(value) is tuple:
        out('<value><array><data>')
        for item in value:
            _dump(item, out)
        out('</data></array></value>')
    else:
        _dump_other(value, out)


def _dump_other(value: Any, out: Callable[[str], Any]) -> None:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        out(_string(value.strftime(_TIMESTAMP)))
    elif isinstance(value, datetime.date):
        out(_string(value.isoformat()))
    elif isinstance(value, bytes | bytearray | memoryview):
        out(_string(base64.b64encode(value).decode('ascii')))
    elif isinstance(value, decimal.Decimal | float):
        out(_double(float(value)))
    elif isinstance(value, bool):
        _dump(bool(value), out)
    elif isinstance(value, int):
        out(_integer(int(value)))
    elif isinstance(value, str):
        out(_string(str(value)))
    elif isinstance(value, dict):
        _dump(dict(value), out)
    elif isinstance(value, list | tuple | set | frozenset):
        _dump(list(value), out)
    else:
        raise TypeError(f'cannot send {type(value).__name__} values over XML-RPC')


def _response(body: str) -> str:
    return f"<?xml version='1.0'?>\n<methodResponse>{body}</methodResponse>\n"


def dump_result(value: Any) -> str:
    """An XML-RPC answer carrying *value*."""
    out: list[str] = ['<params><param>']
    _dump(value, out.append)
    out.append('</param></params>')
    return _response(''.join(out))


def dump_fault(code: str, message: str) -> str:
    """An XML-RPC fault answer (its code a string, as Odoo's ``/xmlrpc/`` sends it)."""
    out: list[str] = ['<fault>']
    _dump({'faultCode': code, 'faultString': message}, out.append)
    out.append('</fault>')
    return _response(''.join(out))


def xml_response(text: str) -> Response:
    """An XML-RPC answer: always HTTP 200 (see :mod:`.errors`)."""
    return Response(text, 200, content_type='text/xml; charset=utf-8')
