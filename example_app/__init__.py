"""example_app: a timesheet user application (Chronos-style) built on trylite's public API.

Load it with ``trylite serve --module example_app`` (or try it with ``trylite demo``). Importing
it declares the ``timesheet`` user application, its models (:mod:`example_app.models`), its API
(:mod:`example_app.routes`), Tryton's timesheet protocol for Tryton's own clients, Chronos and
Timyton (:mod:`example_app.tryton`), and its browser front end at ``/timesheet/``
(:mod:`example_app.frontend`).
"""

from . import frontend, models, routes, tryton

__all__ = ['frontend', 'models', 'routes', 'tryton']
