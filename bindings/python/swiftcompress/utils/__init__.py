"""Helpers NNI 3.0's ``nni.compression.utils`` offers: the evaluators (see
:mod:`swiftcompress.utils.evaluator`) and :func:`trace`.

``auto_set_denpendency_group_ids`` (and the alias ``auto_set_dependency_group_ids``) and
``count_flops_params`` are NNI's graph tools, computed by the core (docs/speedup.md); ``ModelSpeedup``
is in :mod:`swiftcompress.speedup`.
"""
from .evaluator import (BackwardHook, DeepspeedTorchEvaluator, Evaluator, ForwardHook, Hook, LightningEvaluator,
                        ModuleHook, TensorHook, TorchEvaluator, TransformersEvaluator, is_traceable, trace)
from .dependency import auto_set_denpendency_group_ids, auto_set_dependency_group_ids, dependency_report
from .counter import count_flops_params

__all__ = ["Evaluator", "TorchEvaluator", "LightningEvaluator", "TransformersEvaluator", "DeepspeedTorchEvaluator",
           "Hook", "TensorHook", "ModuleHook", "ForwardHook", "BackwardHook", "trace", "is_traceable",
           "auto_set_denpendency_group_ids", "auto_set_dependency_group_ids", "dependency_report", "count_flops_params"]
