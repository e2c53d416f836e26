"""The ``swiftcompress`` command line (``python -m swiftcompress`` or the ``swiftcompress`` console
script):

    swiftcompress explain MODEL CONFIG [--mode pruning|quantization|distillation] [--json] [--strict]

``MODEL`` names a model to build: ``package.module:attribute`` or ``path/to/file.py:attribute``,
where the attribute is a ``torch.nn.Module`` instance or a callable returning one, called without
arguments (``torchvision.models:resnet50`` builds a randomly initialised ResNet-50; nothing is
downloaded). ``CONFIG`` is a JSON file holding the config list (``-`` reads standard input).

Prints the explain report (the table, or with ``--json`` the core's JSON) of what the config list
does to the model, without touching a tensor. Exit status: 0; 1 with ``--strict`` when the report
has warnings (each is printed to standard error as well); 2 for a model or config that cannot be
loaded or a config list that breaks the specification (the message names the config index and key).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, List, Optional, Sequence

__all__ = ["main", "load_model"]


class UsageError(Exception):
    """A model or config argument that cannot be loaded (exit status 2)."""


def load_model(spec: str) -> Any:
    """The model ``spec`` names (``module:attribute`` or ``file.py:attribute``; see the module doc).
    Raises UsageError naming the part that failed."""
    where, sep, attribute = spec.rpartition(":")
    if not sep or not where or not attribute:
        raise UsageError(f"model {spec!r}: expected MODULE:ATTRIBUTE or FILE.py:ATTRIBUTE "
                         "(e.g. torchvision.models:resnet50)")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise UsageError(f"model {spec!r}: no file {where}")
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            if loader_spec is None or loader_spec.loader is None:
                raise UsageError(f"model {spec!r}: cannot load {where} as Python")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except UsageError:
        raise
    except Exception as exc:  # the user's module failed to import: say which and why
        raise UsageError(f"model {spec!r}: importing {where} failed: {type(exc).__name__}: {exc}") from exc
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise UsageError(f"model {spec!r}: {where} has no attribute {attribute!r}") from None
    if not hasattr(value, "named_modules") and callable(value):
        try:
            value = value()
        except Exception as exc:
            raise UsageError(f"model {spec!r}: calling {attribute}() failed: {type(exc).__name__}: {exc}") from exc
    if not hasattr(value, "named_modules"):
        raise UsageError(f"model {spec!r}: {attribute} is a {type(value).__name__}, not a torch.nn.Module "
                         "(or a callable returning one)")
    return value


def _load_config(path: str) -> List[Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"config {path!r}: {exc.strerror or exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"config {path!r}: not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(value, list):
        raise UsageError(f"config {path!r}: expected a JSON list of config objects, got a {type(value).__name__}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swiftcompress", description="swiftcompress: model compression from "
                                     "NNI-style config lists.")
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser("explain", help="what a config list does to a model (nothing is compressed)",
                                  description="Prints what CONFIG does to MODEL: the selected modules, the "
                                  "resolved targets with their settings, and the warnings.")
    explain.add_argument("model", help="MODULE:ATTRIBUTE or FILE.py:ATTRIBUTE (a module, or a callable making one)")
    explain.add_argument("config", help="a JSON file with the config list ('-': standard input)")
    explain.add_argument("--mode", choices=["pruning", "quantization", "distillation"], default="pruning",
                         help="the compressor the config list is for (default: pruning)")
    explain.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    explain.add_argument("--strict", action="store_true", help="exit with status 1 when the report has warnings")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = _parser().parse_args(argv)
    from . import explain
    from .errors import SwiftCompressError
    try:
        model = load_model(args.model)
        config_list = _load_config(args.config)
        report = explain(model, config_list, mode=args.mode)
    except UsageError as exc:
        print(f"swiftcompress explain: {exc}", file=sys.stderr)
        return 2
    except (SwiftCompressError, ValueError, TypeError) as exc:
        print(f"swiftcompress explain: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else str(report))
    warnings = report.warnings
    for warning in warnings:
        print(f"warning: {warning.message}", file=sys.stderr)
    if args.strict and warnings:
        print(f"swiftcompress explain: --strict: {len(warnings)} warning(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
