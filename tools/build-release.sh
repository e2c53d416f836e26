#!/usr/bin/env bash
# tools/build-release.sh — the one release build of the Swift code that everything else uses.
#
#     bash tools/build-release.sh            (make release runs it)
#
# 1. `swift build -c release --build-tests -Xswiftc -enable-testing` into .build-release: the core,
#    the C ABI library, the command-line tools, the benchmarks and the test bundle, compiled once.
#    (-enable-testing lets the release test bundle use `@testable import`; it exports internal
#    symbols for the tests and does not change what the code computes.)
# 2. Links the distributable library .build-release/dist/libswiftcompress.so from the same object
#    files with the Swift runtime linked in statically (`-static-stdlib`: it needs only libc, libm,
#    libstdc++ and libgcc_s at run time, RUNPATH $ORIGIN). Linking takes about a second.
#
# Users of the build:
#   - `swift test -c release --skip-build --scratch-path .build-release` (make test-swift);
#   - tests/c/run.sh with SC_LIB_DIR=.build-release/dist (make test-c);
#   - the Python package: SWIFTCOMPRESS_LIB=.build-release/dist/libswiftcompress.so makes
#     bindings/python/setup.py bundle that library instead of building its own (make test-python).
#
# Environment: SWIFT (the swift driver; default: on PATH, else /opt/swift/usr/bin/swift),
# SWIFTCOMPRESS_SCRATCH (default <root>/.build-release).
# Prints the path of the distributable library on its last line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/opt/swift/usr/bin"
SWIFT="${SWIFT:-swift}"
SCRATCH="${SWIFTCOMPRESS_SCRATCH:-$ROOT/.build-release}"

start=$(date +%s)
"$SWIFT" build -c release --scratch-path "$SCRATCH" --build-tests -Xswiftc -enable-testing
BIN="$("$SWIFT" build -c release --scratch-path "$SCRATCH" -Xswiftc -enable-testing --show-bin-path)"
LIST="$BIN/swiftcompress.product/Objects.LinkFileList"
if [ ! -f "$LIST" ]; then
    echo "build-release.sh: the Swift build left no $LIST (the object list of libswiftcompress.so)" >&2
    exit 1
fi

SWIFTC="$(dirname "$(command -v "$SWIFT")")/swiftc"
TRIPLE="$(uname -m)-unknown-linux-gnu"
DIST="$SCRATCH/dist"
mkdir -p "$DIST"
"$SWIFTC" -emit-library -module-name swiftcompress -static-stdlib -target "$TRIPLE" -g \
    -Xlinker --gc-sections -Xlinker '-rpath=$ORIGIN' \
    -o "$DIST/libswiftcompress.so.tmp" "@$LIST"
mv -f "$DIST/libswiftcompress.so.tmp" "$DIST/libswiftcompress.so"
echo "build-release.sh: release build and static-runtime link in $(( $(date +%s) - start )) s"
echo "$DIST/libswiftcompress.so"
