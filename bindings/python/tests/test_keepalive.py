"""The session keeps every object whose buffers the core holds (issue 18): a refused call (set_config,
bind, bind_metric, bind_student, add_modules) leaves the core's earlier bindings in place, so their
tensors must stay alive; the masks generated afterwards are written into that live memory. Each test
drops every Python reference to the bound tensors, collects, and checks through weak references."""
from __future__ import annotations

import gc
import json
import weakref

import pytest
import torch

import swiftcompress
from swiftcompress import _core

CONFIG = json.dumps([{"op_names": ["fc"], "sparse_ratio": 0.5}])
WEIGHT = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.25, -0.125], [-4.0, 4.0, 1.0], [0.1, 0.2, 0.3]])
# L1 norms of the rows 6.0, 0.875, 9.0, 0.6: out_channel pruning at 0.5 keeps rows 0 and 2
EXPECTED = torch.tensor([[1.0] * 3, [0.0] * 3, [1.0] * 3, [0.0] * 3])


def spec(t: torch.Tensor):
    return (t.data_ptr(), _core.SC_DTYPE_FLOAT32, tuple(t.shape), t.stride())


def pruning_session() -> _core.Session:
    s = _core.Session(_core.SC_MODE_PRUNING)
    s.add_modules([("", "M", None), ("fc", "Linear", ["input"])])
    s.set_config(CONFIG)
    assert s.targets() == [("fc", "weight"), ("fc", "bias")]
    return s


def bind_weight(s: _core.Session):
    """Binds fc.weight to a fresh copy of WEIGHT and a fresh mask (the bias as absent); returns weak
    references to both: the caller keeps no strong one."""
    weight = WEIGHT.clone()
    mask = torch.full_like(weight, 7.0)  # not a mask value: a write is visible
    s.bind("fc", "weight", spec(weight), spec(mask), (weight, mask))
    s.bind("fc", "bias", None, None)
    return weakref.ref(weight), weakref.ref(mask)


def collect() -> None:
    gc.collect()  # the keepalive objects are tuples of tensors: no cycles, one pass is enough


def test_refused_set_config_keeps_the_bound_tensors_alive():
    s = pruning_session()
    weight, mask = bind_weight(s)
    with pytest.raises(swiftcompress.ConfigError, match="sparse_ratio"):
        s.set_config(json.dumps([{"op_names": ["fc"], "sparse_ratio": "half"}]))
    with pytest.raises(swiftcompress.ConfigError):
        s.set_config("[{")
    collect()
    assert weight() is not None and mask() is not None  # the core still holds their pointers
    s.generate_masks(_core.SC_METRIC_L1)  # the earlier config and bindings, into live memory
    assert torch.equal(mask(), EXPECTED)
    assert torch.equal(weight(), WEIGHT)
    s.set_config(CONFIG)  # an accepted config drops the bindings, and the objects with them
    collect()
    assert weight() is None and mask() is None


def test_refused_bind_keeps_the_earlier_binding_and_drops_the_refused_objects():
    s = pruning_session()
    weight, mask = bind_weight(s)
    wrong = torch.empty(2, 2)
    refused = weakref.ref(wrong)
    with pytest.raises(swiftcompress.ShapeError):
        s.bind("fc", "weight", spec(WEIGHT.clone()), spec(wrong), (wrong,))
    with pytest.raises(swiftcompress.UnknownNameError):
        s.bind("fc", "weght", spec(WEIGHT), spec(WEIGHT), (wrong,))
    del wrong
    collect()
    assert refused() is None  # the refused call's objects are not kept ...
    assert weight() is not None and mask() is not None  # ... the earlier binding's are
    s.generate_masks(_core.SC_METRIC_L1)
    assert torch.equal(mask(), EXPECTED)
    weight2, mask2 = bind_weight(s)  # binding again replaces (and releases) the earlier objects
    collect()
    assert weight() is None and mask() is None and weight2() is not None
    s.generate_masks(_core.SC_METRIC_L1)
    assert torch.equal(mask2(), EXPECTED)
    s.close()
    collect()
    assert weight2() is None and mask2() is None


def test_refused_bind_metric_keeps_the_earlier_metric_alive():
    s = pruning_session()
    weight, mask = bind_weight(s)
    metric = torch.tensor([0.0, 5.0, 1.0, 9.0])  # supplied scores: rows 1 and 3 kept
    alive = weakref.ref(metric)
    s.bind_metric("fc", "weight", (metric.data_ptr(), _core.SC_DTYPE_FLOAT32, (4,), (1,)), metric)
    del metric
    bad = torch.zeros(4, dtype=torch.float64)
    with pytest.raises(swiftcompress.DtypeError):
        s.bind_metric("fc", "weight", (bad.data_ptr(), 99, (4,), (1,)), bad)
    collect()
    assert alive() is not None
    s.generate_masks(_core.SC_METRIC_SUPPLIED)
    assert torch.equal(mask(), 1.0 - EXPECTED)
    bind_weight(s)  # binding the target again drops its metric binding and the metric
    collect()
    assert alive() is None


def test_refused_add_modules_keeps_the_bindings():
    s = pruning_session()
    weight, mask = bind_weight(s)
    for bad in [("a\x00b", "Linear", None), ("\ud800", "Linear", None), (3, "Linear", None), ("x", "Linear", [b"in"])]:
        with pytest.raises(swiftcompress.InvalidArgumentError, match=r"add_modules: modules\[0\]"):
            s.add_modules([bad])
    collect()
    assert weight() is not None
    s.generate_masks(_core.SC_METRIC_L1)
    assert torch.equal(mask(), EXPECTED)


def test_refused_calls_of_a_distillation_session_keep_the_student_alive():
    s = _core.Session(_core.SC_MODE_DISTILLATION)
    s.add_modules([("", "M", None), ("a", "Linear", None)])
    s.set_config(json.dumps([{"op_names": ["a"]}]))
    student = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    teacher = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    gradient = torch.full((2, 2), 7.0)
    refs = [weakref.ref(t) for t in (student, teacher, gradient)]
    s.bind_student("a", "_output_0", spec(student), spec(gradient), (student, gradient))
    s.bind_teacher("a", "_output_0", 0, spec(teacher), teacher)
    with pytest.raises(swiftcompress.ConfigError):
        s.set_config(json.dumps([{"op_names": ["a"], "lambda": "x"}]))
    with pytest.raises(swiftcompress.ShapeError):
        s.bind_student("a", "_output_0", spec(torch.zeros(3)), spec(torch.zeros(2)), None)
    del student, teacher, gradient
    collect()
    assert all(r() is not None for r in refs)
    total, losses = s.distill()
    assert total == 1.0 and losses == [1.0]  # mean of (0, 0, 0, 4)
    assert torch.equal(refs[2](), torch.tensor([[0.0, 0.0], [0.0, -1.0]]))  # 2 (s - t) / 4


def test_session_init_again_drops_the_bindings_only_when_idle():
    s = pruning_session()
    weight, mask = bind_weight(s)
    s.__init__(_core.SC_MODE_PRUNING)  # a fresh core session: no pointer is held any more
    collect()
    assert weight() is None and mask() is None
    assert s.targets() == []


def test_adding_no_module_keeps_the_bindings():
    # add_modules([]) adds nothing: the core keeps its targets and bindings (the keepalive used to be
    # cleared by every add_modules call, leaving the core with pointers into freed tensors)
    s = pruning_session()
    weight, mask = bind_weight(s)
    s.add_modules([])
    collect()
    assert weight() is not None and mask() is not None
    s.generate_masks(_core.SC_METRIC_L1)
    assert torch.equal(mask(), EXPECTED)
    # a module added after the config discards the targets and bindings: then the objects go
    s.add_modules([("fc2", "Linear", None)])
    assert s.targets() == []
    collect()
    assert weight() is None and mask() is None


def test_add_modules_json_drops_the_objects_exactly_when_the_core_drops_the_bindings():
    s = pruning_session()
    weight, mask = bind_weight(s)
    with pytest.raises(swiftcompress.ConfigError):  # refused: nothing changes
        s.add_modules_json("[{")
    collect()
    assert weight() is not None and s.targets() == [("fc", "weight"), ("fc", "bias")]
    s.add_modules_json("[]")  # the core discards the resolved targets even for an empty list
    collect()
    assert s.targets() == [] and weight() is None and mask() is None


def test_session_calls_while_masks_are_generated_in_another_thread_are_refused():
    # __init__ again (or close) while generate_masks runs with the GIL released would free the core
    # session under the running call: refused with RuntimeError; the running call completes.
    import threading

    s = _core.Session(_core.SC_MODE_PRUNING)
    s.add_modules([("", "M", None), ("fc", "Linear", ["input"])])
    s.set_config(json.dumps([{"op_names": ["fc"], "sparse_ratio": 0.5, "target_names": ["weight"]}]))
    weight = torch.randn(2048, 256, generator=torch.Generator().manual_seed(0))
    mask = torch.full_like(weight, 7.0)
    s.bind("fc", "weight", spec(weight), spec(mask), (weight, mask))
    refused = []
    for _ in range(20):  # FPGM over 2048 rows takes long enough to be seen busy
        worker = threading.Thread(target=s.generate_masks, args=(_core.SC_METRIC_FPGM,))
        worker.start()
        while worker.is_alive():
            try:
                s.targets()
            except RuntimeError:  # busy: now try to re-initialize and close it
                for call in (lambda: s.__init__(_core.SC_MODE_PRUNING), s.close):
                    try:
                        call()
                    except RuntimeError as error:
                        refused.append(str(error))
                break
        worker.join()
        if refused:
            break
    assert len(refused) == 2 and all("in use by another thread" in r for r in refused)
    assert s.targets() == [("fc", "weight")]  # still the same session
    rows = mask[:, 0]
    assert int((rows == 0).sum()) == 1024 and bool(((mask == 0) | (mask == 1)).all())
