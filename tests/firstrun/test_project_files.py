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
