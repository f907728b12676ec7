# vinex — `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PO := $(wildcard vinex/locale/es/LC_MESSAGES/django.po vinex/*/locale/es/LC_MESSAGES/django.po)
MO := $(PO:.po=.mo)

.PHONY: run test pytest chromium lint bench messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Each app keeps its own catalogue (vinex/<app>/locale); pybabel compiles without GNU gettext.
%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

messages: $(MO)

run: $(STAMP) $(MO)
	$(BIN)/vinex up

lint: $(STAMP)
	$(BIN)/ruff check vinex tests bench
	$(BIN)/mypy vinex bench tests
	$(BIN)/lint-imports  # the layers in pyproject.toml: imports only point down

# The browser tests need Debian's Chromium: installed here when run as root, else the command to run
# (checked first, so `make test` stops at once rather than after the lint).
chromium:
	@scripts/need-chromium

pytest: chromium $(STAMP) $(MO)
	$(BIN)/pytest

test: chromium lint pytest

bench: $(STAMP) $(MO)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
