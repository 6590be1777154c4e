"""The benchmark's cell-by-cell model v2 (benchmarks/baseline_v2.py) is cmoc's model v2.

``bench_v2.py`` compares cmoc's ESS per second with this baseline's: the ratio means something
only if both have the same log density. Checked at random points of bases drawn from the v2
generator, with refutes recorded, partly recorded and not recorded, several waves' worth of
exposures and weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from cmoc.analyses.planning.calibration import simulate_dataset
from cmoc.models import ModelConfig, build_measurement_model, measurement_data
from cmoc.models.generate import CalibrationLayout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from baseline_v2 import build_baseline_v2, dense_cells


def _logp(model):
    """The model's log density (Jacobians included) as a function of a point.

    Its terms are compiled without C code (``FAST_COMPILE``: a log density, not speed, is under
    test) and summed in numpy: PyTensor's Python implementation of their sum takes at most 32
    operands.
    """
    f = model.compile_fn(model.logp(sum=False), mode="FAST_COMPILE")
    return lambda point: sum(float(np.sum(x)) for x in f(point))


LAYOUTS = {
    "recorded+partial": CalibrationLayout(mechanisms=3, cmocs=7, sources=24),
    "recorded+not recorded": CalibrationLayout(
        mechanisms=2, cmocs=5, sources=20, recording=("recorded", "not recorded")
    ),
    "weights and exposures": CalibrationLayout(
        mechanisms=2, cmocs=6, sources=18, exposures=(1.0, 2.5, 0.4), copies=(1, 2)
    ),
}


def _base(layout: CalibrationLayout, seed: int):
    base, _ = simulate_dataset(
        layout, ModelConfig(model="measurement"), np.random.default_rng(seed)
    )
    return base


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_baseline_log_density_equals_cmocs(name):
    layout = LAYOUTS[name]
    recording = dict(zip(layout.kinds, layout.recording, strict=True))
    for seed in (1, 2):
        md = measurement_data(_base(layout, seed), recording)
        assert md.cell_n.size > 0 and not md.block_label
        cmoc_model = build_measurement_model(md)
        baseline = build_baseline_v2(md)
        names = [v.name for v in cmoc_model.value_vars]
        assert [v.name for v in baseline.value_vars] == names
        f_cmoc, f_base = _logp(cmoc_model), _logp(baseline)
        rng = np.random.default_rng(seed)
        ip = cmoc_model.initial_point()
        for _ in range(4):
            point = {k: ip[k] + rng.normal(0.0, 0.8, size=np.shape(v)) for k, v in ip.items()}
            a, b = float(f_cmoc(point)), float(f_base(point))
            assert np.isfinite(a)
            assert b == pytest.approx(a, rel=1e-10, abs=1e-8)


def test_dense_cells_hold_every_code_and_the_zeros():
    layout = LAYOUTS["recorded+partial"]
    md = measurement_data(_base(layout, 3), dict(zip(layout.kinds, layout.recording, strict=True)))
    cells = dense_cells(md)
    assert cells.n_cells == int(md.theory[md.data.src_wave].sum())
    assert cells.codes.sum() == md.cell_n.sum() and cells.supports.sum() == md.cell_s.sum()
    assert (cells.codes > 0).sum() == md.cell_n.size
