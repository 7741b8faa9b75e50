# mamori - the README's quick start: `make demo` and `make test`.
# Each installs what is missing (Debian 12, as root), builds with meson,
# reserves hugepages, then runs.

BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?= -Dwerror=true
DEMO_DIR   ?= $(BUILD)/demo
DEMO_PCAP  := tests/data/sample.pcap
DEMO_RULES := tests/data/demo.rules

.PHONY: all deps build build-asan hugepages demo test test-fast bench clean

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

# Every test on the release build; then the unit tests and the run over
# every nDPI capture again under AddressSanitizer and UndefinedBehavior-
# Sanitizer, where a sanitizer report fails the run.
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
test: build build-asan hugepages
	meson test -C $(BUILD) --print-errorlogs --num-processes 2
	$(SANITIZER_ENV) meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 \
		--timeout-multiplier 4 --suite unit --suite robustness

# The release build's tests only, for quick iterations.
test-fast: build hugepages
	meson test -C $(BUILD) --print-errorlogs

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
