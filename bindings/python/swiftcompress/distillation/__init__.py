"""NNI 3.0-compatible distillers (DynamicLayerwiseDistiller) computed by the swiftcompress core."""
from __future__ import annotations

__all__: list = []
