"""NNI 3.0-compatible layer-wise distillation whose losses and gradients are computed by the Swift core.

    from swiftcompress.distillation import DynamicLayerwiseDistiller   # was: nni.compression.distillation
    config_list = [{"op_names": ["fc1"], "lambda": 0.5},                # mse of fc1's output
                   {"op_names": ["fc2"], "apply_method": "kl", "link": ["head", "aux"]}]
    distiller = DynamicLayerwiseDistiller(student, config_list, teacher,
                                          lambda batch, teacher: teacher(batch[0]))
    for batch in loader:
        original_loss = criterion(student(batch[0]), batch[1])          # the hooks record hidden states
        loss = distiller.loss(original_loss, batch)                     # runs the teacher (no grad)
        loss.backward()                                                 # the core's gradient flows on
        optimizer.step(); optimizer.zero_grad()
    distiller.unwrap_model(); distiller.unwrap_teacher_model()

``DynamicLayerwiseDistiller(model, config_list, evaluator, teacher_model, teacher_predict, origin_loss_lambda=1.0)``
and ``Adaptive1dLayerwiseDistiller`` (same signature; a learnable Linear maps the student's last dimension onto the
teacher's): NNI 3.0's constructors, with ``compress(max_steps, max_epochs)`` through the evaluator and
``from_compressor``. Without an evaluator (``DynamicLayerwiseDistiller(model, config_list, teacher_model,
teacher_predict, origin_loss_lambda=1.0)``) put ``loss()`` in your own loop, as above. See the classes and
docs/python.md ("Distillation").
"""
from __future__ import annotations

from ._distiller import Adaptive1dLayerwiseDistiller, DynamicLayerwiseDistiller

__all__ = ["DynamicLayerwiseDistiller", "Adaptive1dLayerwiseDistiller"]
