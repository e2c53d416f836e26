"""NNI 3.0-compatible quantizers (PtqQuantizer, QATQuantizer) computed by the swiftcompress core."""
from __future__ import annotations

__all__: list = []
