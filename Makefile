# The two commands of the README. Swift 6.x must be on PATH (it is at /opt/swift/usr/bin here).
export PATH := $(PATH):/opt/swift/usr/bin

.PHONY: demo test test-swift test-c build

# Set-up and the main job: build in release, then explain what a config list does to ResNet-50.
demo:
	swift build -c release --product swiftcompress-explain
	.build/release/swiftcompress-explain --modules examples/models/resnet50.json --config examples/configs/resnet50_pruning.json
	.build/release/swiftcompress-explain --modules examples/models/resnet50.json --config examples/configs/resnet50_legacy_pruning.json

build:
	swift build

# Every test suite: Swift tests, then the C ABI tests (header, exported symbols, bad input,
# threads, examples/c; builds the release library into .build-release).
test: test-swift test-c

test-swift:
	swift build --build-tests
	swift test --disable-xctest

test-c:
	bash tests/c/run.sh
