"""``swiftcompress.explain``: what a config list will do to a model, before anything is compressed."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from ._session import open_session

__all__ = ["explain", "ExplainReport", "ReportWarning"]


@dataclass(frozen=True)
class ReportWarning:
    """One warning of the report: ``kind`` (e.g. ``'unmatched_op_name'``, ``'missing_template'``),
    the config index, module and target it concerns (None when it concerns none), and ``message``,
    a sentence naming the config, the key and the fix. ``str()`` gives the message."""

    kind: str
    config: Optional[int]
    module: Optional[str]
    target: Optional[str]
    message: str

    def __str__(self) -> str:
        return self.message


class ExplainReport:
    """The explain report of one config list for one model.

    - ``str(report)``: the aligned table for people (configs, targets with their settings, warnings).
    - ``targets``: ``{module_name: {target_name: settings}}``, every configured target in model
      order with its canonical settings (the dict NNI 3.0 builds per target, e.g.
      ``{'sparse_ratio': 0.5, 'granularity': 'default', ...}``).
    - ``warnings``: a list of ReportWarning.
    - ``configs``: per config, ``{'index', 'exclusion', 'selected', 'skipped', 'translated'?}``.
    - ``mode`` (``'pruning'`` ...), ``legacy`` (the list was read in the v2 format), ``data`` (the
      whole report as the core's JSON gives it).
    """

    __slots__ = ("data", "_table")

    def __init__(self, data: Dict[str, Any], table: str) -> None:
        self.data = data
        self._table = table

    @property
    def mode(self) -> str:
        return self.data["mode"]

    @property
    def legacy(self) -> bool:
        return bool(self.data["legacy"])

    @property
    def configs(self) -> List[Dict[str, Any]]:
        return self.data["configs"]

    @property
    def targets(self) -> Dict[str, Dict[str, Dict[str, Any]]]:
        return {module: {target: entry["settings"] for target, entry in info["targets"].items()}
                for module, info in self.data["modules"].items()}

    @property
    def warnings(self) -> List[ReportWarning]:
        return [ReportWarning(w["kind"], w.get("config"), w.get("module"), w.get("target"), w["message"])
                for w in self.data["warnings"]]

    def __str__(self) -> str:
        return self._table

    def __repr__(self) -> str:
        count = sum(len(info["targets"]) for info in self.data["modules"].values())
        return (f"<ExplainReport {self.mode}: {len(self.configs)} config(s), {count} target(s), "
                f"{len(self.data['warnings'])} warning(s)>")

    def to_json(self) -> str:
        """The report as JSON text (the core's format)."""
        return json.dumps(self.data)


def explain(model: Any, config_list: Sequence[Dict[str, Any]], mode: str = "pruning") -> ExplainReport:
    """Resolves ``config_list`` against ``model`` (a ``torch.nn.Module``) as a compressor of ``mode``
    (``'pruning'``, ``'quantization'`` or ``'distillation'``) would, without touching any tensor,
    and returns the report.

    Raises ConfigError (a ValueError) for a config list that breaks the specification (the message
    names the config index, key path, expectation and value) and InvalidArgumentError for an
    unknown mode. Problems that depend on the model (an op_name that matches nothing) are warnings
    in the report, not exceptions; explain() does not emit them (a pruner does).
    """
    session, _, data = open_session(model, config_list, mode)
    try:
        table = session.report(table=True)
    finally:
        session.close()
    return ExplainReport(data, table)
