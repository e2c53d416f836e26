#!/bin/sh
# make-pc.sh — writes swiftcompress.pc from examples/c/swiftcompress.pc.in.
#
#   examples/c/make-pc.sh [--prefix DIR] [--includedir DIR] [--libdir DIR] [--output FILE]
#
# Defaults: prefix = the repository root, includedir = PREFIX/include, libdir =
# PREFIX/.build/release (where `swift build -c release --product swiftcompress` puts
# libswiftcompress.so), output = ./swiftcompress.pc. The version is read from include/swiftcompress.h.
# Then: PKG_CONFIG_PATH=DIR-OF-OUTPUT pkg-config --cflags --libs swiftcompress
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=$root
includedir=
libdir=
output=swiftcompress.pc
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --includedir) includedir=$2; shift 2 ;;
        --libdir) libdir=$2; shift 2 ;;
        --output) output=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "make-pc.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
includedir=${includedir:-$prefix/include}
libdir=${libdir:-$prefix/.build/release}
header=$includedir/swiftcompress.h
[ -f "$header" ] || header=$root/include/swiftcompress.h
version=$(sed -n 's/^#define SC_VERSION_STRING "\(.*\)"$/\1/p' "$header")
[ -n "$version" ] || { echo "make-pc.sh: no SC_VERSION_STRING in $header" >&2; exit 1; }
sed -e "s|@PREFIX@|$prefix|" -e "s|@INCLUDEDIR@|$includedir|" -e "s|@LIBDIR@|$libdir|" -e "s|@VERSION@|$version|" \
    "$here/swiftcompress.pc.in" >"$output"
echo "wrote $output (prefix $prefix, includedir $includedir, libdir $libdir, version $version)"
