"""Exceptions of trylite.

HTTP errors are Werkzeug's :mod:`werkzeug.exceptions`; :mod:`trylite.wsgi` renders every one of
them, and the exceptions below, as one JSON error body. The classes here are for what is not HTTP
by nature.
"""

from __future__ import annotations

from werkzeug.exceptions import BadRequest


class TryliteError(Exception):
    """Base class of trylite's own exceptions."""


class ConfigError(TryliteError):
    """A configuration option or file is invalid. The message names it."""


class DatabaseNotFound(TryliteError):
    """The name is not a valid database name, or no trylite database has it."""


class DatabaseError(TryliteError):
    """A database could not be created, dropped or reached. The message is safe to show."""


class UserError(TryliteError):
    """An error the person using the application can fix.

    Raised by a handler, it rolls the transaction back and answers **400** with the JSON body
    ``{"status": 400, "message": message, "description": description}``.
    """

    def __init__(self, message: str, description: str = '') -> None:
        super().__init__(message, description)
        self.message = message
        self.description = description


class FieldError(BadRequest):
    """400 about one field of the request body: the JSON error names it in ``field``."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
