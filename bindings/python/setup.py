"""Builds swiftcompress._core and bundles libswiftcompress.so next to it.

`python -m pip install ./bindings/python` (from the repository root) runs this:

1. `swift build -c release --product swiftcompress -Xswiftc -static-stdlib` in the repository
   (scratch path `.build-python`, so the flag does not invalidate other release builds in `.build`).
   The Swift runtime is linked into libswiftcompress.so statically: the library needs only libc,
   libm, libstdc++ and libgcc_s at import, wherever the toolchain is (checked with readelf -d in
   tests/test_build.py).
2. Copies libswiftcompress.so into the package and links _core against it with RUNPATH $ORIGIN.

With ``SWIFTCOMPRESS_LIB`` set to a libswiftcompress.so built with the Swift runtime linked in
(``make release`` / tools/build-release.sh makes .build-release/dist/libswiftcompress.so, the one
release build that the tests, the C ABI tests and this package share), step 1 is skipped and that
library is bundled.

Environment:
    SWIFTCOMPRESS_LIB          a prebuilt libswiftcompress.so to bundle (no Swift build)
    SWIFTCOMPRESS_SOURCE_ROOT  the repository root (default: two levels above this file)
    SWIFT                      the swift driver (default: `swift` on PATH, else /opt/swift/usr/bin/swift)
    SWIFTCOMPRESS_SCRATCH      the SwiftPM scratch path (default: <root>/.build-python)
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
LIB_NAME = "libswiftcompress.so"


def source_root() -> Path:
    root = Path(os.environ.get("SWIFTCOMPRESS_SOURCE_ROOT", HERE.parent.parent)).resolve()
    if not (root / "Package.swift").is_file() or not (root / "include" / "swiftcompress.h").is_file():
        raise SystemExit(
            f"swiftcompress: no Package.swift and include/swiftcompress.h under {root}; build from a clone of the "
            "repository (python -m pip install ./bindings/python) or set SWIFTCOMPRESS_SOURCE_ROOT"
        )
    return root


def swift_driver() -> str:
    explicit = os.environ.get("SWIFT")
    if explicit:
        return explicit
    found = shutil.which("swift")
    if found:
        return found
    fallback = "/opt/swift/usr/bin/swift"
    if os.path.exists(fallback):
        return fallback
    raise SystemExit("swiftcompress: the Swift toolchain was not found (put swift on PATH or set SWIFT)")


class BuildSwiftThenExtension(build_ext):
    """Builds the Swift library, bundles it, then compiles the extension against it."""

    def run(self) -> None:
        root = source_root()
        prebuilt = os.environ.get("SWIFTCOMPRESS_LIB")
        if prebuilt:
            lib = Path(prebuilt).resolve()
            if not lib.is_file():
                raise SystemExit(f"swiftcompress: SWIFTCOMPRESS_LIB={prebuilt} is not a file")
            print(f"swiftcompress: bundling the prebuilt {lib}", flush=True)
        else:
            lib = self._build_swift(root)

        # The library goes into the package (wheel / in-place build) and beside the extension.
        if self.inplace:
            package_dir = HERE / "swiftcompress"
        else:
            package_dir = Path(self.build_lib) / "swiftcompress"
        package_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib, package_dir / LIB_NAME)
        for ext in self.extensions:
            ext.include_dirs.append(str(root / "include"))
            ext.library_dirs.append(str(package_dir))
        super().run()

    @staticmethod
    def _build_swift(root: Path) -> Path:
        """Builds libswiftcompress.so with the Swift runtime linked in; returns its path."""
        swift = swift_driver()
        scratch = os.environ.get("SWIFTCOMPRESS_SCRATCH", str(root / ".build-python"))
        command = [swift, "build", "-c", "release", "--product", "swiftcompress",
                   "--scratch-path", scratch, "-Xswiftc", "-static-stdlib"]
        print("swiftcompress: " + " ".join(command), flush=True)
        subprocess.run(command, cwd=root, check=True)
        bin_path = subprocess.run([swift, "build", "-c", "release", "--scratch-path", scratch, "--show-bin-path"], cwd=root,
                                  check=True, capture_output=True, text=True).stdout.strip()
        lib = Path(bin_path) / LIB_NAME
        if not lib.is_file():
            raise SystemExit(f"swiftcompress: the Swift build did not produce {lib}")
        return lib


core = Extension(
    "swiftcompress._core",
    sources=["src/_core.c", "src/_quant.c", "src/_real.c", "src/_distill.c", "src/_training.c", "src/_wanda.c",
             "src/_quant_train.c", "src/_graph.c", "src/_distributed.c"],
    depends=["src/_common.h"],
    libraries=["swiftcompress"],
    runtime_library_dirs=["$ORIGIN"],
    extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Wno-missing-field-initializers", "-Wno-cast-function-type"],
)

setup(ext_modules=[core], cmdclass={"build_ext": BuildSwiftThenExtension})
