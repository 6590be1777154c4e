"""nutpie's callbacks linked without a second optimisation pass: same draws, less compiling."""

from __future__ import annotations

import numpy as np
import pytest

from cmoc.analyses import SimulationSpec, simulate
from cmoc.analyses.fitting.sampling import _callbacks_linked_as_optimised
from cmoc.models import build_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "b"
    spec = SimulationSpec(mechanisms=2, cmocs=4, sources=20, waves=1, banded_fraction=0.2)
    return build_model(simulate(out, spec, seed=8))


def _draws(compiled) -> np.ndarray:
    import nutpie

    trace = nutpie.sample(
        compiled, draws=30, tune=30, chains=1, cores=1, seed=5, progress_bar=False
    )
    return trace.posterior["support_cmoc"].to_numpy()


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
