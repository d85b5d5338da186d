# The two commands: `make report` and `make test`. Everything installs itself into .venv.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DATA    ?=
OUT     ?= report
JOBS    ?= 2

# One BLAS thread per process: tests (pytest -n 2) and the build (parallel notebook runs) already
# use both cores; nested BLAS threads oversubscribe them and slow each fit several-fold.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: report test lab bench clean lock venv browser

$(STAMP): requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name parentapp --display-name "Python (parentapp)" >/dev/null
	touch $@

venv: $(STAMP)

## report: build report/index.html and report/results.json (default: embedded synthetic data)
report: $(STAMP)
	$(BIN)/parentapp build $(if $(DATA),--data $(DATA)) --out $(OUT) --jobs $(JOBS)

## test: the whole suite (unit, property, simulation, notebooks, report in a browser)
test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 --timeout 1800 $(PYTEST_ARGS)

## browser: headless Chromium for the report tests (Debian package), installed when missing
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }

## lab: JupyterLab on the project's kernel
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

## bench: speed and memory, as ratios against the plain alternatives
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## lock: re-resolve requirements.in into the exact pin set (requirements.lock, environment.yml)
lock:
	rm -rf /tmp/parentapp-lock && $(PY) -m venv /tmp/parentapp-lock
	/tmp/parentapp-lock/bin/pip install --quiet -r requirements.in
	$(PY) tools/lock.py /tmp/parentapp-lock/bin/pip

clean:
	rm -rf $(VENV) report/*.html report/results.json report/pages report/runs report/.cache data/derived/*.parquet data/derived/*.json .pytest_cache
