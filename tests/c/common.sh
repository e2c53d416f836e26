# tests/c/common.sh — sourced by tests/c/run.sh and tests/c/leaks.sh: the repository root as the
# working folder, the PASS/FAIL/SKIP counters, and the library under test.
#
# After `. tests/c/common.sh`: ROOT, LIBDIR, LIB (libswiftcompress.so: $SC_LIB_DIR's, or the one
# release build's .build-release/dist, built by tools/build-release.sh first), passed / failed /
# failures, and pass / fail / skip / have.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 2
export PATH="$PATH:/opt/swift/usr/bin"

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); failures+=("$*"); echo "FAIL $*"; }
skip() { echo "SKIP $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

if [ -n "${SC_LIB_DIR:-}" ]; then
    LIBDIR=$(cd "$SC_LIB_DIR" && pwd) || { echo "FAIL SC_LIB_DIR=$SC_LIB_DIR is not a directory"; exit 2; }
else
    echo "building libswiftcompress.so (the one release build: tools/build-release.sh)"
    if ! bash tools/build-release.sh; then
        echo "FAIL swift build of libswiftcompress.so"
        exit 1
    fi
    LIBDIR="$ROOT/.build-release/dist"
fi
LIB="$LIBDIR/libswiftcompress.so"
[ -f "$LIB" ] || { echo "FAIL no $LIB"; exit 1; }
