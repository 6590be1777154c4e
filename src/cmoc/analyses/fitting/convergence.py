"""The convergence gate: R-hat, bulk and tail ESS and divergences, checked after every fit."""

from __future__ import annotations

import json
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ...defaults import MAX_DIVERGENCES, MAX_RHAT, MIN_ESS_PER_CHAIN
from .cache import per_fit
from .result import AnalysisResult, Settings

__all__ = ["ConvergenceCheck", "GateThresholds", "check_convergence"]


@dataclass(frozen=True)
class GateThresholds(Settings):
    """Limits a fit must meet to pass the gate (the settings of a :class:`ConvergenceCheck`).

    Attributes
    ----------
    max_rhat : float
        Largest acceptable rank-normalised split R-hat.
    min_ess_per_chain : float
        Smallest acceptable bulk and tail ESS, per chain (100 per chain: 400 for 4 chains).
    max_divergences : int
        Divergent transitions allowed after tuning.
    """

    max_rhat: float = MAX_RHAT
    min_ess_per_chain: float = MIN_ESS_PER_CHAIN
    max_divergences: int = MAX_DIVERGENCES


class ConvergenceCheck(AnalysisResult):
    """The result of the convergence gate (an :class:`AnalysisResult` of kind ``convergence``).

    ``passed``: all parameters within the limits and no divergences; ``table``: one row per
    variable (index ``variable``): worst R-hat, smallest bulk and tail ESS, and whether it
    passed; ``text``: a plain-language verdict, ``converged ...`` or ``NOT CONVERGED: ...``;
    ``settings``: the :class:`GateThresholds`; ``values``: ``divergences`` and ``failures``.
    """

    kind = "convergence"
    settings_type = GateThresholds
    what = "convergence check"
    hint = "saved convergence check"

    @property
    def divergences(self) -> int:
        """Divergent transitions after tuning."""
        return int(self.values.get("divergences", 0))

    @property
    def failures(self) -> list[str]:
        """What failed, one line each."""
        return list(self.values.get("failures", []))


def _target_accept(idata: xr.DataTree) -> float | None:
    """Return the ``target_accept`` of the fit's last run (``None`` when not recorded).

    That of the settings asked, unless :func:`cmoc.analyses.fit` extended the fit with a
    higher one (its ``last_run`` attribute).
    """
    for attr in ("last_run", "sampler"):
        try:
            return float(json.loads(idata.attrs[attr])["target_accept"])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _extensions(idata: xr.DataTree) -> list[dict]:
    """Return the runs :func:`cmoc.analyses.fit` extended before this one (oldest first)."""
    try:
        runs = json.loads(idata.attrs["extended"])
    except (KeyError, TypeError, ValueError):
        return []
    return runs if isinstance(runs, list) else []


def _extension_text(runs: list[dict], draws: int, target_accept: float | None) -> str:
    """Say, in a sentence, which runs were extended and why."""
    if not runs:
        return ""
    first = runs[0]
    why = "; ".join(first.get("failures", [])) or "the gate failed"
    times = "once" if len(runs) == 1 else f"{len(runs)} times"
    raised = (
        f" at target_accept {target_accept:g}"
        if target_accept is not None and target_accept != first.get("target_accept", target_accept)
        else ""
    )
    return (
        f" (sampled again {times}, {draws} draws per chain{raised}: the run with "
        f"{first.get('draws')} draws and {first.get('tune')} tuning steps failed: {why})"
    )


def _advice(diverged: bool, target_accept: float | None = None, draws: int = 1000) -> str:
    """Return what to try after a failed gate (the command line's options).

    After divergences, a ``--target-accept`` above the fit's own; at 0.99 already, none.
    Otherwise twice the fit's ``draws`` and tuning.
    """
    if diverged:
        higher = [v for v in (0.95, 0.99) if target_accept is None or v > target_accept]
        if not higher:
            return (
                f". --target-accept is already {target_accept:g}: divergent transitions at "
                "steps this small mean a region of the posterior the sampler cannot follow "
                "(docs/sampling.md)"
            )
        return (
            f". Try a higher --target-accept ({', '.join(f'{v:g}' for v in higher)}): "
            "divergent transitions mean the sampler's steps were too long for the "
            "posterior's curvature somewhere"
        )
    return (
        f". Try more draws (--draws {2 * draws} --tune {2 * draws}): R-hat and ESS are "
        "estimated from the "
        "draws, and near the limits they pass or fail by chance; if they still fail, the "
        "chains have not mixed"
    )


@per_fit
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
            f"R-hat above {th.max_rhat} for {', '.join(sorted(bad_r.index))} "
            f"(worst {bad_r['max_r_hat'].max():.3f})"
        )
    low = table[(table["min_ess_bulk"] < min_ess) | (table["min_ess_tail"] < min_ess)]
    if len(low):
        worst = min(low["min_ess_bulk"].min(), low["min_ess_tail"].min())
        failures.append(
            f"ESS below {min_ess:.0f} for {', '.join(sorted(low.index))} (smallest {worst:.0f})"
        )
    if divergences > th.max_divergences:
        failures.append(f"{divergences} divergent transitions after tuning")
    passed = not failures
    runs = _extensions(idata)
    extension = _extension_text(runs, post.sizes["draw"], _target_accept(idata))
    if passed:
        text = (
            f"converged: R-hat <= {th.max_rhat}, bulk and tail ESS >= {min_ess:.0f}, "
            f"no divergences{extension}"
        )
    else:
        diverged = divergences > th.max_divergences
        advice = _advice(diverged, _target_accept(idata), post.sizes["draw"])
        text = "NOT CONVERGED: " + "; ".join(failures) + extension + advice
    values = {"divergences": divergences, "failures": failures, "extensions": len(runs)}
    return ConvergenceCheck(table, text, passed, th, values=values)
