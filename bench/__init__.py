"""Benchmark comparing trylite, trytond 8.2.1 and a bare Werkzeug app.

Run ``python -m bench`` from the repository root.  The orchestrating code uses
only the standard library; each server runs from its own virtual environment
under ``bench/.venv-*``.
"""
