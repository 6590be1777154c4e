"""Fitting: one place that validates the sampler and its settings, then samples."""

from __future__ import annotations

import importlib
import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Literal

import pymc as pm
import xarray as xr

from ...defaults import EXTEND, MAX_TARGET_ACCEPT, SEED, TUNE
from ...evidence import EvidenceBase
from ...evidence.recording import refutes_recording
from ...models import ModelConfig, build_measurement_model, build_model, config_for
from .callbacks import CALLBACK_PREFIX, cached_callbacks
from .convergence import check_convergence
from .provenance import stamp

__all__ = [
    "SAMPLERS",
    "SamplerConfig",
    "SamplerError",
    "fit",
    "model_family",
    "nutpie_adaptation",
    "raised_target_accept",
    "sample_model",
]

LOW_RANK_MAX_DIM = {"hierarchical": 100, "measurement": 300}
"""Per model, the largest number of parameters for which ``adaptation="auto"`` is low-rank.

Measured for model v2 with :data:`LOW_RANK_GAMMA` (docs/sampling.md, "Low-rank adaptation"): on
the IOC base (234 parameters) low-rank passed the gate at 14 of 14 seeds where diagonal failed
at 3 of 10 (R-hat 1.011-1.016 on ``activation_sd``), for 1-2 s more; on 1,000 x 100 (375)
diagonal sampled in 51 s with smallest bulk ESS 734-797, low-rank in 61-72 s with 502. Model v1
keeps 100 and nutpie's own regularisation: with gamma 0.1 two of its slow statistical tests
drew differently enough to fail (an ESS of 367 on ``support_sd_mechanism``; a sensitivity
diagnosis), and v1 is kept for comparison, not developed."""

LOW_RANK_GAMMA = {"hierarchical": None, "measurement": 0.1}
"""Per model, nutpie's ``mass_matrix_gamma`` (regularisation of the low-rank eigenvalues), or
``None`` for nutpie's default (1e-5). With 1e-5, model v2 took 104 s on the IOC base where 0.1
took 11 s at the same steps per draw and a larger smallest ESS."""


def nutpie_adaptation(adaptation: str, n_dim: int, model: str = "measurement") -> dict:
    """Return nutpie's mass-matrix keyword arguments.

    Parameters
    ----------
    adaptation : {"auto", "low_rank", "diag"}
        :attr:`SamplerConfig.adaptation`. ``auto`` is ``low_rank`` up to
        :data:`LOW_RANK_MAX_DIM` parameters of ``model`` and ``diag`` beyond.
    n_dim : int
        The number of unconstrained parameters.
    model : {"hierarchical", "measurement"}
        The model family (:attr:`cmoc.models.ModelConfig.model`); low-rank comes with its
        :data:`LOW_RANK_GAMMA`.

    Returns
    -------
    dict
        ``adaptation`` and, where set, ``mass_matrix_gamma``.
    """
    if adaptation == "auto":
        adaptation = "low_rank" if n_dim <= LOW_RANK_MAX_DIM[model] else "diag"
    gamma = LOW_RANK_GAMMA[model]
    if adaptation == "low_rank" and gamma is not None:
        return {"adaptation": "low_rank", "mass_matrix_gamma": gamma}
    return {"adaptation": adaptation}


def model_family(model: pm.Model) -> str:
    """Return the family of a built model: ``"measurement"`` or ``"hierarchical"``.

    A model v2 graph is known by its ``exact_codes`` potential.
    """
    return "measurement" if "exact_codes" in model.named_vars else "hierarchical"


SAMPLERS = ("nutpie", "pymc")
"""NUTS implementations cmoc can use: nutpie (compiled with numba, the default) or PyMC's own."""


class SamplerError(ValueError):
    """A sampler that is unknown, not installed, or given impossible settings."""


@dataclass(frozen=True)
class SamplerConfig:
    """How to sample: always explicit, so that a fit can be reproduced.

    Attributes
    ----------
    sampler : {"nutpie", "pymc"}
    seed : int
    chains, draws : int
    tune : int or None
        Tuning steps per chain; ``None`` (the default): the model's own default
        (:data:`cmoc.defaults.TUNE`: 1,000 for model v1, 500 for model v2), set by
        :meth:`for_model` when the model is known (:func:`fit`, :func:`fit_or_reuse` and the
        command line do it), so a saved fit always records the number used.
    cores : int or None
        Chains run in parallel on this many cores (default: all, at most ``chains``).
    target_accept : float
        Target acceptance rate of NUTS step-size adaptation (0.9: smaller steps than the usual
        0.8, fewer divergences in the weakly identified corners of hierarchical models).
    adaptation : {"auto", "low_rank", "diag"}
        nutpie's mass-matrix adaptation. ``low_rank`` learns the few strongly correlated
        directions of the posterior as well (the hierarchy's mean against its members), which
        can raise ESS per second on small models; its cost grows with the number of parameters
        (with nutpie's default regularisation: 6x the CPU of ``diag`` at 240 parameters, 4.5x
        at 1,100; with model v2's :data:`LOW_RANK_GAMMA`, about ``diag``'s at 234).
        ``auto`` takes ``low_rank`` up to :data:`LOW_RANK_MAX_DIM` parameters (per model),
        else ``diag`` (:func:`nutpie_adaptation`).
    extend : int
        Times :func:`fit` samples again when a run fails the convergence gate: with twice
        the draws and tuning steps after R-hat or ESS failures alone, with twice the tuning
        steps and a higher ``target_accept`` after divergences; 0: never
        (:data:`cmoc.defaults.EXTEND`).
    """

    sampler: Literal["nutpie", "pymc"] = "nutpie"
    seed: int = SEED
    chains: int = 4
    draws: int = 1000
    tune: int | None = None
    cores: int | None = None
    target_accept: float = 0.9
    adaptation: Literal["auto", "low_rank", "diag"] = "auto"
    extend: int = EXTEND

    def validated(self) -> SamplerConfig:
        """Check the settings and that the sampler's package is installed."""
        if self.sampler not in SAMPLERS:
            raise SamplerError(
                f"unknown sampler {self.sampler!r}: expected one of {', '.join(SAMPLERS)}"
            )
        for name in ("chains", "draws"):
            if getattr(self, name) < 1:
                raise SamplerError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.tune is not None and self.tune < 0:
            raise SamplerError(f"tune must be at least 0 (got {self.tune})")
        if self.extend < 0:
            raise SamplerError(f"extend must be at least 0 (got {self.extend})")
        if not 0 <= self.seed < 2**32:
            raise SamplerError(f"seed must be a whole number in [0, 2**32) (got {self.seed})")
        if self.sampler == "nutpie":
            try:
                importlib.import_module("nutpie")
            except ImportError as err:
                raise SamplerError(
                    "sampler 'nutpie' is not installed: pip install nutpie, or use --sampler pymc"
                ) from err
        return self

    def for_model(self, model: str) -> SamplerConfig:
        """Return these settings with ``tune`` set to ``model``'s default if not given.

        Parameters
        ----------
        model : {"hierarchical", "measurement"}
            :attr:`cmoc.models.ModelConfig.model`.

        Returns
        -------
        SamplerConfig
        """
        return self if self.tune is not None else replace(self, tune=TUNE[model])

    @property
    def n_cores(self) -> int:
        """Cores to use."""
        return max(1, min(self.cores or os.cpu_count() or 1, self.chains))


def _progress(total: int, enabled: bool):
    """Make a rich progress bar on stderr; return (nutpie callback, context manager)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("sampling"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} draws"),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    task = progress.add_task("sampling", total=total, note="")

    def callback(chains) -> None:
        done = sum(c.finished_draws for c in chains)
        div = sum(c.divergences for c in chains)
        tuning = any(c.tuning for c in chains)
        note = ("tuning" if tuning else "drawing") + (f", {div} divergent" if div else "")
        progress.update(task, completed=done, note=note)

    return callback, progress


_NUTPIE_CALLBACKS = ("_make_c_logp_func.", "_make_c_expand_func.", CALLBACK_PREFIX)
"""Name prefixes of the numba libraries of nutpie's C callbacks (nutpie.compile_pymc) and of
cmoc's cached replacements (:mod:`cmoc.analyses.fitting.callbacks`)."""


@contextmanager
def _callbacks_linked_as_optimised() -> Iterator[list[str]]:
    """Link nutpie's C callbacks without optimising the PyTensor functions a second time.

    nutpie wraps PyTensor's compiled log density and its deterministics in numba C callbacks.
    numba links each callee's whole LLVM module into the callback's and runs the full module
    optimisation over the result, although the callee's IR (from PyTensor's compile cache or
    just compiled) is already optimised: about 4.5 of the IOC base's 17 s compile, repeated in
    every process because callbacks cannot be cached. Inside this context the callbacks'
    modules are linked and turned into machine code as before, only without that second
    optimisation pass. Without fast math (``cmoc.models.numerics``) LLVM passes keep IEEE
    results, so draws are identical either way (``tests/test_sampling_compile.py``).

    Yields the names of the libraries whose pass was skipped. If numba's internals differ
    from the ones this relies on, nothing is changed.
    """
    skipped: list[str] = []
    try:
        from numba.core.codegen import CPUCodeLibrary

        original = CPUCodeLibrary._optimize_final_module
    except (ImportError, AttributeError):
        yield skipped
        return

    def optimise(library) -> None:
        if library.name.startswith(_NUTPIE_CALLBACKS):
            skipped.append(library.name)
            return
        original(library)

    CPUCodeLibrary._optimize_final_module = optimise
    try:
        yield skipped
    finally:
        CPUCodeLibrary._optimize_final_module = original


_COMPILED: OrderedDict[tuple[str, ...], object] = OrderedDict()
"""nutpie's compiled models of this process by key (evidence hash, model id), newest last."""

_COMPILED_MAX = 4
"""How many compiled models a process keeps by key: a second fit of the same evidence and model
(a reproducibility check, another seed) reuses the compilation instead of repeating it."""


@dataclass(frozen=True)
class _Graph:
    """A model's graph as compared for reuse: names, coordinates, outputs and their inputs."""

    names: tuple
    outputs: list
    inputs: list

    @classmethod
    def of(cls, m: pm.Model) -> _Graph:
        names = (
            tuple(v.name for v in m.value_vars),
            tuple(v.name for v in m.data_vars),
            tuple(v.name for v in m.deterministics),
            tuple((k, tuple(v)) for k, v in sorted(m.coords.items())),
        )
        outputs = [m.logp(), *m.replace_rvs_by_values(m.deterministics)]
        # dimension lengths are symbolic too; equal coordinates make them equal
        inputs = [*m.value_vars, *m.data_vars, *(m.dim_lengths[k] for k in sorted(m.dim_lengths))]
        return cls(names, outputs, inputs)

    def same_as(self, other: _Graph) -> bool:
        from pytensor.graph.basic import equal_computations

        return self.names == other.names and equal_computations(
            self.outputs, other.outputs, in_xs=self.inputs, in_ys=other.inputs
        )


_STRUCTURES: list[tuple[_Graph, object]] = []
"""Compiled models of this process with the graph they were compiled from, newest last."""

_STRUCTURES_MAX = 16
"""How many graph structures a process keeps: a calibration, a plan or the leave-one-out refits
fit many bases whose models differ only in their data (``pm.Data``), and the number of
distinct structures among them is small (33 in 100 calibration datasets)."""


def _same_structure(a: pm.Model, b: pm.Model) -> bool:
    """Whether two models compute the same graph up to the values of their data (``pm.Data``).

    Checked by PyTensor's :func:`~pytensor.graph.basic.equal_computations` on the joint
    log-density and the deterministics, with value, data and dimension-length variables matched
    by name; the coordinates must be equal too (they label the draws).
    """
    return _Graph.of(a).same_as(_Graph.of(b))


def _with_data_of(compiled, model: pm.Model):
    """Return ``compiled`` with the data values of ``model`` swapped in, and its initial point.

    nutpie's ``with_data`` swaps the data of the log density and the deterministics, but the
    chains' initial point function stays the compiled model's: where a starting value depends
    on the data (the support point of a value centred on its data,
    :func:`cmoc.models.reparametrise.data_centred_zero_sum`), a reused compilation started
    elsewhere than a fresh one, and gave other draws. It is rebuilt from ``model`` (the
    compilation of a small function, as nutpie does), so both give the same draws.
    """
    used = {var.name for var in compiled.shared_var_keys}
    values = {v.name: v.get_value() for v in model.data_vars if v.name in used}
    if not values:
        return compiled
    return replace(
        compiled.with_data(**values), initial_point_func=_initial_point_func(model, compiled)
    )


def _initial_point_func(model: pm.Model, compiled):
    """Return the chains' initial point function of ``model``, built as nutpie builds it."""
    from nutpie.compile_pymc import _rv_dict_to_flat_array_wrapper, _wrap_with_lock
    from pymc.initial_point import make_initial_point_fn

    names = [model.rvs_to_values[var].name for var in model.free_RVs]
    fn = make_initial_point_fn(
        model=model,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    shapes = [tuple(compiled.shapes[name]) for name in names]
    return _wrap_with_lock(_rv_dict_to_flat_array_wrapper(fn, names=names, shapes=shapes))


def _compile_nutpie(model: pm.Model, key: tuple[str, ...] | None):
    """Return nutpie's compiled model: by key, by structure (data swapped in), or anew."""
    import nutpie

    if key is not None and key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key]
    graph = _Graph.of(model)
    for i in reversed(range(len(_STRUCTURES))):  # newest first: a run of one structure
        template, done = _STRUCTURES[i]
        if template.same_as(graph):
            _STRUCTURES.append(_STRUCTURES.pop(i))
            compiled = _with_data_of(done, model)
            break
    else:
        with _callbacks_linked_as_optimised():
            try:
                with cached_callbacks() as cache:
                    compiled = nutpie.compile_pymc_model(model, backend="numba", **cache)
            except Exception:
                if not cache:
                    raise
                compiled = nutpie.compile_pymc_model(model, backend="numba")
        _STRUCTURES.append((graph, compiled))
        del _STRUCTURES[:-_STRUCTURES_MAX]
    if key is not None:
        _COMPILED[key] = compiled
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    return compiled


def sample_model(
    model: pm.Model,
    sampler: SamplerConfig,
    *,
    progress: bool = False,
    key: tuple[str, ...] | None = None,
) -> xr.DataTree:
    """Sample a PyMC model with the given, explicit sampler settings.

    Parameters
    ----------
    model : pymc.Model
    sampler : SamplerConfig
        With ``tune`` given (:meth:`SamplerConfig.for_model` sets a model's default).
    progress : bool
        Show a progress bar on stderr.
    key : tuple of str, optional
        Identifies the model's graph (:func:`fit` gives the evidence hash and model id): nutpie
        compiles a graph once per process and samples the compiled model again for the same key.

    Returns
    -------
    xarray.DataTree
        ``posterior`` and ``sample_stats`` groups.
    """
    s = sampler.validated()
    if s.tune is None:
        raise SamplerError(
            "tune is not set: SamplerConfig.for_model(model) gives a model's default"
        )
    if s.sampler == "nutpie":
        import nutpie

        compiled = _compile_nutpie(model, key)
        callback, bar = _progress(s.chains * (s.draws + s.tune), progress)
        with bar:
            idata = nutpie.sample(
                compiled,
                draws=s.draws,
                tune=s.tune,
                chains=s.chains,
                cores=s.n_cores,
                seed=s.seed,
                target_accept=s.target_accept,
                **nutpie_adaptation(s.adaptation, compiled.n_dim, model_family(model)),
                save_warmup=False,
                progress_bar=False,
                progress_callback=callback,
                progress_rate=250,
            )
        keep = {k: idata[k] for k in ("posterior", "sample_stats") if k in idata.children}
        idata = xr.DataTree.from_dict({k: v.to_dataset() for k, v in keep.items()})
    else:
        idata = pm.sample(
            model=model,
            draws=s.draws,
            tune=s.tune,
            chains=s.chains,
            cores=s.n_cores,
            random_seed=s.seed,
            nuts_sampler="pymc",
            target_accept=s.target_accept,
            progressbar=progress,
            compute_convergence_checks=False,
        )
        keep = {k: idata[k].to_dataset() for k in ("posterior", "sample_stats")}
        idata = xr.DataTree.from_dict(keep)
    for name in ("posterior", "sample_stats"):
        ds = idata[name].to_dataset()
        ds.attrs = {}
        idata[name] = xr.DataTree(ds)
    return idata


def fit(
    evidence: EvidenceBase,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    progress: bool = False,
) -> xr.DataTree:
    """Fit the hierarchical model to an evidence base.

    Parameters
    ----------
    evidence : EvidenceBase
    config : ModelConfig, optional
        Model configuration (default :data:`cmoc.models.DEFAULT_CONFIG`).
    sampler : SamplerConfig, optional
        Sampler, seed, chains, draws, tune (default ``SamplerConfig()``).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    xarray.DataTree
        Posterior and sample stats, with provenance (cmoc version, evidence hash, model name,
        config and id, sampler settings, package versions) in the attrs of the tree and of every
        group. Explore it with ArviZ (``az.summary(idata, var_names=["support_cmoc"])``) or
        summarise it with :func:`cmoc.analyses.summarize`.
    """
    cfg = config_for(evidence, config)
    s = (sampler or SamplerConfig()).for_model(cfg.model).validated()
    if cfg.model == "measurement":
        recording = {k: r.refutes for k, r in refutes_recording(evidence).items()}
        model = build_measurement_model(
            evidence, recording, pooling=cfg.support_pooling, context=cfg.context
        )
    else:
        model = build_model(evidence, cfg)
    key = (evidence.evidence_hash, cfg.id)
    idata, extended, last = _sample_extending(model, s, progress=progress, key=key)
    idata = stamp(idata, evidence, cfg, asdict(s))
    if extended:
        idata.attrs["extended"] = json.dumps(extended, sort_keys=True)
        idata.attrs["last_run"] = json.dumps(
            {k: getattr(last, k) for k in ("draws", "tune", "target_accept")}, sort_keys=True
        )
    return idata


def _sample_extending(
    model: pm.Model, sampler: SamplerConfig, *, progress: bool, key: tuple[str, ...]
) -> tuple[xr.DataTree, list[dict], SamplerConfig]:
    """Sample; while a run fails the gate, sample again as the gate's advice says.

    Each extension is a new run (the same seed), at most ``sampler.extend`` times. After R-hat
    or ESS failures alone it has twice the draws and tuning steps of the last: a longer warm-up
    adapts the step size and mass matrix better, and a posterior estimated from more draws
    settles an R-hat or ESS that sat at the gate's limit. After divergent transitions it has
    twice the tuning steps and a higher ``target_accept`` (:func:`raised_target_accept`): more
    draws do not repair a step size too long for the posterior's curvature, smaller steps do.
    Draws of runs with different warm-ups are never pooled. A run of one chain, or with
    divergences at ``target_accept`` :data:`MAX_TARGET_ACCEPT` already, is returned as it is:
    the gate reports it, with its advice.

    Returns
    -------
    (xarray.DataTree, list of dict, SamplerConfig)
        The last run; one record per run that was extended (its ``draws``, ``tune``,
        ``target_accept`` and the gate's ``failures``), oldest first, for the fit's
        ``extended`` attribute; and the last run's settings (its ``last_run`` attribute).
    """
    s = sampler
    extended: list[dict] = []
    while True:
        idata = sample_model(model, s, progress=progress, key=key)
        if len(extended) >= s.extend:
            return idata, extended, s
        check = check_convergence(idata)
        if check.passed or s.chains < 2:  # one chain: no R-hat to settle
            return idata, extended, s
        if check.divergences and s.target_accept >= MAX_TARGET_ACCEPT:
            return idata, extended, s
        extended.append(
            {
                "draws": s.draws,
                "tune": s.tune,
                "target_accept": s.target_accept,
                "failures": check.failures,
            }
        )
        if check.divergences:
            s = replace(
                s, tune=max(2 * s.tune, 1), target_accept=raised_target_accept(s.target_accept)
            )
        else:
            s = replace(s, draws=2 * s.draws, tune=max(2 * s.tune, 1))


def raised_target_accept(target_accept: float) -> float:
    """Return the ``target_accept`` of a run extended after divergences.

    Half the way to 1 (0.9 to 0.95 to 0.975), at most :data:`MAX_TARGET_ACCEPT`.
    """
    return round(min(MAX_TARGET_ACCEPT, 1.0 - (1.0 - target_accept) / 2.0), 6)
