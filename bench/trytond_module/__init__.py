"""trytond module ``trylite_bench``: the trytond side of trylite's benchmark.

trytond 8.2 registers the pool classes from the ``[register]`` section of
``tryton.cfg`` (a module-level ``register()`` is deprecated there).  Importing
this package declares the benchmark's WSGI routes on ``trytond.wsgi.app``.
"""

from . import routes  # noqa: F401
