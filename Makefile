# The two commands: `make demo` and `make test`. Each installs what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build deps deps-test deps-bench node test demo tour bench fuzz soak crash-soak clean

all: build

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

deps-bench:
	@scripts/install-deps.sh bench

# node_modules from the lockfile, only when the lockfile changed. `npm install --no-save`
# rather than `npm ci`: npm 11 writes a lockfile without the other platforms' optional
# DuckDB bindings and then refuses it in `npm ci`; install follows the same lockfile.
node: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json
	@npm install --no-audit --no-fund --no-save --loglevel=error

# node_modules first: the dashboard's chart library (echarts) is a build input.
$(BUILD)/build.ninja: CMakeLists.txt | node_modules/.package-lock.json
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: deps node $(BUILD)/build.ninja
	@ninja -C $(BUILD) -j $(JOBS) lakepipe

test: deps-test node $(BUILD)/build.ninja
	@ninja -C $(BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The live demo: generated orders dropped into a landing folder, the pipeline running
# continuously, the dashboard at http://127.0.0.1:8080/ (Ctrl-C stops). `make tour` is the
# batch walk-through (run --once, queries, quarantine, event log, history).
# `make demo EXAMPLE=video-metrics` runs seed 003's video feed instead.
demo: build
	@scripts/install-deps.sh demo
	@$(BUILD)/lakepipe demo --dir $(BUILD)/demo $(if $(EXAMPLE),--example $(EXAMPLE))

tour: build
	@scripts/tour.sh $(BUILD)/lakepipe

bench: deps-bench node
	@cmake -S . -B $(BUILD)-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAKEPIPE_BENCH=ON -DLAKEPIPE_TESTS=OFF >/dev/null
	@ninja -C $(BUILD)-bench -j $(JOBS)
	@scripts/bench.sh $(BUILD)-bench

# Long runs of issue 16, not in `make test` or `make bench`; each writes its section of
# docs/BENCHMARKS.md. `make soak`: the orders pipeline for SOAK_MINUTES (60) at 5,000
# lines/s, sampling memory, descriptors, threads, files, startup time and p99 every minute
# (bench/soak.mjs). `make crash-soak`: CRASH_SOAK_KILLS (1000) SIGKILLs at random moments
# under `lakepipe produce`, then the crash checks (bench/crash_soak.mjs).
SOAK_MINUTES ?= 60
CRASH_SOAK_KILLS ?= 1000
soak: build
	@node bench/soak.mjs --bin $(BUILD)/lakepipe --minutes $(SOAK_MINUTES) --md docs/BENCHMARKS.md

crash-soak: build
	@node bench/crash_soak.mjs --bin $(BUILD)/lakepipe --kills $(CRASH_SOAK_KILLS) --md docs/BENCHMARKS.md

# libFuzzer targets with clang, ASan and UBSan, each for FUZZ_SECONDS (default 60) from its
# corpus in tests/fuzz/corpus/ (docs/fuzzing.md); `make test` replays the same corpora.
fuzz: node
	@scripts/fuzz.sh $(BUILD)-fuzz

clean:
	rm -rf $(BUILD) $(BUILD)-bench $(BUILD)-fuzz
