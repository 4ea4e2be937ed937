"""The bare Werkzeug baseline server (bench/bare_app.py)."""

from bench.servers import Server


def server() -> Server:
    """Bare Werkzeug under gunicorn, from trylite's venv (same Werkzeug as trylite)."""
    return Server(name="bare", venv="trylite", target="bench.bare_app:app",
                  paths={"nodb": "/bench/nodb", "echo": "/bench/echo"})
