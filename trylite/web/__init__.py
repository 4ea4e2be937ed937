"""The web layer: requests, responses, the error registry, CORS and routing.

It knows HTTP and nothing of keys, persons or databases: it maps the exceptions of
:mod:`trylite.exceptions` to answers, whoever raised them. It imports only the base modules
(:mod:`trylite.settings`, :mod:`trylite.exceptions`, :mod:`trylite.json`,
:mod:`trylite.converters`).
"""
