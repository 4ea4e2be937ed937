"""Request bodies of endpoints: media types, parsing, and validation against a schema.

* **Media types** are parsed (:func:`media_type`): ``application/json; charset=utf-8`` is
  ``application/json``; types are compared without their parameters, case-insensitively.
  ``application/json`` and ``*/*+json`` bodies are JSON; ``application/xml``, ``text/xml`` and
  ``*/*+xml`` bodies are XML.
* **JSON bodies** are parsed with :mod:`trylite.json` (400 when malformed) and validated
  against a JSON Schema 2020-12 (:class:`jsonschema.Draft202012Validator`, with format
  checking: ``email``, ``date``, ``date-time``, ``uri``, ``uuid``, ``ipv4``…), written in JSON
  or YAML. References stay inside the schema (``#/$defs/…``): nothing is ever fetched.
* **XML bodies** are parsed with entities and DTDs forbidden (``xmlschema``'s
  ``defuse='always'``, nothing fetched: 400 otherwise) and validated against an XSD that stands
  alone (no ``xs:import``/``xs:include`` of other files).

A body that does not match answers 422 (:class:`~trylite.exceptions.InvalidBody`) listing
*every* error: the JSON pointer (RFC 6901) or XPath of the value at fault and the message.
Schemas are checked when an endpoint is saved (:func:`check_schema`: an invalid one is a
:class:`~trylite.exceptions.UserError`), and compiled once per text and process. The schema
libraries are imported when a schema is first met (processes that never meet one do not pay
for them).
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
from typing import TYPE_CHECKING, Any, Literal

from werkzeug.exceptions import BadRequest

from .. import json as json_module
from ..exceptions import InvalidBody, UserError

if TYPE_CHECKING:
    import xmlschema
    from jsonschema import Draft202012Validator

__all__ = ['MAX_ERRORS', 'body_kind', 'check_schema', 'media_type', 'parse',
           'schema_document', 'validate']

Kind = Literal['json', 'xml']
#: At most this many errors are listed in a 422 answer.
MAX_ERRORS = 100
#: The longest schema accepted, in characters.
MAX_SCHEMA = 200_000
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf'({_TCHARS})/({_TCHARS})')
_XSD = '{http://www.w3.org/2001/XMLSchema}'
_OUTSIDE = {f'{_XSD}{tag}' for tag in ('import', 'include', 'redefine', 'override')}


def media_type(value: str | None) -> str | None:
    """The media type of a ``Content-Type`` value, without parameters and in lower case
    (``None`` for an empty one); :class:`UserError` if it is not ``type/subtype``."""
    if value is None or not value.strip():
        return None
    essence = value.split(';', 1)[0].strip()
    if len(essence) > 100 or not _MEDIA_TYPE.fullmatch(essence):
        raise UserError('Invalid content type',
                        f'{value!r} is not a media type like application/json.')
    return essence.lower()


def body_kind(essence: str | None) -> Kind | None:
    """Whether bodies of the media type *essence* are JSON, XML, or neither."""
    if essence is None:
        return None
    kind, _, subtype = essence.partition('/')
    if essence == 'application/json' or subtype.endswith('+json'):
        return 'json'
    if essence in ('application/xml', 'text/xml') or subtype.endswith('+xml'):
        return 'xml'
    return None


# -- schemas ----------------------------------------------------------------------------------
def check_schema(text: str, kind: Kind | None) -> None:
    """Raise :class:`UserError` unless *text* is a valid schema for bodies of *kind*."""
    if kind is None:
        raise UserError('Invalid schema', 'A request schema needs a JSON or XML content type '
                        '(application/json, application/xml, …).')
    if not isinstance(text, str) or len(text) > MAX_SCHEMA:
        raise UserError('Invalid schema', f'A schema is text of at most {MAX_SCHEMA} '
                        'characters.')
    if kind == 'json':
        _json_validator(text)
    else:
        _xml_schema(text)


def schema_document(text: str, kind: Kind | None) -> Any:
    """The schema as a document: the JSON Schema's object (or boolean: a copy, the caller's
    to change), or the XSD's text."""
    return copy.deepcopy(_json_schema(text)) if kind == 'json' else text


@functools.lru_cache(maxsize=256)
def _json_schema(text: str) -> Any:
    """The JSON Schema written in *text* (JSON, else YAML)."""
    import yaml

    try:
        schema = json.loads(text)
    except ValueError:
        try:
            schema = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UserError('Invalid schema', 'A JSON Schema is written in JSON or YAML: '
                            f'{str(exc).splitlines()[0]}') from None
    if not isinstance(schema, dict | bool):
        raise UserError('Invalid schema', 'A JSON Schema is an object (or true or false).')
    return schema


@functools.lru_cache(maxsize=256)
def _json_validator(text: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from referencing import Registry
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    schema = _json_schema(text)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = '/'.join(str(part) for part in exc.absolute_path)
        raise UserError('Invalid schema', f'Not a JSON Schema 2020-12: {exc.message}'
                        + (f' (at {where})' if where else '')) from None
    resolver = Registry().resolver_with_root(DRAFT202012.create_resource(schema))
    for reference in _references(schema):
        if not reference.startswith('#'):
            raise UserError('Invalid schema', f'The reference {reference!r} leaves the '
                            'schema; references stay inside it (#/$defs/…).')
        try:
            resolver.lookup(reference)
        except Unresolvable:
            raise UserError('Invalid schema', f'The reference {reference!r} leads '
                            'nowhere.') from None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _references(node: Any) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ('$ref', '$dynamicRef') and isinstance(value, str):
                found.append(value)
            else:
                found += _references(value)
    elif isinstance(node, list):
        for item in node:
            found += _references(item)
    return found


@functools.lru_cache(maxsize=64)
def _xml_schema(text: str) -> xmlschema.XMLSchema:
    import xmlschema

    if not text.lstrip().startswith('<'):
        raise UserError('Invalid schema', 'An XSD is an XML document (<xs:schema …>).')
    try:
        document = xmlschema.XMLResource(io.StringIO(text), defuse='always', allow='none')
        if any(element.tag in _OUTSIDE and element.get('schemaLocation')
               for element in document.root.iter()):
            raise UserError('Invalid schema', 'An XSD must stand alone: no xs:import or '
                            'xs:include of other files.')
        schema = xmlschema.XMLSchema(document, defuse='always', allow='none')
    except xmlschema.XMLSchemaException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError('Invalid schema', f'Not a valid XSD: {first}') from None
    return schema


# -- bodies -----------------------------------------------------------------------------------
def parse(data: bytes, kind: Kind | None) -> Any:
    """The JSON value of a JSON body; the checked (well-formed, no DTD or entity) document
    of an XML body; ``None`` for others. :class:`~werkzeug.exceptions.BadRequest` when it
    does not parse."""
    if kind == 'json':
        try:
            return json_module.loads(data)
        except ValueError:
            raise BadRequest('The body is not valid JSON.') from None
    if kind == 'xml':
        return _xml_resource(data)
    return None


def _xml_resource(data: bytes) -> xmlschema.XMLResource:
    import xmlschema
    from xmlschema.exceptions import XMLResourceForbidden

    try:
        return xmlschema.XMLResource(io.BytesIO(data), defuse='always', allow='none')
    except XMLResourceForbidden:
        raise BadRequest('XML bodies may not declare a DTD or entities.') from None
    except (xmlschema.XMLSchemaException, SyntaxError, ValueError) as exc:
        raise BadRequest(f'The body is not well-formed XML: {str(exc)[:200]}') from None


def validate(text: str, kind: Kind | None, parsed: Any) -> None:
    """Raise :class:`~trylite.exceptions.InvalidBody` listing every error of the body, as
    :func:`parse` gave it, against the schema *text*."""
    errors: list[dict[str, str]] = []
    if kind == 'json':
        validator = _json_validator(text)
        for error in sorted(validator.iter_errors(parsed),
                            key=lambda e: [str(part) for part in e.absolute_path]):
            errors.append({'pointer': _pointer(error.absolute_path), 'message': error.message})
    elif kind == 'xml':
        for failure in _xml_schema(text).iter_errors(parsed):
            errors.append({'path': failure.path or '/',
                           'message': failure.reason or failure.message})
    if errors:
        raise InvalidBody(errors[:MAX_ERRORS],
                          "The body does not match the endpoint's request schema.")


def _pointer(path: Any) -> str:
    """The JSON pointer (RFC 6901) of a path of keys and indexes (``""``: the whole body)."""
    return ''.join('/' + str(part).replace('~', '~0').replace('/', '~1') for part in path)
