"""tests/security/test_browser.py starts its own Playwright; Playwright's sync API cannot
run twice at once in one process, and tests/e2e keeps a session-wide one open. Running
the security browser tests first (their Playwright closes at the end of their module)
lets both live in one pytest run."""
from __future__ import annotations

from pathlib import Path

BROWSER_TESTS = Path(__file__).with_name("test_browser.py")


def pytest_collection_modifyitems(session, config, items):
    first = [item for item in items if Path(str(item.fspath)) == BROWSER_TESTS]
    if first:
        rest = [item for item in items if Path(str(item.fspath)) != BROWSER_TESTS]
        items[:] = first + rest
