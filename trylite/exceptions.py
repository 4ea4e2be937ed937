"""Every exception trylite raises on purpose, in one place.

HTTP errors are Werkzeug's :mod:`werkzeug.exceptions`; the classes here name what is not HTTP by
nature. The web layer (:mod:`trylite.web.errors`) maps each class to one answer, so code at any
layer raises what happened and never decides a status code itself:

=========================  =====================================================================
exception                  answer
=========================  =====================================================================
:class:`UserError`         400 ``{"status", "message", "description"}``; the transaction rolls back
:class:`FieldError`        400 naming the ``field`` of the body at fault
:class:`AuthenticationFailed`  401 with the one ``WWW-Authenticate`` challenge
:class:`Throttled`         429 with ``Retry-After``
:class:`DatabaseNotFound`  404
:class:`AccessError`       403 naming the model and operation (never the rows)
:class:`ModelNotFound`     404
:class:`MethodNotFound`    404
:class:`BadArguments`      422
:class:`InvalidBody`       422 with every error's JSON pointer (or XPath) and message
:class:`Retryable`         503 with ``Retry-After`` (once ``with_transaction`` is out of re-runs)
:class:`Unavailable`       503 with ``Retry-After``
:class:`StatementTimeout`  504
:class:`UnstorableText`    400
:class:`Duplicate`         409
:class:`ConstraintViolation`  409
:class:`ReadOnlyViolation`  500, logged with a hint
=========================  =====================================================================

The storage errors (:class:`StorageError` and below) are raised by the storage layer when a
driver error leaves a transaction, in place of the driver's own exception (kept as
``__cause__``): callers never parse driver messages or SQLSTATEs.
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


class AuthenticationFailed(TryliteError):
    """The request carries no valid credentials for what it asks: 401 with the challenge."""

    def __init__(self, description: str = 'Valid credentials are required.') -> None:
        super().__init__(description)
        self.description = description


class Throttled(TryliteError):
    """Too many failures from this client or for this login: 429 for *retry_after* seconds."""

    def __init__(self, retry_after: int,
                 description: str = 'Too many failures; try again later.') -> None:
        super().__init__(description)
        self.retry_after = retry_after
        self.description = description


class AccessError(TryliteError):
    """The current person may not do this (a model's access, a record rule, a field's groups,
    a key's scope). The message names the model and the operation, never the rows."""


class ModelNotFound(TryliteError):
    """No model of that name is reachable."""


class MethodNotFound(TryliteError):
    """The model has no public method of that name."""


class BadArguments(TryliteError):
    """The arguments of a call do not fit the method (or ids went to a model-level method)."""


class InvalidBody(TryliteError):
    """The request body does not follow the route's schema: *errors* is a list of
    ``{"pointer": "/items/0/qty", "message": "…"}`` (``"path"`` instead of ``"pointer"`` for
    XML bodies)."""

    def __init__(self, errors: list[dict[str, str]],
                 message: str = 'The body does not follow the schema.') -> None:
        super().__init__(message)
        self.errors = errors


# -- storage ---------------------------------------------------------------------------------
class StorageError(TryliteError):
    """A database error, classified. The message never holds SQL or values."""


class Retryable(StorageError):
    """The transaction can succeed if it runs again from the start."""


class Conflict(Retryable):
    """A serialization failure or a deadlock with a concurrent transaction."""


class Busy(Retryable):
    """Another writer holds a lock this transaction needs (SQLite busy, a lock timeout)."""


class Duplicate(StorageError):
    """A unique constraint refused a row; under snapshot isolation, maybe a concurrent insert."""


class ConstraintViolation(StorageError):
    """A foreign key, not-null or check constraint refused the data."""


class StatementTimeout(StorageError):
    """A statement ran longer than the transaction's timeout and was cancelled."""


class ReadOnlyViolation(StorageError):
    """A read-only transaction tried to write."""


class UnstorableText(StorageError):
    """Text no database can store: a NUL character or an unpaired surrogate."""


class Unavailable(StorageError):
    """The database cannot be reached, has no free connection, or is shutting down."""


class ConnectionLost(Unavailable):
    """The connection died during the transaction.

    ``during_commit`` tells whether it died while COMMIT was on its way: the outcome is then
    unknown and the transaction must not run again. Otherwise the server has rolled it back
    and running it again on a new connection is safe.
    """

    def __init__(self, message: str, during_commit: bool = False) -> None:
        super().__init__(message)
        self.during_commit = during_commit
