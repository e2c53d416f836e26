"""The installed package: the bundled library resolves without the Swift toolchain's directories,
and the extension and the library agree on the version."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import swiftcompress
from swiftcompress import _core

PACKAGE = Path(swiftcompress.__file__).parent


def _dynamic_section(path: Path) -> str:
    return subprocess.run(["readelf", "-d", str(path)], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf (binutils)")
def test_library_needs_no_swift_runtime_and_extension_finds_it_beside_itself():
    library = PACKAGE / "libswiftcompress.so.0"
    assert library.is_file() and Path(swiftcompress.get_library()) == library
    section = _dynamic_section(library)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", section)
    assert needed and not [n for n in needed if "swift" in n or "dispatch" in n or "Blocks" in n], needed
    assert re.search(r"\(SONAME\)\s+Library soname: \[libswiftcompress\.so\.0\]", section)
    extension = Path(_core.__file__)
    assert extension.name == "_core.abi3.so"  # the limited API: one build for every CPython >= 3.11
    section = _dynamic_section(extension)
    assert "[libswiftcompress.so.0]" in section
    runpath = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*?)\]", section)
    assert runpath == ["$ORIGIN"]  # no path of the build machine


def test_headers_are_shipped_inside_the_package():
    include = Path(swiftcompress.get_include())
    assert include == PACKAGE / "include"
    assert sorted(p.name for p in include.iterdir()) == ["swiftcompress.h", "swiftcompress.hpp", "swiftcompress_torch.hpp"]
    header = (include / "swiftcompress.h").read_text()
    assert f'#define SC_VERSION_STRING "{swiftcompress.__version__}"' in header


def test_versions_agree():
    assert _core.version_number() == _core.SC_VERSION_NUMBER
    assert swiftcompress.__version__ == _core.version_string()
    major, minor, patch = (int(p) for p in swiftcompress.__version__.split("."))
    assert major * 10000 + minor * 100 + patch == _core.SC_VERSION_NUMBER
    assert _core.status_name(_core.SC_ERROR_CONFIG) == "SC_ERROR_CONFIG"


def test_type_information_is_shipped():
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_core.pyi").is_file()
