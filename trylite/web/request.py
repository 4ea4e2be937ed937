"""The request class: Werkzeug's, with JSON read by :mod:`trylite.json` and bodies bounded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import IO, Any, cast

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wsgi import LimitedStream

from .. import json as json_module
from ..exceptions import FieldError

__all__ = ['BodyStream', 'Request', 'storable']


class Request(WerkzeugRequest):
    """A Werkzeug request whose JSON is read with :mod:`trylite.json`.

    ``get_json()`` answers 415 when the body is not declared as JSON and 400 when it does not
    parse. ``user_id`` is the authenticated ``res.user`` id, when something authenticated the
    request (``None`` otherwise); ``view_args`` the URL variables of the matched rule.
    """

    json_module = json_module
    user_id: int | None = None
    #: The URL variables of the matched rule (``None`` before routing).
    view_args: Mapping[str, Any] | None = None

    def get_json_object(self, required: Iterable[str] = (), optional: Iterable[str] = (),
                        types: dict[str, type | tuple[type, ...]] | None = None
                        ) -> dict[str, Any]:
        """The JSON object of the body, checked: 415 if it is not JSON, 400 if it is not an
        object, misses a *required* field, has a field neither required nor *optional*, or has
        a field whose value is not of its type in *types* (default ``str``, non-empty). The 400
        names the field at fault in ``field``.
        """
        data = self.get_json()
        if not isinstance(data, dict):
            raise BadRequest('The body must be a JSON object.')
        required, optional = tuple(required), tuple(optional)
        for name in required:
            if name not in data:
                raise FieldError(name, f'The field {name!r} is required.')
        for name, value in data.items():
            if name not in required and name not in optional:
                raise FieldError(name, f'Unknown field {name!r}.')
            expected = _as_tuple((types or {}).get(name, str))
            if not _is_kind(value, expected):
                raise FieldError(name, f'The field {name!r} must be {_describe(expected)}.')
            if isinstance(value, str) and not storable(value):
                raise FieldError(name, f'The field {name!r} must not contain NUL characters '
                                 'or unpaired surrogates.')
        return data

    @property
    def bearer_token(self) -> str | None:
        """The key sent as ``Authorization: Bearer <key>`` (or as the password of Basic with
        an empty user name), else ``None``."""
        auth = self.authorization
        if auth is None:
            return None
        if auth.type == 'bearer':
            return auth.token
        if auth.type == 'basic' and auth.username == '':
            return auth.password
        return None

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, refused with 413 beyond ``max_content_length`` — also when chunked."""
        limit = self.max_content_length
        if (self.content_length is None and limit is not None
                and 'wsgi.input_terminated' in self.environ and not self.shallow):
            return cast(IO[bytes], BodyStream(self.environ['wsgi.input'], limit, is_max=True))
        return super().stream

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            raise UnsupportedMediaType('The body must be JSON (Content-Type: application/json).')
        raise BadRequest('The body is not valid JSON.')


def storable(text: str) -> bool:
    """Whether a database can store *text*: no NUL, valid UTF-8 (no unpaired surrogate)."""
    if '\x00' in text:
        return False
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


class BodyStream(LimitedStream):
    """A body of unknown length (chunked) read up to a maximum.

    Werkzeug's maximum-length stream silently stops at the limit when all of it is read at
    once, and refuses a body of exactly the limit when read in pieces; this one answers 413
    exactly when the body is longer than the limit.
    """

    def on_exhausted(self) -> None:
        if self._stream.read(1):
            raise RequestEntityTooLarge(f'The body must not exceed {self.limit} bytes.')

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _is_kind(value: Any, kinds: tuple[type, ...]) -> bool:
    """JSON-minded isinstance: ``true`` is no number, ``""`` is no string."""
    if isinstance(value, bool):
        return bool in kinds
    if value == '':
        return False
    return isinstance(value, kinds) or (float in kinds and isinstance(value, int))


_KIND_NAMES = {str: 'a non-empty string', int: 'a whole number', float: 'a number',
               bool: 'true or false', list: 'a list', dict: 'an object', type(None): 'null'}


def _describe(kind: type | tuple[type, ...]) -> str:
    return ' or '.join(_KIND_NAMES.get(k, k.__name__) for k in _as_tuple(kind))
