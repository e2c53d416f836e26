"""Internal: where an ``_input_*`` / ``_output_*`` target's tensor is found in one forward call.

Shared by quantization (which replaces the tensor) and distillation (which records it). A slot is
resolved once per module from the core's report entry (``kind``, ``position``, ``argument``,
``output_key``) and the module's positional forward arguments:

- inputs: ``_input_<i>`` is positional argument ``i`` (also found by its name in the keyword
  arguments when the module's signature names it); ``_input_<name>`` is the argument of that name,
  found at its position in the module's own signature, else among the keyword arguments. An
  argument left to its default is not seen.
- outputs: a tensor is ``_output_0``; a tuple / list element ``_output_<i>``; a dict value
  ``_output_<key>`` (``_output_<i>`` also reads the key ``i`` or ``str(i)`` of a dict).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from .errors import InvalidArgumentError

MISSING = object()  # the output is a container a slot cannot address


class Slot:
    """Where one target's tensor is found: ``kind`` 'input' or 'output'; ``position`` (positional
    argument / sequence element), ``argument`` (the argument name, looked up in the keyword
    arguments), ``key`` (a dict output's key)."""

    __slots__ = ("target_name", "kind", "position", "argument", "key")

    def __init__(self, target_name: str, kind: str, position: Optional[int], argument: Optional[str],
                 key: Optional[str]) -> None:
        self.target_name = target_name
        self.kind = kind
        self.position = position
        self.argument = argument
        self.key = key

    @classmethod
    def from_report(cls, target_name: str, entry: Dict[str, Any], forward_args: Optional[List[str]],
                    user: str = "DynamicLayerwiseDistiller") -> "Slot":
        """The slot of a target of the core's report for a module whose positional forward arguments
        are ``forward_args`` (an input named by argument is looked up by that module's own signature,
        so a teacher's module may take it at another position). InvalidArgumentError for a target
        that is neither an input nor an output (``user`` names the caller in the message)."""
        kind = entry.get("kind")
        position = entry.get("position")
        if kind == "input":
            argument = entry.get("argument")
            if argument is not None:
                position = forward_args.index(argument) if forward_args and argument in forward_args else None
            elif position is not None and forward_args and position < len(forward_args):
                argument = forward_args[position]
            return cls(target_name, "input", position, argument, None)
        if kind == "output":
            return cls(target_name, "output", position, None, entry.get("output_key"))
        raise InvalidArgumentError(f"{target_name}: {user} distils inputs and outputs "
                                   f"(_input_*, _output_*); got a {kind} target")

    # -- inputs ---------------------------------------------------------------------------------

    def read_input(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        """The input's value in this call, None when it is not passed."""
        if self.position is not None and self.position < len(args):
            return args[self.position]
        if self.argument is not None:
            return kwargs.get(self.argument)
        return None

    def map_input(self, args: List[Any], kwargs: Dict[str, Any], fn: Callable[[Any], Any]) -> bool:
        """Replaces the input by ``fn(input)`` in ``args`` (a list) or ``kwargs``; False when the call
        does not pass it."""
        if self.position is not None and self.position < len(args):
            args[self.position] = fn(args[self.position])
            return True
        if self.argument is not None and self.argument in kwargs:
            kwargs[self.argument] = fn(kwargs[self.argument])
            return True
        return False

    # -- outputs --------------------------------------------------------------------------------

    def _dict_key(self, output: Dict[Any, Any]) -> Any:
        key = self.key if self.key is not None else None if self.position is None else str(self.position)
        if key is None:
            return MISSING
        for k in output:
            if k == key or str(k) == key:
                return k
        return MISSING

    def read_output(self, output: Any) -> Any:
        """The output's value, None when the output has no such element, MISSING for a container
        that is not a tensor, a list / tuple or a dict."""
        if isinstance(output, torch.Tensor):
            return output if self.position == 0 and self.key is None else None
        if isinstance(output, (list, tuple)):
            if self.position is not None and self.position < len(output):
                return output[self.position]
            return None
        if isinstance(output, dict):
            k = self._dict_key(output)
            return None if k is MISSING else output[k]
        return MISSING

    def map_output(self, output: Any, fn: Callable[[Any], Any]) -> Any:
        """``output`` with this slot's element replaced by ``fn(element)`` (a new tuple / list, a
        namedtuple of the same type; dicts are changed in place); unchanged when there is none."""
        if isinstance(output, torch.Tensor):
            return fn(output) if self.position == 0 and self.key is None else output
        if isinstance(output, (list, tuple)):
            if self.position is None or self.position >= len(output):
                return output
            items = list(output)
            items[self.position] = fn(items[self.position])
            return type(output)(*items) if hasattr(output, "_fields") else type(output)(items)
        if isinstance(output, dict):
            k = self._dict_key(output)
            if k is not MISSING:
                output[k] = fn(output[k])
        return output
