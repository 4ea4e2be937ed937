"""Prepare trytond 8.2.1 as the benchmark peer (see the reference's section E)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bench.common import (
    BENCH_DIR,
    DATABASE_PREFIX,
    GUARDED_LOGIN,
    HOST,
    KEYREQ_LOGIN,
    PG_PORT,
    PG_USER,
    WORK_DIR,
    log,
    recreate_database,
    run,
)
from bench.envs import venv_bin, venv_dir
from bench.servers import Server

DATABASE = f"{DATABASE_PREFIX}_trytond"
MODULE = "trylite_bench"


def _write_config() -> Path:
    """Write trytond's config: local PostgreSQL, no static web root."""
    WORK_DIR.mkdir(exist_ok=True)
    conf = WORK_DIR / "trytond.conf"
    conf.write_text(
        "[database]\n"
        f"uri = postgresql://{PG_USER}@{HOST}:{PG_PORT}/\n"
        f"path = {WORK_DIR / 'trytond-data'}\n"
        "[web]\n"
        f"root = {WORK_DIR / 'no-such-web-root'}\n"
        "[session]\n"
        "max_attempt = 5\n")
    return conf


def _link_module() -> None:
    """Link bench/trytond_module into trytond/modules/ of the peer venv."""
    site = next(venv_dir("trytond").glob("lib/python*/site-packages"))
    link = site / "trytond" / "modules" / MODULE
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(BENCH_DIR / "trytond_module", target_is_directory=True)


def _admin(conf: Path, *args: str) -> None:
    """Run trytond-admin on the bench database."""
    passfile = WORK_DIR / "trytond-admin-password"
    passfile.write_text("bench-admin-password\n")
    run([venv_bin("trytond", "trytond-admin"), "-c", str(conf), "-d", DATABASE, *args],
        env={"TRYTONPASSFILE": str(passfile)}, input="\n", timeout=600)


def setup() -> Server:
    """Create the trytond database, activate the module, create users and a key."""
    log("trytond: creating database and activating the bench module")
    conf = _write_config()
    _link_module()
    recreate_database(DATABASE)
    _admin(conf, "--all")  # an empty line answers the e-mail prompt
    _admin(conf, "-u", MODULE, "--activate-dependencies")
    out = run([venv_bin("trytond", "python"), str(BENCH_DIR / "trytond_setup.py"), str(conf),
               DATABASE, GUARDED_LOGIN, KEYREQ_LOGIN]).stdout
    key = json.loads(out.strip().splitlines()[-1])["key"]
    return Server(
        name="trytond", venv="trytond", target="trytond.application:app",
        env={"TRYTOND_CONFIG": str(conf), "TRYTOND_DATABASE_NAMES": DATABASE},
        key=key, bad_key=hashlib.sha512(b"not the key").hexdigest(),
        paths={"nodb": "/bench/nodb", "echo": "/bench/echo",
               "transaction": f"/{DATABASE}/bench/count",
               "guarded": f"/{DATABASE}/bench/whoami",
               "badkey": f"/{DATABASE}/bench/whoami",
               "keyrequest": f"/{DATABASE}/r/user/application/"})

