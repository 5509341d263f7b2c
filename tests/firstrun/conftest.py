from tests.console.conftest import bare_app  # noqa: F401  (apps without a held app context)
