# Two commands a newcomer needs: `make run` and `make test`. Both bootstrap .venv from plain python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ROWS   ?= 10000

.PHONY: run test venv clean

venv: $(STAMP)

# Reinstall only when the package metadata changes; the install is editable.
$(STAMP): setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

# The whole pipeline definition, executed locally: no Docker, no AWS account.
run: $(STAMP)
	$(BIN)/churn run --rows $(ROWS)

# pytest exits 5 when it collected no test: a broken suite, not a pass.
test: $(STAMP)
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) .churn *.egg-info .pytest_cache
