"""Virtual environments and system tools the bench needs."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from bench.common import BENCH_DIR, REPO_DIR, log, run

TRYTOND_REQUIREMENTS = ["trytond==8.2.1", "psycopg[binary,pool]", "gunicorn"]
TRYLITE_REQUIREMENTS = ["-e", str(REPO_DIR), "gunicorn"]
CHART_REQUIREMENTS = ["matplotlib>=3.6"]  # legend(ncols=...)


def venv_dir(name: str) -> Path:
    """Path of the bench virtual environment called ``name``."""
    return BENCH_DIR / f".venv-{name}"


def venv_bin(name: str, program: str) -> str:
    """Path of ``program`` inside the bench virtual environment ``name``."""
    return str(venv_dir(name) / "bin" / program)


def _fingerprint(requirements: list[str]) -> str:
    """Hash of the requirements plus trylite's packaging files (for editable installs)."""
    digest = hashlib.sha256("\n".join(requirements).encode())
    for packaging_file in ("setup.cfg", "pyproject.toml"):
        path = REPO_DIR / packaging_file
        if "-e" in requirements and path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv(name: str, requirements: list[str]) -> None:
    """Create ``bench/.venv-NAME`` and install ``requirements`` unless already done."""
    target = venv_dir(name)
    marker = target / ".bench-installed"
    fingerprint = _fingerprint(requirements)
    if marker.exists() and marker.read_text() == fingerprint:
        log(f"venv {name}: up to date")
        return
    log(f"venv {name}: installing {' '.join(requirements)}")
    if not (target / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", str(target)])
    pip = [venv_bin(name, "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]
    run([*pip, "--upgrade", "pip"])
    run([*pip, *requirements], timeout=900)
    marker.write_text(fingerprint)


def ensure_wrk() -> None:
    """Install wrk from Debian's packages when it is missing."""
    if shutil.which("wrk"):
        return
    log("installing wrk with apt-get")
    run(["apt-get", "update"], timeout=600)
    run(["apt-get", "install", "-y", "wrk"], env={"DEBIAN_FRONTEND": "noninteractive"})


def ensure_all(chart: bool = True) -> None:
    """Install both server environments and wrk, and the chart's environment if asked."""
    ensure_wrk()
    ensure_venv("trytond", TRYTOND_REQUIREMENTS)
    ensure_venv("trylite", TRYLITE_REQUIREMENTS)
    if chart:
        ensure_venv("chart", CHART_REQUIREMENTS)
