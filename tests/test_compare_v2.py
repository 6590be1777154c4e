"""Model v2's comparison of its pooling variants (``cmoc check --model v2.toml --compare``).

- the variants: their own model ids, the same likelihood with another target level, the
  default model's log density unchanged (against the builder before the variants existed);
- wiring on prior draws (``mocked``): files, reuse of the saved comparison, the command's exit
  codes;
- slow: real fits of bases drawn by model v2's numpy generator (not the fitting code), with
  targets that truly share their mechanism's values and with targets that truly vary.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import SamplerConfig, compare_models, fit, fit_id, load_fit
from cmoc.analyses.checks.measurement_pointwise import measurement_unit_table, v2_data
from cmoc.analyses.fitting.attrs import Provenance
from cmoc.cli import main
from cmoc.defaults import SMALL_ELPD_DIFF
from cmoc.evidence import load_evidence
from cmoc.models import V1_CONFIG, ModelConfig, build_measurement_model
from cmoc.models.measurement import POOLINGS
from conftest import IOC, ROOT, mocked, tiny_sampler
from test_measurement_pointwise import CMOCS, MECHANISMS, TOML  # the same two-mechanism base

V2 = ModelConfig(model="measurement")
VARIANT = {p: V2.merged({"support_pooling": p}) for p in POOLINGS}
NAMES = {"partial": "hierarchical", "none": "no pooling", "complete": "complete pooling"}

REFERENCE = "401e502"
"""A commit whose model v2 builder predates the pooling variants: the default model's log
density must be the same, bit for bit."""

# reviews with exact cells (units: sources); interviews in w2 with a band total (a block)
SOURCES = (
    "source_id,kind,wave\n"
    "R1,review,w1\nR2,review,w1\nR3,review,w1\nR4,review,w1\nR5,review,w1\n"
    "I1,interview,w2\nI2,interview,w2\nI3,interview,w2\n"
)
CODINGS = (
    "source_id,target_id,stance,count,count_min,count_max\n"
    "R1,C1,supports,2,,\nR1,C1,refutes,1,,\nR2,C1,supports,1,,\nR2,C2,refutes,2,,\n"
    "R3,C3,supports,3,,\nR3,M1,supports,1,,\nR4,C4,refutes,1,,\nR5,C2,supports,1,,\n"
    "w2,C2,supports,,2,4\n"
)


def _write(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name, text in (
        ("evidence.toml", TOML),
        ("mechanisms.csv", MECHANISMS),
        ("cmocs.csv", CMOCS),
        ("sources.csv", SOURCES),
        ("codings.csv", CODINGS),
    ):
        (directory / name).write_text(text)
    return directory


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("compare-v2") / "base")


@pytest.fixture(scope="module")
def compared(base):
    """The comparison of ``base``'s variants on prior draws, and what it said."""
    messages = []
    with mocked():
        result = compare_models(base, load_evidence(base), V2, tiny_sampler(), say=messages.append)
    return result, messages


# --- the variants -------------------------------------------------------------------------


def test_variants_have_their_own_ids():
    ids = {p: c.id for p, c in VARIANT.items()}
    assert len(set(ids.values())) == 3
    assert ids["partial"] == V2.id  # the default model keeps its id (saved fits reused)
    v1 = {V1_CONFIG.merged({"support_pooling": p}).id for p in POOLINGS}
    assert not v1 & set(ids.values())
    said = dict(VARIANT["none"].describe_priors())
    assert said["target pooling (evidencing, depth, direction)"] == "none"
    assert V2.describe_priors() == VARIANT["partial"].describe_priors()
    assert "target pooling (evidencing, depth, direction)" not in dict(V2.describe_priors())


def _point(model, rng) -> dict[str, np.ndarray]:
    """A random point of ``model``'s value variables (transformed space)."""
    return {
        k: np.asarray(v + rng.normal(0.0, 0.7, np.shape(v)))
        for k, v in model.initial_point(random_seed=0).items()
    }


def _eval(model, names, values: dict[str, np.ndarray]) -> list[np.ndarray]:
    """``names`` of ``model`` at the free variables' ``values`` (constrained, by name)."""
    fn = model.compile_fn(
        [model[n] for n in names],
        inputs=list(model.free_RVs),
        on_unused_input="ignore",
        point_fn=False,
    )
    return [np.asarray(v) for v in fn(*[values[rv.name] for rv in model.free_RVs])]


def _potentials(model, values) -> float:
    names = [p.name for p in model.potentials]
    return float(sum(np.sum(v) for v in _eval(model, names, values)))


def test_variants_share_the_likelihood(base, fast_compile):
    """Each variant is the model with another target level: same likelihood, same arguments."""
    import pymc as pm

    md = v2_data(load_evidence(base))
    partial = build_measurement_model(md)
    none = build_measurement_model(md, pooling="none")
    complete = build_measurement_model(md, pooling="complete")
    free = {name: {rv.name for rv in m.free_RVs} for name, m in (("n", none), ("c", complete))}
    assert {"evidencing_own", "depth_own", "support_own"} <= free["n"]
    assert not {"evidencing_sd", "depth_sd_target", "support_sd_target"} & free["c"]
    names = [rv.name for rv in partial.free_RVs]
    assert "support_centred" not in names  # no target has the codes to be centred here
    rng = np.random.default_rng(1)
    for _ in range(3):
        values = dict(zip(names, pm.draw(partial.free_RVs, random_seed=rng), strict=True))
        logit_b, lam, eta = _eval(partial, ["evidencing_logit", "depth_target", "eta"], values)
        # no pooling: each target's own values are the partial model's at this point
        own = {**values, "evidencing_own": logit_b, "depth_own": lam, "support_own": eta}
        assert _potentials(none, own) == pytest.approx(_potentials(partial, values), rel=1e-12)
        # complete pooling: the partial model with every target's deviation at zero
        flat = dict(values)
        for name in ("z_evidencing", "z_depth", "z_support"):
            flat[name] = np.zeros_like(flat[name])
        assert _potentials(complete, flat) == pytest.approx(_potentials(partial, flat), rel=1e-12)
        b, lam_c, eta_c, th, mu_c = _eval(
            complete, ["evidencing_logit", "depth_target", "eta", "depth_mechanism", "mu"], flat
        )
        assert np.all(b == b[0])
        tm = md.data.target_mech
        np.testing.assert_array_equal(lam_c, th[tm])
        np.testing.assert_array_equal(eta_c, mu_c[tm])


def _reference_builder():
    """Model v2's builder as of :data:`REFERENCE` (skip where git or the commit is missing)."""
    try:
        text = subprocess.run(
            ["git", "show", f"{REFERENCE}:src/cmoc/models/measurement.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"no git checkout with commit {REFERENCE}")
    name = "cmoc.models._measurement_reference"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    module.__package__ = "cmoc.models"
    sys.modules[name] = module
    try:
        exec(compile(text, f"{REFERENCE}:measurement.py", "exec"), module.__dict__)
    except ImportError as err:  # its helpers have moved on since: nothing to compare
        pytest.skip(f"the builder of {REFERENCE} no longer imports ({err})")
    finally:
        sys.modules.pop(name, None)
    return module.build_measurement_model


def test_default_log_density_is_unchanged():
    old_build = _reference_builder()
    md = v2_data(load_evidence(IOC))
    old, new = old_build(md), build_measurement_model(md)
    assert [rv.name for rv in old.free_RVs] == [rv.name for rv in new.free_RVs]
    old_logp, new_logp = old.compile_logp(), new.compile_logp()
    rng = np.random.default_rng(2)
    for _ in range(4):
        point = _point(new, rng)
        assert new_logp(point) == old_logp(point)  # bit for bit


# --- wiring (prior draws) -------------------------------------------------------------------


def test_comparison_of_v2_variants(base, compared):
    result, messages = compared
    evidence = load_evidence(base)
    units = measurement_unit_table(evidence)
    assert set(result.table["model"]) == set(NAMES.values())
    assert result.settings.model == "measurement"
    assert result.settings.units == len(units)
    kinds = units["unit_type"].value_counts()
    assert kinds["source"] >= 5 and kinds["block"] == 1  # the reviews, the interviews' band
    for name in ("pareto_k", "elpd_i"):
        frame = result.tables[name]
        assert list(frame.index) == list(units.index)
        assert set(frame.columns) == set(NAMES.values())
    assert set(result.values["max_k"]) == set(NAMES.values())
    said = f"{len(units)} units of evidence ({kinds['source']} sources, 1 block of totals)"
    assert said in result.text
    # the elpds are sums of the pointwise ones
    elpd = result.table.set_index("model")["elpd"]
    for model in NAMES.values():
        assert elpd[model] == pytest.approx(result.tables["elpd_i"][model].sum())
    # each variant's own fit, of its own id, beside the model's; none of model v1's files
    folder = base / ".cmoc"
    paths = {
        "partial": folder / "fit.nc",
        "none": folder / "fit-model-measurement-none.nc",
        "complete": folder / "fit-model-measurement-complete.nc",
    }
    for pooling, path in paths.items():
        assert Provenance.of(load_fit(path)).model_id == VARIANT[pooling].id
    assert not (folder / "fit-model-none.nc").exists()
    assert not (folder / "comparison.json").exists()
    assert (folder / "comparison-measurement.json").is_file()
    assert result.settings.fit_ids == tuple(fit_id(load_fit(paths[p])) for p in POOLINGS)
    post = load_fit(paths["complete"])["posterior"]
    logit_b = post["evidencing_logit"]
    assert float((logit_b.max("target") - logit_b.min("target")).max()) == 0.0
    assert "evidencing_own" in load_fit(paths["none"])["posterior"]
    assert any("no pooling: fitted" in m for m in messages), messages


def test_saved_v2_comparison_is_reused_only_for_the_same_fits(base, compared):
    first, _ = compared
    evidence = load_evidence(base)
    messages = []
    with mocked():
        again = compare_models(base, evidence, V2, tiny_sampler(), say=messages.append)
    assert any("comparison: reused" in m for m in messages), messages
    assert sum("reused the saved fit" in m for m in messages) == 3, messages
    pd.testing.assert_frame_equal(again.table, first.table)
    pd.testing.assert_frame_equal(again.tables["pareto_k"], first.tables["pareto_k"])
    assert again.text == first.text and again.passed == first.passed
    saved = base / ".cmoc" / "comparison-measurement.json"
    saved.write_text(saved.read_text().replace(first.settings.fit_ids[1], "0" * 64))
    messages.clear()
    with mocked():
        third = compare_models(base, evidence, V2, tiny_sampler(), say=messages.append)
    assert not any("comparison: reused" in m for m in messages), messages
    assert third.settings.fit_ids == first.settings.fit_ids


def test_variants_record_the_models_default_tune(base, tmp_path):
    """Without ``tune``, every variant is fitted (and reused) with model v2's own default."""
    from cmoc.defaults import TUNE

    work = tmp_path / "b"
    shutil.copytree(base, work, ignore=shutil.ignore_patterns(".cmoc"))
    sampler = SamplerConfig(seed=7, chains=2, draws=60, extend=0)  # tune: the model's default
    messages = []
    with mocked():
        compare_models(work, load_evidence(work), V2, sampler)
        compare_models(work, load_evidence(work), V2, sampler, say=messages.append)
    assert sum("reused the saved fit" in m for m in messages) == 3, messages
    for name in ("fit.nc", "fit-model-measurement-none.nc", "fit-model-measurement-complete.nc"):
        assert Provenance.of(load_fit(work / ".cmoc" / name)).sampler["tune"] == TUNE["measurement"]


def test_fit_builds_the_variant_the_config_names(base):
    """``fit`` builds model v2's pooling variant of the configuration, labelled as such."""
    with mocked():
        idata = fit(load_evidence(base), VARIANT["none"], tiny_sampler())
    assert "evidencing_own" in idata["posterior"]  # the variant's own variables
    assert "evidencing_mean" not in idata["posterior"]


def test_check_compare_of_model_v2(base, tmp_path, capsys):
    work = tmp_path / "b"
    shutil.copytree(base, work, ignore=shutil.ignore_patterns(".cmoc"))
    toml = tmp_path / "v2.toml"
    toml.write_text('model = "measurement"\n')
    args = ["--model", str(toml), "--seed", "7", "--chains", "2", "--draws", "60", "--tune", "60"]
    with mocked():
        code = main(["check", str(work), "--compare", "--format", "csv", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    assert set(table["model"]) == set(NAMES.values())
    assert "evidencing, depth and direction" in err
    assert (work / ".cmoc" / "fit-model-measurement-complete.nc").is_file()
    # a variant's own setting is refused, before anything is fitted
    variant = tmp_path / "none.toml"
    variant.write_text('model = "measurement"\nsupport_pooling = "none"\n')
    assert main(["check", str(work), "--model", str(variant), "--compare"]) == 2
    assert "comparison variant" in capsys.readouterr().err
    assert main(["check", str(work), "--compare", "--ppc", "--format", "csv", *args]) == 2
    assert "one table" in capsys.readouterr().err


# --- real draws (slow) ----------------------------------------------------------------------


def _simulated_base(directory: Path, vary: bool, seed: int) -> Path:
    """A base drawn by model v2's numpy generator, targets varying within mechanism or not."""
    from cmoc.analyses.planning.calibration import _layout_files
    from cmoc.evidence.writing import write_directory
    from cmoc.models import MeasurementPriors
    from cmoc.models.generate import CalibrationLayout
    from cmoc.models.generate_measurement import (
        draw_measurement_cells,
        draw_measurement_parameters,
        measurement_codings,
    )

    layout = CalibrationLayout(mechanisms=2, cmocs=8, sources=60)
    rng = np.random.default_rng(seed)
    p = draw_measurement_parameters(MeasurementPriors(), layout, rng)
    tm = np.concatenate([layout.cmoc_mechanism, np.arange(layout.mechanisms)])
    n_t = tm.size
    p["activation_mechanism"] = np.array([1.5, 1.0])  # most sources engage both mechanisms
    p["activation_kind"] = np.zeros(2)
    p["kind_rate"] = np.array([0.3, 0.3])
    p["depth_mechanism"] = np.array([0.3, -0.3])
    p["dispersion"] = 5.0
    p["mu"] = np.array([1.0, -1.0])
    p["kind_lean"] = np.zeros(2)
    p["concentration"] = 50.0
    if vary:  # targets far apart within their mechanism
        p["evidencing_logit"] = rng.permutation(np.linspace(-2.5, 2.5, n_t))
        p["depth_target"] = p["depth_mechanism"][tm] + rng.normal(0.0, 0.8, n_t)
        p["eta"] = p["mu"][tm] + rng.permutation(np.linspace(-3.0, 3.0, n_t))
    else:  # every target its mechanism's value
        p["evidencing_logit"] = np.zeros(n_t)
        p["depth_target"] = p["depth_mechanism"][tm]
        p["eta"] = p["mu"][tm]
    supports, refutes = draw_measurement_cells(p, layout, rng)
    rows = measurement_codings(supports, refutes, layout)
    return write_directory(directory, _layout_files(layout, rows))


def _pair(result, a: str, b: str) -> tuple[float, float]:
    """ELPD of ``a`` minus ``b`` and its standard error, from the pointwise ELPDs."""
    d = result.tables["elpd_i"][a] - result.tables["elpd_i"][b]
    return float(d.sum()), float(np.sqrt(len(d)) * d.std(ddof=1))


@pytest.mark.slow
def test_the_comparison_finds_the_pooling_of_the_truth(tmp_path):
    sampler = SamplerConfig(seed=3, chains=2, draws=500, tune=500)
    results = {}
    for vary in (False, True):
        directory = _simulated_base(tmp_path / f"vary-{vary}", vary, seed=11)
        evidence = load_evidence(directory)
        results[vary] = compare_models(directory, evidence, V2, sampler)
    # shared by a mechanism's targets: complete pooling does not lose to no pooling
    diff, se = _pair(results[False], "complete pooling", "no pooling")
    assert diff > -max(SMALL_ELPD_DIFF, 2 * se), (diff, se, results[False].text)
    # far apart: complete pooling predicts worst, clearly
    table = results[True].table.set_index("model")
    assert table["rank"].idxmax() == "complete pooling", results[True].text
    for other in ("hierarchical", "no pooling"):
        diff, se = _pair(results[True], "complete pooling", other)
        assert diff < -max(SMALL_ELPD_DIFF, 2 * se), (other, diff, se, results[True].text)
