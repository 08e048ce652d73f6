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

.PHONY: all deps build build-asan clients run test unit e2e bench format clean

all: build

deps:
	@scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREELAY_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DREELAY_SANITIZE=ON -DREELAY_WERROR=$(WERROR) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The providers' official JavaScript clients, pinned by tests/clients/package-lock.json.
clients:
	cd tests/clients && npm ci --no-audit --no-fund --loglevel=error

run: deps build
	$(BUILD)/reelay init --data $(DATA)
	$(BUILD)/reelay serve --data $(DATA)

# Unit tests run on both builds (the optimiser finds bugs the sanitizers do not, and the other way
# round); end-to-end tests (pytest) run against the sanitizer build.
test: deps build build-asan clients
	cd $(BUILD) && ctest --output-on-failure
	cd $(ASAN_BUILD) && ctest --output-on-failure
	REELAY_BIN=$(abspath $(ASAN_BUILD))/reelay $(PYTHON) -m pytest -q tests/e2e

unit: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure

e2e: build-asan clients
	REELAY_BIN=$(abspath $(ASAN_BUILD))/reelay $(PYTHON) -m pytest -q tests/e2e

bench:
	@scripts/install-deps.sh --bench
	$(MAKE) build
	bench/run.sh

format:
	clang-format -i src/*.c src/*/*.c src/*/*.h tests/unit/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
