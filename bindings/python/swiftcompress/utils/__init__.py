"""Helpers NNI 3.0's ``nni.compression.utils`` offers: the evaluators (see
:mod:`swiftcompress.utils.evaluator`) and :func:`trace`.

``auto_set_denpendency_group_ids`` and ``ModelSpeedup`` (NNI's graph tools) are not part of this
release (issue 14); import them from NNI meanwhile.
"""
from .evaluator import (BackwardHook, DeepspeedTorchEvaluator, Evaluator, ForwardHook, Hook, LightningEvaluator,
                        ModuleHook, TensorHook, TorchEvaluator, TransformersEvaluator, is_traceable, trace)

__all__ = ["Evaluator", "TorchEvaluator", "LightningEvaluator", "TransformersEvaluator", "DeepspeedTorchEvaluator",
           "Hook", "TensorHook", "ModuleHook", "ForwardHook", "BackwardHook", "trace", "is_traceable"]
