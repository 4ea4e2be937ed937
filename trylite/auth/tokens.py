"""The one token module: how keys and session tokens look, are made, stored and checked.

A key is ``<prefix>_<public id>_<secret><checksum>``:

* the prefix says the kind of key, and leaked-secret scanners can look for it: ``trylite``
  for user-application keys, ``trylitepk`` for personal API keys;
* a 12-character **public id** (48 random bits, lower-case hex) — shown to persons, stored
  as it is, and used to find the key's row with one indexed look-up;
* a 43-character **secret** (256 random bits) in base62 — no ``-``, so a double-click selects
  the whole key; only its SHA-256 is stored (a secret that random needs no slow hash);
* a 6-character **checksum**, base62 of the CRC32 of everything before it, so a mistyped or
  truncated key is refused without a database look-up.

Secrets are compared in constant time, and a miss costs the same as a wrong secret (a dummy
hash is compared when there is no row).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from typing import NamedTuple

__all__ = ['KEY_PREFIX', 'KEY_RE', 'PERSONAL_PREFIX', 'PUBLIC_ID_RE', 'SECRET_RE', 'NewKey',
           'ParsedKey', 'checksum', 'hash_secret', 'new_key', 'new_secret', 'parse_key',
           'secret_matches']

#: The prefix of user-application keys.
KEY_PREFIX = 'trylite'
#: The prefix of personal API keys.
PERSONAL_PREFIX = 'trylitepk'
ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
SECRET_LENGTH = 43
CHECKSUM_LENGTH = 6
PUBLIC_ID_RE = re.compile(r'[0-9a-f]{12}')
SECRET_RE = re.compile(rf'[0-9A-Za-z]{{{SECRET_LENGTH}}}')
_SHAPE = rf'_([0-9a-f]{{12}})_([0-9A-Za-z]{{{SECRET_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})'
#: A user-application key.
KEY_RE = re.compile(KEY_PREFIX + _SHAPE)
_KEY_RES = {KEY_PREFIX: KEY_RE, PERSONAL_PREFIX: re.compile(PERSONAL_PREFIX + _SHAPE)}


class NewKey(NamedTuple):
    """A new key: give :attr:`value` to its holder once, store the rest."""

    public_id: str
    secret_hash: str
    value: str

    @property
    def secret(self) -> str:
        """The secret part of :attr:`value` (e.g. Frappe's ``api_secret``)."""
        return self.value.split('_', 2)[2][:-CHECKSUM_LENGTH]


class ParsedKey(NamedTuple):
    public_id: str
    secret: str


def new_secret() -> str:
    """256 random bits from :mod:`secrets`, as 43 base62 characters."""
    return _base62(int.from_bytes(secrets.token_bytes(32)), SECRET_LENGTH)


def checksum(text: str) -> str:
    """The CRC32 of *text*, as 6 base62 characters."""
    return _base62(zlib.crc32(text.encode('ascii')), CHECKSUM_LENGTH)


def _base62(value: int, length: int) -> str:
    """*value* (below ``62 ** length``) as *length* base62 digits, most significant first."""
    digits = []
    for _ in range(length):
        value, digit = divmod(value, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return ''.join(reversed(digits))


def new_key(prefix: str = KEY_PREFIX) -> NewKey:
    """A fresh key of the kind *prefix* names."""
    public_id = secrets.token_hex(6)
    secret = new_secret()
    body = f'{prefix}_{public_id}_{secret}'
    return NewKey(public_id, hash_secret(secret), body + checksum(body))


def parse_key(value: str, prefix: str = KEY_PREFIX) -> ParsedKey | None:
    """``(public_id, secret)`` of a well-formed key of the kind *prefix* names, with a right
    checksum, else ``None``."""
    match = _KEY_RES[prefix].fullmatch(value)
    if match is None or not hmac.compare_digest(checksum(value[:-CHECKSUM_LENGTH]), match[3]):
        return None
    return ParsedKey(match[1], match[2])


def hash_secret(secret: str) -> str:
    """What is stored of a random secret (key secret, session token): its SHA-256, in hex."""
    return hashlib.sha256(secret.encode('ascii', 'surrogateescape')).hexdigest()


_DUMMY_HASH = hash_secret('0' * SECRET_LENGTH)


def secret_matches(secret: str | None, stored_hash: str | None) -> bool:
    """Whether *secret* has *stored_hash*, in constant time: a hash is computed and compared
    even when there is no secret or no stored hash, so a miss takes as long as a mismatch."""
    computed = hash_secret(secret) if secret is not None else _DUMMY_HASH
    return hmac.compare_digest(computed, stored_hash or '') and stored_hash is not None
