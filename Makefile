# The two commands of the README. Swift 6.x must be on PATH (it is at /opt/swift/usr/bin here).
export PATH := $(PATH):/opt/swift/usr/bin

.PHONY: demo test test-swift test-c test-python bench build

VENV ?= $(CURDIR)/.venv

# Set-up and the main job: explain what two config lists do to ResNet-50, then set up .venv (torch,
# torchvision, NNI 3.0, the swiftcompress package) and prune torchvision's ResNet-50 from Python.
demo:
	swift build -c release --product swiftcompress-explain
	.build/release/swiftcompress-explain --modules examples/models/resnet50.json --config examples/configs/resnet50_pruning.json
	.build/release/swiftcompress-explain --modules examples/models/resnet50.json --config examples/configs/resnet50_legacy_pruning.json
	VENV=$(VENV) bash bindings/python/run_tests.sh --setup-only
	$(VENV)/bin/python examples/python/prune_resnet.py

build:
	swift build

# Every test suite: Swift tests, then the C ABI tests (header, exported symbols, bad input,
# threads, examples/c; builds the release library into .build-release).
test: test-swift test-c test-python

test-swift:
	swift build --build-tests
	swift test --disable-xctest

test-c:
	bash tests/c/run.sh

# The Python package's tests against NNI 3.0 (creates or reuses .venv).
test-python:
	VENV=$(VENV) bash bindings/python/run_tests.sh

# The pruning benchmarks: the Swift engine on ResNet-50's shapes (with NNI 3.0 measured in the same
# run when .venv or /work/nnienv has it), then the Python end-to-end comparison with NNI,
# torch.nn.utils.prune and cloning (markdown table + PNG).
bench:
	swift run -c release --scratch-path .build-release swiftcompress-bench
	$(VENV)/bin/python bindings/python/benchmarks/bench_pruning.py
