"""URL converters registered on :data:`trylite.wsgi.app`'s map.

``<base64:name>`` matches URL-safe base64 (``A-Z a-z 0-9 - _``, padding optional) and gives the
handler the decoded **bytes**. A segment that is not valid base64 does not match the rule, so the
request ends as a 404 instead of an error. URLs are built unpadded.
"""

from __future__ import annotations

import base64
import binascii

from werkzeug.routing import BaseConverter, ValidationError


class Base64Converter(BaseConverter):
    """URL-safe base64 segment ⇄ bytes."""

    regex = r'[A-Za-z0-9_-]+={0,2}'

    def to_python(self, value: str) -> bytes:
        data = value.rstrip('=')
        if len(data) % 4 == 1 or len(value) - len(data) not in (0, (-len(data)) % 4):
            raise ValidationError()
        try:
            return base64.b64decode(data + '=' * (-len(data) % 4), altchars=b'-_', validate=True)
        except binascii.Error:
            raise ValidationError() from None

    def to_url(self, value: bytes | str) -> str:
        if isinstance(value, str):
            value = value.encode('utf-8')
        return base64.urlsafe_b64encode(value).rstrip(b'=').decode('ascii')
