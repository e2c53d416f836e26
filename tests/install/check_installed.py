"""Run by tools/test-install.sh with an installed swiftcompress (a fresh virtual environment, the
Swift toolchain neither on PATH nor on the library path): checks where the package and its
library come from, then prunes torchvision's ResNet-18 with L1NormPruner and checks the masks.

    python tests/install/check_installed.py EXPECTED_PREFIX

EXPECTED_PREFIX: the directory the imported package must be under (the fresh environment).
Prints one line per check; exits non-zero (an AssertionError) on the first that fails.
"""
import os
import shutil
import sys

prefix = os.path.realpath(sys.argv[1])
assert shutil.which("swift") is None, f"swift is on PATH: {shutil.which('swift')}"
assert "LD_LIBRARY_PATH" not in os.environ, os.environ.get("LD_LIBRARY_PATH")

import swiftcompress  # noqa: E402
from swiftcompress import _core  # noqa: E402

package = os.path.realpath(os.path.dirname(swiftcompress.__file__))
assert package.startswith(prefix + os.sep), f"swiftcompress imported from {package}, not from {prefix}"
assert _core.__file__.endswith(".abi3.so"), _core.__file__
print(f"ok: swiftcompress {swiftcompress.__version__} from {package} ({os.path.basename(_core.__file__)})")

include = swiftcompress.get_include()
assert sorted(os.listdir(include)) == ["swiftcompress.h", "swiftcompress.hpp", "swiftcompress_torch.hpp"], os.listdir(include)
library = swiftcompress.get_library()
assert os.path.basename(library) == "libswiftcompress.so.0", library
print(f"ok: get_include() = {include}, get_library() = {library}")

import torch  # noqa: E402  (through the .pth file: the test venv's torch)
import torchvision  # noqa: E402
from swiftcompress.pruning import L1NormPruner  # noqa: E402

maps = open("/proc/self/maps").read()
mapped = sorted({line.split()[-1] for line in maps.splitlines() if line.split()[-1].startswith("/")})
swift_paths = [p for p in mapped if "swift" in p.lower() and not p.startswith(package + os.sep)]
assert not swift_paths, f"mapped outside the package: {swift_paths}"
assert os.path.realpath(library) in mapped, "the bundled library is not the one loaded"
print(f"ok: the only swift library mapped is the bundled {os.path.basename(library)} ({len(mapped)} files mapped)")

torch.manual_seed(0)
model = torchvision.models.resnet18()
config = [{"op_types": ["Conv2d"], "sparse_ratio": 0.5}]
_, masks = L1NormPruner(model, config).compress()
convs = {name: m for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}
assert sorted(masks) == sorted(convs), sorted(set(masks) ^ set(convs))
for name, conv in convs.items():
    mask = masks[name]["weight"]
    out = conv.out_channels
    kept_channels = int((mask.flatten(1).amax(1) > 0).sum())
    # L1NormPruner: out_channel granularity, int(out * 0.5) channels pruned, whole channels
    assert kept_channels == out - int(out * 0.5), (name, kept_channels, out)
    assert int(mask.sum()) == kept_channels * mask[0].numel(), name
print(f"ok: L1NormPruner pruned half the output channels of each of the {len(convs)} Conv2d of ResNet-18")
