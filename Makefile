# Two commands, on a fresh machine:  `make lab` (set up, then JupyterLab on a demo workspace)
#                                    `make test` (set up, then the whole test suite)
VENV    ?= .venv
PY      := $(VENV)/bin/python
DEMO    ?= .demo
PORT    ?= 8888

.PHONY: lab test setup test-setup bench lint clean
PROXY   := tests/hub/node_modules/.bin/configurable-http-proxy

setup: $(VENV)/.installed

# What only the tests need besides the venv: JupyterHub's proxy, from npm, into tests/hub/node_modules.
test-setup: setup $(PROXY)

$(PROXY): tests/hub/package.json tests/hub/package-lock.json
	cd tests/hub && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Re-installs when the packaging or the panel's sources change; Python sources are used from the checkout.
$(VENV)/.installed: pyproject.toml $(shell find labextension/src labextension/style -type f 2>/dev/null) labextension/package.json
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	rm -rf nndeploy_jupyter/labextension
	$(PY) -m pip install --quiet '.[test]'
	touch $@

lab: setup
	mkdir -p $(DEMO)
	cp -rn notebooks/. $(DEMO)/
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(DEMO) --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

test: test-setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	for b in bench/bench_*.py; do $(PY) $$b; done

lint: setup
	$(VENV)/bin/ruff check nndeploy_jupyter tests bench

clean:
	rm -rf $(VENV) $(DEMO) nndeploy_jupyter/labextension labextension/lib labextension/node_modules tests/hub/node_modules build dist
