import pytest


@pytest.fixture
def bare_app(make_app):
    """An app with no application context held around the test, so every request (of
    every client) gets its own flask.g, as in production. Use `with app.app_context()`
    for direct database checks."""
    return make_app()
