#!/usr/bin/env bash
# tests/c/leaks.sh — leak checks of the C ABI: the C test programs (tests/c/bad_input.c, distributed.c,
# tests/c/threads.c) and every example (examples/c/*.c, *.cpp) run under a leak checker, which fails
# on any leaked allocation, in the library or in the program.
#
#   tests/c/leaks.sh                    builds libswiftcompress.so (tools/build-release.sh: the one
#                                       release build, incremental), then checks it
#   SC_LIB_DIR=dir tests/c/leaks.sh     checks the libswiftcompress.so in dir instead (no build); a
#                                       sanitizer build (fuzz/run.sh's .build-fuzz/release) works too
#
# Environment: SC_LEAK_TOOL=lsan (default: LeakSanitizer through -fsanitize=address, no valgrind
# needed) or valgrind (memcheck --leak-check=full; installed with apt-get when missing and run as
# root); CC / CXX (default: the Swift toolchain's clang / clang++, else clang, gcc); SC_TEST_DIR (where
# programs are built; default .build-release/leaks, or .build-leaks when SC_LIB_DIR is given);
# SC_THREADS (threads.c's thread count, default 4).
# Prints PASS/FAIL/SKIP per program and exits non-zero on any leak or failure.
set -u

# shellcheck source=tests/c/common.sh
. "$(dirname "$0")/common.sh"
if [ -n "${SC_LIB_DIR:-}" ]; then
    OUT=${SC_TEST_DIR:-$ROOT/.build-leaks}
else
    OUT=${SC_TEST_DIR:-$ROOT/.build-release/leaks}
fi
mkdir -p "$OUT" || exit 2
echo "library: $LIB"
echo "programs: $OUT"

# --- compilers and the tool -------------------------------------------------------------------------
if [ -z "${CC:-}" ]; then
    if [ -x /opt/swift/usr/bin/clang ]; then CC=/opt/swift/usr/bin/clang; elif have clang; then CC=clang; else CC=gcc; fi
fi
if [ -z "${CXX:-}" ]; then
    if [ -x /opt/swift/usr/bin/clang++ ]; then CXX=/opt/swift/usr/bin/clang++; elif have clang++; then CXX=clang++; else CXX=g++; fi
fi
LINK=(-L"$LIBDIR" -lswiftcompress -Wl,-rpath,"$LIBDIR" -pthread -lm)
# lld keeps clang quiet about ASan symbols it cannot export from a gold-linked program
case "$CC" in *clang*) { [ -x /opt/swift/usr/bin/ld.lld ] || have ld.lld; } && LINK+=(-fuse-ld=lld) ;; esac
TOOL=${SC_LEAK_TOOL:-lsan}
export SWIFT_BACKTRACE=enable=no # the Swift runtime's crash handler would hide the report
case "$TOOL" in
    lsan)
        FLAGS=(-g -fsanitize=address -fno-omit-frame-pointer)
        export ASAN_OPTIONS=detect_leaks=1:exitcode=23
        export LSAN_OPTIONS=${LSAN_OPTIONS:-report_objects=1:max_leaks=20}
        if ! printf 'int main(void) { return 0; }\n' | "$CC" -x c "${FLAGS[@]}" - -o "$OUT/probe" "${LINK[@]}" 2>"$OUT/probe.log" ||
            ! "$OUT/probe" 2>>"$OUT/probe.log"; then
            echo "FAIL $CC cannot build and run a -fsanitize=address (LeakSanitizer) program: $(head -5 "$OUT/probe.log")"
            echo "     (SC_LEAK_TOOL=valgrind uses valgrind instead)"
            exit 1
        fi
        RUN=()
        ;;
    valgrind)
        if ! have valgrind; then
            echo "valgrind is missing: apt-get install -y valgrind"
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; } >"$OUT/apt.log" 2>&1 ||
                { echo "FAIL cannot install valgrind: $(tail -3 "$OUT/apt.log")"; exit 1; }
        fi
        FLAGS=(-g -O1)
        # Only definite and indirect losses are errors: the Swift runtime keeps its caches (metadata,
        # conformances, Dispatch's worker threads) reachable until exit, which memcheck lists as
        # "still reachable" / "possibly lost" for thread stacks.
        # --undef-value-errors=no: memcheck reports "conditional jump depends on uninitialised
        # value(s)" inside Swift code (an Optional payload test in PruningRules.swift), which is
        # not a leak and which MemorySanitizer-free Swift cannot be checked for reliably.
        RUN=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
            --undef-value-errors=no --error-exitcode=23 --num-callers=30)
        ;;
    *) echo "FAIL SC_LEAK_TOOL=$TOOL: lsan or valgrind"; exit 2 ;;
esac
echo "leak checker: $TOOL ($CC)"

# --- the programs -------------------------------------------------------------------------------------
check() { # label log command...: exit 0 and no leak report
    local label=$1 log=$2
    shift 2
    "${RUN[@]}" "$@" >"$log.stdout" 2>"$log"
    local rc=$?
    cat "$log.stdout" >>"$log"
    if [ "$rc" -eq 0 ] && ! grep -qE 'LeakSanitizer|definitely lost: [1-9]|indirectly lost: [1-9]|ERROR: AddressSanitizer' "$log"; then
        pass "$label: no leak ($(grep -v '^==' "$log" | tail -1))"
        return 0
    fi
    if [ "$rc" -eq 23 ] || grep -qE 'LeakSanitizer|definitely lost|indirectly lost' "$log"; then
        fail "$label: leaks: $(grep -m 12 -E 'Direct leak|Indirect leak|SUMMARY|definitely lost|indirectly lost|#[0-9]+ .* in (sc_|\$s1?4?Swift)' "$log")"
    else
        fail "$label (exit $rc): $(grep -m 10 -E 'FAIL|ERROR|error|Sanitizer|runtime' "$log" || tail -10 "$log")"
    fi
    return 1
}
build() { # compiler std source output
    if "$1" -std="$2" -Wall -Wextra -Iinclude "${FLAGS[@]}" "$3" -o "$4" "${LINK[@]}" 2>"$4.log"; then return 0; fi
    fail "$3: compile with $1: $(grep -v 'Cannot export' "$4.log" | head -10)"
    return 1
}

THREADS=${SC_THREADS:-4}
build "$CC" c99 tests/c/bad_input.c "$OUT/bad_input" && check "bad_input ($TOOL)" "$OUT/bad_input.out" "$OUT/bad_input"
build "$CC" c99 tests/c/threads.c "$OUT/threads" && check "threads ($TOOL, $THREADS threads)" "$OUT/threads.out" "$OUT/threads" "$THREADS" 1
build "$CC" c99 tests/c/distributed.c "$OUT/distributed" && check "distributed ($TOOL)" "$OUT/distributed.out" "$OUT/distributed"
for src in examples/c/*.c examples/c/*.cpp; do
    [ -f "$src" ] || continue
    name=$(basename "${src%.*}")
    bin="$OUT/example_$name"
    case "$src" in
        *.c) build "$CC" c99 "$src" "$bin" || continue ;;
        *.cpp) build "$CXX" c++17 "$src" "$bin" || continue ;;
    esac
    if check "example $src ($TOOL)" "$bin.out" "$bin"; then
        expected="examples/c/expected/$name.txt"
        if [ -f "$expected" ] && ! diff -q "$expected" "$bin.out.stdout" >/dev/null; then
            fail "example $src ($TOOL): output differs from $expected"
        fi
    fi
done

echo
echo "C ABI leak checks ($TOOL): $passed passed, $failed failed"
for f in "${failures[@]}"; do echo "  failed: ${f%%$'\n'*}"; done
[ "$failed" -eq 0 ]
