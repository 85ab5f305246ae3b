# The two commands: `make demo` and `make test`. Both build .venv from the lock first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: venv browser demo docs test test-unit test-notebooks test-scenarios lock lab bench clean

venv: $(STAMP)

# pip installs only the locked uv; uv then installs the lock (4x faster than pip on a fresh
# machine: parallel downloads and installs). `sync` makes the venv exactly the lock, removing
# what the lock no longer lists. Bytecode at install time: PYTHONDONTWRITEBYTECODE may be set,
# and every kernel would then compile botocore and moto from source again.
UV_PIN := $(shell grep -m1 '^uv==' requirements.lock)
UV     := $(BIN)/uv pip --quiet
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install "$(UV_PIN)" 2>&1 | grep -v "is ignored: it is neither" || true
	$(UV) sync --python $(BIN)/python --compile-bytecode requirements.lock
	$(UV) install --python $(BIN)/python --compile-bytecode --no-deps -e .
	$(BIN)/python -c "from rovn_ops.core import paths; paths.ensure_runtime_dir(); import papermill, moto, pgserver"
	$(BIN)/python -m compileall -q lib  # bytecode even where PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

demo: venv
	$(BIN)/rovn-ops demo

# The parameter reference is generated from the runbooks (tests/unit/test_docs.py fails on drift).
docs: venv
	$(BIN)/rovn-ops list --markdown > docs/reference/parameters.md

# The browser tests need Debian's chromium + chromedriver: installed here when missing
# (as root), else one line says what to install and make stops with exit code 2.
browser:
	@scripts/ensure-chromium

# In parallel: one pytest-xdist worker per core and one more, each with its own sandbox
# (conftest.py): the scenarios wait on bakes, rollouts and /health polls, which another
# worker's CPU fills (2 cores: 3 workers 276 s, 2 workers 330 s, same load);
# loadscope keeps a module's tests, and a notebook's cells, together and in order.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(len(os.sched_getaffinity(0)) + 1)")
# The house's layers first (pyproject.toml [tool.importlinter]): 0 circles between layers, 0 upward arrows.
# Under coverage (pyproject [tool.coverage.run]): every process records, the kernels and the
# CLI's subprocesses included; the suite's own exit status is make's, after the report.
test: browser venv
	$(BIN)/lint-imports
	$(BIN)/coverage erase
	status=0; $(BIN)/coverage run -m pytest -n $(TEST_WORKERS) --dist loadscope --durations=25 \
	    --nbval-lax --nbval-current-env tests runbooks || status=$$?; \
	$(BIN)/coverage combine -q && $(BIN)/coverage report --sort=cover; exit $$status

test-unit: venv
	$(BIN)/python -m pytest tests/unit

test-notebooks: venv
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env runbooks

test-scenarios: venv
	$(BIN)/python -m pytest tests/scenarios

# Regenerate the pinned locks from pyproject.toml: requirements.lock (dependencies, the
# sandbox and test extras) for .venv; requirements-runtime.lock (dependencies only, at the
# same versions) for the suite's image (Dockerfile).
lock: venv
	$(BIN)/uv pip compile pyproject.toml --extra sandbox --extra test --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -c requirements.lock -o requirements-runtime.lock

lab: venv
	$(BIN)/rovn-ops lab

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	-$(BIN)/rovn-ops sandbox down
	rm -rf $(VENV) .sandbox
