"""Support of every target after each wave, side by side, as CSV.

The numbers behind a "trajectory of support across waves" figure: for every CMOC and
mechanism, the posterior support (mean and interval), P(support > 1/2) and status after each
wave, and for every wave after the first the shift in mean support from the previous wave
(with its sd, the two fits taken as independent, as in ``cmoc update``'s change report) and the
status change. Each wave's fit is an exact refit on the evidence known after it, reused from
``DIR/.cmoc/`` while evidence, model and sampler settings match (:func:`cmoc.analyses.fit_waves`).

Run from the repository root::

    .venv/bin/python analyses/waves.py evidence/ioc
    .venv/bin/python analyses/waves.py evidence/ioc --seed 1 --draws 500 --out waves.csv

The CSV goes to stdout (or ``--out``); how each fit was obtained and its convergence verdict go
to stderr. Exit status 0 on success, 2 on bad evidence or settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import cmoc
from cmoc.analyses import SamplerConfig, SamplerError, check_convergence, fit_waves, summarize
from cmoc.evidence.csvsafe import frame_to_csv

MODEL = cmoc.models.ModelConfig(model="hierarchical")
"""Model v1, whose support this script follows (model v2's breadth per wave: `cmoc report`)."""

ID_COLUMNS = ["target_id", "target_type", "mechanism_id", "origin"]
"""The columns that name a target."""

WAVE_COLUMNS = ["support", "support_lo", "support_hi", "p_supported", "status"]
"""The columns given for every wave, as ``<column>_<wave>``."""

SHIFT_COLUMNS = ["shift", "shift_sd", "status_change"]
"""The columns given for every wave after the first, as ``<column>_<wave>``."""


def trajectory(
    fits: dict[str, tuple[cmoc.EvidenceBase, object, str]], *, ci: float = 0.9
) -> pd.DataFrame:
    """Support of every target after each wave, in one row per target.

    Parameters
    ----------
    fits : dict
        Wave label to ``(evidence up to the wave, its fit, how it was obtained)``, in wave
        order, as returned by :func:`cmoc.analyses.fit_waves`.
    ci : float
        Probability of the equal-tailed credible interval.

    Returns
    -------
    pandas.DataFrame
        :data:`ID_COLUMNS`, then for each wave ``w`` the columns of :data:`WAVE_COLUMNS` as
        ``<column>_<w>`` (empty where the target is not yet in the theory of ``w``), then for
        each wave after the first ``shift_<w>`` (mean support after ``w`` minus after the
        previous wave), ``shift_sd_<w>`` (``sqrt(sd_before**2 + sd_after**2)``) and
        ``status_change_<w>`` (``before -> after``; ``(new) -> after`` for a target new in
        ``w``; empty when the status is unchanged). Targets in the order of the newest wave's
        evidence (CMOCs then mechanisms, in file order).
    """
    waves = list(fits)
    newest_base = fits[waves[-1]][0]
    out = newest_base.targets[["target_type", "mechanism_id", "origin"]].copy()
    previous: pd.DataFrame | None = None
    for wave in waves:
        evidence, idata, _ = fits[wave]
        s = summarize(idata, evidence, ci=ci).set_index("target_id").reindex(out.index)
        out[f"support_{wave}"] = s["support_mean"]
        out[f"support_lo_{wave}"] = s["support_lo"]
        out[f"support_hi_{wave}"] = s["support_hi"]
        out[f"p_supported_{wave}"] = s["p_supported"]
        out[f"status_{wave}"] = s["status"]
        if previous is not None:
            p = previous
            out[f"shift_{wave}"] = s["support_mean"] - p["support_mean"]
            out[f"shift_sd_{wave}"] = np.sqrt(p["support_sd"] ** 2 + s["support_sd"] ** 2)
            before = p["status"].fillna("(new)")
            change = before + " -> " + s["status"].fillna("(absent)")
            changed = (before != s["status"]) & s["status"].notna()
            out[f"status_change_{wave}"] = change.where(changed, "")
        previous = s
    out.index.name = "target_id"
    out = out.reset_index()
    ordered = ID_COLUMNS + [f"{c}_{w}" for w in waves for c in WAVE_COLUMNS]
    ordered += [f"{c}_{w}" for w in waves[1:] for c in SHIFT_COLUMNS]
    return out[ordered]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
    """
    parser = argparse.ArgumentParser(
        description="Support of every CMOC and mechanism after each wave, as CSV."
    )
    parser.add_argument("evidence", type=Path, help="the evidence base directory")
    parser.add_argument("--seed", type=int, default=20211, help="sampler seed (default 20211)")
    parser.add_argument("--chains", type=int, default=4, help="chains (default 4)")
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain (default 1000)")
    parser.add_argument("--tune", type=int, default=1000, help="tuning steps (default 1000)")
    parser.add_argument(
        "--target-accept", type=float, default=0.9, help="NUTS target acceptance (default 0.9)"
    )
    parser.add_argument(
        "--ci", type=float, default=0.9, help="probability of the intervals (default 0.9)"
    )
    parser.add_argument("--digits", type=int, default=4, help="decimals of the numbers (default 4)")
    parser.add_argument("--out", type=Path, help="write the CSV here instead of stdout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Fit every wave (or reuse the saved fits) and print the trajectory CSV.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on bad evidence or settings.
    """
    args = parse_args(argv)
    try:
        if not 0 < args.ci < 1:
            raise SamplerError(f"--ci must be in (0, 1), got {args.ci}")
        sampler = SamplerConfig(
            seed=args.seed,
            chains=args.chains,
            draws=args.draws,
            tune=args.tune,
            target_accept=args.target_accept,
        ).validated()
        fits = fit_waves(args.evidence, MODEL, sampler=sampler)
    except cmoc.EvidenceError as err:
        print(err, file=sys.stderr)
        return 2
    except SamplerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for wave, (_, idata, how) in fits.items():
        verdict = check_convergence(idata).text.splitlines()[0]
        print(f"{wave}: {how}\n{wave}: {verdict}", file=sys.stderr)
    table = trajectory(fits, ci=args.ci)
    text = frame_to_csv(table, float_format=f"%.{args.digits}f")
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
