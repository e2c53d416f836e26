"""Builds swiftcompress._core (CPython's limited API: one abi3 wheel for CPython >= 3.11) and bundles
libswiftcompress.so.MAJOR and the C/C++ headers inside the package.

`python -m pip install ./bindings/python` (from the repository root), or `pip install` of an sdist,
runs this:

1. Unless ``SWIFTCOMPRESS_LIB`` names a prebuilt library: `bash tools/build-release.sh
   --library-only` in the Swift source tree (the repository, or the sdist's ``native/`` copy of
   Package.swift, Sources, Tests, examples/swift, include and tools/build-release.sh), scratch path
   ``.build-python``: `swift build -c release --product swiftcompress`, then the same link as the
   release build: the Swift runtime linked in statically (the library needs only libc, libm,
   libstdc++ and libgcc_s), SONAME libswiftcompress.so.MAJOR.
2. Copies the library into the package as its SONAME (``libswiftcompress.so.0``), stripped
   (``strip --strip-unneeded``, when ``strip`` is on PATH), copies include/*.h and include/*.hpp into
   ``swiftcompress/include`` (``swiftcompress.get_include()``), and links ``_core.abi3.so`` against
   the library with RUNPATH ``$ORIGIN`` only (the interpreter's own ``-Wl,-rpath`` flags, which name
   the build host's Python, are dropped).

The package's version is the header's (SC_VERSION_STRING in include/swiftcompress.h), the one place
it is written.

`python setup.py sdist` (or `python -m build --sdist`) adds the Swift source tree as ``native/``, so
that the sdist builds wherever a Swift 6 toolchain is (step 1).

Environment:
    SWIFTCOMPRESS_LIB          a prebuilt libswiftcompress.so (with the Swift runtime linked in, e.g.
                               .build-release/dist/libswiftcompress.so from `make release`) to bundle
                               instead of building one
    SWIFTCOMPRESS_SOURCE_ROOT  the Swift source tree (default: the sdist's native/, else the repository
                               two levels above this file)
    SWIFT                      the swift driver (default: `swift` on PATH, else /opt/swift/usr/bin/swift)
    SWIFTCOMPRESS_SCRATCH      the SwiftPM scratch path (default: <source tree>/.build-python)
    SWIFTCOMPRESS_NO_STRIP     1: bundle the library unstripped
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
# The limited API the extension is written against (also checked by src/_common.h).
LIMITED_API = 0x030B0000
LIMITED_API_TAG = "cp311"
# What the sdist carries of the repository: everything Package.swift names, the headers and the
# script that links the library.
NATIVE_TREE = ["Package.swift", "Sources", "Tests", "examples/swift", "include", "tools/build-release.sh"]


def source_root() -> Path:
    explicit = os.environ.get("SWIFTCOMPRESS_SOURCE_ROOT")
    candidates = [Path(explicit)] if explicit else [HERE / "native", HERE.parent.parent]
    for root in candidates:
        root = root.resolve()
        if (root / "Package.swift").is_file() and (root / "include" / "swiftcompress.h").is_file():
            return root
    raise SystemExit(
        f"swiftcompress: no Package.swift and include/swiftcompress.h under {', '.join(map(str, candidates))}; build "
        "from a clone of the repository (python -m pip install ./bindings/python), from an sdist, or set "
        "SWIFTCOMPRESS_SOURCE_ROOT")


def header_version(root: Path) -> tuple:
    """(major, minor, patch) from SC_VERSION_MAJOR / MINOR / PATCH in include/swiftcompress.h."""
    text = (root / "include" / "swiftcompress.h").read_text()
    parts = []
    for name in ("MAJOR", "MINOR", "PATCH"):
        match = re.search(rf"^#define SC_VERSION_{name} (\d+)$", text, re.MULTILINE)
        if match is None:
            raise SystemExit(f"swiftcompress: no SC_VERSION_{name} in {root / 'include' / 'swiftcompress.h'}")
        parts.append(int(match.group(1)))
    return tuple(parts)


ROOT = source_root()
VERSION = header_version(ROOT)
SONAME = f"libswiftcompress.so.{VERSION[0]}"


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
    raise SystemExit("swiftcompress: the Swift toolchain was not found (put swift on PATH or set SWIFT); or set "
                     "SWIFTCOMPRESS_LIB to a prebuilt libswiftcompress.so")


def elf_soname(path: Path):
    """The library's SONAME (readelf -d), or None when it has none or readelf is missing."""
    if shutil.which("readelf") is None:
        return None
    out = subprocess.run(["readelf", "-d", str(path)], check=True, capture_output=True, text=True).stdout
    match = re.search(r"\(SONAME\)\s+Library soname: \[(.+?)\]", out)
    return match.group(1) if match else None


class BuildSwiftThenExtension(build_ext):
    """Builds (or takes) the Swift library, bundles it and the headers, then compiles the extension."""

    def run(self) -> None:
        prebuilt = os.environ.get("SWIFTCOMPRESS_LIB")
        if prebuilt:
            lib = Path(prebuilt).resolve()  # through the .so -> .so.0 -> .so.0.x.y links
            if not lib.is_file():
                raise SystemExit(f"swiftcompress: SWIFTCOMPRESS_LIB={prebuilt} is not a file")
            print(f"swiftcompress: bundling the prebuilt {lib}", flush=True)
        else:
            lib = self._build_swift(ROOT)
        soname = elf_soname(lib)
        if soname is not None and soname != SONAME:
            raise SystemExit(f"swiftcompress: {lib} has the SONAME {soname}; this package is version "
                             f"{'.'.join(map(str, VERSION))} and needs {SONAME} (rebuild with tools/build-release.sh)")

        package_dir = (HERE if self.inplace else Path(self.build_lib)) / "swiftcompress"
        package_dir.mkdir(parents=True, exist_ok=True)
        for stale in package_dir.glob("libswiftcompress.so*"):
            stale.unlink()
        bundled = package_dir / SONAME
        shutil.copyfile(lib, bundled)
        os.chmod(bundled, 0o755)
        strip = shutil.which("strip")
        if strip and os.environ.get("SWIFTCOMPRESS_NO_STRIP") != "1":
            subprocess.run([strip, "--strip-unneeded", str(bundled)], check=True)
        include_dir = package_dir / "include"
        if include_dir.exists():
            shutil.rmtree(include_dir)
        include_dir.mkdir()
        for header in sorted((ROOT / "include").iterdir()):
            if header.suffix in (".h", ".hpp"):
                shutil.copyfile(header, include_dir / header.name)

        for ext in self.extensions:
            ext.include_dirs.append(str(ROOT / "include"))
            ext.library_dirs.append(str(package_dir))
        super().run()

    def build_extensions(self) -> None:
        # The interpreter's LDSHARED carries -Wl,-rpath,<its prefix>/lib on some builds (pyenv):
        # a host path in the extension's RUNPATH. Only $ORIGIN (runtime_library_dirs) stays.
        self.compiler.linker_so = [arg for arg in self.compiler.linker_so
                                   if not (arg.startswith("-Wl,-rpath") or arg.startswith("-Wl,-R"))]
        super().build_extensions()

    @staticmethod
    def _build_swift(root: Path) -> Path:
        """Builds libswiftcompress.so with the Swift runtime linked in (tools/build-release.sh
        --library-only); returns its path."""
        swift = swift_driver()
        scratch = os.environ.get("SWIFTCOMPRESS_SCRATCH", str(root / ".build-python"))
        env = dict(os.environ, SWIFT=swift, SWIFTCOMPRESS_SCRATCH=scratch)
        command = ["bash", str(root / "tools" / "build-release.sh"), "--library-only"]
        print("swiftcompress: " + " ".join(command) + f" (scratch {scratch})", flush=True)
        subprocess.run(command, cwd=root, check=True, env=env)
        lib = Path(scratch) / "dist" / "libswiftcompress.so"
        if not lib.is_file():
            raise SystemExit(f"swiftcompress: the Swift build did not produce {lib}")
        return lib.resolve()


class SdistWithSwiftSources(sdist):
    """The sdist with the Swift source tree as native/ (NATIVE_TREE), so that it builds from source."""

    def make_release_tree(self, base_dir: str, files) -> None:
        super().make_release_tree(base_dir, files)
        native = Path(base_dir) / "native"
        if native.exists():
            shutil.rmtree(native)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".DS_Store", ".build*")
        for entry in NATIVE_TREE:
            src, dst = ROOT / entry, native / entry
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=ignore)  # symlinks followed: the ABI target's header is copied
            else:
                shutil.copyfile(src, dst)
        print(f"swiftcompress: added the Swift source tree ({', '.join(NATIVE_TREE)}) as native/", flush=True)


core = Extension(
    "swiftcompress._core",
    sources=["src/_core.c", "src/_quant.c", "src/_real.c", "src/_distill.c", "src/_training.c", "src/_wanda.c",
             "src/_quant_train.c", "src/_graph.c", "src/_distributed.c"],
    depends=["src/_common.h"],
    # -l:NAME links the file by name; its NEEDED entry is the SONAME, libswiftcompress.so.MAJOR.
    libraries=[":" + SONAME],
    runtime_library_dirs=["$ORIGIN"],
    define_macros=[("Py_LIMITED_API", f"0x{LIMITED_API:08X}")],
    py_limited_api=True,
    extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Wno-missing-field-initializers", "-Wno-cast-function-type"],
)

setup(
    version=".".join(map(str, VERSION)),
    ext_modules=[core],
    cmdclass={"build_ext": BuildSwiftThenExtension, "sdist": SdistWithSwiftSources},
    options={"bdist_wheel": {"py_limited_api": LIMITED_API_TAG}},
)
