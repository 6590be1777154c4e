"""Model v2's log-likelihood per unit of evidence: a source, or a block of totals.

Model v2 (the measurement model) puts its likelihood in two potentials, ``exact_codes`` and
``total_codes``, summed over classes of identical terms. :func:`measurement_pointwise` spreads
it back onto the units of evidence (:func:`cmoc.models.measurement_units.measurement_units`): a
source whose codes enter in the exact-cell form (its (source, mechanism) pairs and its non-zero
cells, weighted by its appraisal weight), and a block of totals (the rows of one mechanism over
one member set: a total's members' codes are known only together, so the block is the smallest
piece the likelihood can lose). Summed over units it is the potentials' sum at every draw; the
influence and predictive checks of model v2 fits build on it (docs/model.md, "Model v2:
pointwise log-likelihood").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ...evidence import EvidenceBase
from ...evidence.recording import refutes_recording
from ...models import build_measurement_model, measurement_data
from ...models.measurement_data import MeasurementData
from ...models.measurement_units import measurement_units
from ..fitting.cache import per_fit
from ..fitting.store import fit_config

__all__ = [
    "LIKELIHOOD_PARAMETERS",
    "MEASUREMENT_UNIT_COLUMNS",
    "fit_pooling",
    "likelihood_values",
    "measurement_pointwise",
    "measurement_unit_table",
    "posterior_values",
    "v2_data",
]

MEASUREMENT_UNIT_COLUMNS = ["unit_type", "label", "short", "wave", "kind", "mechanism_id"]
"""Columns of :func:`measurement_unit_table` (indexed by ``unit``)."""

_SAMPLE = ("chain", "draw")


def _recording(evidence: EvidenceBase) -> dict[str, str]:
    return {k: r.refutes for k, r in refutes_recording(evidence).items()}


def v2_data(evidence: EvidenceBase) -> MeasurementData:
    """Model v2's arrays of ``evidence`` as ``fit`` builds them (the recording declared)."""
    return measurement_data(evidence, _recording(evidence))


def measurement_unit_table(evidence: EvidenceBase) -> pd.DataFrame:
    """List model v2's units of evidence in the order of :func:`measurement_pointwise`'s ``unit``.

    Parameters
    ----------
    evidence : EvidenceBase

    Returns
    -------
    pandas.DataFrame
        Indexed by ``unit`` (a source id, or a block's rows ``codings.csv:LINE+...``), with
        :data:`MEASUREMENT_UNIT_COLUMNS`: ``unit_type`` (``source`` or ``block``), a readable
        ``label``, a ``short`` name for tables (the source id; ``M03 (codings.csv:4 +1)``: the
        block's mechanism, its first row and how many more), the ``wave``, the source ``kind``
        and, for a block, its ``mechanism_id``.
    """
    md = v2_data(evidence)
    d = md.data
    units = measurement_units(md)
    rows = []
    for j in units.source:
        kind = d.kinds[d.src_kind[j]]
        rows.append(
            {
                "unit": d.sources[j],
                "unit_type": "source",
                "label": f"{d.sources[j]} ({kind})",
                "short": d.sources[j],
                "wave": d.waves[d.src_wave[j]],
                "kind": kind,
                "mechanism_id": None,
            }
        )
    for b, label in enumerate(md.block_label):
        lines = label.split("+")
        mech, kind = d.mechanisms[md.block_mech[b]], d.kinds[md.block_kind[b]]
        wave = d.waves[md.block_wave[b]]
        members = int(md.block_forced[b] + md.block_free[b])
        targets = [d.targets[t] for t in md.bt_tgt[md.bt_block == b]]
        more = f" +{len(lines) - 1}" if len(lines) > 1 else ""
        rows.append(
            {
                "unit": label,
                "unit_type": "block",
                "label": (
                    f"{mech}: totals of {', '.join(targets)} over {members} {kind} sources "
                    f"of {wave} ({lines[0]}{more})"
                ),
                "short": f"{mech} ({lines[0]}{more})",
                "wave": wave,
                "kind": kind,
                "mechanism_id": mech,
            }
        )
    frame = pd.DataFrame(rows, columns=["unit", *MEASUREMENT_UNIT_COLUMNS])
    return frame.set_index("unit")


LIKELIHOOD_PARAMETERS = (
    "activation_mechanism",
    "activation_kind",
    "evidencing_logit",
    "kind_rate",
    "depth_target",
    "dispersion",
    "eta",
    "kind_lean",
    "concentration",
    "refute_recording",
)
"""The parameters model v2's likelihood depends on, as they are named in a fit's posterior."""


def likelihood_values(model: pm.Model, post) -> tuple[list, list[np.ndarray]]:
    """Return the likelihood's parameters in ``model`` and their draws, ``(chain, draw, ...)``.

    A function of the likelihood is evaluated at the parameters themselves, not at the free
    variables: how a parameter is sampled (centred, or scaled by the data,
    :mod:`cmoc.models.reparametrise`) depends on the base, so the free variables of a fit
    mean other parameter values in the model of another base (a base with planned sources, or
    without one of its units). Shapes are checked as :func:`posterior_values` does.
    """
    names = [n for n in LIKELIHOOD_PARAMETERS if n in model.named_vars]
    values = []
    for name in names:
        if name not in post.data_vars:
            raise ValueError(f"the fit's posterior has no {name!r}: not a fit of this model")
        da = post[name]
        arr = da.transpose(*_SAMPLE, *[d for d in da.dims if d not in _SAMPLE]).values
        shape = tuple(int(n) for n in model[name].shape.eval())
        if arr.shape[2:] != shape:
            raise ValueError(
                f"the fit's {name!r} has shape {arr.shape[2:]}, the model's {shape}: "
                "not a fit of this model"
            )
        values.append(arr)
    return [model[n] for n in names], values


def posterior_values(model: pm.Model, post) -> list[np.ndarray]:
    """Return the free variables' draws, ``(chain, draw, ...)``, checked against the model."""
    shapes = model.eval_rv_shapes()
    values = []
    for rv in model.free_RVs:
        if rv.name not in post.data_vars:
            raise ValueError(f"the fit's posterior has no {rv.name!r}: not a fit of this model")
        da = post[rv.name]
        arr = da.transpose(*_SAMPLE, *[d for d in da.dims if d not in _SAMPLE]).values
        shape = tuple(int(n) for n in shapes[rv.name])
        if arr.shape[2:] != shape:
            raise ValueError(
                f"the fit's {rv.name!r} has shape {arr.shape[2:]}, the model's {shape}: "
                "not a fit of this model"
            )
        values.append(arr)
    return values


def fit_pooling(idata: xr.DataTree) -> str:
    """Return the ``support_pooling`` of a model v2 fit (``partial`` without provenance)."""
    if "model_config" not in idata.attrs:
        return "partial"
    return fit_config(idata)[0].support_pooling


@per_fit
def measurement_pointwise(idata: xr.DataTree, evidence: EvidenceBase) -> xr.DataArray:
    """Log-likelihood of a model v2 fit per unit of evidence, at every draw.

    The model is rebuilt with ``pointwise=True`` (the Deterministic ``loglik_unit``: the
    potentials' class terms spread onto sources by their weights, and each block's weighted
    term), with the fit's own pooling (a comparison variant's ``support_pooling``), and one
    compiled function of the free variables is evaluated at each draw.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence``.
    evidence : EvidenceBase

    Returns
    -------
    xarray.DataArray
        Named ``loglik_unit``, dims ``(chain, draw, unit)`` (units as in
        :func:`measurement_unit_table`); summed over ``unit`` it is the sum of the potentials
        ``exact_codes`` and ``total_codes`` at each draw (appraisal weights included).

    Raises
    ------
    ValueError
        When the posterior lacks a free variable of the model or holds it in another shape
        (a fit of another structure of the model).
    """
    md = v2_data(evidence)
    model = build_measurement_model(md, pointwise=True, pooling=fit_pooling(idata))
    post = idata["posterior"]
    inputs, values = likelihood_values(model, post)
    fn = model.compile_fn(
        model["loglik_unit"], inputs=inputs, on_unused_input="ignore", point_fn=False
    )
    units = list(model.coords["unit"])
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    out = np.empty((n_chain, n_draw, len(units)))
    for c in range(n_chain):
        for d in range(n_draw):
            out[c, d] = fn(*[arr[c, d] for arr in values])
    return xr.DataArray(
        out,
        dims=(*_SAMPLE, "unit"),
        coords={"chain": post["chain"].values, "draw": post["draw"].values, "unit": units},
        name="loglik_unit",
    )
