"""Recovery and coverage of model v2's breadth, depth and direction on simulated bases.

Each base is drawn with numpy (:func:`cmoc.models.generate_measurement.draw_measurement_cells`,
no PyTensor) from fixed, realistic hyperparameters: the per-mechanism and per-target effects are
drawn from the hierarchy, so each base is one draw of a programme with many targets. Model v2 is
fitted and, per base, three families of quantities are judged against the truth:

- ``breadth``: the expected share of sources of each kind that evidence each target
  (``a_mk b_t``; targets x kinds);
- ``depth``: each target's log depth ``lambda_t`` (``depth_target``);
- ``direction``: each target's direction logit ``eta_t``.

For each family: the share of the 90% central credible intervals that hold the truth (the issue's
criterion: 85-95% per base), the correlation of posterior means with the truth, the mean
absolute error and ``mean_z``, the mean of ``(posterior mean - truth) / posterior sd``: near 0
when misses fall on both sides, far from 0 when one base-wide error (a hyperparameter's) moves
every estimate of the family the same way. Layouts: ``exact`` (per-source cells; refutes
recorded for both kinds) and ``ioc`` (the interviews written as wave totals in the IOC base's
bands, as ``cmoc calibrate --layout ioc``).

Run from the repository root::

    .venv/bin/python analyses/recovery_coverage.py --bases 4 --out /tmp/coverage.csv
    .venv/bin/python analyses/recovery_coverage.py --layouts ioc --sources 64  # 32 interviews

The table goes to stdout as Markdown; progress and each fit's convergence verdict to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from cmoc.analyses import SamplerConfig, check_convergence, fit
from cmoc.analyses.planning.calibration import layout_evidence
from cmoc.models import ModelConfig
from cmoc.models.generate import CalibrationLayout
from cmoc.models.generate_measurement import draw_measurement_cells

HYPER = {
    "activation_mean": 0.8,
    "activation_sd": 0.7,
    "activation_kind": np.array([0.3, -0.3]),
    "evidencing_mean": -1.2,
    "evidencing_sd": 0.9,
    "kind_rate": np.array([-0.3, 0.2]),
    "depth_sd_mechanism": 0.3,
    "depth_sd_target": 0.3,
    "dispersion": 3.0,
    "support_mean": 1.0,
    "support_sd_mechanism": 0.5,
    "support_sd_target": 0.9,
    "kind_lean": np.array([0.2, -0.2]),
    "concentration": 20.0,
}
"""Fixed hyperparameters (kinds: review, interview): a mechanism engaged by about two sources in
three, a CMOC evidenced by about a quarter of those, 1.8 codes per evidencing source."""

LAYOUTS = {
    "exact": CalibrationLayout(
        mechanisms=6, cmocs=48, sources=200, recording=("recorded", "recorded")
    ),
    "ioc": CalibrationLayout(
        mechanisms=6,
        cmocs=48,
        sources=200,
        recording=("not recorded", "partial"),
        totals="wave",
        bands=(1, 3, 5),
    ),
}

LEVEL = 0.9
COVER = (0.85, 0.95)


def draw_truth(layout: CalibrationLayout, rng: np.random.Generator) -> dict:
    """Draw one base's parameters: fixed hyperparameters, effects drawn from the hierarchy."""
    n_m, n_c = layout.mechanisms, layout.cmocs
    tm = np.concatenate([layout.cmoc_mechanism, np.arange(n_m)])
    n_t = n_c + n_m
    h = HYPER
    p = dict(h)
    p["activation_mechanism"] = h["activation_mean"] + h["activation_sd"] * rng.standard_normal(n_m)
    p["evidencing_logit"] = h["evidencing_mean"] + h["evidencing_sd"] * rng.standard_normal(n_t)
    theta = h["depth_sd_mechanism"] * rng.standard_normal(n_m)
    p["depth_mechanism"] = theta - theta.mean()
    p["depth_target"] = p["depth_mechanism"][tm] + h["depth_sd_target"] * rng.standard_normal(n_t)
    p["mu"] = h["support_mean"] + h["support_sd_mechanism"] * rng.standard_normal(n_m)
    p["eta"] = p["mu"][tm] + h["support_sd_target"] * rng.standard_normal(n_t)
    psi = {"recorded": 1.0, "not recorded": 0.0, "partial": 0.6}
    p["psi"] = np.array([psi[r] for r in layout.recording])
    return p


def truth_values(p: dict, layout: CalibrationLayout) -> dict[str, np.ndarray]:
    """Return the judged quantities: breadth (target x kind), depth and direction logits."""
    tm = np.concatenate([layout.cmoc_mechanism, np.arange(layout.mechanisms)])
    a = expit(p["activation_mechanism"][:, None] + p["activation_kind"][None, :])
    b = expit(p["evidencing_logit"])
    return {
        "breadth": a[tm, :] * b[:, None],
        "depth": p["depth_target"],
        "direction": p["eta"],
    }


def judge(idata, truth: dict[str, np.ndarray], layout: CalibrationLayout) -> pd.DataFrame:
    """Coverage, correlation and mean absolute error per family, for one fit."""
    post = idata["posterior"]
    kinds = list(post["kind"].values)
    order = [kinds.index(k) for k in layout.kinds]  # the layout's kinds in the model's order
    draws = {
        "breadth": post["breadth"].isel(kind=order),
        "depth": post["depth_target"],
        "direction": post["eta"],
    }
    lo, hi = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
    rows = []
    for name, x in draws.items():
        q = x.quantile([lo, hi], dim=("chain", "draw")).values
        mean = x.mean(("chain", "draw")).values
        sd = x.std(("chain", "draw")).values
        t = truth[name]
        covered = (q[0] <= t) & (t <= q[1])
        rows.append(
            {
                "family": name,
                "n": int(t.size),
                "coverage": float(covered.mean()),
                "corr": float(np.corrcoef(mean.ravel(), t.ravel())[0, 1]),
                "mae": float(np.abs(mean - t).mean()),
                "mean_z": float(((mean - t) / sd).mean()),
            }
        )
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    """Return a plain Markdown table (no tabulate needed)."""
    head = list(frame.columns)
    cells = [
        [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        for row in frame.itertuples(index=False)
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])


def run(
    layout_name: str,
    bases: int,
    seed: int,
    sampler: SamplerConfig,
    *,
    sources: int | None = None,
    progress=None,
) -> pd.DataFrame:
    """Fit ``bases`` bases of one layout; one row per base and family."""
    layout = LAYOUTS[layout_name]
    if sources is not None:
        layout = replace(layout, sources=sources)
    out = []
    for i, child in enumerate(np.random.SeedSequence([seed, len(layout_name)]).spawn(bases)):
        t0 = time.perf_counter()
        rng = np.random.default_rng(child)
        params = draw_truth(layout, rng)
        supports, refutes = draw_measurement_cells(params, layout, rng)
        base = layout_evidence(layout, supports, refutes)
        s = replace(sampler, seed=int(child.generate_state(1)[0]))
        idata = fit(base, ModelConfig(model="measurement"), s)
        gate = check_convergence(idata)
        ok = gate.passed
        frame = judge(idata, truth_values(params, layout), layout)
        frame.insert(0, "base", i + 1)
        frame.insert(0, "layout", layout_name)
        frame["converged"] = ok
        frame["in_85_95"] = frame["coverage"].between(*COVER)
        out.append(frame)
        if progress:
            progress(
                f"{layout_name} {i + 1}/{bases}: {time.perf_counter() - t0:.0f} s, "
                f"{'converged' if ok else 'NOT CONVERGED: ' + gate.text}\n{markdown(frame)}"
            )
    return pd.concat(out, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    """Fit the bases; print the table; write the rows."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bases", type=int, default=4, help="bases per layout (default 4)")
    ap.add_argument("--layouts", nargs="*", default=list(LAYOUTS), choices=list(LAYOUTS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--target-accept", type=float, default=0.97)
    ap.add_argument("--out", type=Path, help="CSV of the rows")
    ap.add_argument("--sources", type=int, help="sources per base (default: the layout's, 200)")
    args = ap.parse_args(argv)
    if args.bases < 1:
        print("--bases must be at least 1", file=sys.stderr)
        return 2
    sampler = SamplerConfig(
        chains=args.chains, draws=args.draws, tune=args.tune, target_accept=args.target_accept
    )

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    table = pd.concat(
        [
            run(name, args.bases, args.seed, sampler, sources=args.sources, progress=say)
            for name in args.layouts
        ],
        ignore_index=True,
    )
    if args.out:
        table.to_csv(args.out, index=False)
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
