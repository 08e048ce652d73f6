# The front door. `make run` and `make test` install missing Debian packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
DATA       ?= var
JOBS       ?= $(shell nproc)
WERROR     ?= $(if $(REELAY_WERROR),ON,OFF)
PYTHON     ?= /usr/bin/python3
# Sanitizer settings for every test process (h2o keeps some allocations for the process's life).
export LSAN_OPTIONS  = suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1

.PHONY: all deps build build-asan clients run test unit e2e stress bench bench-cluster format check clean fuzz fuzz-smoke readme-settings

all: build

# The Debian packages, then the console's build tools (esbuild, Preact, htm: pinned by
# console/package-lock.json), installed again only when the lockfile changes: builds run offline after.
deps:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory console/node_modules/.package-lock.json

console/node_modules/.package-lock.json: console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREELAY_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DREELAY_SANITIZE=ON -DREELAY_WERROR=$(WERROR) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The providers' official JavaScript clients, pinned by tests/clients/package-lock.json; and the S3 server
# of the storage tests (s3rver) with AWS's official S3 client, pinned by tests/s3/package-lock.json; and
# playwright-core, which drives Debian's chromium in the console's browser tests (tests/browser: no
# browser is downloaded).
clients:
	cd tests/clients && npm ci --no-audit --no-fund --loglevel=error
	cd tests/s3 && npm ci --no-audit --no-fund --loglevel=error
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

run: deps build
	$(BUILD)/reelay init --data $(DATA)
	$(BUILD)/reelay serve --data $(DATA)

# First the style and size check (`make check`). Unit tests run on both builds (the optimiser finds bugs
# the sanitizers do not, and the other way round); end-to-end tests (pytest) run against the sanitizer
# build; then every fuzz harness replays its kept crash inputs and runs for 3 s on its corpus (as
# fuzz-smoke). The unit tests run inside a throwaway PostgreSQL cluster (scripts/pg-test-cluster.sh run:
# started before, stopped and deleted after, also on failure), whose URL they get in
# REELAY_TEST_DATABASE_URL; the store tests run against it as well as SQLite, and fail without it. The
# end-to-end tests run inside another such cluster: the tests of several nodes (tests/e2e/cluster.py)
# make a database in it per test.
PG_TEST = scripts/pg-test-cluster.sh run
test: deps check build build-asan clients
	$(PG_TEST) sh -c 'cd $(BUILD) && ctest --output-on-failure'
	$(PG_TEST) sh -c 'cd $(ASAN_BUILD) && ctest --output-on-failure'
	$(PG_TEST) env REELAY_BIN=$(abspath $(ASAN_BUILD))/reelay $(PYTHON) -m pytest -q tests/e2e
	scripts/fuzz.sh 3

unit: deps build-asan clients
	$(PG_TEST) sh -c 'cd $(ASAN_BUILD) && ctest --output-on-failure'

e2e: build-asan clients
	$(PG_TEST) env REELAY_BIN=$(abspath $(ASAN_BUILD))/reelay $(PYTHON) -m pytest -q tests/e2e

# libFuzzer harnesses (fuzz/, built with clang in build-fuzz): each for FUZZ_SECONDS on a copy of its
# corpus, after replaying its kept crash inputs. fuzz-smoke is the short run for `make test`.
FUZZ_SECONDS ?= 60
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke: deps
	scripts/fuzz.sh 3

# Every test that races threads or processes, 50 runs in a row on both builds, stopping at the first
# failure (the list and the reasons are in scripts/stress.sh; STRESS_RUNS=N to change the count).
stress: deps build build-asan
	$(PG_TEST) env BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) PYTHON=$(PYTHON) scripts/stress.sh

# The short version of every benchmark (bench/all.sh; bench/README.md says how to run each in full).
bench:
	@scripts/install-deps.sh --bench
	$(MAKE) build
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	BUILD=$(BUILD) PYTHON=$(PYTHON) bench/all.sh

# Two nodes on PostgreSQL against one on SQLite (API rates), and a killed node's tasks taken over
# (bench/cluster.py), inside a throwaway PostgreSQL cluster that syncs every commit, as in production.
bench-cluster:
	@scripts/install-deps.sh --bench
	$(MAKE) build
	REELAY_PG_DURABLE=1 $(PG_TEST) $(PYTHON) bench/cluster.py

# The README's table of settings, rewritten from the settings table (src/cli/settings_table.c);
# test_cli_readme fails while they differ.
readme-settings: build
	scripts/readme-settings.sh $(BUILD)/reelay

# The style and size rules: every C file under src/ and tests/unit/ as .clang-format says (with the
# pinned clang-format-14), and no file over 800 lines or function over 80 without a stated reason.
check: deps
	scripts/check-format.sh
	scripts/check-sizes.sh

format: deps
	scripts/check-format.sh --fix

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
