"""Endpoints defined as data: ``endpoint.endpoint`` records served under
``/<db>/api/endpoint/…`` (see docs/endpoints.md).

This package's ``__init__`` imports nothing: the sandbox's zygote process imports
:mod:`.sandbox` alone.
"""
