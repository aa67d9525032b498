# Batch Health Monitor. The two commands: `make demo` and `make test`.
# Every target bootstraps .venv (Python 3.13) from pinned requirements on first use.

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins a boto3 that aws-sam-cli's cannot live with, so it has a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test unit integration lint format validate checkov build invoke-demo alarms bench clean

$(STAMP): requirements/dev.txt requirements/constraints.txt pyproject.toml
	@py=$$(./scripts/find-python.sh) || exit 1; \
	 if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then \
	   rm -rf $(VENV) && "$$py" -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

demo: $(STAMP)  ## the seed's world in an embedded AWS emulator, checked by the real suite
	@# Exit 1 means "a check FAILed": the seed world is meant to show that, so it is no make error.
	$(BIN)/batch-health demo $(ARGS) || [ $$? -eq 1 ]

test: $(STAMP) lint validate  ## everything CI runs
	$(BIN)/pytest -n 2 -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

# What .pre-commit-config.yaml runs too: style and complexity (ruff, C901 <= 12), types
# (mypy with the pydantic plugin), and the package's layering (import-linter contracts).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(CHECKOV_STAMP): requirements/checkov.txt requirements/checkov-constraints.txt
	@py=$$(./scripts/find-python.sh) || exit 1; \
	 if [ ! -x $(CHECKOV_VENV)/bin/python ] || ! $(CHECKOV_VENV)/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then \
	   rm -rf $(CHECKOV_VENV) && "$$py" -m venv $(CHECKOV_VENV); fi
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt -c requirements/checkov-constraints.txt
	@touch $@

# cfn-lint with the serverless rules; every ignored rule is justified in the resource's Metadata.
validate: $(STAMP) checkov
	@if [ -f template.yaml ]; then $(BIN)/sam validate --lint && $(BIN)/cfn-lint template.yaml -a cfn_lint_serverless.rules; fi

# SAM templates are scanned by checkov's cloudformation framework (`serverless` is the
# Serverless Framework's serverless.yml). Offline; skips are justified in template.yaml.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml -f templates/target-account-role.yaml \
		--framework cloudformation --skip-download --quiet --compact

build: $(STAMP)  ## sam build without Docker (layers/Makefile builds the layer with python3.13)
	$(BIN)/sam build

invoke-demo: $(STAMP)  ## the monitor Lambda handler, in-process, against the emulator's seed world
	@$(BIN)/batch-health invoke --demo-world $(or $(SCENARIO),seed) \
	  --event $(or $(EVENT),events/scheduled.json); rc=$$?; [ $$rc -le 1 ]  # 1 = a check FAILed

alarms: $(STAMP)  ## regenerate template.yaml's per-check alarms and dashboard from the registry
	$(BIN)/python scripts/generate_check_alarms.py

bench: $(STAMP)  ## chain, quotas, time to detect, monthly cost (ARGS=--help: bench/run.py's options)
	$(BIN)/python bench/run.py $(ARGS)
	$(BIN)/python bench/detect.py
	$(BIN)/python bench/cost.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .bench
