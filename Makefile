# mamori - the README's quick start: `make demo` and `make test`.
# Each installs what is missing (Debian 12, as root), builds with meson,
# reserves hugepages, then runs.

BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?= -Dwerror=true
DEMO_DIR   ?= $(BUILD)/demo
DEMO_PCAP  := tests/data/sample.pcap
DEMO_RULES := tests/data/demo.rules

.PHONY: all deps build build-asan hugepages demo test test-fast bench clean fuzz

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) $(MESON_OPTS) -Dbuildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

hugepages:
	@scripts/setup-hugepages

demo: build hugepages
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BUILD)/control/mamori -c mamori.yaml -r $(DEMO_PCAP) -S $(DEMO_RULES) -l $(DEMO_DIR)
	@scripts/show-eve $(DEMO_DIR)/eve.json

# Every test on the release build; then every test again under
# AddressSanitizer and UndefinedBehaviorSanitizer, where a sanitizer report
# fails the run - all but the perf tooling's (suite bench), which measures
# and does not need to be measured under a sanitizer.
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
test: build build-asan hugepages
	meson test -C $(BUILD) --print-errorlogs --num-processes 2
	$(SANITIZER_ENV) meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 \
		--timeout-multiplier 4 --no-suite bench

# The perf suite (perf/README.md): results into perf/results/, the table
# into perf/README.md. BENCH_OPTS=--quick for a few seconds' run.
bench: build hugepages
	scripts/bench --build $(BUILD) --update-readme $(BENCH_OPTS)

# The release build's tests only, for quick iterations.
test-fast: build hugepages
	meson test -C $(BUILD) --print-errorlogs

# libFuzzer harnesses (clang, ASan+UBSan, in build-fuzz), each run for
# FUZZ_SECONDS (60); crash inputs go to tests/fuzz/regress/ (scripts/fuzz).
fuzz: deps
	scripts/fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
