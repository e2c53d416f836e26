"""``swiftcompress.speedup``: NNI 3.0's ``nni.compression.speedup.ModelSpeedup`` — physically
removes the channels that pruning masks zeroed, from the core's shrink plan (see
:class:`ModelSpeedup`)."""
from .model_speedup import ModelSpeedup

__all__ = ["ModelSpeedup"]
