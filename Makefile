# mc2 - top-level entry points. Everything real happens in CMake and scripts/.
# make            release build (build/)
# make test       bootstrap, format check, release + ASan/UBSan tests, short fuzz runs
# make demo       bootstrap, build, run the demo on the local simulated-TEE service
# make bench      benchmarks against peers measured in the same run (report, plots:
#                 build/bench-report/; history: bench/history/; knobs: bench/run.sh)
# make fuzz       long fuzzing campaign (FUZZ_SECONDS per target, default 300)
# make install PREFIX=/usr/local
# make tcb        the size of the trusted computing base (code linked into mc2-enclave)
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
BUILD ?= build

.PHONY: all build test demo bench bench-deps fuzz install format format-check clean bootstrap tcb

all: build

bootstrap:
	@bash scripts/bootstrap.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test:
	@bash scripts/test.sh

demo: bootstrap build
	@bash scripts/demo.sh

bench: bench-deps build
	@bash bench/run.sh

bench-deps:
	@bash scripts/bootstrap.sh --bench

fuzz: bootstrap
	@bash scripts/fuzz.sh $${FUZZ_SECONDS:-300}

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

tcb: build
	@bash scripts/tcb.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@bash scripts/format-check.sh

clean:
	rm -rf build build-asan build-fuzz
