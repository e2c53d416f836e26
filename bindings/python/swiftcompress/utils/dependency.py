"""``auto_set_denpendency_group_ids`` (NNI 3.0's name, typo included) and the correctly spelled
``auto_set_dependency_group_ids``: the model is traced (:mod:`swiftcompress.utils._graph`), the core
finds which conv / linear / embedding modules' output channels are tied (residual add / sub / mul,
cat along a non-channel dim, depthwise convs) and NNI's ``internal_metric_block`` of grouped convs,
and builds the config list. Python only traces and hands over."""
from __future__ import annotations

import json
from typing import Any, Dict, List

import torch

from .. import _core
from .._session import config_json, open_session
from ._graph import capture


def auto_set_denpendency_group_ids(model: torch.nn.Module, config_list: List[Dict[str, Any]],
                                   dummy_input: Any) -> List[Dict[str, Any]]:
    """NNI 3.0's ``nni.compression.utils.auto_set_denpendency_group_ids``: returns a new config list
    with one config per selected module, ``{"op_names": [name], ...the config without its selection
    keys, "dependency_group_id": ..., "internal_metric_block": ...}``.

    ``dependency_group_id`` is set for every selected Conv / Linear / Embedding module the traced
    graph calls (modules whose output channels are tied share one id, ``"auto_group_<k>"``; NNI uses
    random uuids), replacing a configured one; ``internal_metric_block`` for every conv (1 unless
    grouped) and for the convs / linears feeding a grouped conv (the lcm of the groups), as NNI.
    Legacy config lists are translated first; exclusion configs select nothing.

    ``dummy_input``: a tensor, a tuple / list of positional inputs, or a dict of keyword inputs for
    tracing. Raises ConfigError for an invalid config list, and the tracer's error when torch.fx
    cannot trace the model at all.
    """
    graph = capture(model, dummy_input)
    session, _, report = open_session(model, config_list, "pruning")
    session.close()
    text = _core.graph_config_list(graph.handle, config_json(config_list), json.dumps(report["configs"]))
    return json.loads(text)


auto_set_dependency_group_ids = auto_set_denpendency_group_ids


def dependency_report(model: torch.nn.Module, dummy_input: Any) -> Dict[str, Any]:
    """The core's analysis of ``model`` (no masks): ``{"groups": [{"group", "members", "tied_by"}],
    "nodes": [...]}`` — each dependency group, its modules and the ops that tied them."""
    return json.loads(_core.graph_report(capture(model, dummy_input).handle))
