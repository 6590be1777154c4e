"""What the recording of refutes does to the results: refit with every missing refute read as none.

Where some source kind's refutes were not recorded (or only in part), model v2 reads a missing
``refutes`` cell as unknown, and a target's direction can be tested only from kinds that record
them. The report states that assumption with its effect measured: the same model refitted to the
same evidence with ``[recording]`` declaring every kind ``recorded``, so that every missing refute
is a zero, as model v1 read them (the reading that put every IOC target at support 0.99). The two
fits' statuses side by side say what the assumption decides: how many directions become
testable, and how many statuses change and to what.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import xarray as xr

from ...evidence import EvidenceBase
from ...evidence.recording import refutes_recording
from ...evidence.schema import Recording
from ...models import ModelConfig, config_for
from ..fitting import SamplerConfig, fit_or_reuse, results_dir
from ..inference import summarize_measurement

__all__ = [
    "WHATIF_COLUMNS",
    "WHATIF_FILE",
    "recording_whatif",
    "refutes_read_as_none",
    "whatif_fit_or_reuse",
    "whatif_fit_path",
]

WHATIF_FILE = "whatif-refutes-none-fit.nc"
"""The what-if fit's file in the base's ``.cmoc/``."""

WHATIF_COLUMNS = [
    "target_id",
    "target_type",
    "status",
    "status_whatif",
    "direction_testable",
    "direction_testable_whatif",
    "direction_mean_whatif",
    "direction_lo_whatif",
    "direction_hi_whatif",
    "breadth_mean",
    "breadth_mean_whatif",
]
"""Columns of :func:`recording_whatif`: the report's statuses and the what-if fit's, per target."""


def refutes_read_as_none(evidence: EvidenceBase) -> EvidenceBase | None:
    """Return ``evidence`` with every source kind's refutes declared ``recorded``.

    Every missing ``refutes`` cell is then a zero. None when every kind records them already
    (there is nothing to ask).
    """
    recording = refutes_recording(evidence)
    if all(r.refutes == "recorded" for r in recording.values()):
        return None
    every = Recording(refutes={kind: "recorded" for kind in recording})
    return replace(evidence, config=evidence.config.model_copy(update={"recording": every}))


def whatif_fit_path(evidence_dir: str | Path) -> Path:
    """Where the what-if fit is kept: ``DIR/.cmoc/whatif-refutes-none-fit.nc``."""
    return results_dir(evidence_dir) / WHATIF_FILE


def whatif_fit_or_reuse(
    directory: str | Path,
    evidence: EvidenceBase,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    progress: bool = False,
) -> tuple[EvidenceBase, xr.DataTree, str] | None:
    """Fit (or reuse) model v2 to ``evidence`` with every missing refute read as none.

    Parameters
    ----------
    directory : str or Path
        The evidence base's directory (its ``.cmoc/`` keeps the fit, :func:`whatif_fit_path`).
    evidence : EvidenceBase
        The evidence up to the newest wave.
    config : ModelConfig, optional
        Of model v2; default :func:`cmoc.models.config_for`.
    sampler : SamplerConfig, optional
    progress : bool

    Returns
    -------
    (EvidenceBase, xarray.DataTree, str) or None
        The what-if evidence, its fit, and why the fit was reused or made; None when every
        kind records refutes already.
    """
    whatif = refutes_read_as_none(evidence)
    if whatif is None:
        return None
    cfg = config_for(evidence, config)
    if cfg.model != "measurement":
        raise ValueError("the what-if of the recording of refutes is of model v2 only")
    idata, how = fit_or_reuse(whatif, whatif_fit_path(directory), cfg, sampler, progress=progress)
    return whatif, idata, how


def recording_whatif(
    summary: pd.DataFrame, whatif: EvidenceBase, idata: xr.DataTree, *, ci: float
) -> pd.DataFrame:
    """Set the report's statuses beside the what-if fit's, per target.

    Parameters
    ----------
    summary : pandas.DataFrame
        The report's summary (:func:`cmoc.analyses.summarize_measurement` of the real fit).
    whatif : EvidenceBase
        :func:`refutes_read_as_none` of the evidence.
    idata : xarray.DataTree
        Its fit.
    ci : float
        Probability of the intervals.

    Returns
    -------
    pandas.DataFrame
        :data:`WHATIF_COLUMNS`, one row per target of ``summary``, in its order.
    """
    other = summarize_measurement(idata, whatif, ci=ci).set_index("target_id")
    now = summary.set_index("target_id")
    out = pd.DataFrame(
        {
            "target_type": now["target_type"],
            "status": now["status"],
            "status_whatif": other["status"].reindex(now.index),
            "direction_testable": now["direction_testable"].astype(bool),
            "direction_testable_whatif": other["direction_testable"]
            .reindex(now.index)
            .fillna(False)
            .astype(bool),
            "direction_mean_whatif": other["direction_mean"].reindex(now.index),
            "direction_lo_whatif": other["direction_lo"].reindex(now.index),
            "direction_hi_whatif": other["direction_hi"].reindex(now.index),
            "breadth_mean": now["breadth_mean"],
            "breadth_mean_whatif": other["breadth_mean"].reindex(now.index),
        },
        index=now.index,
    )
    return out.reset_index()[WHATIF_COLUMNS]
