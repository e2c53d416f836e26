#!/usr/bin/env bash
# tools/install.sh — installs the C/C++ library from the one release build (`make install` runs it).
#
#     bash tools/install.sh [--prefix DIR] [--libdir DIR] [--includedir DIR] [--destdir DIR]
#
# Defaults: prefix /usr/local, libdir PREFIX/lib, includedir PREFIX/include, destdir empty (a
# staging root prepended to every path written, as DESTDIR in packaging; not written into the files).
# Installs, from .build-release/dist (tools/build-release.sh; the Swift runtime is linked in, so the
# library needs only libc, libm, libstdc++ and libgcc_s):
#   LIBDIR/libswiftcompress.so.MAJOR.MINOR.PATCH   stripped (strip --strip-unneeded), SONAME libswiftcompress.so.MAJOR
#   LIBDIR/libswiftcompress.so.MAJOR -> libswiftcompress.so.MAJOR.MINOR.PATCH
#   LIBDIR/libswiftcompress.so -> libswiftcompress.so.MAJOR   (what -lswiftcompress finds)
#   INCLUDEDIR/swiftcompress.h, swiftcompress.hpp, swiftcompress_torch.hpp
#   LIBDIR/pkgconfig/swiftcompress.pc              pkg-config --cflags --libs swiftcompress
#   LIBDIR/cmake/swiftcompress/swiftcompressConfig.cmake, swiftcompressConfigVersion.cmake
#                                                   find_package(swiftcompress 0.2) -> swiftcompress::swiftcompress
# The version is the header's (SC_VERSION_MAJOR/MINOR/PATCH in include/swiftcompress.h). The CMake
# files find the library and headers relative to their own directory (the tree may be moved); the
# .pc file names PREFIX (as pkg-config files do). Environment: SWIFTCOMPRESS_SCRATCH (default
# <root>/.build-release), STRIP (default strip).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/usr/local
LIBDIR=
INCLUDEDIR=
DESTDIR=
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --libdir) LIBDIR=$2; shift 2 ;;
        --includedir) INCLUDEDIR=$2; shift 2 ;;
        --destdir) DESTDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$PREFIX" in /*) ;; *) echo "install.sh: --prefix must be an absolute path, got $PREFIX" >&2; exit 2 ;; esac
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
SCRATCH="${SWIFTCOMPRESS_SCRATCH:-$ROOT/.build-release}"
DIST="$SCRATCH/dist"
STRIP=${STRIP:-strip}

HEADER="$ROOT/include/swiftcompress.h"
version_part() { sed -n "s/^#define SC_VERSION_$1 \([0-9][0-9]*\)\$/\1/p" "$HEADER"; }
MAJOR=$(version_part MAJOR)
MINOR=$(version_part MINOR)
PATCH=$(version_part PATCH)
VERSION="$MAJOR.$MINOR.$PATCH"
SONAME="libswiftcompress.so.$MAJOR"
REAL="$SONAME.$MINOR.$PATCH"
if [ ! -f "$DIST/$REAL" ]; then
    echo "install.sh: no $DIST/$REAL: run make release (tools/build-release.sh) first" >&2
    exit 1
fi

lib="$DESTDIR$LIBDIR"
inc="$DESTDIR$INCLUDEDIR"
cmakedir="$lib/cmake/swiftcompress"
mkdir -p "$lib" "$inc" "$lib/pkgconfig" "$cmakedir"

install -m 0755 "$DIST/$REAL" "$lib/$REAL"
if command -v "$STRIP" >/dev/null 2>&1; then
    "$STRIP" --strip-unneeded "$lib/$REAL"
else
    echo "install.sh: $STRIP not found; the library is installed unstripped" >&2
fi
ln -sfn "$REAL" "$lib/$SONAME"
ln -sfn "$SONAME" "$lib/libswiftcompress.so"
for h in swiftcompress.h swiftcompress.hpp swiftcompress_torch.hpp; do
    install -m 0644 "$ROOT/include/$h" "$inc/$h"
done

cat >"$lib/pkgconfig/swiftcompress.pc" <<EOF
# pkg-config file of libswiftcompress $VERSION (the C ABI of swiftcompress), written by tools/install.sh.
prefix=$PREFIX
libdir=$LIBDIR
includedir=$INCLUDEDIR

Name: swiftcompress
Description: Model compression (pruning, quantization, distillation) from NNI-style config lists, C ABI
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -lswiftcompress
EOF

# Paths of the library and the headers relative to the CMake directory (realpath -m: the
# directories need not exist outside DESTDIR).
rel_lib=$(realpath -m --relative-to="$LIBDIR/cmake/swiftcompress" "$LIBDIR")
rel_inc=$(realpath -m --relative-to="$LIBDIR/cmake/swiftcompress" "$INCLUDEDIR")
cat >"$cmakedir/swiftcompressConfig.cmake" <<EOF
# CMake package of libswiftcompress $VERSION (the C ABI of swiftcompress), written by tools/install.sh.
#
#     find_package(swiftcompress $MAJOR.$MINOR REQUIRED)
#     target_link_libraries(app PRIVATE swiftcompress::swiftcompress)   # include dirs come along
#
# Defines the imported target swiftcompress::swiftcompress (a shared library: libswiftcompress.so.$MAJOR,
# the Swift runtime linked in) and swiftcompress_VERSION, swiftcompress_INCLUDE_DIR, swiftcompress_LIBRARY.
# The C++ wrapper swiftcompress.hpp needs C++17 (swiftcompress_torch.hpp: what libtorch needs, C++20 for torch 2.15).
get_filename_component(_swiftcompress_libdir "\${CMAKE_CURRENT_LIST_DIR}/$rel_lib" ABSOLUTE)
get_filename_component(_swiftcompress_includedir "\${CMAKE_CURRENT_LIST_DIR}/$rel_inc" ABSOLUTE)
set(swiftcompress_LIBRARY "\${_swiftcompress_libdir}/$REAL")
set(swiftcompress_INCLUDE_DIR "\${_swiftcompress_includedir}")
if(NOT EXISTS "\${swiftcompress_LIBRARY}" OR NOT EXISTS "\${swiftcompress_INCLUDE_DIR}/swiftcompress.h")
  set(swiftcompress_FOUND FALSE)
  set(swiftcompress_NOT_FOUND_MESSAGE "swiftcompress: \${swiftcompress_LIBRARY} or \${swiftcompress_INCLUDE_DIR}/swiftcompress.h is missing (reinstall with make install)")
  return()
endif()
if(NOT TARGET swiftcompress::swiftcompress)
  add_library(swiftcompress::swiftcompress SHARED IMPORTED)
  set_target_properties(swiftcompress::swiftcompress PROPERTIES
    IMPORTED_LOCATION "\${swiftcompress_LIBRARY}"
    IMPORTED_SONAME "$SONAME"
    INTERFACE_INCLUDE_DIRECTORIES "\${swiftcompress_INCLUDE_DIR}")
endif()
unset(_swiftcompress_libdir)
unset(_swiftcompress_includedir)
EOF

cat >"$cmakedir/swiftcompressConfigVersion.cmake" <<EOF
# Version file of the swiftcompress CMake package, written by tools/install.sh: $VERSION satisfies
# a request for the same major version and a version not newer than $VERSION (SameMajorVersion).
set(PACKAGE_VERSION "$VERSION")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
set(PACKAGE_VERSION_EXACT FALSE)
if("\${PACKAGE_FIND_VERSION}" STREQUAL "")
  set(PACKAGE_VERSION_COMPATIBLE TRUE)  # find_package(swiftcompress) without a version
elseif(PACKAGE_FIND_VERSION_MAJOR EQUAL $MAJOR AND NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
# A 64-bit library: refuse a 32-bit project.
if(NOT "\${CMAKE_SIZEOF_VOID_P}" STREQUAL "" AND NOT CMAKE_SIZEOF_VOID_P EQUAL 8)
  set(PACKAGE_VERSION "$VERSION (64-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
EOF

echo "install.sh: installed libswiftcompress $VERSION into $DESTDIR$PREFIX (lib $LIBDIR, include $INCLUDEDIR)"
