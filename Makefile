# tern: the README's two commands are `make run` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
CONFIG ?= examples/quickstart/tern.yaml
FUZZ_SECONDS ?= 60
# Executions after which a target stops even before FUZZ_SECONDS (empty = time only).
FUZZ_RUNS ?=
# Fuzz targets run at a time (one core each).
FUZZ_JOBS ?= 1
# Seconds of real fuzzing per target inside `make test` (0 = corpus replay only; needs clang).
TEST_FUZZ_SECONDS ?= 0
# ccache shares objects between build/, build-asan/, build-tsan/ (same flags, paths made relative).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
FUZZ_TARGETS := $(patsubst fuzz/%_fuzz.cc,fuzz_%,$(wildcard fuzz/*_fuzz.cc))

PROPERTY_SEEDS ?= 50

.PHONY: setup configure build run test bench clean fuzz fuzz-build check-sanitize check-tsan check-thread-safety

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja: CMakeLists.txt
	@$(MAKE) --no-print-directory setup
	cmake -S . -B $(BUILD) -G Ninja

configure: setup
	cmake -S . -B $(BUILD) -G Ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash examples/quickstart/run.sh

# Every test (the fuzz corpus replays included), clang's thread-safety analysis over every source,
# then ASan+UBSan on the unit and protocol tests.
test: build
	@bash scripts/test.sh
	@bash scripts/check_thread_safety.sh
	@bash scripts/sanitize.sh unit
	@if [ "$(TEST_FUZZ_SECONDS)" != 0 ]; then $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS); fi

# libFuzzer targets (clang 14, ASan+UBSan) in build-fuzz/, FUZZ_SECONDS each. The generated Envoy
# API library is the main build's (GCC and clang share libstdc++'s ABI): not compiled twice.
fuzz-build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target envoy_api
	@[ -f build-fuzz/build.ninja ] || cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DTERN_FUZZ=ON -DTERN_SANITIZE=address,undefined \
	  -DTERN_PREBUILT_ENVOY_API=$(CURDIR)/$(BUILD)
	cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build
	@FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_JOBS=$(FUZZ_JOBS) bash scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)
	cmake --build $(BUILD) -j $(JOBS) --target incremental_build_test
	@bash scripts/property.sh $(BUILD) $(PROPERTY_SEEDS)

# ASan+UBSan build in build-asan/ running every test (unit, protocol, integration).
check-sanitize: configure
	@bash scripts/sanitize.sh all

# TSan build in build-tsan/ running the xds protocol, reconciler and source tests.
check-tsan: configure
	@bash scripts/sanitize.sh tsan

# clang's -Wthread-safety over tern's own code (src/), as errors: the ABSL_GUARDED_BY and
# ABSL_EXCLUSIVE_LOCKS_REQUIRED annotations are checked. The Envoy API library is the main build's.
check-thread-safety: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target envoy_api
	@[ -f build-tsa/build.ninja ] || cmake -S . -B build-tsa -G Ninja -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DTERN_THREAD_SAFETY=ON -DTERN_WERROR=OFF \
	  -DTERN_PREBUILT_ENVOY_API=$(CURDIR)/$(BUILD)
	cmake --build build-tsa -j $(JOBS) --target tern

bench: build
	@bash bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz build-tsa
