# Batch Health Monitor. The two commands: `make demo` and `make test`.
# Every target bootstraps .venv (Python 3.13) from pinned requirements on first use.

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test unit integration lint format validate build invoke-demo bench clean

$(STAMP): requirements/dev.txt requirements/constraints.txt pyproject.toml
	@py=$$(./scripts/find-python.sh) || exit 1; \
	 if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then \
	   rm -rf $(VENV) && "$$py" -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

demo: $(STAMP)  ## the seed's world in an embedded AWS emulator, checked by the real suite
	$(BIN)/batch-health demo $(ARGS)

test: $(STAMP) lint validate  ## everything CI runs
	$(BIN)/pytest -n 2 -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: $(STAMP)
	@if [ -f template.yaml ]; then $(BIN)/sam validate --lint && $(BIN)/cfn-lint template.yaml; fi

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache
