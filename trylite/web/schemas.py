"""JSON Schema 2020-12: checking schemas, and validating values against them.

Routes may declare the schema of their JSON request body and of their JSON answers
(``app.route(..., request_schema=..., response_schema=...)``); the same schemas describe them
in the OpenAPI document. Validation uses ``jsonschema`` with format checking; every error is
reported with its JSON pointer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

__all__ = ['Schema', 'SchemaError', 'check_schema']


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise :class:`SchemaError` (naming what is wrong) unless *schema* is a valid JSON Schema
    2020-12."""
    if not isinstance(schema, Mapping):
        raise SchemaError('A schema must be a JSON object.')
    Draft202012Validator.check_schema(schema)


class Schema:
    """A checked JSON Schema, ready to validate values."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        check_schema(schema)
        self.schema = dict(schema)
        self._validator = Draft202012Validator(self.schema, format_checker=FormatChecker())

    def errors(self, value: Any) -> list[dict[str, str]]:
        """Every way *value* breaks the schema: ``[{"pointer", "message"}]``, in path order
        (empty when it follows it)."""
        found = sorted(self._validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
        return [{'pointer': ''.join(f'/{_escape(part)}' for part in error.absolute_path),
                 'message': error.message[:300]} for error in found]


def _escape(part: Any) -> str:
    """A JSON pointer token (RFC 6901)."""
    return str(part).replace('~', '~0').replace('/', '~1')
