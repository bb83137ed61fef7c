#!/usr/bin/env bash
# make asan: the integration tests with the plugin built with
# AddressSanitizer (`go build -asan`: the C shim and the Go code are both
# instrumented). Every process that loads the plugin gets ASan's runtime
# preloaded; any report ASan writes fails the run, even from a test that
# otherwise passed. Leaks are left to make memcheck (valgrind), which can tell
# gstscope's from GStreamer's and Python's.
set -euo pipefail
cd "$(dirname "$0")/.."

# Not under build/: GStreamer scans GST_PLUGIN_PATH recursively, and would
# find two plugins called scope.
plugin=build-asan/libgstscope.so
mkdir -p build-asan
go build -asan -buildmode=c-shared -o "$plugin" ./cmd/gstscope
runtime=$(gcc -print-file-name=libasan.so)
[ -e "$runtime" ] || { echo "asan: gcc's libasan.so not found" >&2; exit 1; }

reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
export GSTSCOPE_PLUGIN="$PWD/$plugin" GSTSCOPE_TEST_PLUGIN="$PWD/build-test/libgstscopetest.so"
export GSTSCOPE_PRELOAD="$runtime"
# Go's runtime keeps its own signal handlers: ASan must not take them over.
export ASAN_OPTIONS="detect_leaks=0:log_path=$reports/asan:allow_user_segv_handler=1:handle_segv=0:handle_sigbus=0:handle_abort=0"
status=0
go test -count=1 -timeout 20m ./test/integration/ "$@" || status=$?
if compgen -G "$reports/asan*" >/dev/null; then
  echo "asan: AddressSanitizer reported errors:" >&2
  cat "$reports"/asan* >&2
  exit 1
fi
[ $status -eq 0 ] && echo "asan: the integration tests ran with AddressSanitizer: no reports"
exit $status
