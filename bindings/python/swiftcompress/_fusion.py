"""NNI 3.0's compressor fusion, in one place: ``from_compressor`` chains compressors
(``fused_compressors``, the new compressor first), and one evaluator run trains them all.

Shared by the pruners (``pruning/_training.py``), the quantizers (``quantization/__init__.py``) and
the distillers (``distillation/_distiller.py``). No arithmetic here: each compressor's
``_fuse_preprocess(evaluator)`` patches the evaluator (loss, optimizer steps, hooks) and its
``_fuse_postprocess(evaluator)`` reads back what training left.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from .errors import InvalidArgumentError

logger = logging.getLogger("swiftcompress")


def fused_of(compressor: Any, owner: str) -> List[Any]:
    """``compressor``'s fusion chain (``compressor.fused_compressors``, or ``[compressor]``).

    Raises TypeError naming ``owner`` when ``compressor`` is not a compressor (no ``bound_model``)
    or a member of its chain cannot be fused (no ``_fuse_preprocess`` / ``_fuse_postprocess``)."""
    if not hasattr(compressor, "bound_model"):
        raise TypeError(f"{owner}.from_compressor: compressor: expected a swiftcompress compressor, got "
                        f"{type(compressor).__name__}")
    fused = list(getattr(compressor, "fused_compressors", [compressor]))
    for member in fused:
        if not (callable(getattr(member, "_fuse_preprocess", None))
                and callable(getattr(member, "_fuse_postprocess", None))):
            raise TypeError(f"{owner}.from_compressor: compressor: {type(member).__name__} cannot be fused (it has "
                            "no _fuse_preprocess / _fuse_postprocess to patch the evaluator's training)")
    return fused


def inherited_evaluator(compressor: Any, evaluator: Any) -> Any:
    """NNI's rule: the compressor's own evaluator wins; ``evaluator`` is used only when it has none
    (a warning, with NNI's wording, when both are given)."""
    own = getattr(compressor, "evaluator", None)
    if own is not None and evaluator is not None:
        logger.warning("compessor already has evaluator, the new evaluator passed to this function will be ignored.")
    return own if own is not None else evaluator


def identity_names(model: Any) -> Dict[str, str]:
    """NNI's ``{original parameter name: wrapped name}``: the identity (our wrapping never moves a
    parameter)."""
    return {name: name for name, _ in model.named_parameters()}


def fusion_train(evaluator: Any, model: Any, compressors: List[Any], max_steps: Optional[int],
                 max_epochs: Optional[int], names: Optional[Dict[str, str]] = None) -> None:
    """NNI's ``_fusion_compress``: binds ``model`` to ``evaluator``, lets every compressor of the
    chain patch it (in chain order), trains ``max_steps`` optimizer steps / ``max_epochs`` epochs
    (the caller's training function decides how they count), post-processes, and unbinds (also
    when training raises). InvalidArgumentError when both lengths are None."""
    if max_steps is None and max_epochs is None:
        raise InvalidArgumentError("compress: max_steps and max_epochs are both None; give at least one")
    evaluator.bind_model(model, identity_names(model) if names is None else names)
    try:
        for compressor in compressors:
            compressor._fuse_preprocess(evaluator)
        evaluator.train(max_steps, max_epochs)
        for compressor in compressors:
            compressor._fuse_postprocess(evaluator)
    finally:
        evaluator.unbind_model()
