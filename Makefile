# The two commands README promises:
#   make run    install into .venv/ and start the site on its embedded defaults
#   make test   install into .venv/ (with test tools and Chromium) and run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PETITION_ENV ?= development

.PHONY: install install-test run test test-postgres translations fonts browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	scripts/i18n.sh compile
	scripts/system-deps.sh fonts

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	scripts/i18n.sh compile
	scripts/system-deps.sh fonts browser nginx

# `make run PORT=8080`: the links in emails (PUBLIC_URL) follow the port unless set.
PORT ?= 5000

run: install
	$(BIN)/flask --app wsgi db upgrade
	PUBLIC_URL=$${PUBLIC_URL:-http://127.0.0.1:$(PORT)} $(BIN)/flask --app wsgi run --host 127.0.0.1 --port $(PORT)

test: install-test
	$(BIN)/pytest -q

translations:
	scripts/i18n.sh extract

clean:
	rm -rf $(VENV) instance/petition.db .pytest_cache
