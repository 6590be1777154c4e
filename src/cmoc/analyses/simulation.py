"""Synthetic evidence bases with known truth, for recovery tests, examples and benchmarks.

The generator follows the model of :mod:`cmoc.models` (so recovery is a fair test of the
fitting, not of model misfit) with a realistic shape: several source kinds, waves, nested groups,
appraisal weights, exposure, zero-heavy counts, CMOCs with little evidence, novel CMOCs that
appear in later waves (some revising a prior CMOC), and mechanism totals published only as bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from ..evidence import EvidenceBase, load_evidence, write_directory

__all__ = ["SimulationSpec", "simulate", "simulate_tables"]


@dataclass(frozen=True)
class SimulationSpec:
    """Size and truth of a simulated evidence base.

    Attributes
    ----------
    mechanisms, cmocs, sources, waves : int
        Sizes. Wave 1 holds review papers; later waves interviews and focus groups.
    novel_fraction : float
        Share of CMOCs that are novel (first coded in a later wave).
    banded_fraction : float
        Share of (wave, mechanism) totals published only as an evidence band.
    support_mean, support_sd_mechanism, support_sd_cmoc : float
        Truth of the support hierarchy (log-odds).
    salience_sd_mechanism, salience_sd_cmoc : float
        Truth of the salience hierarchy (log rate).
    dispersion : float
        Shape ``phi`` of the Gamma talkativeness of sources.
    kind_rates : dict
        Log rate of codes per source and target by kind.
    """

    mechanisms: int = 8
    cmocs: int = 40
    sources: int = 300
    waves: int = 2
    novel_fraction: float = 0.15
    banded_fraction: float = 0.3
    support_mean: float = 0.8
    support_sd_mechanism: float = 1.0
    support_sd_cmoc: float = 0.8
    salience_sd_mechanism: float = 0.6
    salience_sd_cmoc: float = 0.6
    dispersion: float = 4.0
    group_sd: float = 0.3
    kind_rates: tuple[tuple[str, float], ...] = (
        ("review", -1.6),
        ("interview", -1.3),
        ("focus_group", -0.9),
    )
    kind_leans: tuple[tuple[str, float], ...] = (
        ("review", 0.2),
        ("interview", -0.1),
        ("focus_group", -0.1),
    )


def simulate_tables(spec: SimulationSpec, seed: int) -> dict[str, pd.DataFrame | str]:
    """Draw an evidence base and its truth.

    Parameters
    ----------
    spec : SimulationSpec
    seed : int

    Returns
    -------
    dict
        File name to content: the evidence files and ``truth.csv``.
    """
    rng = np.random.default_rng(seed)
    n_m, n_c, n_j, n_w = spec.mechanisms, spec.cmocs, spec.sources, spec.waves
    waves = ["review"] + [f"wave{i}" for i in range(2, n_w + 1)]
    mech_ids = [f"M{i + 1:02d}" for i in range(n_m)]
    cmoc_ids = [f"C{i + 1:03d}" for i in range(n_c)]

    # theory and truth
    mu = spec.support_mean + spec.support_sd_mechanism * rng.standard_normal(n_m)
    theta = spec.salience_sd_mechanism * rng.standard_normal(n_m)
    c_mech = np.concatenate([np.arange(n_m), rng.integers(0, n_m, max(n_c - n_m, 0))])[:n_c]
    eta = mu[c_mech] + spec.support_sd_cmoc * rng.standard_normal(n_c)
    lam = theta[c_mech] + spec.salience_sd_cmoc * rng.standard_normal(n_c)
    n_novel = round(spec.novel_fraction * n_c) if n_w > 1 else 0
    novel = np.zeros(n_c, dtype=bool)
    novel[rng.choice(n_c, n_novel, replace=False)] = True
    intro = np.where(novel, rng.integers(1, max(n_w, 2), n_c), 0)
    intro = np.minimum(intro, n_w - 1)
    revises = []
    for c in range(n_c):
        peers = [p for p in range(n_c) if not novel[p] and c_mech[p] == c_mech[c]]
        revises.append(cmoc_ids[peers[0]] if novel[c] and peers and rng.random() < 0.5 else "")

    # sources: wave 1 reviews, later waves interviews (70%) and focus groups
    kinds_rate = dict(spec.kind_rates)
    kinds_lean = dict(spec.kind_leans)
    # the value is replaced below, but the draw stays: every simulated base depends on the stream
    if n_w > 1:
        rng.integers(0, n_w, n_j)
    n_first = max(int(0.4 * n_j), 1)
    src_wave = np.concatenate(
        [np.zeros(n_first, dtype=int), rng.integers(1, max(n_w, 2), n_j - n_first)]
    )
    src_wave = np.minimum(src_wave, n_w - 1)
    kind = np.where(
        src_wave == 0, "review", np.where(rng.random(n_j) < 0.7, "interview", "focus_group")
    )
    n_sites = max(n_j // 25, 2)
    site = rng.integers(0, n_sites, n_j)
    group = np.where(
        kind == "review",
        "",
        np.char.add(
            np.where(kind == "interview", "interviews/site", "focus groups/site"),
            np.char.zfill(site.astype(str), 2),
        ),
    )
    site_effect = {g: spec.group_sd * rng.standard_normal() for g in sorted(set(group)) if g}
    weight = np.where(kind == "review", np.round(rng.uniform(0.5, 1.0, n_j), 2), 1.0)
    exposure = np.where(kind == "review", 1.0, np.round(rng.lognormal(0.0, 0.3, n_j), 2))
    u = rng.gamma(spec.dispersion, 1 / spec.dispersion, n_j)
    offset = (
        np.array([kinds_rate[k] for k in kind])
        + np.log(exposure)
        + np.array([site_effect.get(g, 0.0) for g in group])
    )
    src_ids = [f"S{j + 1:04d}" for j in range(n_j)]

    # counts: targets are CMOCs then mechanisms
    t_ids = cmoc_ids + mech_ids
    t_logit = np.concatenate([eta, mu])
    t_lam = np.concatenate([lam, theta])
    t_intro = np.concatenate([intro, np.zeros(n_m, dtype=int)])
    lean = np.array([kinds_lean[k] for k in kind])
    in_theory = t_intro[None, :] <= src_wave[:, None]
    rate = u[:, None] * np.exp(offset[:, None] + t_lam[None, :]) * in_theory
    total = rng.poisson(rate)
    p = expit(t_logit[None, :] + lean[:, None])
    sup = rng.binomial(total, p)
    ref = total - sup

    # novel CMOCs must be coded in their intro wave for the intro to be observable
    for c in np.flatnonzero(novel):
        js = np.flatnonzero(src_wave == intro[c])
        if js.size and total[js, c].sum() == 0:
            sup[js[0], c] += 1

    rows = []
    banded_cells = set()
    for w in range(n_w):
        for m in range(n_m):
            if rng.random() < spec.banded_fraction:
                banded_cells.add((w, n_c + m))
    for w, t in sorted(banded_cells):
        js = np.flatnonzero(src_wave == w)
        s = int(sup[js, t].sum())
        lo, hi = (0, 0) if s == 0 else (1, 2) if s <= 2 else (3, 4) if s <= 4 else (5, None)
        if s == 0:
            continue  # a band of 0 is an exact zero: nothing to write
        rows.append((waves[w], t_ids[t], "supports", None, lo, hi))
        r = int(ref[js, t].sum())
        if r:
            rows.append((waves[w], t_ids[t], "refutes", r, None, None))
    js_, ts_ = np.nonzero(total)
    for j, t in zip(js_, ts_, strict=True):
        if (src_wave[j], t) in banded_cells:
            continue
        if sup[j, t]:
            rows.append((src_ids[j], t_ids[t], "supports", int(sup[j, t]), None, None))
        if ref[j, t]:
            rows.append((src_ids[j], t_ids[t], "refutes", int(ref[j, t]), None, None))
    codings = pd.DataFrame(
        rows, columns=["source_id", "target_id", "stance", "count", "count_min", "count_max"]
    )
    for col in ("count", "count_min", "count_max"):
        codings[col] = codings[col].astype("Int64")

    mechanisms = pd.DataFrame(
        {
            "mechanism_id": mech_ids,
            "name": [f"Mechanism {i + 1}" for i in range(n_m)],
            "definition": [f"Simulated mechanism {i + 1}" for i in range(n_m)],
            "origin": "prior",
        }
    )
    cmocs = pd.DataFrame(
        {
            "cmoc_id": cmoc_ids,
            "mechanism_id": [mech_ids[m] for m in c_mech],
            "context": [f"Context {i + 1}" for i in range(n_c)],
            "outcome": [f"Outcome {i + 1}" for i in range(n_c)],
            "sign": np.where(rng.random(n_c) < 0.8, "+", "-"),
            "origin": np.where(novel, "novel", "prior"),
            "revises": revises,
        }
    )
    sources = pd.DataFrame(
        {
            "source_id": src_ids,
            "kind": kind,
            "wave": [waves[w] for w in src_wave],
            "group": group,
            "weight": weight,
            "exposure": exposure,
        }
    )
    truth = pd.DataFrame(
        {
            "target_id": t_ids,
            "target_type": ["cmoc"] * n_c + ["mechanism"] * n_m,
            "mechanism_id": [mech_ids[m] for m in c_mech] + mech_ids,
            "support": expit(t_logit),
            "logit_support": t_logit,
            "salience": t_lam,
            "intro_wave": [waves[w] for w in t_intro],
        }
    )
    toml = (
        f'name = "sim-{seed}"\n'
        f'title = "Simulated evidence base (seed {seed})"\n'
        f'citation = "cmoc simulate --seed {seed}"\n'
        "format = 1\n"
        f"waves = [{', '.join(repr(w).replace(chr(39), chr(34)) for w in waves)}]\n"
        'group_levels = ["kind of session", "site"]\n'
        # the generator records every refuting code it draws
        "\n[recording]\nrefutes = { "
        + ", ".join(f'{k} = "recorded"' for k in sorted(set(kind)))
        + " }\n"
    )
    return {
        "evidence.toml": toml,
        "mechanisms.csv": mechanisms,
        "cmocs.csv": cmocs,
        "sources.csv": sources,
        "codings.csv": codings,
        "truth.csv": truth,
    }


def simulate(
    out: str | Path, spec: SimulationSpec | None = None, seed: int = 0, overwrite: bool = False
) -> EvidenceBase:
    """Write a simulated evidence base (with ``truth.csv``) to ``out`` and load it.

    Parameters
    ----------
    out : str or Path
        New directory.
    spec : SimulationSpec, optional
    seed : int
    overwrite : bool
        Replace an existing directory.

    Returns
    -------
    EvidenceBase
    """
    files = simulate_tables(spec or SimulationSpec(), seed)
    write_directory(out, files, overwrite=overwrite)
    return load_evidence(out)
