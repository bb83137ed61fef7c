# gstscope: a GStreamer tracer plugin in Go.
#   make build    build/libgstscope.so
#   make demo     run a demo pipeline with the tracer and print what it saw
#   make pictures the README's pictures (docs/pictures/*.png) from a real run
#   make test     every test (installs missing Debian packages first)
#   make memcheck pipelines and test apps under valgrind (part of make test)
#   make asan     the integration tests with AddressSanitizer (part of make test)
#   make bench    what tracing costs, against the alternatives (not in CI)
#   make instructions  instructions per pad push, counted by callgrind
#   make fuzz     fuzz the parameter parsers (100,000 inputs each in make test)
#   make install  the plugin into your GStreamer plugin directory, gstscope-report
#                 into ~/.local/bin (PLUGIN_DIR=, BINDIR= to choose)

GO      ?= go
BUILD   := build
PLUGIN  := $(BUILD)/libgstscope.so
SOURCES := $(shell find cmd internal -name '*.go' -o -name '*.c' -o -name '*.h') go.mod go.sum
PLUGIN_DIR ?= $(HOME)/.local/share/gstreamer-1.0/plugins
BINDIR ?= $(HOME)/.local/bin
# The test-only plugin: the noop tracer (the framework floor) and scopeburn.
# Not under build/: GStreamer scans GST_PLUGIN_PATH=build recursively, and
# users of the README's setup would load it too.
TESTPLUGIN := build-test/libgstscopetest.so

.PHONY: all build deps demo test unit integration memcheck asan install clean testplugin pyroscope bench fuzz instructions pictures

all: build

# Debian packages, only those the target uses (scripts/deps.sh).
deps:
	@scripts/deps.sh test
deps-%:
	@scripts/deps.sh $*

build: deps-build $(PLUGIN)

$(PLUGIN): $(SOURCES)
	$(GO) build -buildmode=c-shared -o $@ ./cmd/gstscope
	@nm -D $@ | grep -q ' T gst_plugin_scope_get_desc' || \
		{ echo "$@ does not export gst_plugin_scope_get_desc" >&2; exit 1; }

$(TESTPLUGIN): $(wildcard test/plugins/*.c test/plugins/*.h)
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 -Wall -o $@ $(filter %.c,$^) \
		$$(pkg-config --cflags --libs gstreamer-1.0 gstreamer-base-1.0)

testplugin: deps-build $(TESTPLUGIN)

# The Pyroscope server the tests push to: built once into ~/.cache.
pyroscope: deps-build
	@scripts/pyroscope.sh >/dev/null

demo: deps-demo build
	@scripts/demo.sh

# The README's pictures of the three views of gstscope-report, from a run of
# a live encode/decode pipeline with both tracers (~20 s; not in make test).
pictures: deps-pictures build pyroscope
	@scripts/pictures.sh

unit: deps-build
	$(GO) vet ./...
	$(GO) test ./internal/...

TESTENV = GSTSCOPE_PLUGIN=$(CURDIR)/$(PLUGIN) GSTSCOPE_TEST_PLUGIN=$(CURDIR)/$(TESTPLUGIN)

integration: deps build testplugin pyroscope
	$(TESTENV) $(GO) test -count=1 -timeout 15m ./test/...

test: deps build testplugin pyroscope
	$(GO) vet ./...
	$(TESTENV) $(GO) test -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=100000x
	@scripts/memcheck.sh
	@scripts/asan.sh

install: build
	install -d $(PLUGIN_DIR) $(BINDIR)
	install -m 0644 $(PLUGIN) $(PLUGIN_DIR)/
	$(GO) build -o $(BINDIR)/gstscope-report ./cmd/gstscope-report

clean:
	rm -rf $(BUILD) build-asan build-test

memcheck: deps build
	@scripts/memcheck.sh

# The plugin built with -asan into build-asan, under every integration test.
asan: deps testplugin pyroscope
	@scripts/asan.sh

# The parameter and environment parsers, fuzzed (seeds in testdata/fuzz).
# make test counts executions (~5 s each here): with a duration, Go 1.26's
# fuzz coordinator can fail a clean run with "context deadline exceeded" as
# the time runs out (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 1m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) ./internal/latency
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) ./internal/pyroscope

# Medians of 5 interleaved runs per configuration; ~15 min. The Markdown
# goes to stdout and build/bench.md (copy the numbers into BENCHMARKS.md).
bench: build testplugin
	$(GO) run ./bench -runs 5 | tee $(BUILD)/bench.md

# Instructions per pad push of each configuration (callgrind, ~1 min): the
# hot path's cost without the noise of wall and CPU times.
instructions: build testplugin
	@scripts/instructions.sh
