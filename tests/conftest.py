"""Shared fixtures: simulated bases and fits, made once per session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IOC = ROOT / "evidence" / "ioc"


def write_base(
    directory: Path,
    sources: str,
    codings: str,
    cmocs: str = "C1,M1,c,o,+,prior\n",
    waves: str = '"w1"',
) -> Path:
    """Write a one-mechanism evidence base; ``sources``/``codings`` are full CSV texts."""
    directory.mkdir(parents=True)
    (directory / "evidence.toml").write_text(
        f'name = "t"\ntitle = "test base"\ncitation = "test"\nformat = 1\nwaves = [{waves}]\n'
    )
    (directory / "mechanisms.csv").write_text("mechanism_id,name,definition\nM1,m,d\n")
    (directory / "cmocs.csv").write_text(
        "cmoc_id,mechanism_id,context,outcome,sign,origin\n" + cmocs
    )
    (directory / "sources.csv").write_text(sources)
    (directory / "codings.csv").write_text(codings)
    return directory


def fake_sample_model(model, sampler, *, progress=False, key=None):
    """Draws from the prior in place of NUTS (``pymc.testing.mock_sample``): wiring tests only.

    No log-density is compiled, so a test that only needs *a* fit of the right shape (the
    command line, the files, the report's wiring) costs no sampler compilation, cold or warm;
    the forward sampler is built in PyTensor's ``FAST_COMPILE`` mode (no C compilation: 1.7 s
    in place of 21 s for ``small_base`` from a cold cache, the same draws).
    """
    import warnings

    import numpy as np
    import pytensor
    import xarray as xr
    from pymc.testing import mock_sample

    s = sampler.validated()
    with warnings.catch_warnings(), pytensor.config.change_flags(mode="FAST_COMPILE"):
        warnings.simplefilter("ignore", UserWarning)  # "the effect of Potentials is ignored"
        idata = mock_sample(
            model=model,
            draws=s.draws,
            chains=s.chains,
            random_seed=s.seed,
            var_names=[v.name for v in model.free_RVs + model.deterministics],
            sample_stats={"diverging": lambda size: np.zeros(size, dtype=bool)},
        )
    return xr.DataTree.from_dict({k: idata[k].to_dataset() for k in ("posterior", "sample_stats")})


@contextmanager
def mocked() -> Iterator[None]:
    """Within the block, fits draw from the prior (:func:`fake_sample_model`).

    PyTensor functions compiled in the block (prior draws, pointwise log-likelihoods, predictive
    checks of the report) skip C compilation (``FAST_COMPILE``): wiring, not speed or numerics
    of the compiled code, is under test there.
    """
    import pytensor

    with pytest.MonkeyPatch.context() as mp, pytensor.config.change_flags(mode="FAST_COMPILE"):
        mp.setattr("cmoc.analyses.fitting.sampling.sample_model", fake_sample_model)
        yield


@pytest.fixture
def fast_compile():
    """PyTensor functions of the test built without C compilation (``FAST_COMPILE``).

    For tests of what a graph computes (a likelihood against a hand formula), where the C code
    PyTensor would generate, and the minutes of compiling it from a cold cache, are not under test.
    """
    import pytensor

    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        yield


@pytest.fixture(scope="module")
def mocked_sampling():
    """Replace sampling by prior draws for the whole module (wiring tests).

    A wiring module says so with ``pytestmark = pytest.mark.usefixtures("mocked_sampling")``;
    a test in it that needs real draws (a reproducibility or sampler test) does not belong there.
    """
    with mocked():
        yield


def mocked_report(base_dir, out, *extra: str) -> None:
    """Build a report of ``base_dir`` into ``out`` from mocked draws (wiring, not statistics)."""
    from cmoc.cli import main

    args = ["report", str(base_dir), "--out", str(out), "--no-plan", "--no-compare", *extra]
    args += ["--seed", "3", "--draws", "40", "--tune", "0", "--chains", "2", "--extend", "0"]
    with mocked():
        assert main(args) == 0


def tiny_sampler():
    """Tiny draws, never extended: for wiring tests, where sampling quality is not under test."""
    from cmoc.analyses import SamplerConfig

    return SamplerConfig(seed=7, chains=2, draws=60, tune=60, extend=0)


@pytest.fixture(scope="session")
def small_base(tmp_path_factory):
    """A small simulated base (60 sources, 12 CMOCs, 2 waves) with banded totals."""
    from cmoc.analyses import SimulationSpec, simulate

    out = tmp_path_factory.mktemp("sim") / "small"
    spec = SimulationSpec(mechanisms=3, cmocs=12, sources=60, waves=2, banded_fraction=0.5)
    return simulate(out, spec, seed=3)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A tiny simulated base (20 sources, 4 CMOCs, 1 wave): the one structure that wiring tests
    with real draws fit, so that the session compiles it once (``sampling._STRUCTURES``)."""
    from cmoc.analyses import SimulationSpec, simulate

    out = tmp_path_factory.mktemp("tiny") / "b"
    spec = SimulationSpec(mechanisms=2, cmocs=4, sources=20, waves=1, banded_fraction=0.2)
    return simulate(out, spec, seed=8)


@pytest.fixture(scope="session")
def small_fit(small_base):
    """A tiny fit of ``small_base`` drawn from the prior (wiring only: shapes, files, tables)."""
    from cmoc.analyses import fit

    with mocked():
        return fit(small_base, sampler=tiny_sampler())


@pytest.fixture(scope="session")
def small_report_content(small_base, small_fit):
    """Report content of ``small_base`` (tiny fits of both waves; wiring only)."""
    from cmoc.analyses import fit
    from cmoc.models import config_for
    from cmoc.reports import report_content

    first, last = small_base.waves[0], small_base.waves[-1]
    early = small_base.up_to(first)
    config = config_for(small_base)  # every wave's fit of the model of the whole base
    with mocked():
        fits = {first: (early, fit(early, config, tiny_sampler())), last: (small_base, small_fit)}
    return report_content(small_base, fits)
