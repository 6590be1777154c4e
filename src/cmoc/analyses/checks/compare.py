"""Model comparison by PSIS-LOO: the hierarchy against no pooling and complete pooling.

Each variant is the same model with a different ``support_pooling`` (see
:class:`cmoc.models.ModelConfig`), fitted to the same evidence; the units of evidence (sources
and aggregate rows) are the leave-one-out units, so the expected log predictive densities are
comparable. ArviZ's ``loo`` and ``compare`` do the computing; cmoc adds the plain reading.

Of model v2 (``ModelConfig(model="measurement")``) the variants pool the target level of
evidencing, depth and direction (``build_measurement_model(..., pooling=)``), and the units
are v2's: sources in the exact-cell form and blocks of totals
(:func:`~cmoc.analyses.checks.measurement_pointwise.measurement_pointwise`; docs/model.md,
"Model v2: model comparison").
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import arviz as az
import pandas as pd
import xarray as xr

from ...defaults import KHAT_MAX, SMALL_ELPD_DIFF
from ...evidence import EvidenceBase
from ...models import ModelConfig, config_for
from ..fitting.convergence import check_convergence
from ..fitting.result import AnalysisResult, Settings
from ..fitting.reuse import fit_or_reuse
from ..fitting.sampling import SamplerConfig
from ..fitting.store import (
    comparison_path,
    default_fit_path,
    fit_id,
    variant_path,
)
from ..inference.measurement import is_measurement_fit
from .influence import pointwise_loglik
from .measurement_pointwise import measurement_pointwise, measurement_unit_table

__all__ = [
    "SMALL_DIFF",
    "VARIANTS",
    "ComparisonSettings",
    "ModelComparison",
    "compare_fits",
    "compare_models",
]

VARIANTS = {"hierarchical": "partial", "no pooling": "none", "complete pooling": "complete"}
"""Model name in the comparison -> ``support_pooling`` of the variant."""

SMALL_DIFF = SMALL_ELPD_DIFF
"""ELPD differences below this are read as negligible whatever their standard error
(Sivula, Magnusson and Vehtari 2022: below 4 the normal approximation of the difference is
poor and the difference rarely matters)."""


@dataclass(frozen=True)
class ComparisonSettings(Settings):
    """What a comparison compared (the settings of a :class:`ModelComparison`).

    Attributes
    ----------
    models : tuple of str
        The models compared (names as in the table).
    khat_max : float
        Pareto k above which a unit's PSIS-LOO estimate is unreliable.
    small_diff : float
        ELPD difference read as negligible.
    fit_ids : tuple of str
        :func:`cmoc.analyses.fit_id` of each model's fit, in the order of :data:`VARIANTS`
        (empty for a comparison of fits given directly): a saved comparison is reused only
        while it was made from exactly these fits.
    model : {"hierarchical", "measurement"}
        Whose variants were compared (:attr:`cmoc.models.ModelConfig.model`: model v1 or v2).
    units : int
        The units of evidence the ELPDs sum over (0 in a comparison saved before).
    """

    models: tuple[str, ...] = ()
    khat_max: float = KHAT_MAX
    small_diff: float = SMALL_DIFF
    fit_ids: tuple[str, ...] = ()
    model: str = "hierarchical"
    units: int = 0


class ModelComparison(AnalysisResult):
    """Result of a PSIS-LOO comparison (an ``AnalysisResult`` of kind ``comparison``).

    ``passed``: the comparison can be trusted (every fit converged and no unit has Pareto
    k > 0.7); ``table``: one row per model, best first: ``model, rank, elpd, se, p_loo,
    elpd_diff, dse, weight, bad_k`` (units with k > 0.7), ``converged``; ``text``: a
    plain-language reading; ``settings``: a :class:`ComparisonSettings`; ``tables["pareto_k"]``
    and ``tables["elpd_i"]``: each unit's Pareto k and PSIS-LOO expected log predictive
    density (index ``unit``, one column per model; the differences of two columns give the
    standard error of any pair's difference); ``values["max_k"]``: the largest k of each model.
    """

    kind = "comparison"
    settings_type = ComparisonSettings
    what = "model comparison"
    hint = "saved model comparison"


def _unit_loglik(idata: xr.DataTree, evidence: EvidenceBase) -> xr.DataArray:
    """Return the fit's log-likelihood per unit of evidence (model v1's units or v2's)."""
    if is_measurement_fit(idata):
        return measurement_pointwise(idata, evidence)
    return pointwise_loglik(idata, evidence)


def _with_loglik(idata: xr.DataTree, evidence: EvidenceBase) -> xr.DataTree:
    ll = _unit_loglik(idata, evidence).to_dataset(name="loglik_unit")
    return xr.DataTree.from_dict(
        {
            "posterior": idata["posterior"].to_dataset(),
            "log_likelihood": ll,
            "sample_stats": idata["sample_stats"].to_dataset(),
        }
    )


def _reading(
    table: pd.DataFrame,
    pareto_k: pd.DataFrame | None = None,
    v2_units: str | None = None,
    short: dict[str, str] | None = None,
) -> str:
    """Return the plain reading.

    ``v2_units``: model v2's units in words, said first; ``short``: a unit's name in the text
    (model v2's blocks by mechanism and first row).
    """
    best = table.iloc[0]
    lines = []
    if v2_units is not None:
        lines.append(
            f"Model v2's pooling of the target level compared over {v2_units}: each unit "
            "left out in turn (PSIS-LOO)."
        )
    lines.append(f"{best['model']} predicts the units of evidence best (highest ELPD).")
    for row in table.iloc[1:].itertuples(index=False):
        ratio = abs(row.elpd_diff) / row.dse if row.dse > 0 else float("inf")
        diff = f"ELPD difference {row.elpd_diff:.1f}, {ratio:.1f} standard errors"
        if abs(row.elpd_diff) < SMALL_DIFF:
            verdict = (
                f"practically as good ({diff}; differences below {SMALL_DIFF:g} are too small "
                "to matter): the evidence cannot tell these structures apart"
            )
        elif ratio >= 4:
            verdict = f"clearly worse ({diff})"
        elif ratio >= 2:
            verdict = f"worse ({diff})"
        else:
            verdict = f"worse, but within the uncertainty ({diff})"
        lines.append(f"{row.model} is {verdict}.")
    bad = table[table["bad_k"] > 0]
    if len(bad):

        def worst(model: str) -> str:
            if pareto_k is None or model not in pareto_k:
                return ""
            k = pareto_k[model]
            unit = str(k.idxmax())
            return f" (largest {k.max():.2f}: {(short or {}).get(unit, unit)})"

        lines.append(
            "Unreliable: "
            + ", ".join(
                f"{r.model} has {r.bad_k} unit(s) with Pareto k > {KHAT_MAX:g}{worst(r.model)}"
                for r in bad.itertuples()
            )
            + "; those units are highly influential and PSIS-LOO underestimates their effect."
        )
        if v2_units is not None:
            lines.append(
                "PSIS-LOO is not reliable here: the ELPDs and their differences are rough "
                "estimates, and a difference that rests on those units may be an artefact."
            )
    if not table["converged"].all():
        lines.append(
            "Not converged: " + ", ".join(table.loc[~table["converged"], "model"]) + " (refit)."
        )
    return " ".join(lines)


def compare_fits(fits: dict[str, xr.DataTree], evidence: EvidenceBase) -> ModelComparison:
    """Compare fits of the same evidence by PSIS-LOO over its units.

    Parameters
    ----------
    fits : dict of str to xarray.DataTree
        Model name to fit.
    evidence : EvidenceBase
        The evidence every fit was made from.

    Returns
    -------
    ModelComparison
    """
    v2 = [is_measurement_fit(idata) for idata in fits.values()]
    if any(v2) and not all(v2):
        raise ValueError("fits of model v1 and v2 are not compared: their units differ")
    trees = {name: _with_loglik(idata, evidence) for name, idata in fits.items()}
    with warnings.catch_warnings():
        # high Pareto k is counted per model and said in the reading, not warned about
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        loos = {name: az.loo(trees[name], pointwise=True) for name in trees}
        compared = az.compare(loos, round_to="none")  # the same loo, computed once
    rows = []
    for name, row in compared.iterrows():
        loo = loos[name]
        rows.append(
            {
                "model": name,
                "rank": int(row["rank"]),
                "elpd": float(row["elpd"]),
                "se": float(row["se"]),
                "p_loo": float(row["p"]),
                "elpd_diff": float(row["elpd_diff"]),
                "dse": float(row["dse"]),
                "weight": float(row["weight"]),
                "bad_k": int((loo.pareto_k > KHAT_MAX).sum()),
                "converged": check_convergence(fits[name]).passed,
            }
        )
    table = pd.DataFrame(rows).sort_values("rank").reset_index(drop=True)
    passed = bool(table["converged"].all() and (table["bad_k"] == 0).all())
    units = next(iter(trees.values()))["log_likelihood"]["loglik_unit"]["unit"].values
    index = pd.Index([str(u) for u in units], name="unit")
    pareto_k = pd.DataFrame(
        {name: loos[name].pareto_k.values.ravel() for name in table["model"]}, index=index
    )
    elpd_i = pd.DataFrame(
        {name: loos[name].elpd_i.values.ravel() for name in table["model"]}, index=index
    )
    model = "measurement" if all(v2) else "hierarchical"
    v2_units, short = None, None
    if model == "measurement":
        unit_table = measurement_unit_table(evidence)
        v2_units, short = _v2_units(unit_table, units), unit_table["short"].to_dict()
    settings = ComparisonSettings(
        models=tuple(str(m) for m in table["model"]), model=model, units=len(units)
    )
    max_k = {name: float(pareto_k[name].max()) for name in pareto_k}
    return ModelComparison(
        table,
        _reading(table, pareto_k, v2_units, short),
        passed,
        settings,
        tables={"pareto_k": pareto_k, "elpd_i": elpd_i},
        values={"max_k": max_k},
    )


def _v2_units(unit_table: pd.DataFrame, units) -> str:
    """Model v2's units in words: ``27 units of evidence (27 blocks of totals)``."""
    kinds = unit_table["unit_type"].reindex([str(u) for u in units])
    n_src, n_blk = int((kinds == "source").sum()), int((kinds == "block").sum())
    parts = []
    if n_src:
        parts.append(f"{n_src} source{'' if n_src == 1 else 's'}")
    if n_blk:
        parts.append(f"{n_blk} block{'' if n_blk == 1 else 's'} of totals")
    return f"{len(units)} units of evidence ({', '.join(parts)})"


def compare_models(
    directory: str | Path,
    evidence: EvidenceBase,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
) -> ModelComparison:
    """Fit (or reuse) the three pooling variants of the newest wave and compare them.

    Parameters
    ----------
    directory : str or Path
        The evidence base directory (fits are kept in ``DIR/.cmoc/``: the one of ``config``
        is the usual ``fit.nc``, the others :func:`variant_path`, of model v2
        ``fit-model-measurement-<variant>.nc``; the comparison :func:`comparison_path`).
    evidence : EvidenceBase
        The evidence of ``directory``.
    config : ModelConfig, optional
        The model's configuration; the variants differ only in ``support_pooling``. Of model
        v2 (``model="measurement"``), they pool v2's target level (evidencing, depth,
        direction) and are compared over v2's units (sources and blocks of totals).
    sampler : SamplerConfig, optional
    progress : bool
    say : callable, optional
        Called with a message before each variant is fitted or reused, with how it was
        obtained, and before the comparison itself.

    Returns
    -------
    ModelComparison
    """
    tell = say or (lambda message: None)
    cfg = config_for(evidence, config)
    fits = {}
    for name, pooling in VARIANTS.items():
        variant = cfg.merged({"support_pooling": pooling})
        path = (
            default_fit_path(directory)
            if pooling == cfg.support_pooling
            else variant_path(directory, pooling, cfg.model)
        )
        tell(f"{name}: fitting the model, or reusing its saved fit {path}...")
        fits[name], how = fit_or_reuse(evidence, path, variant, sampler, progress=progress)
        tell(f"{name}: {how}")
    ids = tuple(fit_id(fits[name]) for name in VARIANTS)
    path = comparison_path(directory, cfg.model)
    saved = _saved_comparison(path, ids)
    if saved is not None:
        tell(f"comparison: reused {path} (made from these fits)")
        return saved
    tell("comparing the models by PSIS-LOO (the pointwise log-likelihood of each)...")
    result = compare_fits(fits, evidence)
    result = replace(result, settings=replace(result.settings, fit_ids=ids))
    result.save(path)
    return result


def _saved_comparison(path: Path, ids: tuple[str, ...]) -> ModelComparison | None:
    """Return the comparison saved at ``path`` if made from the fits ``ids``, else None."""
    if not path.is_file():
        return None
    try:
        saved = ModelComparison.load(path)
    except ValueError:
        return None  # damaged or of an older format: compared again and saved over
    return saved if saved.settings.fit_ids == ids else None
