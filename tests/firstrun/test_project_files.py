"""CI and packaging as a fresh clone meets them."""
from __future__ import annotations

import os
import subprocess
import tomllib

from petition.config import ROOT


def test_ci_step_one_is_sqlite_whatever_the_environment_names(tmp_path):
    # A `make` that records what it was given and stops the script there.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    record = tmp_path / "make-env"
    (fake_bin / "make").write_text(f'#!/bin/sh\nenv > "{record}"\necho "$@" >> "{record}"\nexit 3\n')
    (fake_bin / "make").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}",
           "TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/not_created_yet",
           "TEST_REDIS_URL": "redis://127.0.0.1:6379/15"}
    result = subprocess.run([str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr  # stopped at step 1, in make
    seen = record.read_text()
    assert seen.splitlines()[-1] == "test"
    assert "TEST_DATABASE_URL=" not in seen and "TEST_REDIS_URL=" not in seen


def test_licence_is_an_spdx_expression():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "AGPL-3.0-or-later"
    # PEP 639 strings need setuptools 77 or newer; older ones reject them.
    assert "setuptools>=77" in [r.split(";")[0].split("#")[0].strip() for r in project["build-system"]["requires"]]


def test_make_run_on_another_port_moves_public_url_with_it():
    # Under `make test` the parent make's variables would make this one print "Leaving directory".
    inherited = {"PUBLIC_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    dry = subprocess.run(["make", "--no-print-directory", "-n", "run", "PORT=8080"], cwd=ROOT, capture_output=True,
                         text=True, env={k: v for k, v in os.environ.items() if k not in inherited})
    line = next(line for line in reversed(dry.stdout.splitlines()) if "--port" in line)
    assert "--port 8080" in line and "PUBLIC_URL=${PUBLIC_URL:-http://127.0.0.1:8080}" in line


def test_readme_names_every_first_run_step():
    readme = (ROOT / "README.md").read_text()
    for needed in ("http://127.0.0.1:5000/en/console/", "users create", "--password-stdin", "make run PORT=8080",
                   "PUBLIC_URL", "keys init", "flask --app wsgi db upgrade"):
        assert needed in readme, needed


def test_users_create_without_a_prompt(runner):
    from petition.console import auth
    from petition.extensions import db

    result = runner.invoke(args=["users", "create", "--email", "lead@example.org", "--name", "Lina", "--role", "admin",
                                 "--password-stdin"], input="correct horse battery staple\n")
    assert result.exit_code == 0, result.output
    assert "otpauth://" in result.output
    assert auth.find_user(db.session, "lead@example.org") is not None
