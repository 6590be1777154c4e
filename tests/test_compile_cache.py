"""Same seed, same numbers: whatever the state of the compile cache and ``PYTHONHASHSEED``.

With numba's fast-math flags a graph compiled for the first time and the same graph loaded from
PyTensor's compile cache rounded one gradient component differently, and NUTS drew another chain
(see docs/sampling.md, "Same numbers whatever the compile cache"). ``cmoc.models`` turns the
flags off.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

FIT = "import sys; from cmoc.cli import main; sys.exit(main(sys.argv[1:]))"


def _start_fit(base, out, cache, hashseed):
    """``cmoc fit`` in a fresh interpreter with its own compile cache and hash seed."""
    env = dict(os.environ)
    flags = env.get("PYTENSOR_FLAGS", "")
    env["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"base_compiledir={cache}") if f)
    env["NUMBA_CACHE_DIR"] = str(cache / "numba-own")
    env["PYTHONHASHSEED"] = str(hashseed)
    args = ["fit", str(base), "--out", str(out), "--seed", "1"]
    args += ["--draws", "100", "--tune", "100", "--chains", "2"]
    return subprocess.Popen(
        [sys.executable, "-c", FIT, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc):
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err


def _posterior(path):
    with xr.open_datatree(path) as tree:
        return tree["posterior"].to_dataset().load()


@pytest.mark.slow  # two cold compiles (about a minute each on one core) and a warm one
def test_fit_identical_with_cold_and_warm_cache_and_any_hash_seed(tmp_path):
    from cmoc.analyses import SimulationSpec, simulate

    base = tmp_path / "base"
    simulate(base, SimulationSpec(mechanisms=2, cmocs=6, sources=30, waves=1), seed=3)
    cache_a, cache_b = tmp_path / "cache-a", tmp_path / "cache-b"
    # two cold caches, two hash seeds, at the same time
    cold = [
        _start_fit(base, tmp_path / "cold-a.nc", cache_a, 1),
        _start_fit(base, tmp_path / "cold-b.nc", cache_b, 2),
    ]
    for proc in cold:
        _finish(proc)
    assert any(cache_a.rglob("*.nbc")), "the first fit should have filled its compile cache"
    # the same graph loaded from the cache, under a third hash seed
    _finish(_start_fit(base, tmp_path / "warm-a.nc", cache_a, 3))

    reference = _posterior(tmp_path / "cold-a.nc")
    assert reference["breadth"].std() > 0  # model v2, the default
    for name in ("cold-b.nc", "warm-a.nc"):
        other = _posterior(tmp_path / name)
        assert list(other.data_vars) == list(reference.data_vars)
        for var in reference.data_vars:
            np.testing.assert_array_equal(other[var].values, reference[var].values, err_msg=var)
