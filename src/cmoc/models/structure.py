"""A cheap fingerprint of a model's graph, to schedule bases that share one compilation."""

from __future__ import annotations

from ..evidence import EvidenceBase
from .config import DEFAULT_CONFIG, ModelConfig
from .data import model_data
from .hierarchical import structure_parts
from .measurement import structure_parts as measurement_parts
from .measurement_data import measurement_data

__all__ = ["structure_hint"]


def structure_hint(evidence: EvidenceBase, config: ModelConfig | None = None) -> str:
    """Return a cheap fingerprint of the graph the model of ``config`` makes for ``evidence``.

    Bases with different hints give different graphs; bases with the same hint usually give
    the same graph up to its data (``pm.Data``), which sampling then compiles once. The sampler
    compares the graphs themselves before reusing a compilation, so a wrong hint costs time,
    never results (docs/sampling.md, "Compiled once per structure"). Used to send such bases
    to the same worker.
    """
    cfg = config or DEFAULT_CONFIG
    if cfg.model == "measurement":
        parts = measurement_parts(measurement_data(evidence, _recording(evidence)))
    else:
        parts = structure_parts(model_data(evidence, group_effects=cfg.group_effects), cfg)
    return repr((cfg.id, parts))


def _recording(evidence: EvidenceBase) -> dict[str, str]:
    from ..evidence.recording import refutes_recording

    return {k: r.refutes for k, r in refutes_recording(evidence).items()}
