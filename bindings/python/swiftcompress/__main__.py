"""``python -m swiftcompress explain MODEL CONFIG [--strict]``: see :mod:`swiftcompress.cli`."""
import sys

from .cli import main

sys.exit(main())
