"""Simulation-based calibration (SBC) of the hierarchical model, fits run on Dask.

The model's likelihood is written with Potentials, so PyMC cannot draw prior predictive data;
:func:`draw_parameters` and :func:`draw_counts` are a numpy generator that follows
:mod:`cmoc.models.hierarchical` term by term for a fixed evidence layout (sources with kinds,
one wave, exact source-level cells, no groups, weights and exposures 1):

1. every parameter from its prior in the :class:`~cmoc.models.ModelConfig` (zero-sum saliences
   and kind leans: iid normals minus their mean, as ``pm.ZeroSumNormal``);
2. talkativeness ``u_j ~ Gamma(phi, phi)`` (``u_j = 1`` for ``likelihood="poisson"``), rates
   ``r_jt = u_j exp(rho_k(j) + lambda_t)``, ``supports ~ Poisson(r p_tk)`` and
   ``refutes ~ Poisson(r (1 - p_tk))`` with ``p_tk = logistic(eta_t + delta_k)``.

:func:`calibrate` draws each dataset with its own seed (``SeedSequence(seed).spawn``, keyed by
the dataset's index), fits it with cmoc's model, and ranks the true value of every quantity
among thinned posterior draws. If the fitting is right, each rank is uniform on
``0..thin``; :func:`rank_uniformity` tests that with a chi-square test on binned ranks per
quantity, at a Bonferroni-corrected level so that the false-alarm rate of the whole table is
at most ``alpha``. :func:`run_on_dask` (also used by :mod:`cmoc.analyses.plan`) runs the
independent fits on a local Dask cluster or an existing scheduler, with results in task
order, so they do not depend on the number of workers.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from ..evidence import EvidenceBase, load_evidence, write_directory
from ..models import DEFAULT_CONFIG, ModelConfig
from ..models.config import Prior
from .results import read_json_result, write_json_result

__all__ = [
    "CALIBRATION_QUANTITIES",
    "CalibrationLayout",
    "CalibrationResult",
    "calibrate",
    "calibration_command",
    "default_calibration_path",
    "draw_counts",
    "draw_parameters",
    "find_calibration",
    "layout_base",
    "load_calibration",
    "rank_uniformity",
    "run_on_dask",
    "save_calibration",
    "simulate_dataset",
]

CALIBRATION_QUANTITIES = ("support_mean", "support_sd_cmoc", "mu", "eta")
"""Posterior variables whose ranks are checked (``mu`` per mechanism, ``eta`` per CMOC)."""


@dataclass(frozen=True)
class CalibrationLayout:
    """The fixed shape of every simulated evidence base.

    Attributes
    ----------
    mechanisms, cmocs, sources : int
        Sizes. CMOC ``i`` belongs to mechanism ``i mod mechanisms``.
    kinds : tuple of str
        Source kinds, given to the sources in turn.
    """

    mechanisms: int = 2
    cmocs: int = 6
    sources: int = 30
    kinds: tuple[str, ...] = ("review", "interview")

    @property
    def mechanism_ids(self) -> list[str]:
        """``M1, M2, ...``."""
        return [f"M{i + 1}" for i in range(self.mechanisms)]

    @property
    def cmoc_ids(self) -> list[str]:
        """``C1, C2, ...``."""
        return [f"C{i + 1}" for i in range(self.cmocs)]

    @property
    def cmoc_mechanism(self) -> np.ndarray:
        """Index of each CMOC's mechanism."""
        return np.arange(self.cmocs) % self.mechanisms

    @property
    def source_kind(self) -> np.ndarray:
        """Index of each source's kind."""
        return np.arange(self.sources) % len(self.kinds)


def layout_base(layout: CalibrationLayout) -> EvidenceBase:
    """Return the layout as an evidence base with one placeholder coding (a template)."""
    sources = pd.DataFrame(
        {
            "source_id": [f"S{j + 1:03d}" for j in range(layout.sources)],
            "kind": [layout.kinds[k] for k in layout.source_kind],
            "wave": "w1",
        }
    )
    mechs, cmocs = layout.mechanism_ids, layout.cmoc_ids
    files = {
        "evidence.toml": 'name = "sbc"\ntitle = "SBC layout"\ncitation = "cmoc calibrate"\n'
        'format = 1\nwaves = ["w1"]\n',
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
            {"source_id": ["S001"], "target_id": [cmocs[0]], "stance": ["supports"], "count": [1]}
        ),
    }
    with tempfile.TemporaryDirectory(prefix="cmoc-sbc-") as tmp:
        write_directory(Path(tmp) / "base", files)
        base = load_evidence(Path(tmp) / "base")
    return replace(base, path=None, file_hashes={})


def _draw(prior: Prior | float, rng: np.random.Generator, size=None):
    if not isinstance(prior, Prior):  # a fixed value
        return np.full(size, float(prior)) if size is not None else float(prior)
    if prior.dist == "Normal":
        return rng.normal(prior.mu, prior.sigma, size)
    if prior.dist == "HalfNormal":
        return np.abs(rng.normal(0.0, prior.sigma, size))
    if prior.dist == "Gamma":
        shape, rate = prior.gamma_shape_rate
        return rng.gamma(shape, 1 / rate, size)
    return rng.exponential(prior.sigma, size)


def _zero_sum(rng: np.random.Generator, n: int) -> np.ndarray:
    """``pm.ZeroSumNormal(sigma=1)``: iid standard normals minus their mean."""
    z = rng.standard_normal(n)
    return z - z.mean()


def draw_parameters(
    config: ModelConfig, layout: CalibrationLayout, rng: np.random.Generator
) -> dict[str, np.ndarray | float]:
    """Draw every parameter of the model from its prior.

    Follows :func:`cmoc.models.build_model` for ``support_pooling="partial"`` and no groups
    (centred and non-centred forms define the same distribution).

    Returns
    -------
    dict
        ``support_mean, support_sd_mechanism, mu, salience_sd_mechanism,
        salience_mechanism, support_sd_cmoc, eta, salience_sd_cmoc, salience_cmoc,
        kind_rate, kind_lean_sd, kind_lean, dispersion`` (``inf`` for Poisson).
    """
    if config.support_pooling != "partial":
        raise ValueError("the generator follows the partial-pooling hierarchy only")
    n_m, n_c, n_k = layout.mechanisms, layout.cmocs, len(layout.kinds)
    cm = layout.cmoc_mechanism
    p: dict[str, np.ndarray | float] = {}
    p["support_mean"] = float(_draw(config.support_mean, rng))
    p["support_sd_mechanism"] = float(_draw(config.support_sd_mechanism, rng))
    p["mu"] = p["support_mean"] + p["support_sd_mechanism"] * rng.standard_normal(n_m)
    p["salience_sd_mechanism"] = float(_draw(config.salience_sd_mechanism, rng))
    p["salience_mechanism"] = (
        np.zeros(1) if n_m == 1 else p["salience_sd_mechanism"] * _zero_sum(rng, n_m)
    )
    p["support_sd_cmoc"] = float(_draw(config.support_sd_cmoc, rng))
    p["salience_sd_cmoc"] = float(_draw(config.salience_sd_cmoc, rng))
    z = rng.logistic(0.0, 1.0, n_c) if config.pooling == "logistic" else rng.standard_normal(n_c)
    p["eta"] = p["mu"][cm] + p["support_sd_cmoc"] * z
    p["salience_cmoc"] = p["salience_mechanism"][cm] + p["salience_sd_cmoc"] * (
        rng.standard_normal(n_c)
    )
    p["kind_rate"] = _draw(config.kind_rate, rng, n_k)
    if n_k > 1:
        p["kind_lean_sd"] = float(_draw(config.kind_lean_sd, rng))
        p["kind_lean"] = p["kind_lean_sd"] * _zero_sum(rng, n_k)
    else:
        p["kind_lean"] = np.zeros(1)
    if config.likelihood == "poisson":
        p["dispersion"] = np.inf
    else:
        p["dispersion"] = 1.0 / float(_draw(config.inv_dispersion, rng))
    return p


def draw_counts(
    params: dict, layout: CalibrationLayout, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the supporting and refuting counts (source x target, CMOCs then mechanisms)."""
    kind = layout.source_kind
    logit_t = np.concatenate([params["eta"], params["mu"]])
    lam_t = np.concatenate([params["salience_cmoc"], params["salience_mechanism"]])
    phi = params["dispersion"]
    n_j = layout.sources
    u = np.ones(n_j) if np.isinf(phi) else rng.gamma(phi, 1.0 / phi, n_j)
    rate = u[:, None] * np.exp(params["kind_rate"][kind][:, None] + lam_t[None, :])
    p = expit(logit_t[None, :] + params["kind_lean"][kind][:, None])
    supports = rng.poisson(rate * p)
    refutes = rng.poisson(rate * (1.0 - p))
    return supports, refutes


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
    template = template if template is not None else layout_base(layout)
    params = draw_parameters(config, layout, rng)
    supports, refutes = draw_counts(params, layout, rng)
    targets = layout.cmoc_ids + layout.mechanism_ids
    return _with_counts(template, supports, refutes, targets), params


def _truth_values(params: dict, layout: CalibrationLayout) -> dict[str, float]:
    out = {"support_mean": params["support_mean"], "support_sd_cmoc": params["support_sd_cmoc"]}
    out.update({f"mu[{m}]": v for m, v in zip(layout.mechanism_ids, params["mu"], strict=True)})
    out.update({f"eta[{c}]": v for c, v in zip(layout.cmoc_ids, params["eta"], strict=True)})
    return {k: float(v) for k, v in out.items()}


def _posterior_values(idata, layout: CalibrationLayout) -> dict[str, np.ndarray]:
    post = idata["posterior"]

    def flat(name):
        return post[name].stack(sample=("chain", "draw")).transpose(..., "sample").values

    out = {"support_mean": flat("support_mean"), "support_sd_cmoc": flat("support_sd_cmoc")}
    mu, eta = flat("mu"), flat("eta")
    out.update({f"mu[{m}]": mu[i] for i, m in enumerate(layout.mechanism_ids)})
    out.update({f"eta[{c}]": eta[i] for i, c in enumerate(layout.cmoc_ids)})
    return out


def _calibration_task(
    index: int,
    seed_seq: np.random.SeedSequence,
    layout: CalibrationLayout,
    generate_json: str,
    fit_json: str,
    sampler_kwargs: dict,
    thin: int,
) -> list[dict]:
    """Simulate dataset ``index``, fit it, and rank the truth (one Dask task)."""
    from .sampling import SamplerConfig, fit

    data_seq, fit_seq = seed_seq.spawn(2)
    rng = np.random.default_rng(data_seq)
    base, params = simulate_dataset(layout, ModelConfig.model_validate_json(generate_json), rng)
    sampler = SamplerConfig(**sampler_kwargs, seed=int(fit_seq.generate_state(1)[0]), cores=1)
    idata = fit(base, ModelConfig.model_validate_json(fit_json), sampler)
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


def run_on_dask(
    func: Callable,
    tasks: Sequence[tuple],
    *,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = False,
    label: str = "tasks",
) -> list:
    """Run ``func(*args)`` for every tuple of ``tasks`` through ``dask.distributed``.

    Parameters
    ----------
    func : callable
        A module-level function (workers import it by name).
    tasks : sequence of tuple
        Arguments of each call.
    workers : int
        Worker processes of the local cluster (one thread each), ignored with ``scheduler``;
        0 runs the tasks one after the other in this process (no cluster to start: quicker
        for a few cheap tasks, same results).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); its workers need cmoc.
    progress : bool
        A progress bar on stderr.
    label : str
        What the progress bar counts.

    Returns
    -------
    list
        The results in the order of ``tasks`` (never in order of completion), so they do not
        depend on the number of workers.
    """
    from dask.distributed import Client, LocalCluster, as_completed
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if scheduler is None and workers < 0:
        raise ValueError(f"workers must be at least 0 (got {workers})")
    if scheduler is None and workers == 0:
        return [func(*args) for args in tasks]
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as err:
            raise ValueError(f"cannot reach the Dask scheduler {scheduler!r}: {err}") from err
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    try:
        futures = [client.submit(func, *args, pure=False) for args in tasks]
        where = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(futures)
        with bar:
            job = bar.add_task(label, total=len(futures))
            for future in as_completed(futures):
                results[where[future.key]] = future.result()
                bar.advance(job)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _bins(n_datasets: int, n_ranks: int) -> int:
    """Most bins (at most 20, dividing the ``n_ranks`` values) with >= 5 ranks expected."""
    best = 1
    for b in range(2, 21):
        if n_ranks % b == 0 and n_datasets / b >= 5:
            best = b
    return best


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
        ``quantity, datasets, bins, chi2, p_value, threshold, uniform, mean_rank`` where
        ``mean_rank`` is the mean rank over ``n_draws`` (0.5 expected; above: the truth sits
        high in the posterior, the fit underestimates).
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
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` found.

    Attributes
    ----------
    ranks : pandas.DataFrame
        One row per dataset and quantity: ``dataset, quantity, truth, rank, n_draws,
        posterior_mean, divergences, codes``.
    tests : pandas.DataFrame
        :func:`rank_uniformity` of the ranks.
    alpha : float
        False-alarm rate of the whole table.
    settings : dict
        What was run: ``model_id`` and ``model_name`` of the fitted configuration,
        ``generate_id`` (the configuration the data were drawn from; the same id for a
        calibration of the model, another for a misspecification check), ``model_config``
        (JSON), ``datasets``, ``seed``, ``chains``, ``draws``, ``tune``, ``thin``, ``layout``,
        ``cmoc_version``.
    """

    ranks: pd.DataFrame
    tests: pd.DataFrame
    alpha: float
    settings: dict = field(default_factory=dict)

    def calibrates(self, model_id: str) -> bool:
        """Whether this is a calibration of the model configuration ``model_id``.

        The fitted configuration must be ``model_id`` and the data drawn from it (a
        misspecification check, with data drawn from other priors, is not a calibration).
        """
        s = self.settings
        return s.get("model_id") == model_id and s.get("generate_id") == model_id

    @property
    def calibrated(self) -> bool:
        """Whether no quantity's ranks were found non-uniform."""
        return bool(self.tests["uniform"].all())

    @property
    def text(self) -> str:
        """One sentence: the verdict."""
        bad = self.tests.loc[~self.tests["uniform"], "quantity"].tolist()
        n = int(self.ranks["dataset"].nunique())
        if not bad:
            return (
                f"ranks uniform for every quantity ({n} datasets; chi-square per quantity, "
                f"family-wise false-alarm rate {self.alpha:g})"
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
        The evidence layout (default: 2 mechanisms, 6 CMOCs, 30 sources, 2 kinds).
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
    thin = min(thin, chains * draws)
    children = np.random.SeedSequence(seed).spawn(datasets)
    sampler = {"chains": chains, "draws": draws, "tune": tune}
    tasks = [
        (
            i,
            children[i],
            layout,
            generate.model_dump_json(),
            config.model_dump_json(),
            sampler,
            thin,
        )
        for i in range(datasets)
    ]
    results = run_on_dask(
        _calibration_task,
        tasks,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        label="calibration fits",
    )
    ranks = pd.DataFrame([row for rows in results for row in rows])
    from importlib.metadata import version

    settings = {
        "model_id": config.id,
        "model_name": config.name,
        "generate_id": generate.id,
        "model_config": config.to_json(),
        "datasets": int(datasets),
        "seed": int(seed),
        "chains": int(chains),
        "draws": int(draws),
        "tune": int(tune),
        "thin": int(thin),
        "layout": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(layout).items()},
        "cmoc_version": version("cmoc"),
    }
    return CalibrationResult(ranks, rank_uniformity(ranks, alpha=alpha), alpha, settings)


_CALIBRATION_FORMAT = "cmoc calibration 1"


def default_calibration_path(evidence_dir: str | Path, model_id: str) -> Path:
    """Where the report looks first: ``DIR/.cmoc/calibration-<model id>.json``."""
    return Path(evidence_dir) / ".cmoc" / f"calibration-{model_id}.json"


def calibration_command(evidence_dir: str, model_id: str, custom_model: bool) -> str:
    """Return the command that calibrates a model configuration where the report looks."""
    model = " --model <the model file>" if custom_model else ""
    path = default_calibration_path(evidence_dir, model_id).as_posix()
    return f"cmoc calibrate --datasets 100{model} --out {path}"


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


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
    body = {
        "alpha": result.alpha,
        "calibrated": result.calibrated,
        "text": result.text,
        "settings": result.settings,
        "tests": _records(result.tests),
        "ranks": _records(result.ranks),
    }
    return write_json_result(path, _CALIBRATION_FORMAT, body)


def load_calibration(path: str | Path) -> CalibrationResult:
    """Read a calibration written by :func:`save_calibration` (``cmoc calibrate --out``).

    Raises
    ------
    ValueError
        When the file is not a saved calibration (the message says why).
    """
    path = Path(path)
    doc = read_json_result(
        path,
        _CALIBRATION_FORMAT,
        "calibration",
        "saved calibration (`cmoc calibrate --out FILE` writes one)",
    )
    try:
        ranks = pd.DataFrame(doc["ranks"])
        tests = pd.DataFrame(doc["tests"])
        result = CalibrationResult(ranks, tests, float(doc["alpha"]), dict(doc["settings"]))
        needed = {"dataset", "quantity", "rank", "n_draws"} <= set(ranks.columns)
        needed &= {"quantity", "p_value", "uniform", "mean_rank", "bins"} <= set(tests.columns)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: damaged calibration ({err})") from err
    if not needed or "model_id" not in result.settings:
        raise ValueError(f"{path}: damaged calibration (columns or settings missing)")
    return result


def find_calibration(evidence_dir: str | Path, model_id: str) -> CalibrationResult | None:
    """Return the newest calibration of ``model_id`` saved in ``DIR/.cmoc/calibration*.json``.

    Files that cannot be read, misspecification checks and calibrations of other model
    configurations are passed over. "Newest" is by modification time (then name).

    Returns
    -------
    CalibrationResult or None
    """
    folder = Path(evidence_dir) / ".cmoc"
    if not folder.is_dir():
        return None
    found = []
    for path in folder.glob("calibration*.json"):
        try:
            result = load_calibration(path)
        except ValueError:
            continue
        if result.calibrates(model_id):
            found.append((path.stat().st_mtime_ns, path.name, result))
    return max(found, key=lambda f: f[:2])[2] if found else None
