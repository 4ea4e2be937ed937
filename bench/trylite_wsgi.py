"""gunicorn target ``bench.trylite_wsgi:app``: trylite's app with the bench routes."""

import bench.trylite_routes  # noqa: F401  (declares the routes on trylite's app)
from trylite.wsgi import app

__all__ = ['app']
