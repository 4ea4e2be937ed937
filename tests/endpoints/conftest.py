"""Endpoint tests: persons with cheaply hashed passwords, endpoints made in one call."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_preferences import (
    cheap_argon2,  # noqa: F401  (autouse)
    create_user,
)
from trylite.endpoints.models import Endpoint
from trylite.transaction import Transaction

#: A snippet answering who it runs as.
WHOAMI = "result = {'payload': {'login': user.login, 'caller': caller.login if caller else None}}"


def make_endpoint(db: str, **vals: Any) -> int:
    """Create an endpoint (``GET /<name>`` answering :data:`WHOAMI` unless told otherwise)."""
    name = vals.setdefault('name', 'whoami')
    vals.setdefault('route', f'/{name}')
    vals.setdefault('code', WHOAMI)
    with Transaction.start(db):
        (endpoint_id,) = Endpoint.create(vals)
    return endpoint_id


def url(db: str, route: str) -> str:
    return f'/{db}/api/endpoint{route}'


@pytest.fixture
def alice(db: str) -> int:
    """A person without any group."""
    return create_user(db, 'alice')


@pytest.fixture
def public(db: str, alice: int) -> int:
    """A public endpoint ``GET /whoami`` running as alice."""
    return make_endpoint(db, auth_type='public', exec_as_user_id=alice)
