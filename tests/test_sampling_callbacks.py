"""cmoc's cached nutpie callbacks: the values and draws of nutpie's own, loaded from disk again."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from cmoc.analyses.fitting.callbacks import CALLBACK_PREFIX, cached_callbacks
from cmoc.analyses.fitting.sampling import _callbacks_linked_as_optimised
from cmoc.models import build_model


@pytest.fixture(scope="module")
def tiny_model(tiny_base):
    return build_model(tiny_base)


def _compile(model, cached: bool):
    import nutpie

    with _callbacks_linked_as_optimised():
        if not cached:
            return nutpie.compile_pymc_model(model, backend="numba")
        with cached_callbacks() as kwargs:
            assert kwargs == {"cache": True}
            return nutpie.compile_pymc_model(model, backend="numba", **kwargs)


def _logp_and_grad(compiled, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    n = compiled.n_dim
    x = np.ascontiguousarray(x, dtype=float)
    grad, logp = np.zeros(n), np.zeros(())

    def ptr(a):
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))

    rc = compiled.compiled_logp_func.ctypes(
        n, ptr(x), ptr(grad), ptr(logp), ctypes.c_void_p(compiled.user_data.ctypes.data)
    )
    return rc, float(logp), grad


def _draws(compiled) -> np.ndarray:
    import nutpie

    trace = nutpie.sample(
        compiled, draws=30, tune=30, chains=1, cores=1, seed=5, progress_bar=False
    )
    return trace.posterior["support_cmoc"].to_numpy()


@pytest.mark.slow  # nutpie's callbacks compiled once (not cached): 10-40 s
def test_cached_callbacks_give_nutpies_values_and_draws(tiny_model):
    plain = _compile(tiny_model, cached=False)
    cached = _compile(tiny_model, cached=True)
    assert cached.compiled_logp_func._pyfunc.__name__.startswith(CALLBACK_PREFIX)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.normal(0.0, 0.5, plain.n_dim)
        rc_p, lp_p, g_p = _logp_and_grad(plain, x)
        rc_c, lp_c, g_c = _logp_and_grad(cached, x)
        assert rc_p == rc_c == 0
        assert lp_p == lp_c
        np.testing.assert_array_equal(g_p, g_c)
    np.testing.assert_array_equal(_draws(plain), _draws(cached))


def test_a_second_compile_loads_the_callbacks_from_the_cache(tiny_model):
    first = _compile(tiny_model, cached=True)
    second = _compile(tiny_model, cached=True)  # new PyTensor functions, same graph
    for name in ("compiled_logp_func", "compiled_expand_func"):
        assert getattr(second, name).cache_hits == 1, name
    x = np.linspace(-1.0, 1.0, first.n_dim)
    assert _logp_and_grad(first, x)[1] == _logp_and_grad(second, x)[1]
    np.testing.assert_array_equal(_draws(first), _draws(second))


def test_nutpie_is_restored_after_the_context():
    import nutpie.compile_pymc as ncp

    before = ncp._make_c_logp_func, ncp._make_c_expand_func
    with pytest.raises(RuntimeError), cached_callbacks():
        assert ncp._make_c_logp_func is not before[0]
        raise RuntimeError
    assert (ncp._make_c_logp_func, ncp._make_c_expand_func) == before
