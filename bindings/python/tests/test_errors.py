"""Errors are exceptions deriving from ValueError / TypeError with the core's message; warnings go
through `warnings` and `logging`."""
from __future__ import annotations

import logging
import math

import pytest
import torch
import torch.nn as nn

import swiftcompress
from swiftcompress import _core
from swiftcompress.pruning import L1NormPruner, LevelPruner


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


def test_config_error_names_index_key_expectation_and_value():
    with pytest.raises(swiftcompress.ConfigError) as info:
        L1NormPruner(small_model(), [{"op_types": ["Linear"], "sparse_ratio": 0.5},
                                     {"op_types": ["Conv2d"], "sparse_ratio": 1.5}])
    error = info.value
    assert isinstance(error, ValueError)
    assert error.status == _core.SC_ERROR_CONFIG and error.status_name == "SC_ERROR_CONFIG"
    assert "config_list[1]" in str(error) and "sparse_ratio" in str(error) and "1.5" in str(error)


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(swiftcompress.ConfigError, match="sparse_ratio"):
        LevelPruner(small_model(), [{"op_types": ["Linear"], "sparse_ration": 0.5}])


def test_string_instead_of_list():
    with pytest.raises(ValueError, match=r"\['Linear'\]"):
        LevelPruner(small_model(), [{"op_types": "Linear", "sparse_ratio": 0.5}])


@pytest.mark.parametrize("value, expected", [
    (math.nan, r"config_list\[0\]\.sparse_ratio: expected a finite number, got nan"),
    (torch.float32, r"config_list\[0\]\.sparse_ratio: expected a JSON value .*, got torch\.float32 \(torch\.dtype\)"),
])
def test_values_json_cannot_carry(value, expected):
    with pytest.raises(swiftcompress.ConfigError, match=expected):
        LevelPruner(small_model(), [{"op_types": ["Linear"], "sparse_ratio": value}])


def test_input_target_of_a_basic_pruner_is_an_error():
    with pytest.raises(swiftcompress.PruningError, match=r"4\._input_0") as info:
        L1NormPruner(small_model(), [{"op_names": ["4"], "target_names": ["_input_"],
                                      "target_settings": {"_input_": {"sparse_ratio": 0.5}}}])
    assert isinstance(info.value, ValueError)


def test_pruning_rule_errors_leave_no_mask_written():
    model = small_model()
    config_list = [{"op_names": ["0"], "sparse_ratio": 0.5, "global_group_id": "g"},
                   {"op_names": ["4"], "sparse_ratio": 0.6, "global_group_id": "g"}]
    pruner = LevelPruner(model, config_list)
    with pytest.raises((swiftcompress.PruningError, swiftcompress.ShapeError)) as info:
        pruner.compress()
    assert "g" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_compress_with_training_arguments_is_refused():
    pruner = LevelPruner(small_model(), [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    with pytest.raises(swiftcompress.InvalidArgumentError, match="max_steps"):
        pruner.compress(max_steps=10)


def test_not_a_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        LevelPruner({"weight": torch.ones(2)}, [])


def test_bad_mode():
    with pytest.raises(swiftcompress.InvalidArgumentError, match="'pruning'"):
        swiftcompress.explain(small_model(), [], mode="prune")


def test_core_errors_without_a_session():
    with pytest.raises(swiftcompress.InvalidArgumentError) as info:
        _core.sparsity_schedule(_core.SC_SCHEDULE_AGP, 0.5, 11, 10)
    assert "step" in str(info.value)
    assert _core.sparsity_schedule(_core.SC_SCHEDULE_LINEAR, 0.8, 5, 10) == pytest.approx(0.4)
    assert _core.sparsity_schedule(_core.SC_SCHEDULE_AGP, 0.8, 5, 10) == pytest.approx(0.8 * (1 - 0.5 ** 3))


def test_session_misuse():
    session = _core.Session(_core.SC_MODE_PRUNING)
    with pytest.raises(swiftcompress.StateError):
        session.generate_masks(_core.SC_METRIC_LEVEL)
    with pytest.raises(TypeError, match="spec tuple"):
        session.bind("a", "weight", [0, 0, (1,), None], None)
    # A dtype code that does not fit 32 bits is refused, not truncated (2**32 + 0 would read as float32).
    buffer = torch.zeros(1)
    with pytest.raises(ValueError, match="apply_mask: mask: dtype code 4294967296 is out of range"):
        _core.apply_mask((buffer.data_ptr(), 2**32, (1,), None), (buffer.data_ptr(), 0, (1,), None), 0)
    session.close()
    with pytest.raises(ValueError, match="closed"):
        session.targets()
    with pytest.raises(swiftcompress.InvalidArgumentError):
        _core.Session(7)


def test_each_report_warning_is_emitted_once_through_warnings(caplog):
    config = [{"op_names": ["conv9", "0"], "sparse_ratio": 0.5}]
    with caplog.at_level(logging.WARNING):
        with pytest.warns(swiftcompress.SwiftCompressWarning) as record:
            LevelPruner(small_model(), config)
    assert [str(w.message) for w in record if issubclass(w.category, swiftcompress.SwiftCompressWarning)] == [
        "config_list[0].op_names: 'conv9' names no module and is ignored"]
    assert not [r for r in caplog.records if "conv9" in r.getMessage()]  # not sent to a logger as well
    # logging.captureWarnings routes them to the py.warnings logger, still once
    logging.captureWarnings(True)
    try:
        with caplog.at_level(logging.WARNING, logger="py.warnings"):
            LevelPruner(small_model(), config)
    finally:
        logging.captureWarnings(False)
    assert len([r for r in caplog.records if "conv9" in r.getMessage()]) == 1
