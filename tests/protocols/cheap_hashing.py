"""Loaded into the servers of the client-library tests (``trylite serve -m ...``): passwords
are hashed with the suite's cheap argon2 settings there too, so the hashes the tests make
need no rehash and each login costs little (these tests are about protocols, not hashing)."""

from __future__ import annotations

import trylite.auth.persons
from tests.test_preferences import _HASHER

trylite.auth.persons._hasher = _HASHER
