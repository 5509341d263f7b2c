"""The layering README states ("How it is built"), checked by import-linter: web glue
above features above the core, and no import cycle between the areas. The contracts
are in pyproject.toml ([tool.importlinter])."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_imports_keep_the_layers_and_make_no_cycle():
    # The lint-imports of the interpreter running the tests (installed by the [test] extra).
    command = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this tree's petition/, not an installed one
    result = subprocess.run([str(command), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"lint-imports found imports across the layers:\n{result.stdout}{result.stderr}"
