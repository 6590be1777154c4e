"""nutpie's callbacks linked without a second optimisation pass: same draws, less compiling."""

from __future__ import annotations

import numpy as np
import pytest

from cmoc.analyses.fitting.sampling import _callbacks_linked_as_optimised
from cmoc.models import build_model


@pytest.fixture(scope="module")
def tiny_model(tiny_base):
    return build_model(tiny_base)


def _draws(compiled) -> np.ndarray:
    import nutpie

    trace = nutpie.sample(
        compiled, draws=30, tune=30, chains=1, cores=1, seed=5, progress_bar=False
    )
    return trace.posterior["support_cmoc"].to_numpy()


@pytest.mark.slow  # two compilations of one model, neither shared: 40 s from a cold cache
def test_callbacks_skip_only_the_second_pass_and_draw_the_same(tiny_model):
    import nutpie

    plain = nutpie.compile_pymc_model(tiny_model, backend="numba")
    with _callbacks_linked_as_optimised() as skipped:
        light = nutpie.compile_pymc_model(tiny_model, backend="numba")
    # both of nutpie's callbacks (log density, deterministics) and nothing else
    assert len(skipped) == 2, skipped
    assert any("logp" in n for n in skipped) and any("expand" in n for n in skipped)
    np.testing.assert_array_equal(_draws(plain), _draws(light))


def test_numba_is_restored_after_the_context():
    from numba.core.codegen import CPUCodeLibrary

    before = CPUCodeLibrary._optimize_final_module
    with pytest.raises(RuntimeError), _callbacks_linked_as_optimised():
        assert CPUCodeLibrary._optimize_final_module is not before
        raise RuntimeError
    assert CPUCodeLibrary._optimize_final_module is before


def _calibration_bases(n: int):
    from cmoc.analyses.planning.calibration import CalibrationLayout, layout_base, simulate_dataset
    from cmoc.models import V1_CONFIG

    layout = CalibrationLayout(cmocs=4, sources=20)
    template = layout_base(layout)
    return [
        simulate_dataset(layout, V1_CONFIG, np.random.default_rng(i), template)[0] for i in range(n)
    ]


@pytest.fixture(scope="module")
def bases_by_hint():
    from cmoc.models import structure_hint

    groups: dict[str, list] = {}
    for base in _calibration_bases(12):
        groups.setdefault(structure_hint(base), []).append(base)
    return sorted(groups.values(), key=len, reverse=True)


def test_structure_is_matched_on_the_graph_not_the_data(bases_by_hint):
    from cmoc.analyses.fitting.sampling import _same_structure

    same = bases_by_hint[0]
    assert len(same) >= 2 and len(bases_by_hint) >= 2  # the seeds give both cases
    a, b = build_model(same[0]), build_model(same[1])
    assert any(
        not np.array_equal(x.get_value(), y.get_value())
        for x, y in zip(a.data_vars, b.data_vars, strict=True)
    )  # different data ...
    assert _same_structure(a, b)  # ... one graph
    other = build_model(bases_by_hint[1][0])  # another parametrisation
    assert not _same_structure(a, other)
    assert not _same_structure(a, build_model(same[0], pointwise=True))


@pytest.mark.slow  # two compilations (one reused base, one fresh): 40 s from a cold cache
def test_a_second_base_of_one_structure_is_not_compiled_again_and_draws_the_same(
    bases_by_hint, monkeypatch
):
    """Swapping the data into a compiled model gives the draws of compiling it afresh."""
    import nutpie

    from cmoc.analyses.fitting import sampling

    first, second = bases_by_hint[0][:2]
    s = sampling.SamplerConfig(chains=1, draws=30, tune=30, seed=5, cores=1)
    monkeypatch.setattr(sampling, "_STRUCTURES", [])
    monkeypatch.setattr(sampling, "_COMPILED", sampling.OrderedDict())
    compiles = []
    real = nutpie.compile_pymc_model

    def counted(*args, **kwargs):
        compiles.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(nutpie, "compile_pymc_model", counted)
    sampling.sample_model(build_model(first), s)
    reused = sampling.sample_model(build_model(second), s)
    assert len(compiles) == 1
    sampling._STRUCTURES.clear()
    fresh = sampling.sample_model(build_model(second), s)
    assert len(compiles) == 2
    for name in ("support_cmoc", "eta", "mu"):
        np.testing.assert_array_equal(
            reused["posterior"][name].to_numpy(), fresh["posterior"][name].to_numpy()
        )
