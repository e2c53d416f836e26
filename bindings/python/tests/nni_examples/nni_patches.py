"""Patches that let NNI 3.0's own graph tools (``ModelSpeedup``, ``auto_set_denpendency_group_ids``)
run on this machine's torch, for the examples harness. They touch NNI and torch only, never
swiftcompress, and are applied identically before both runs of a script.

1. ``auto_set_denpendency_group_ids`` builds NNI's ``TorchModuleGraph``, which imports
   ``torch.utils.tensorboard._pytorch_graph`` for four plain classes (``NodePy``, ``NodePyIO``,
   ``NodePyOP``, ``GraphPy``). That module imports tensorboard's protobuf classes at the top, used
   only by its ``graph()`` export, which NNI never calls; tensorboard is not installed. We load the
   module's own source with empty stand-ins for those proto classes.
2. NNI's ``concrete_tracer`` (used by ``ModelSpeedup``) on torch >= 2.x: ``torch.fx.Node.is_impure``
   takes ``(self, impure_random=True)`` and NNI's replacement ``node_is_impure_wrapper(node)`` takes one
   argument: we accept and ignore the extra one. Its ``call_method`` branch calls
   ``node.target.endswith`` and other places ``name.startswith`` where torch now passes None: the
   wrapper treats a non-string target as not in-place. Its table of leaf functions holds three
   methods torch now defines on ``TensorBase`` (no longer ``_TensorBase``) with ``__module__`` None
   (``_dtensor__new__``, ``_make_subclass``, ``_make_wrapper_subclass``: subclass constructors no
   example model calls), on which ``trace`` calls ``__module__.startswith``: we drop those entries.
"""
from __future__ import annotations

import functools
import importlib.util
import sys
import types

_APPLIED = False


def _stub_tensorboard_protos() -> None:
    if "torch.utils.tensorboard._pytorch_graph" in sys.modules:
        return
    try:
        import tensorboard  # noqa: F401  (installed: nothing to do)
        return
    except ImportError:
        pass
    names = {
        "tensorboard.compat.proto.config_pb2": ["RunMetadata"],
        "tensorboard.compat.proto.graph_pb2": ["GraphDef"],
        "tensorboard.compat.proto.step_stats_pb2": ["StepStats", "DeviceStepStats"],
        "tensorboard.compat.proto.versions_pb2": ["VersionDef"],
        "tensorboard.compat.proto.node_def_pb2": ["NodeDef"],
        "tensorboard.compat.proto.attr_value_pb2": ["AttrValue"],
        "tensorboard.compat.proto.tensor_shape_pb2": ["TensorShapeProto"],
    }
    stubs = {}
    for package in ("tensorboard", "tensorboard.compat", "tensorboard.compat.proto"):
        stubs[package] = types.ModuleType(package)
        stubs[package].__path__ = []  # type: ignore[attr-defined]
    for module_name, classes in names.items():
        module = types.ModuleType(module_name)
        for cls in classes:
            setattr(module, cls, type(cls, (), {"__doc__": "stand-in: tensorboard is not installed"}))
        stubs[module_name] = module
    import torch.utils
    base = torch.utils.__path__[0] + "/tensorboard/"
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        package = types.ModuleType("torch.utils.tensorboard")
        package.__path__ = [base]  # type: ignore[attr-defined]
        sys.modules.setdefault("torch.utils.tensorboard", package)
        for sub in ("_proto_graph", "_pytorch_graph"):
            spec = importlib.util.spec_from_file_location(f"torch.utils.tensorboard.{sub}", base + sub + ".py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def _patch_concrete_tracer() -> None:
    from nni.common.concrete_trace_utils import concrete_tracer as ct
    table = ct.ConcreteTracer.default_autowrap_leaf_function
    for func in [f for f in table if getattr(f, "__module__", "") is None
                 and not getattr(f, "__qualname__", "").startswith(("_TensorBase", "_VariableFunctionsClass"))]:
        del table[func]
    original = ct.node_is_impure_wrapper

    @functools.wraps(original)
    def node_is_impure(node, *args, **kwargs):  # torch passes impure_random
        if node.op == "call_method" and not isinstance(node.target, str):
            return False
        return original(node)

    # concrete_trace patches ``Node.is_impure`` with this module global at each trace
    ct.node_is_impure_wrapper = node_is_impure


def apply() -> None:
    """Applies both patches once per process (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    _stub_tensorboard_protos()
    _patch_concrete_tracer()
    _APPLIED = True
