#!/usr/bin/env bash
# tests/c/run.sh — the C ABI's tests: header hygiene, exported symbols, bad input, threads, examples.
#
#   tests/c/run.sh                      builds libswiftcompress.so (tools/build-release.sh, .build-release/dist), then tests it
#   SC_LIB_DIR=dir tests/c/run.sh       tests the libswiftcompress.so in dir instead (no build)
#
# Other environment variables: CC / CXX (default gcc / g++, else clang / clang++), SC_TEST_DIR (where
# test programs are built; default .build-release/ctests), SC_SANITIZE=0 to skip the
# -fsanitize=address,undefined builds (default: run them when the compiler can build and run one),
# SC_THREADS (default 8).
# Prints PASS/FAIL/SKIP per check and exits non-zero when any check failed.
set -u

# shellcheck source=tests/c/common.sh
. "$(dirname "$0")/common.sh"
OUT=${SC_TEST_DIR:-$ROOT/.build-release/ctests}
mkdir -p "$OUT" || exit 2
echo "library: $LIB"
echo "test programs: $OUT"

# --- compilers ----------------------------------------------------------------------------------
CC=${CC:-$(have gcc && echo gcc || echo clang)}
CXX=${CXX:-$(have g++ && echo g++ || echo clang++)}
C_COMPILERS=()
CXX_COMPILERS=()
for c in gcc clang; do have "$c" && C_COMPILERS+=("$c"); done
for c in g++ clang++; do have "$c" && CXX_COMPILERS+=("$c"); done
WARN=(-Wall -Wextra -Werror -pedantic)
LINK=(-L"$LIBDIR" -lswiftcompress -Wl,-rpath,"$LIBDIR")

# --- 1. the header compiles alone, as C99 and C++17 ---------------------------------------------
for c in "${C_COMPILERS[@]}"; do
    for std in c99 c11; do
        if printf '#include "swiftcompress.h"\n#include "swiftcompress.h"\nint main(void) { return sc_version_number() == SC_VERSION_NUMBER ? 0 : 1; }\n' |
            "$c" -x c -std=$std "${WARN[@]}" -Wstrict-prototypes -Wmissing-prototypes -Iinclude -c - -o "$OUT/header_$c.o" 2>"$OUT/header_$c.log"; then
            pass "header alone as $std with $c ${WARN[*]}"
        else
            fail "header alone as $std with $c: $(head -5 "$OUT/header_$c.log")"
        fi
    done
done
for c in "${CXX_COMPILERS[@]}"; do
    for std in c++11 c++17; do
        if printf '#include "swiftcompress.h"\n#include "swiftcompress.h"\nint main() { return sc_version_number() == SC_VERSION_NUMBER ? 0 : 1; }\n' |
            "$c" -x c++ -std=$std "${WARN[@]}" -Iinclude -c - -o "$OUT/header_$c.o" 2>"$OUT/header_$c.log"; then
            pass "header alone as $std with $c ${WARN[*]}"
        else
            fail "header alone as $std with $c: $(head -5 "$OUT/header_$c.log")"
        fi
    done
done

# --- 1b. the C++ wrapper (include/swiftcompress.hpp) compiles alone as C++17 and C++20, and its
#         test program (tests/c/cpp_wrapper.cpp) passes with each ------------------------------------
for c in "${CXX_COMPILERS[@]}"; do
    for std in c++17 c++20; do
        if printf '#include "swiftcompress.hpp"\n#include "swiftcompress.hpp"\nint main() { swiftcompress::require_matching_library(); return 0; }\n' |
            "$c" -x c++ -std=$std "${WARN[@]}" -Iinclude -c - -o "$OUT/hpp_$c.o" 2>"$OUT/hpp_$c.log"; then
            pass "swiftcompress.hpp alone as $std with $c ${WARN[*]}"
        else
            fail "swiftcompress.hpp alone as $std with $c: $(head -5 "$OUT/hpp_$c.log")"
        fi
        bin="$OUT/cpp_wrapper_${c}_$std"
        if ! "$c" -std=$std "${WARN[@]}" -Iinclude tests/c/cpp_wrapper.cpp -o "$bin" "${LINK[@]}" 2>"$bin.log"; then
            fail "cpp_wrapper.cpp as $std with $c: compile: $(head -10 "$bin.log")"
        elif "$bin" >"$bin.out" 2>&1; then
            pass "cpp_wrapper.cpp as $std with $c: $(tail -1 "$bin.out")"
        else
            fail "cpp_wrapper.cpp as $std with $c: $(head -10 "$bin.out")"
        fi
    done
done

# --- 2. declared sc_ functions == exported sc_ functions ----------------------------------------
# Declared: every `sc_name(` in the preprocessed header (types are `sc_tensor` / `sc_session`,
# never followed by a parenthesis; macros are upper case).
"$CC" -E -P -x c include/swiftcompress.h 2>/dev/null | grep -oE '\bsc_[a-z0-9_]+[[:space:]]*\(' |
    sed -E 's/[[:space:]]*\($//' | sort -u >"$OUT/declared.txt"
nm -D --defined-only "$LIB" | awk '$2 ~ /^[TtWiV]$/ && $3 ~ /^sc_/ { print $3 }' | sort -u >"$OUT/exported.txt"
missing=$(comm -23 "$OUT/declared.txt" "$OUT/exported.txt" | tr '\n' ' ')
extra=$(comm -13 "$OUT/declared.txt" "$OUT/exported.txt" | tr '\n' ' ')
ndecl=$(wc -l <"$OUT/declared.txt")
if [ "$ndecl" -eq 0 ]; then
    fail "no sc_ function found in include/swiftcompress.h"
elif [ -z "$missing" ] && [ -z "$extra" ]; then
    pass "the $ndecl sc_ functions of the header are exactly those exported by libswiftcompress.so"
else
    [ -n "$missing" ] && fail "declared in the header but not exported: $missing"
    [ -n "$extra" ] && fail "exported but not declared in the header: $extra"
fi

# --- 3. test programs: bad input, threads -------------------------------------------------------
build_c() { # name source output [extra flags...]
    local name=$1 src=$2 out=$3
    shift 3
    if "$CC" -std=c99 "${WARN[@]}" -Iinclude "$@" "$src" -o "$out" "${LINK[@]}" -pthread -lm 2>"$out.log"; then
        return 0
    fi
    fail "$name: compile $src: $(head -20 "$out.log")"
    return 1
}
run_prog() { # label expected-status command...
    local label=$1
    shift
    local log="$OUT/$(echo "$label" | tr ' /' '__').log"
    if "$@" >"$log" 2>&1; then
        pass "$label: $(tail -1 "$log")"
    else
        fail "$label (exit $?): $(grep -m 20 -E 'FAIL|ERROR|error|Sanitizer|runtime' "$log" || tail -20 "$log")"
    fi
}
THREADS=${SC_THREADS:-8}
build_c bad_input tests/c/bad_input.c "$OUT/bad_input" && run_prog "bad_input" "$OUT/bad_input"
build_c threads tests/c/threads.c "$OUT/threads" && run_prog "threads ($THREADS threads)" "$OUT/threads" "$THREADS" 3
build_c distributed tests/c/distributed.c "$OUT/distributed" && run_prog "distributed (2 and 4 ranks as threads)" "$OUT/distributed"

# --- 4. examples: build with only -I include and the library, diff with examples/c/expected ------
example_out() { # source -> binary path
    local b
    b=$(basename "$1")
    echo "$OUT/example_${b%.*}"
}
for src in examples/c/*.c examples/c/*.cpp; do
    [ -f "$src" ] || continue
    bin=$(example_out "$src")
    name=$(basename "${src%.*}")
    case "$src" in
        *.c) compile=("$CC" -std=c99 "${WARN[@]}" -Iinclude "$src" -o "$bin" "${LINK[@]}") ;;
        *.cpp) compile=("$CXX" -std=c++17 "${WARN[@]}" -Iinclude "$src" -o "$bin" "${LINK[@]}") ;;
    esac
    if ! "${compile[@]}" 2>"$bin.log"; then
        fail "example $src: compile: $(head -20 "$bin.log")"
        continue
    fi
    expected="examples/c/expected/$name.txt"
    if [ ! -f "$expected" ]; then
        fail "example $src: no $expected"
        continue
    fi
    if ! "$bin" >"$bin.out" 2>"$bin.err"; then
        fail "example $src: exit status $?: $(head -5 "$bin.err")"
    elif diff -u "$expected" "$bin.out" >"$bin.diff"; then
        pass "example $src: output equals $expected ($(wc -l <"$expected") lines)"
    else
        fail "example $src: output differs from $expected: $(head -30 "$bin.diff")"
    fi
done

# --- 5. pkg-config: the generated swiftcompress.pc builds an example ------------------------------
if have pkg-config; then
    if examples/c/make-pc.sh --prefix "$ROOT" --libdir "$LIBDIR" --output "$OUT/swiftcompress.pc" >/dev/null; then
        flags=$(PKG_CONFIG_PATH="$OUT" pkg-config --cflags --libs swiftcompress)
        # shellcheck disable=SC2086
        if "$CC" -std=c99 "${WARN[@]}" examples/c/prune_mlp.c -o "$OUT/pc_prune_mlp" $flags -Wl,-rpath,"$LIBDIR" 2>"$OUT/pc.log" &&
            "$OUT/pc_prune_mlp" | diff -q examples/c/expected/prune_mlp.txt - >/dev/null; then
            pass "pkg-config: \`pkg-config --cflags --libs swiftcompress\` = $flags builds prune_mlp.c"
        else
            fail "pkg-config: building prune_mlp.c with '$flags': $(head -5 "$OUT/pc.log")"
        fi
    else
        fail "pkg-config: examples/c/make-pc.sh failed"
    fi
else
    skip "pkg-config: not installed"
fi

# --- 6. the same programs under AddressSanitizer + UndefinedBehaviorSanitizer --------------------
if [ "${SC_SANITIZE:-1}" != "0" ]; then
    SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g)
    # The Swift runtime keeps allocations for the process lifetime; leak checks would report them.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
    if printf 'int main(void) { return 0; }\n' | "$CC" -x c "${SAN[@]}" - -o "$OUT/san_probe" "${LINK[@]}" 2>/dev/null &&
        "$OUT/san_probe" 2>/dev/null; then
        build_c "bad_input (asan+ubsan)" tests/c/bad_input.c "$OUT/bad_input_san" "${SAN[@]}" &&
            run_prog "bad_input (asan+ubsan)" "$OUT/bad_input_san"
        build_c "threads (asan+ubsan)" tests/c/threads.c "$OUT/threads_san" "${SAN[@]}" &&
            run_prog "threads (asan+ubsan, 4 threads)" "$OUT/threads_san" 4 1
        build_c "distributed (asan+ubsan)" tests/c/distributed.c "$OUT/distributed_san" "${SAN[@]}" &&
            run_prog "distributed (asan+ubsan)" "$OUT/distributed_san"
        for src in examples/c/*.c examples/c/*.cpp; do
            [ -f "$src" ] || continue
            name=$(basename "${src%.*}")
            bin="$OUT/example_${name}_san"
            case "$src" in
                *.c) comp=("$CC" -std=c99) ;;
                *.cpp) comp=("$CXX" -std=c++17) ;;
            esac
            if ! "${comp[@]}" "${WARN[@]}" "${SAN[@]}" -Iinclude "$src" -o "$bin" "${LINK[@]}" 2>"$bin.log"; then
                fail "example $src (asan+ubsan): compile: $(head -20 "$bin.log")"
            elif "$bin" >"$bin.out" 2>"$bin.err" && diff -q "examples/c/expected/$name.txt" "$bin.out" >/dev/null; then
                pass "example $src (asan+ubsan): output equals examples/c/expected/$name.txt"
            else
                fail "example $src (asan+ubsan): $(head -20 "$bin.err")"
            fi
        done
    else
        skip "sanitizers: $CC cannot build and run a -fsanitize=address,undefined program here"
    fi
else
    skip "sanitizers: SC_SANITIZE=0"
fi

echo
echo "C ABI tests: $passed passed, $failed failed"
for f in "${failures[@]}"; do echo "  failed: ${f%%$'\n'*}"; done
[ "$failed" -eq 0 ]
