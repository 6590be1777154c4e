"""Simulation-based calibration (SBC) of the hierarchical model, fits run on Dask.

The data are drawn by the model's numpy generator (:mod:`cmoc.models.generate`) for a fixed
:class:`~cmoc.models.generate.CalibrationLayout`; :func:`simulate_dataset` turns them into an
evidence base in memory.

:func:`calibrate` draws each dataset with its own seed (``SeedSequence(seed).spawn``, keyed by
the dataset's index), fits it with cmoc's model, and ranks the true value of every quantity
among thinned posterior draws. If the fitting is right, each rank is uniform on
``0..thin``; :func:`rank_uniformity` tests that with a chi-square test on binned ranks per
quantity, at a Bonferroni-corrected level so that the false-alarm rate of the whole table is
at most ``alpha``. The fits run through :func:`~cmoc.analyses.planning.parallel.run_on_dask`,
so results do not depend on the number of workers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...evidence import EvidenceBase, load_evidence, write_directory
from ...models import DEFAULT_CONFIG, MeasurementPriors, ModelConfig, structure_hint
from ...models.generate import CalibrationLayout, draw_counts, draw_parameters
from ...models.generate_measurement import (
    draw_measurement_cells,
    draw_measurement_parameters,
    measurement_codings,
)
from ..fitting.result import AnalysisResult, Settings
from ..fitting.store import default_calibration_path, read_json_result, saved_calibration_paths
from .parallel import run_on_dask

__all__ = [
    "CALIBRATION_QUANTITIES",
    "CalibrationResult",
    "CalibrationSettings",
    "calibrate",
    "calibration_command",
    "find_calibration",
    "layout_base",
    "layout_evidence",
    "load_calibration",
    "rank_uniformity",
    "save_calibration",
    "simulate_dataset",
]

CALIBRATION_QUANTITIES = ("support_mean", "support_sd_cmoc", "mu", "eta")
"""Posterior variables whose ranks are checked (``mu`` per mechanism, ``eta`` per CMOC)."""


def _layout_files(
    layout: CalibrationLayout, codings: list[tuple[str, str, str, int, int | None]]
) -> dict[str, pd.DataFrame | str]:
    """Return the layout's evidence files with these ``codings.csv`` rows."""
    written = layout.written_sources()
    sources = pd.DataFrame(
        {
            "source_id": [s["source_id"] for s in written],
            "kind": [s["kind"] for s in written],
            "wave": [s["wave"] for s in written],
        }
    )
    if layout.totals == "group":
        sources["group"] = [s["group"] or "" for s in written]
    if any(s["weight"] != 1.0 for s in written):
        sources["weight"] = [f"{s['weight']:g}" for s in written]
    if any(s["exposure"] != 1.0 for s in written):
        sources["exposure"] = [f"{s['exposure']:g}" for s in written]
    mechs, cmocs = layout.mechanism_ids, layout.cmoc_ids
    waves = ", ".join(f'"{w}"' for w in layout.waves)
    exact = [r[3] == r[4] for r in codings]
    return {
        "evidence.toml": 'name = "sbc"\ntitle = "SBC layout"\ncitation = "cmoc calibrate"\n'
        f"format = 1\nwaves = [{waves}]\n\n[recording]\nrefutes = {{ "
        + ", ".join(f'{k} = "{r}"' for k, r in zip(layout.kinds, layout.recording, strict=True))
        + " }\n",
        "mechanisms.csv": pd.DataFrame(
            {"mechanism_id": mechs, "name": mechs, "definition": "simulated"}
        ),
        "cmocs.csv": pd.DataFrame(
            {
                "cmoc_id": cmocs,
                "mechanism_id": [mechs[m] for m in layout.cmoc_mechanism],
                "context": "c",
                "outcome": "o",
                "sign": "+",
                "origin": "prior",
            }
        ),
        "sources.csv": sources,
        "codings.csv": pd.DataFrame(
            {
                "source_id": [r[0] for r in codings],
                "target_id": [r[1] for r in codings],
                "stance": [r[2] for r in codings],
                "count": pd.array(
                    [r[3] if e else None for r, e in zip(codings, exact, strict=True)], "Int64"
                ),
                "count_min": pd.array(
                    [None if e else r[3] for r, e in zip(codings, exact, strict=True)], "Int64"
                ),
                "count_max": pd.array(
                    [None if e else r[4] for r, e in zip(codings, exact, strict=True)], "Int64"
                ),
            }
        ),
    }


def _load_files(files: dict[str, pd.DataFrame | str]) -> EvidenceBase:
    """Write the files to a temporary directory, load (and validate) them, return in memory."""
    with tempfile.TemporaryDirectory(prefix="cmoc-sbc-") as tmp:
        write_directory(Path(tmp) / "base", files)
        base = load_evidence(Path(tmp) / "base")
    return replace(base, path=None, file_hashes={})


def layout_base(layout: CalibrationLayout) -> EvidenceBase:
    """Return the layout as an evidence base with one placeholder coding (a template)."""
    first = layout.written_sources()[0]["source_id"]
    return _load_files(_layout_files(layout, [(first, layout.cmoc_ids[0], "supports", 1, 1)]))


def layout_evidence(
    layout: CalibrationLayout, supports: np.ndarray, refutes: np.ndarray
) -> EvidenceBase:
    """Return drawn cells written as the layout's evidence base, loaded and validated.

    The rows are :func:`cmoc.models.generate_measurement.measurement_codings`: exact cells, and
    totals and bands over waves or groups as the layout says.
    """
    rows = measurement_codings(supports, refutes, layout)
    if not rows:  # no code at all: the loader refuses an empty codings.csv, the model does not
        zero = np.zeros_like(supports)
        return _with_counts(layout_base(layout), zero, zero, layout.target_ids)
    return _load_files(_layout_files(layout, rows))


def _with_counts(
    template: EvidenceBase, supports: np.ndarray, refutes: np.ndarray, targets: list[str]
) -> EvidenceBase:
    """Return the template with its codings replaced by these exact counts."""
    sources = list(template.sources.index)
    rows = []
    for stance, counts in (("supports", supports), ("refutes", refutes)):
        js, ts = np.nonzero(counts)
        rows += [
            (sources[j], targets[t], stance, int(counts[j, t])) for j, t in zip(js, ts, strict=True)
        ]
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    out = template.codings.iloc[[0] * len(rows)].reset_index(drop=True)
    if rows:
        out["source_id"] = [r[0] for r in rows]
        out["target_id"] = [r[1] for r in rows]
        out["stance"] = [r[2] for r in rows]
        out["count_min"] = np.array([r[3] for r in rows], dtype="int64")
        out["count_max"] = pd.array([r[3] for r in rows], dtype="Int64")
        out["line"] = np.arange(2, len(rows) + 2)
    return replace(template, codings=out, path=None, file_hashes={})


def simulate_dataset(
    layout: CalibrationLayout,
    config: ModelConfig,
    rng: np.random.Generator,
    template: EvidenceBase | None = None,
) -> tuple[EvidenceBase, dict]:
    """Draw parameters and counts; return the evidence base (in memory) and the truth."""
    plain = _plain(layout)
    if config.model == "measurement":
        params = draw_measurement_parameters(MeasurementPriors(), layout, rng)
        supports, refutes = draw_measurement_cells(params, layout, rng)
        if not plain:  # totals, groups, copies, exposures: written as files and validated
            return layout_evidence(layout, supports, refutes), params
    elif not plain:
        raise ValueError(
            "layouts with totals, groups, weights or exposures are calibrated for model v2 "
            '(model = "measurement") only; model v1\'s generator draws exact cells'
        )
    else:
        params = draw_parameters(config, layout, rng)
        supports, refutes = draw_counts(params, layout, rng)
    template = template if template is not None else layout_base(layout)
    return _with_counts(template, supports, refutes, layout.target_ids), params


def _plain(layout: CalibrationLayout) -> bool:
    """Whether the layout is exact per-source cells, one wave, weights and exposures 1."""
    return layout.totals == "none" and set(layout.copies) == {1} and set(layout.exposures) == {1.0}


def _truth_values(params: dict, layout: CalibrationLayout) -> dict[str, float]:
    if "activation_mean" in params:
        return _truth_values_v2(params, layout)
    out = {"support_mean": params["support_mean"], "support_sd_cmoc": params["support_sd_cmoc"]}
    out.update({f"mu[{m}]": v for m, v in zip(layout.mechanism_ids, params["mu"], strict=True)})
    out.update({f"eta[{c}]": v for c, v in zip(layout.cmoc_ids, params["eta"], strict=True)})
    return {k: float(v) for k, v in out.items()}


_V2_TARGETS = ("C1", "C2", "M1")
"""Targets whose breadth, depth and direction model v2's calibration ranks."""


def _truth_values_v2(params: dict, layout: CalibrationLayout) -> dict[str, float]:
    """Return model v2's ranked quantities from the true parameters.

    The means, the dispersion, the recording of partial kinds and, per target of
    :data:`_V2_TARGETS`, its breadth (of :attr:`CalibrationLayout.breadth_kind`), log depth and
    direction logit.
    """
    from scipy.special import expit

    targets = layout.cmoc_ids + layout.mechanism_ids
    tm = np.concatenate([layout.cmoc_mechanism, np.arange(layout.mechanisms)])
    a = expit(params["activation_mechanism"][:, None] + params["activation_kind"][None, :])
    b = expit(params["evidencing_logit"])
    out = {
        "activation_mean": params["activation_mean"],
        "evidencing_mean": params["evidencing_mean"],
        "support_mean": params["support_mean"],
        "inv_dispersion": 1.0 / params["dispersion"],
    }
    for k, rec in zip(layout.kinds, layout.recording, strict=True):
        if rec == "partial":
            out[f"refute_recording[{k}]"] = params["psi"][layout.kinds.index(k)]
    k = layout.kinds.index(layout.breadth_kind)  # the generator's kinds are in layout order
    for name in _V2_TARGETS:
        t = targets.index(name)
        out[f"breadth[{name}]"] = a[tm[t], k] * b[t]
        out[f"depth_target[{name}]"] = params["depth_target"][t]
        out[f"eta[{name}]"] = params["eta"][t]
    return {k: float(v) for k, v in out.items()}


def _posterior_values(idata, layout: CalibrationLayout) -> dict[str, np.ndarray]:
    post = idata["posterior"]

    def flat(name):
        return post[name].stack(sample=("chain", "draw")).transpose(..., "sample").values

    if "activation_mean" in post:
        out = {
            name: flat(name)
            for name in ("activation_mean", "evidencing_mean", "support_mean", "inv_dispersion")
        }
        if "refute_recording" in post:
            psi = flat("refute_recording")  # (partial_kind, sample)
            for i, k in enumerate(post["refute_recording"]["partial_kind"].values):
                out[f"refute_recording[{k}]"] = psi[i]
        for name in _V2_TARGETS:
            sel = {"target": name}
            # by name: the model orders kinds by label, the layout by position
            out[f"breadth[{name}]"] = (
                post["breadth"]
                .sel(sel)
                .sel(kind=layout.breadth_kind)
                .stack(sample=("chain", "draw"))
                .values
            )
            for v in ("depth_target", "eta"):
                out[f"{v}[{name}]"] = post[v].sel(sel).stack(sample=("chain", "draw")).values
        return out
    out = {"support_mean": flat("support_mean"), "support_sd_cmoc": flat("support_sd_cmoc")}
    mu, eta = flat("mu"), flat("eta")
    out.update({f"mu[{m}]": mu[i] for i, m in enumerate(layout.mechanism_ids)})
    out.update({f"eta[{c}]": eta[i] for i, c in enumerate(layout.cmoc_ids)})
    return out


def _calibration_task(
    indices: list[int],
    seeds: list[np.random.SeedSequence],
    layout: CalibrationLayout,
    generate_json: str,
    fit_json: str,
    sampler_kwargs: dict,
    thin: int,
    isolate: bool = False,
    parent: int | None = None,
) -> list[dict]:
    """Simulate datasets ``indices``, fit each, and rank the truth (one Dask task).

    The datasets of one task share a structure hint (:func:`cmoc.models.structure_hint`), so
    their models are compiled once and the data swapped in (docs/sampling.md). With
    ``isolate`` the task runs in a fresh child process that ends with it: numba never frees
    the machine code of a compiled graph, and a layout whose every dataset is a new graph
    would otherwise grow a worker by about 0.2 GiB per dataset (measured on the ``ioc``
    family: 0.8 GiB after one dataset, 1.5 GiB after five, with the caches cleared).
    ``parent`` is the process that started such a child: if it has gone (killed, or its
    worker restarted), the child stops before its next dataset instead of fitting on alone.
    """
    if isolate:
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        args = (indices, seeds, layout, generate_json, fit_json, sampler_kwargs, thin)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            return pool.submit(_calibration_task, *args, False, os.getpid()).result()
    rows = []
    for index, seed_seq in zip(indices, seeds, strict=True):
        if parent is not None and _orphaned(parent):
            raise SystemExit(f"calibration task: its parent process {parent} has gone")
        rows += _calibrate_one(
            index, seed_seq, layout, generate_json, fit_json, sampler_kwargs, thin
        )
    return rows


def _orphaned(parent: int) -> bool:
    """Whether this process's parent is no longer ``parent`` (it died; we were re-parented)."""
    import os

    return os.getppid() != parent


def _halves(seq: np.random.SeedSequence) -> tuple[np.random.SeedSequence, ...]:
    """Return the data's and the fit's seeds of a dataset: its first two children, always.

    ``SeedSequence.spawn`` counts the children it gave, so calling it on one sequence twice
    (grouping datasets by structure, then fitting them; or a sequence pickled to a worker after
    it spawned) gives different children: these are computed from the sequence's key instead.
    """
    return tuple(
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, i), pool_size=seq.pool_size)
        for i in range(2)
    )


def _simulated(
    seed_seq: np.random.SeedSequence, layout: CalibrationLayout, generate: ModelConfig
) -> tuple[EvidenceBase, dict, np.random.SeedSequence]:
    """Dataset of ``seed_seq``: the base, the truth, and the seed of its fit."""
    data_seq, fit_seq = _halves(seed_seq)
    base, params = simulate_dataset(layout, generate, np.random.default_rng(data_seq))
    return base, params, fit_seq


def _calibrate_one(
    index: int,
    seed_seq: np.random.SeedSequence,
    layout: CalibrationLayout,
    generate_json: str,
    fit_json: str,
    sampler_kwargs: dict,
    thin: int,
) -> list[dict]:
    from ..fitting.sampling import SamplerConfig, fit

    base, params, fit_seq = _simulated(seed_seq, layout, ModelConfig.from_json(generate_json))
    sampler = SamplerConfig(**sampler_kwargs, seed=int(fit_seq.generate_state(1)[0]), cores=1)
    idata = fit(base, ModelConfig.from_json(fit_json), sampler)
    draws = _posterior_values(idata, layout)
    n_samples = next(iter(draws.values())).size
    keep = np.unique(np.linspace(0, n_samples - 1, thin).round().astype(int))
    divergences = int(idata["sample_stats"]["diverging"].sum())
    n_codes = int(base.codings["count_min"].sum())
    rows = []
    for name, truth in _truth_values(params, layout).items():
        rows.append(
            {
                "dataset": index,
                "quantity": name,
                "truth": truth,
                "rank": int((draws[name][keep] < truth).sum()),
                "n_draws": int(keep.size),
                "posterior_mean": float(draws[name].mean()),
                "divergences": divergences,
                "codes": n_codes,
            }
        )
    return rows


def _by_structure(
    children: list[np.random.SeedSequence], layout: CalibrationLayout, generate, config
) -> list[list[int]]:
    """Dataset indices grouped by the structure hint of their model, in order of first use."""
    template = layout_base(layout)
    groups: dict[str, list[int]] = {}
    for i, seq in enumerate(children):
        data_seq, _ = _halves(seq)
        base, _ = simulate_dataset(layout, generate, np.random.default_rng(data_seq), template)
        groups.setdefault(structure_hint(base, config), []).append(i)
    return list(groups.values())


def _bins(n_datasets: int, n_ranks: int) -> int:
    """Most bins (at most 20, dividing the ``n_ranks`` values) with >= 5 ranks expected."""
    best = 1
    for b in range(2, 21):
        if n_ranks % b == 0 and n_datasets / b >= 5:
            best = b
    return best


ISOLATED_DATASETS = 4
"""Datasets per child process where every dataset compiles a graph of its own (layouts other
than exact per-source cells): the process's memory stays under about 1.6 GiB, and the 3-5 s of
starting it are shared by four compilations of 25-55 s."""

POWER_SHIFT = 0.5
"""The reference miscalibration of the power rule: a posterior mean off by half a posterior sd."""

POWER_MIN = 0.5
"""A run whose tests detect :data:`POWER_SHIFT` with less probability than this cannot call the
ranks uniform: it is "too small" (docs/calibration-and-planning.md, "When a run is too small")."""


def rank_test_power(
    datasets: int, n_ranks: int, threshold: float, shift: float = POWER_SHIFT
) -> float:
    """Probability that one quantity's chi-square test rejects a shifted posterior.

    The fitted posterior of a quantity is taken as normal with the right sd but its mean
    ``shift`` posterior sds away from the correct one: the truth's rank quantile ``u`` then has
    ``P(u <= x) = Phi(shift + Phi^-1(x))``. The ranks are binned as :func:`rank_uniformity`
    bins them, and the power is that of the chi-square test at ``threshold`` under the
    noncentral chi-square approximation (``lambda = n * bins * sum (p_i - 1/bins)^2``).

    Returns
    -------
    float
        0 when the ranks fall in one bin (no test at all).
    """
    return _binned_power(datasets, _bins(datasets, n_ranks), threshold, shift)


def _binned_power(datasets: int, bins: int, threshold: float, shift: float) -> float:
    if bins < 2:
        return 0.0
    cdf = stats.norm.cdf(shift + stats.norm.ppf(np.linspace(0.0, 1.0, bins + 1)))
    lam = datasets * bins * float(np.sum((np.diff(cdf) - 1.0 / bins) ** 2))
    critical = stats.chi2.ppf(1.0 - threshold, bins - 1)
    return float(stats.ncx2.sf(critical, bins - 1, lam))


def datasets_for_power(n_ranks: int, threshold: float, power: float = POWER_MIN) -> int | None:
    """Return the fewest datasets whose tests reach ``power``; None above 5,000.

    See :func:`rank_test_power`.
    """
    for n in range(5, 5001):
        if rank_test_power(n, n_ranks, threshold) >= power:
            return n
    return None


def rank_uniformity(ranks: pd.DataFrame, *, alpha: float = 0.01) -> pd.DataFrame:
    """Chi-square test of uniform ranks, per quantity.

    Ranks take ``n_draws + 1`` values; they are grouped into equal bins (the most, up to 20,
    that divide the values evenly and expect at least 5 datasets each) and compared with the
    uniform counts (``df = bins - 1``). A quantity fails when ``p < alpha / quantities``
    (Bonferroni), so the chance that a correct model fails anywhere in the table is at most
    ``alpha``.

    Returns
    -------
    pandas.DataFrame
        ``quantity, datasets, bins, chi2, p_value, threshold, uniform, mean_rank, power`` where
        ``mean_rank`` is the mean rank over ``n_draws`` (0.5 expected; above: the truth sits
        high in the posterior, the fit underestimates) and ``power`` is
        :func:`rank_test_power`: ``uniform`` is a finding only where ``power`` reaches
        :data:`POWER_MIN`.
    """
    n_ranks = int(ranks["n_draws"].iloc[0]) + 1
    quantities = list(dict.fromkeys(ranks["quantity"]))
    threshold = alpha / len(quantities)
    rows = []
    for q in quantities:
        r = ranks.loc[ranks["quantity"] == q, "rank"].to_numpy()
        bins = _bins(r.size, n_ranks)
        counts = np.bincount(r * bins // n_ranks, minlength=bins)
        if bins > 1:
            chi2, p_value = stats.chisquare(counts)
        else:
            chi2, p_value = 0.0, 1.0
        rows.append(
            {
                "quantity": q,
                "datasets": int(r.size),
                "bins": bins,
                "chi2": float(chi2),
                "p_value": float(p_value),
                "threshold": threshold,
                "uniform": bool(p_value >= threshold),
                "mean_rank": float(r.mean() / (n_ranks - 1)),
                "power": rank_test_power(int(r.size), n_ranks, threshold),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class CalibrationSettings(Settings):
    """What a calibration ran (the settings of a :class:`CalibrationResult`).

    Attributes
    ----------
    model_id, model_name : str
        The fitted model configuration.
    generate_id : str
        The configuration the data were drawn from: ``model_id`` for a calibration of the
        model, another for a misspecification check.
    model_config : str
        The fitted configuration as JSON.
    datasets, seed, chains, draws, tune, thin : int
    layout : dict
        The :class:`~cmoc.models.generate.CalibrationLayout` (lists for its tuples).
    alpha : float
        False-alarm rate of the whole table of uniformity tests.
    cmoc_version : str
    """

    model_id: str
    model_name: str = ""
    generate_id: str = ""
    model_config: str = ""
    datasets: int = 0
    seed: int = 0
    chains: int = 2
    draws: int = 200
    tune: int = 200
    thin: int = 99
    layout: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.01
    cmoc_version: str = ""

    def calibrates(self, model_id: str) -> bool:
        """Whether these settings calibrate the model configuration ``model_id``."""
        return self.model_id == model_id and self.generate_id == model_id


class CalibrationResult(AnalysisResult):
    """What :func:`calibrate` found (an ``AnalysisResult`` of kind ``calibration``).

    ``table`` (also :attr:`tests`) is :func:`rank_uniformity` of the ranks; ``tables["ranks"]``
    (also :attr:`ranks`) has one row per dataset and quantity: ``dataset, quantity, truth,
    rank, n_draws, posterior_mean, divergences, codes``; ``passed`` (also :attr:`calibrated`)
    says no quantity's ranks were found non-uniform; ``text`` is the verdict; ``settings`` a
    :class:`CalibrationSettings`. Build one from ranks with :meth:`of`.
    """

    kind = "calibration"
    version = 2
    settings_type = CalibrationSettings
    what = "calibration"
    hint = "saved calibration (`cmoc calibrate --out FILE` writes one)"

    @classmethod
    def of(
        cls,
        ranks: pd.DataFrame,
        tests: pd.DataFrame,
        alpha: float,
        settings: CalibrationSettings | Mapping[str, Any],
    ) -> CalibrationResult:
        """Return the result of these ranks and tests (the verdict and text derived)."""
        data = settings.to_dict() if isinstance(settings, Settings) else dict(settings)
        typed = CalibrationSettings.from_dict({**data, "alpha": float(alpha)})
        passed = bool(tests["uniform"].all()) and _powered(tests)
        return cls(tests, _verdict(ranks, tests, typed.alpha), passed, typed, {"ranks": ranks})

    @property
    def ranks(self) -> pd.DataFrame:
        """One row per dataset and quantity (``tables["ranks"]``)."""
        return self.tables["ranks"]

    @property
    def tests(self) -> pd.DataFrame:
        """:func:`rank_uniformity` of the ranks (the ``table``)."""
        return self.table

    @property
    def alpha(self) -> float:
        """False-alarm rate of the whole table."""
        return self.settings.alpha

    @property
    def calibrated(self) -> bool:
        """Whether no quantity's ranks were found non-uniform by tests with the power to."""
        return bool(self.passed)

    def calibrates(self, model_id: str) -> bool:
        """Whether this is a calibration of the model configuration ``model_id``.

        The fitted configuration must be ``model_id`` and the data drawn from it (a
        misspecification check, with data drawn from other priors, is not a calibration).
        """
        return self.settings.calibrates(model_id)


def _power_of_table(tests: pd.DataFrame) -> list[float]:
    """:func:`rank_test_power` of each row of a table of tests (datasets, bins, threshold)."""
    rows = zip(tests["datasets"], tests["bins"], tests["threshold"], strict=True)
    return [_binned_power(int(n), int(b), float(t), POWER_SHIFT) for n, b, t in rows]


def _powered(tests: pd.DataFrame) -> bool:
    """Whether every test had the power to find the reference miscalibration.

    Tables saved before the power rule have no ``power`` column: it is computed from them.
    """
    if "power" in tests.columns:
        power = tests["power"].astype(float)
    else:
        power = pd.Series(_power_of_table(tests), dtype=float)
    return bool((power >= POWER_MIN).all())


def _verdict(ranks: pd.DataFrame, tests: pd.DataFrame, alpha: float) -> str:
    """One sentence: the verdict of the uniformity tests."""
    bad = tests.loc[~tests["uniform"].astype(bool), "quantity"].tolist()
    n = int(ranks["dataset"].nunique())
    if not bad and not _powered(tests):
        n_ranks = int(ranks["n_draws"].iloc[0]) + 1
        threshold = float(tests["threshold"].iloc[0])
        power = rank_test_power(n, n_ranks, threshold)
        need = datasets_for_power(n_ranks, threshold)
        more = f"about {need} datasets" if need else "more than 5,000 datasets"
        return (
            f"too small to call the ranks uniform: {n} datasets give each test power "
            f"{power:.2f} to find a posterior mean off by {POWER_SHIFT:g} posterior sd "
            f"({POWER_MIN:g} needed: {more})"
        )
    if not bad:
        return (
            f"ranks uniform for every quantity ({n} datasets; chi-square per quantity, "
            f"family-wise false-alarm rate {alpha:g})"
        )
    return f"ranks NOT uniform for {', '.join(bad)} ({n} datasets): the fit is miscalibrated"


def calibrate(
    datasets: int = 100,
    seed: int = 0,
    *,
    layout: CalibrationLayout | None = None,
    config: ModelConfig | None = None,
    generate: ModelConfig | None = None,
    chains: int = 2,
    draws: int = 200,
    tune: int = 200,
    thin: int = 99,
    alpha: float = 0.01,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = False,
) -> CalibrationResult:
    """Simulation-based calibration: simulate, fit, rank the truth, test uniformity.

    Parameters
    ----------
    datasets : int
        Number of simulated evidence bases.
    seed : int
        Dataset ``i`` uses ``SeedSequence(seed).spawn(datasets)[i]`` (data, then the sampler's
        seed), so results do not depend on the number of workers or of datasets.
    layout : CalibrationLayout, optional
        The evidence layout (default: 2 mechanisms, 6 CMOCs, 30 sources, 2 kinds, exact cells;
        :meth:`CalibrationLayout.family` gives the ``ioc`` and ``mixed`` families of model v2).
    config : ModelConfig, optional
        The model that is fitted (default :data:`cmoc.models.DEFAULT_CONFIG`).
    generate : ModelConfig, optional
        The priors and likelihood the data are drawn from (default: ``config``). A different
        one makes a deliberately misspecified check.
    chains, draws, tune : int
        Sampler settings of each fit (nutpie, one core per fit).
    thin : int
        Posterior draws kept (evenly spaced) for the ranks: ranks take ``thin + 1`` values.
    alpha : float
        Family-wise false-alarm rate of the uniformity tests.
    workers, scheduler, progress
        As in :func:`run_on_dask`.

    Returns
    -------
    CalibrationResult
    """
    if datasets < 1:
        raise ValueError(f"datasets must be at least 1 (got {datasets})")
    layout = layout or CalibrationLayout()
    config = config or DEFAULT_CONFIG
    generate = generate or config
    if not _plain(layout) and {config.model, generate.model} != {"measurement"}:
        raise ValueError(
            f"layout with totals={layout.totals!r}, copies {layout.copies}, exposures "
            f'{layout.exposures}: only model v2 (model = "measurement") is calibrated on '
            "layouts other than exact per-source cells"
        )
    thin = min(thin, chains * draws)
    children = np.random.SeedSequence(seed).spawn(datasets)
    # each dataset sampled as asked: the ranks judge the fits, not the convergence gate
    sampler = {"chains": chains, "draws": draws, "tune": tune, "extend": 0}
    # one structure per task, compiled once there; long runs of one structure split so that
    # no worker is left with most of the sampling
    chunk = max(5, -(-datasets // (4 * max(workers, 1))))
    groups = [
        group[i : i + chunk]
        for group in _by_structure(children, layout, generate, config)
        for i in range(0, len(group), chunk)
    ]
    isolate = not _plain(layout)
    if isolate:
        # a total's counts shape v2's graph, so nearly every dataset is a new structure: a
        # few per task, each task in a process of its own (memory: _calibration_task)
        order = [i for group in groups for i in group]
        groups = [order[i : i + ISOLATED_DATASETS] for i in range(0, len(order), ISOLATED_DATASETS)]
    tasks = [
        (
            group,
            [children[i] for i in group],
            layout,
            generate.model_dump_json(),
            config.model_dump_json(),
            sampler,
            thin,
            isolate,
        )
        for group in groups
    ]
    results = run_on_dask(
        _calibration_task,
        tasks,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        label="groups of calibration fits",
    )
    results = sorted((row for rows in results for row in rows), key=lambda r: r["dataset"])
    ranks = pd.DataFrame(results)
    from importlib.metadata import version

    settings = CalibrationSettings(
        model_id=config.id,
        model_name=config.name,
        generate_id=generate.id,
        model_config=config.to_json(),
        datasets=int(datasets),
        seed=int(seed),
        chains=int(chains),
        draws=int(draws),
        tune=int(tune),
        thin=int(thin),
        layout={k: list(v) if isinstance(v, tuple) else v for k, v in asdict(layout).items()},
        alpha=float(alpha),
        cmoc_version=version("cmoc"),
    )
    return CalibrationResult.of(ranks, rank_uniformity(ranks, alpha=alpha), alpha, settings)


def calibration_command(evidence_dir: str, model_id: str, custom_model: bool) -> str:
    """Return the command that calibrates a model configuration where the report looks."""
    model = " --model <the model file>" if custom_model else ""
    path = default_calibration_path(evidence_dir, model_id).as_posix()
    return f"cmoc calibrate --datasets 100{model} --out {path}"


_LEGACY_FORMAT = "cmoc calibration 1"
"""Calibrations saved before the shared result shape (tests and ranks as records)."""


def save_calibration(result: CalibrationResult, path: str | Path) -> Path:
    """Write a calibration (settings, tests and every rank) as JSON, atomically.

    Parameters
    ----------
    result : CalibrationResult
    path : str or Path
        Its directory must exist.

    Returns
    -------
    Path
    """
    return result.save(path)


def load_calibration(path: str | Path) -> CalibrationResult:
    """Read a calibration written by :func:`save_calibration` (``cmoc calibrate --out``).

    Calibrations saved by earlier versions (format ``cmoc calibration 1``) are read too.

    Raises
    ------
    ValueError
        When the file is not a saved calibration (the message says why).
    """
    path = Path(path)
    try:
        result = CalibrationResult.load(path)
    except ValueError as err:
        if not str(err).startswith(f"{path}: not a "):
            raise
        result = _load_legacy(path)
    if "power" not in result.tests.columns:  # saved before the power rule
        result.tests["power"] = _power_of_table(result.tests)
    needed = {"dataset", "quantity", "rank", "n_draws"} <= set(result.ranks.columns)
    needed &= {"quantity", "p_value", "uniform", "mean_rank", "bins"} <= set(result.tests.columns)
    if not needed:
        raise ValueError(f"{path}: damaged calibration (columns or settings missing)")
    return result


def _load_legacy(path: Path) -> CalibrationResult:
    """Read a calibration saved as ``cmoc calibration 1`` (tests and ranks as records)."""
    doc = read_json_result(path, _LEGACY_FORMAT, CalibrationResult.what, CalibrationResult.hint)
    try:
        ranks = pd.DataFrame(doc["ranks"])
        tests = pd.DataFrame(doc["tests"])
        return CalibrationResult.of(ranks, tests, float(doc["alpha"]), dict(doc["settings"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: damaged calibration ({err})") from err


def find_calibration(evidence_dir: str | Path, model_id: str) -> CalibrationResult | None:
    """Return the newest calibration of ``model_id`` saved in ``DIR/.cmoc/calibration*.json``.

    Files that cannot be read, misspecification checks and calibrations of other model
    configurations are passed over. "Newest" is by modification time (then name).

    Returns
    -------
    CalibrationResult or None
    """
    found = []
    for path in saved_calibration_paths(evidence_dir):
        try:
            result = load_calibration(path)
        except ValueError:
            continue
        if result.calibrates(model_id):
            found.append((path.stat().st_mtime_ns, path.name, result))
    return max(found, key=lambda f: f[:2])[2] if found else None
