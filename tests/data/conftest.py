"""The data-layer tests make many persons: their passwords are hashed cheaply."""

from __future__ import annotations

from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)
