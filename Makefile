# tern: the README's two commands are `make run` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
CONFIG ?= examples/quickstart/tern.yaml

.PHONY: setup configure build run test bench clean

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

test: build
	@bash scripts/test.sh

bench: build
	@bash bench/run.sh

clean:
	rm -rf $(BUILD)
