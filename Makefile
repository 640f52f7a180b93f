# rxdesk — `make demo` to try it, `make test` to check it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export RXDESK_VAR_DIR ?= $(CURDIR)/var
PYTEST_WORKERS ?= 2

.PHONY: fuzz install demo serve test test-fast test-postgres check lint types migrations-check \
        openapi openapi-check browser bench audit sbom clean

$(BIN)/rxdesk: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $@

install: $(BIN)/rxdesk

## Migrate a SQLite database under var/, load the demo pharmacy, serve on 127.0.0.1:8000.
demo: install
	$(BIN)/rxdesk demo

serve: install
	$(BIN)/rxdesk serve

## Everything CI checks on SQLite: lint, types, migrations, the OpenAPI contract, all tests.
test: install browser check
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=20 -p no:cacheprovider

## Quick loop while coding: no browser, no slow tests.
test-fast: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not slow and not e2e"

## The same suite on PostgreSQL (DATABASE_URL must point at a server; .ci/run sets it).
test-postgres: install browser
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=20 -p no:cacheprovider

## The API fuzzing alone: the short walks and the longer ones (every operation with a bigger
## budget, and a longer stateful walk over the links schemathesis infers). CI runs the short
## walks on both databases and the longer ones in the SQLite run.
fuzz: install
	RXDESK_FUZZ_LONG=1 $(BIN)/pytest -p no:cacheprovider tests/test_schemathesis.py

check: lint types migrations-check openapi-check

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: install
	$(BIN)/mypy src/rxdesk

migrations-check: install
	$(BIN)/rxdesk makemigrations --check --dry-run

## The committed schema is the API contract: regenerate with `make openapi` on purpose.
openapi: install
	$(BIN)/rxdesk export_openapi_schema --api rxdesk.api.api --indent 2 --sorted > openapi.json

openapi-check: install
	@$(BIN)/rxdesk export_openapi_schema --api rxdesk.api.api --indent 2 --sorted > $(RXDESK_VAR_DIR)/openapi.json
	@diff -u openapi.json $(RXDESK_VAR_DIR)/openapi.json \
	  || (echo "openapi.json is out of date with the code: run 'make openapi' and review"; exit 1)

## Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium), and
## Tesseract OCR, which reads the printed label back in the fill workflow's browser test.
browser:
	@missing=""; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v tesseract >/dev/null 2>&1 || missing="$$missing tesseract-ocr"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian's$$missing for the browser tests…"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

## Known vulnerabilities in the installed packages (pip-audit asks PyPI's advisory data, or
## OSV with AUDIT_SERVICE=osv: it needs the network). When the database cannot be reached
## pip-audit skips every package and still says "No known vulnerabilities found": that is
## caught here and reported as exit 3, never as a pass.
AUDIT_SERVICE ?= pypi
audit: install
	@out=$$($(BIN)/pip-audit --local --strict --progress-spinner off -s $(AUDIT_SERVICE) 2>&1); rc=$$?; \
	if echo "$$out" | grep -qE "could not be audited|ConnectionError|NameResolutionError|Max retries exceeded|timed out"; then \
	  echo "$$out" | grep -E "could not be audited|Error" | head -n 3; \
	  echo "AUDIT NOT DONE: could not reach the vulnerability database ($(AUDIT_SERVICE)); no package was checked."; \
	  exit 3; \
	fi; \
	echo "$$out"; exit $$rc

## Software bill of materials (CycloneDX JSON) of the installed environment: var/sbom.cdx.json.
sbom: install
	@mkdir -p $(RXDESK_VAR_DIR)
	$(BIN)/cyclonedx-py environment --pyproject pyproject.toml --mc-type application \
	  --output-format JSON --output-reproducible --validate \
	  --output-file $(RXDESK_VAR_DIR)/sbom.cdx.json $(BIN)/python
	@echo "Wrote $(RXDESK_VAR_DIR)/sbom.cdx.json"

## Every benchmark on SQLite and PostgreSQL, one JSON (bench/README.md); BENCH="--db sqlite fill".
bench: install
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
