#!/usr/bin/env bash
# fuzz/run.sh — builds the libFuzzer targets against a sanitizer build of libswiftcompress.so, runs
# them, and replays fuzz/regressions/.
#
#   fuzz/run.sh [--seconds N] [target...]   each target N seconds (default 60), then the regressions
#   fuzz/run.sh --ci                         CI: each target 20 s (SC_FUZZ_CI_SECONDS), regressions
#   fuzz/run.sh --replay [target...]         only the regression inputs (and the seed corpora, once each)
#   fuzz/run.sh --build                      only build
#   fuzz/run.sh --merge [target...]          minimise the run corpora (.build-fuzz/corpus/T) into fuzz/corpus/T
#                                            (the smallest inputs, SC_FUZZ_MERGE_BYTES per target, default 48 KiB)
#   fuzz/run.sh --list                       the targets
# Targets: config pruning quantization qfree distillation (default: all, one after the other).
#
# Environment: SC_FUZZ_DIR (scratch, default .build-fuzz), SC_FUZZ_LIB_DIR (a ready sanitizer build of
# libswiftcompress.so: skips the swift build), SC_FUZZ_JOBS (swift build -j), SC_FUZZ_CI_SECONDS,
# SC_FUZZ_MAX_LEN (libFuzzer -max_len; default 4096 for config, 256 for qfree, 1024 for the others), SC_FUZZ_STRICT=1 (open bugs fail the run).
#
# The library is built with `swift build -c release --product swiftcompress --scratch-path .build-fuzz
# -Xswiftc -sanitize=fuzzer,address -Xswiftc -g` (libFuzzer coverage + AddressSanitizer; swiftc has no
# UndefinedBehaviorSanitizer on Linux: Swift's own overflow and bounds checks trap instead). The
# targets are C, built with the toolchain's clang: -fsanitize=fuzzer,address,undefined. LeakSanitizer
# is on (libFuzzer's -detect_leaks=1 default with ASan).
#
# Prints PASS/FAIL/KNOWN lines and a summary (also written to $SC_FUZZ_DIR/summary.txt); exits non-zero
# on any crash, leak, sanitizer report, invariant violation or failed regression.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
export PATH="/opt/swift/usr/bin:$PATH"

ALL_TARGETS=(config pruning quantization qfree distillation)
SECONDS_PER=60
MODE=fuzz
TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_PER=${2:?--seconds needs a number}; shift 2 ;;
        --seconds=*) SECONDS_PER=${1#--seconds=}; shift ;;
        --ci) MODE=fuzz; SECONDS_PER=${SC_FUZZ_CI_SECONDS:-20}; shift ;;
        --replay) MODE=replay; shift ;;
        --build) MODE=build; shift ;;
        --merge) MODE=merge; shift ;;
        --list) printf '%s\n' "${ALL_TARGETS[@]}"; exit 0 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        -*) echo "fuzz/run.sh: unknown option $1 (see --help)"; exit 2 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
case "$SECONDS_PER" in ''|*[!0-9]*) echo "fuzz/run.sh: --seconds wants a whole number, not '$SECONDS_PER'"; exit 2 ;; esac
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
    [ -f "fuzz/fuzz_$t.c" ] || { echo "fuzz/run.sh: no target '$t' (targets: ${ALL_TARGETS[*]})"; exit 2; }
done

WORK=${SC_FUZZ_DIR:-$ROOT/.build-fuzz}
mkdir -p "$WORK/targets" "$WORK/logs" "$WORK/artifacts" || exit 2
SUMMARY="$WORK/summary.txt"
: >"$SUMMARY"
failed=0
known=0
say() { echo "$*"; echo "$*" >>"$SUMMARY"; }
pass() { say "PASS $*"; }
fail() { failed=$((failed + 1)); say "FAIL $*"; }
start_time=$(date +%s)

# --- tools ------------------------------------------------------------------------------------------
CLANG=${CLANG:-/opt/swift/usr/bin/clang}
if [ ! -x "$CLANG" ]; then CLANG=$(command -v clang || true); fi
[ -n "$CLANG" ] || { echo "FAIL no clang (the Swift toolchain's /opt/swift/usr/bin/clang is expected)"; exit 1; }
if ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
    "$CLANG" -x c -fsanitize=fuzzer,address,undefined - -o "$WORK/probe" 2>"$WORK/probe.log"; then
    echo "FAIL $CLANG cannot build a -fsanitize=fuzzer,address,undefined program: $(head -5 "$WORK/probe.log")"
    exit 1
fi

# --- the sanitizer build of the library (incremental: a no-op when nothing changed) -----------------
if [ -n "${SC_FUZZ_LIB_DIR:-}" ]; then
    LIBDIR=$(cd "$SC_FUZZ_LIB_DIR" && pwd) || { echo "FAIL SC_FUZZ_LIB_DIR=$SC_FUZZ_LIB_DIR is not a directory"; exit 1; }
else
    echo "building libswiftcompress.so with -sanitize=fuzzer,address ($WORK)"
    t0=$(date +%s)
    jobs=()
    [ -n "${SC_FUZZ_JOBS:-}" ] && jobs=(-j "$SC_FUZZ_JOBS")
    if ! swift build -c release --product swiftcompress --scratch-path "$WORK" "${jobs[@]}" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -g >"$WORK/logs/swift-build.log" 2>&1; then
        echo "FAIL swift build of the sanitizer library: $(grep -m 20 -E 'error' "$WORK/logs/swift-build.log" || tail -20 "$WORK/logs/swift-build.log")"
        exit 1
    fi
    say "BUILD libswiftcompress.so (sanitize=fuzzer,address): $(( $(date +%s) - t0 )) s"
    LIBDIR="$WORK/release"
fi
[ -f "$LIBDIR/libswiftcompress.so" ] || { echo "FAIL no $LIBDIR/libswiftcompress.so"; exit 1; }
nm -D "$LIBDIR/libswiftcompress.so" 2>/dev/null | grep -q __sanitizer_cov_8bit_counters_init ||
    echo "warning: $LIBDIR/libswiftcompress.so has no libFuzzer coverage (not built with -sanitize=fuzzer): only the C side is guided"

# --- the targets ---------------------------------------------------------------------------------------
CFLAGS=(-g -O1 -std=c99 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -Iinclude -DSC_FUZZ_MODELS_DIR="\"$ROOT/examples/models\"")
LDFLAGS=(-L"$LIBDIR" -lswiftcompress -Wl,-rpath,"$LIBDIR" -lm)
# lld when there is one (gold prints a warning per ASan symbol)
if [ -x /opt/swift/usr/bin/ld.lld ] || command -v ld.lld >/dev/null 2>&1; then LDFLAGS+=(-fuse-ld=lld); fi
for t in "${TARGETS[@]}"; do
    bin="$WORK/targets/fuzz_$t"
    newest=$(ls -t "fuzz/fuzz_$t.c" fuzz/*.h "$LIBDIR/libswiftcompress.so" "$0" 2>/dev/null | head -1)
    if [ -x "$bin" ] && [ "$bin" -nt "$newest" ]; then continue; fi
    if ! "$CLANG" "${CFLAGS[@]}" "fuzz/fuzz_$t.c" -o "$bin" "${LDFLAGS[@]}" >"$WORK/logs/build_$t.log" 2>&1; then
        fail "build fuzz_$t: $(grep -v 'Cannot export' "$WORK/logs/build_$t.log" | head -20)"
        rm -f "$bin"
    fi
done
[ "$MODE" = build ] && { [ "$failed" -eq 0 ] && echo "built: ${TARGETS[*]} in $WORK/targets"; exit "$((failed > 0))"; }

# --- running --------------------------------------------------------------------------------------------
export SWIFT_BACKTRACE=enable=no # the Swift runtime's crash handler would hide the sanitizer report
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export SC_FUZZ_MODELS="$ROOT/examples/models"
REPORT_RE='INVARIANT VIOLATED|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ERROR: libFuzzer|Sanitizer:|Swift runtime failure|Fatal error'

# Structured targets need few bytes (an exhausted input takes the common branches); shorter inputs
# run faster. fuzz_config reads JSON text and module lists: longer.
max_len_for() {
    if [ -n "${SC_FUZZ_MAX_LEN:-}" ]; then echo "$SC_FUZZ_MAX_LEN"; return; fi
    case "$1" in config) echo 4096 ;; qfree) echo 256 ;; *) echo 1024 ;; esac
}
dict_for() { [ -f "fuzz/dict/$1.dict" ] && echo "-dict=fuzz/dict/$1.dict"; }
total_execs=0

run_target() { # name seconds
    local t=$1 secs=$2 bin="$WORK/targets/fuzz_$1" log="$WORK/logs/fuzz_$1.log" corpus="$WORK/corpus/$1"
    [ -x "$bin" ] || return
    mkdir -p "$corpus"
    local d
    d=$(dict_for "$t")
    local seeds=()
    [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
    local t0 rc
    t0=$(date +%s)
    # shellcheck disable=SC2086
    # -print_funcs=0: symbolizing the new functions of the (large) Swift library costs minutes of CPU
    timeout --signal=KILL $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=3072 \
        -max_len="$(max_len_for "$t")" -print_funcs=0 -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$t-" $d \
        "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    local execs rate cov ft units
    execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
    rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{ print $2 }')
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{ print $2 }')
    units=$(ls "$corpus" | wc -l)
    total_execs=$((total_execs + ${execs:-0}))
    local figures="${execs:-?} executions in $(( $(date +%s) - t0 )) s (${rate:-?} exec/s), cov ${cov:-?}, ft ${ft:-?}, corpus $units"
    # calls per entry point, from the targets' exit counters ("calls: name total ok")
    local calls
    calls=$(awk '/^calls: / { printf "%s%s %s (%s ok)", sep, $2, $3, $4; sep = ", " }' "$log")
    [ -n "$calls" ] && say "  calls of fuzz_$t: $calls"
    if [ "$rc" -eq 0 ] && ! grep -qE "$REPORT_RE" "$log"; then
        pass "fuzz_$t: $figures"
    else
        fail "fuzz_$t (exit $rc): $figures; $(grep -m 3 -E "$REPORT_RE" "$log"); reproducer: $(ls -t "$WORK/artifacts/$t-"* 2>/dev/null | head -1); log: $log"
        grep -m 1 -A 25 -E "$REPORT_RE" "$log" | sed 's/^/    /'
    fi
}

replay() { # name: every regression input once; open-* inputs are open bugs
    local t=$1 bin="$WORK/targets/fuzz_$1" dir="fuzz/regressions/$1" f log
    [ -x "$bin" ] && [ -d "$dir" ] || return
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        log="$WORK/logs/replay_${t}_$(basename "$f").log"
        case "$(basename "$f")" in
            open-*)
                if FZ_KNOWN_BUGS=1 timeout 120 "$bin" "$f" >"$log" 2>&1 && ! grep -qE "$REPORT_RE" "$log"; then
                    pass "regression $f: no longer reproduces: the open bug looks fixed; rename it without 'open-' to keep it as a regression"
                elif [ "${SC_FUZZ_STRICT:-0}" = 1 ]; then
                    fail "regression $f: open bug still reproduces: $(grep -m 2 -E "$REPORT_RE|Swift runtime" "$log")"
                else
                    known=$((known + 1))
                    say "KNOWN regression $f: open bug still reproduces (not counted as a failure; SC_FUZZ_STRICT=1 to fail): $(grep -m 1 -E "$REPORT_RE" "$log")"
                fi
                ;;
            *)
                if timeout 120 "$bin" "$f" >"$log" 2>&1 && ! grep -qE "$REPORT_RE" "$log"; then
                    pass "regression $f"
                else
                    fail "regression $f: $(grep -m 3 -E "$REPORT_RE" "$log"); log: $log"
                fi
                ;;
        esac
    done
}

case "$MODE" in
    fuzz)
        for t in "${TARGETS[@]}"; do run_target "$t" "$SECONDS_PER"; done
        for t in "${TARGETS[@]}"; do replay "$t"; done
        ;;
    replay)
        for t in "${TARGETS[@]}"; do
            replay "$t"
            if [ -d "fuzz/corpus/$t" ] && [ -x "$WORK/targets/fuzz_$t" ]; then
                log="$WORK/logs/replay_${t}_corpus.log"
                if "$WORK/targets/fuzz_$t" -runs=0 "fuzz/corpus/$t" >"$log" 2>&1 && ! grep -qE "$REPORT_RE" "$log"; then
                    pass "corpus fuzz/corpus/$t ($(ls "fuzz/corpus/$t" | wc -l) inputs)"
                else
                    fail "corpus fuzz/corpus/$t: $(grep -m 3 -E "$REPORT_RE" "$log")"
                fi
            fi
        done
        ;;
    merge)
        for t in "${TARGETS[@]}"; do
            [ -d "$WORK/corpus/$t" ] || continue
            mkdir -p "fuzz/corpus/$t" "$WORK/merged/$t"
            rm -f "$WORK/merged/$t"/*
            "$WORK/targets/fuzz_$t" -merge=1 -max_len="$(max_len_for "$t")" "$WORK/merged/$t" "fuzz/corpus/$t" "$WORK/corpus/$t" \
                >"$WORK/logs/merge_$t.log" 2>&1 || { fail "merge $t: $(tail -3 "$WORK/logs/merge_$t.log")"; continue; }
            find "fuzz/corpus/$t" -type f ! -name 'seed-*' -delete
            # keep the committed corpus small: the smallest merged inputs up to SC_FUZZ_MERGE_BYTES
            # (default 48 KiB per target) besides the seeds
            budget=${SC_FUZZ_MERGE_BYTES:-49152}
            while read -r size f; do
                [ "$budget" -ge "$size" ] || break
                cmp -s "$f" /dev/null && continue
                budget=$((budget - size))
                cp "$f" "fuzz/corpus/$t/"
            done < <(find "$WORK/merged/$t" -type f -printf '%s %p\n' | sort -n)
            pass "merge $t: fuzz/corpus/$t has $(ls "fuzz/corpus/$t" | wc -l) inputs, $(du -sb "fuzz/corpus/$t" | cut -f1) bytes"
        done
        ;;
esac

say "fuzz/run.sh: ${TARGETS[*]}: $total_execs executions, $failed failed, $known open bugs known, $(( $(date +%s) - start_time )) s in all"
[ "$failed" -eq 0 ]
