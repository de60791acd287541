# Two commands a newcomer needs: `make run` and `make test`. Both bootstrap .venv from plain python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ROWS   ?= 10000
# BROWSER=skip: `make test` installs no Chromium (the browser tests then skip, saying so).
BROWSER ?= install
# The AWS CLI v1 pins its own botocore, so it lives in a virtualenv of its own, which the
# local-endpoint tests (tests/local/test_local_endpoint.py) run `aws` from.
AWSCLI_VENV := .venv-awscli
AWSCLI      ?= awscli==1.46.3

.PHONY: run test test-fast lint fmt synth deploy venv clean browser ui awscli

venv: $(STAMP)

# Reinstall only when the package metadata changes; the install is editable.
$(STAMP): setup.py pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The whole pipeline definition, executed locally: no Docker, no AWS account.
run: $(STAMP)
	$(BIN)/churn run --rows $(ROWS)

# pytest exits 5 when it collected no test: a broken suite, not a pass. The test files are
# spread over the cores (most tests wait on child processes importing libraries); a file's
# tests stay on one worker, so its module fixtures are built once.
test: $(STAMP) browser awscli
	@$(BIN)/python -m pytest -n auto --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The tests marked fast (tests/README.md): in the pytest process alone, no child process, moto
# server or browser; under 30 seconds on 2 cores. No Chromium needed. Exit 5 fails it too.
test-fast: $(STAMP)
	@$(BIN)/python -m pytest -m fast -n auto --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-fast: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# `aws ... --endpoint-url` against `churn local`: the pip-installable AWS CLI in its own
# virtualenv, made once (rebuilt when AWSCLI changes); without it those tests skip and say so.
awscli: $(AWSCLI_VENV)/.installed-$(subst =,-,$(AWSCLI))

$(AWSCLI_VENV)/.installed-$(subst =,-,$(AWSCLI)):
	@test -x $(AWSCLI_VENV)/bin/python || $(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet --disable-pip-version-check '$(AWSCLI)' || \
	echo "make awscli: could not install $(AWSCLI); the AWS CLI tests will skip" >&2
	@test -x $(AWSCLI_VENV)/bin/aws && touch $@ || true

# churn ui's browser tests run in headless Chromium: Debian's package, installed when missing
# (as root, or through sudo). Elsewhere, point CHURN_CHROMIUM at a Chromium; without one the
# browser tests skip and say so. BROWSER=skip installs nothing.
browser:
ifeq ($(BROWSER),skip)
	@echo "make browser: BROWSER=skip, no Chromium installed; without one the browser tests skip"
else
	@command -v chromium >/dev/null 2>&1 || test -n "$${CHURN_CHROMIUM:-}" || \
	{ command -v apt-get >/dev/null 2>&1 && sudo=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ) && \
	  echo "installing Debian's chromium for the browser tests" && \
	  { $$sudo apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q chromium >/dev/null; }; }; } || \
	echo "make browser: could not install chromium; the browser tests will skip" >&2
endif

# The home's executions, registry and monitoring as web pages on http://127.0.0.1:8090/.
ui: $(STAMP)
	$(BIN)/churn ui

# Style, likely bugs and the architecture's import rules over the whole checkout, then types:
# mypy over the packages in pyproject.toml's [tool.mypy] files, every function annotated
# (pyproject.toml says which rules and why). CodeBuild runs the same four commands.
lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/lint-imports
	$(BIN)/mypy

# The CDK app's CloudFormation templates into cdk.out/, checked by cdk-nag on the way (infra/),
# with cdk.json's context as `cdk synth` reads it; CONTEXT="k=v ..." gives more (each as -c k=v),
# e.g. make synth CONTEXT="prefix=edited capture_days=30". Python and the machine's Node.js
# only, no CDK CLI. Deploying: README, "Infrastructure".
synth: $(STAMP)
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(BIN)/python -m infra.app$(foreach c,$(CONTEXT), -c $(c))

# `cdk deploy --all` of the stacks (AWS credentials needed); CONTEXT="account=... region=..."
deploy: $(STAMP)
	npx aws-cdk@2 deploy --all$(foreach c,$(CONTEXT), -c $(c))

fmt: $(STAMP)
	$(BIN)/ruff check --fix --exit-zero --quiet
	$(BIN)/ruff format

clean:
	rm -rf $(VENV) $(AWSCLI_VENV) .churn *.egg-info .pytest_cache .mypy_cache cdk.out
