"""The convergence gate: R-hat, bulk and tail ESS and divergences, checked after every fit."""

from __future__ import annotations

from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["ConvergenceCheck", "GateThresholds", "check_convergence"]


@dataclass(frozen=True)
class GateThresholds:
    """Limits a fit must meet to pass the gate.

    Attributes
    ----------
    max_rhat : float
        Largest acceptable rank-normalised split R-hat.
    min_ess_per_chain : float
        Smallest acceptable bulk and tail ESS, per chain (100 per chain: 400 for 4 chains).
    max_divergences : int
        Divergent transitions allowed after tuning.
    """

    max_rhat: float = 1.01
    min_ess_per_chain: float = 100.0
    max_divergences: int = 0


@dataclass(frozen=True)
class ConvergenceCheck:
    """The result of the convergence gate.

    Attributes
    ----------
    passed : bool
        All parameters within the limits and no divergences.
    table : pandas.DataFrame
        One row per variable: worst R-hat, smallest bulk and tail ESS, and whether it passed.
    text : str
        A plain-language verdict, first line ``converged`` or ``NOT CONVERGED: ...``.
    divergences : int
    failures : list of str
        What failed, one line each.
    """

    passed: bool
    table: pd.DataFrame
    text: str
    divergences: int
    failures: list[str] = field(default_factory=list)


def check_convergence(
    idata: xr.DataTree, thresholds: GateThresholds | None = None
) -> ConvergenceCheck:
    """Check a fit against the convergence gate.

    Parameters
    ----------
    idata : xarray.DataTree
        With ``posterior`` and ``sample_stats``.
    thresholds : GateThresholds, optional

    Returns
    -------
    ConvergenceCheck
    """
    th = thresholds or GateThresholds()
    post = idata["posterior"].to_dataset()
    n_chains = post.sizes["chain"]
    min_ess = th.min_ess_per_chain * n_chains
    rhat = az.rhat(post)
    bulk = az.ess(post, method="bulk")
    tail = az.ess(post, method="tail")
    rows = []
    for name in post.data_vars:
        r = np.asarray(rhat[name]) if n_chains > 1 else np.array([np.nan])
        rows.append(
            {
                "variable": name,
                "max_r_hat": float(np.nanmax(r)) if np.isfinite(r).any() else np.nan,
                "min_ess_bulk": float(np.nanmin(np.asarray(bulk[name]))),
                "min_ess_tail": float(np.nanmin(np.asarray(tail[name]))),
            }
        )
    table = pd.DataFrame(rows).set_index("variable")
    table["passed"] = (
        ((table["max_r_hat"] <= th.max_rhat) | table["max_r_hat"].isna())
        & (table["min_ess_bulk"] >= min_ess)
        & (table["min_ess_tail"] >= min_ess)
    )
    stats = idata["sample_stats"].to_dataset()
    div_name = "diverging" if "diverging" in stats else None
    divergences = int(stats[div_name].sum()) if div_name else 0
    failures = []
    if n_chains < 2:
        failures.append("one chain only: R-hat cannot be computed (use at least 2 chains)")
    bad_r = table[table["max_r_hat"] > th.max_rhat]
    if len(bad_r):
        failures.append(
            f"R-hat above {th.max_rhat} for {', '.join(bad_r.index)} "
            f"(worst {bad_r['max_r_hat'].max():.3f})"
        )
    low = table[(table["min_ess_bulk"] < min_ess) | (table["min_ess_tail"] < min_ess)]
    if len(low):
        worst = min(low["min_ess_bulk"].min(), low["min_ess_tail"].min())
        failures.append(
            f"ESS below {min_ess:.0f} for {', '.join(low.index)} (smallest {worst:.0f})"
        )
    if divergences > th.max_divergences:
        failures.append(f"{divergences} divergent transitions after tuning")
    passed = not failures
    if passed:
        text = (
            f"converged: R-hat <= {th.max_rhat}, bulk and tail ESS >= {min_ess:.0f}, no divergences"
        )
    else:
        text = "NOT CONVERGED: " + "; ".join(failures)
    return ConvergenceCheck(passed, table, text, divergences, failures)
