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
# The library is versioned from include/swiftcompress.h (SC_VERSION_MAJOR/MINOR/PATCH, the one place
# the version is written for packaging): dist/libswiftcompress.so.MAJOR.MINOR.PATCH with the SONAME
# libswiftcompress.so.MAJOR, and the links libswiftcompress.so.MAJOR and libswiftcompress.so to it.
# It keeps its symbols and debug information (tests, sanitizers); `make install` and the Python
# package install stripped copies.
#
#     bash tools/build-release.sh --library-only
#
# builds only the library product (`swift build -c release --product swiftcompress`, no tests, no
# -enable-testing) and links it the same way: what an sdist of the Python package runs
# (bindings/python/setup.py, when no SWIFTCOMPRESS_LIB is given).
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

MODE=all
case "${1:-}" in
    "") ;;
    --library-only) MODE=library ;;
    *) echo "build-release.sh: unknown argument $1 (expected nothing or --library-only)" >&2; exit 2 ;;
esac

HEADER="$ROOT/include/swiftcompress.h"
version_part() { sed -n "s/^#define SC_VERSION_$1 \([0-9][0-9]*\)\$/\1/p" "$HEADER"; }
MAJOR=$(version_part MAJOR)
MINOR=$(version_part MINOR)
PATCH=$(version_part PATCH)
if [ -z "$MAJOR" ] || [ -z "$MINOR" ] || [ -z "$PATCH" ]; then
    echo "build-release.sh: no SC_VERSION_MAJOR/MINOR/PATCH in $HEADER" >&2
    exit 1
fi

start=$(date +%s)
if [ "$MODE" = all ]; then
    FLAGS=(-c release --scratch-path "$SCRATCH" -Xswiftc -enable-testing)
    "$SWIFT" build "${FLAGS[@]}" --build-tests
else
    FLAGS=(-c release --scratch-path "$SCRATCH")
    "$SWIFT" build "${FLAGS[@]}" --product swiftcompress
fi
BIN="$("$SWIFT" build "${FLAGS[@]}" --show-bin-path)"
LIST="$BIN/swiftcompress.product/Objects.LinkFileList"
if [ ! -f "$LIST" ]; then
    echo "build-release.sh: the Swift build left no $LIST (the object list of libswiftcompress.so)" >&2
    exit 1
fi

SWIFTC="$(dirname "$(command -v "$SWIFT")")/swiftc"
TRIPLE="$(uname -m)-unknown-linux-gnu"
DIST="$SCRATCH/dist"
SONAME="libswiftcompress.so.$MAJOR"
REAL="$SONAME.$MINOR.$PATCH"
mkdir -p "$DIST"
"$SWIFTC" -emit-library -module-name swiftcompress -static-stdlib -target "$TRIPLE" -g \
    -Xlinker --gc-sections -Xlinker '-rpath=$ORIGIN' -Xlinker "-soname=$SONAME" \
    -o "$DIST/$REAL.tmp" "@$LIST"
mv -f "$DIST/$REAL.tmp" "$DIST/$REAL"
# Earlier builds of other versions (and the unversioned file of builds before the SONAME) go.
for old in "$DIST"/libswiftcompress.so*; do
    case "$(basename "$old")" in
        "$REAL") ;;
        *) rm -f "$old" ;;
    esac
done
ln -s "$REAL" "$DIST/$SONAME"
ln -s "$SONAME" "$DIST/libswiftcompress.so"
echo "build-release.sh: release build ($MODE) and static-runtime link of $REAL (SONAME $SONAME) in $(( $(date +%s) - start )) s"
echo "$DIST/libswiftcompress.so"
