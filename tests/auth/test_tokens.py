"""trylite.auth.tokens: the key format, its checksum, hashing and the constant-time check."""

from __future__ import annotations

import re

import pytest

from trylite.auth.tokens import (
    KEY_RE,
    SECRET_RE,
    checksum,
    hash_secret,
    new_key,
    new_secret,
    parse_key,
    secret_matches,
)


def test_new_key_shape():
    key = new_key()
    assert KEY_RE.fullmatch(key.value)
    prefix, public_id, rest = key.value.split('_')
    assert (prefix, public_id) == ('trylite', key.public_id)
    assert len(public_id) == 12 and len(rest) == 43 + 6
    assert '-' not in key.value  # a double-click selects all of it
    assert key.secret_hash == hash_secret(key.secret) and key.secret not in key.secret_hash
    assert parse_key(key.value) == (key.public_id, key.secret)


def test_keys_are_random():
    keys = {new_key().value for _ in range(200)}
    assert len(keys) == 200
    assert len({k.split('_')[1] for k in keys}) == 200


def test_secret_alphabet_and_entropy():
    secret = new_secret()
    assert SECRET_RE.fullmatch(secret)
    assert re.fullmatch(r'[0-9A-Za-z]{43}', secret)
    assert 62 ** 43 >= 2 ** 256


@pytest.mark.parametrize('change', [
    lambda k: k[:-1] + ('A' if k[-1] != 'A' else 'B'),  # checksum typo
    lambda k: k[:20] + ('x' if k[20] != 'x' else 'y') + k[21:],  # secret typo
    lambda k: k[:-2],  # truncated
    lambda k: k + 'a',  # too long
    lambda k: k.replace('trylite_', 'trylight_'),
    lambda k: k.upper(),
    lambda k: ' ' + k,
])
def test_mistyped_keys_are_refused_without_a_lookup(change):
    key = new_key().value
    assert parse_key(change(key)) is None


def test_checksum_is_six_base62_characters():
    assert re.fullmatch(r'[0-9A-Za-z]{6}', checksum('trylite_abc'))
    assert checksum('a') != checksum('b')
    assert checksum('') == '000000'


def test_secret_matches():
    secret = new_secret()
    stored = hash_secret(secret)
    assert secret_matches(secret, stored)
    assert not secret_matches(new_secret(), stored)
    assert not secret_matches(None, stored)
    assert not secret_matches(secret, None)
    assert not secret_matches(None, None)
    assert not secret_matches('', '')
