"""The per-fit memo: each quantity computed once per fit, never another fit's result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import check_convergence, pointwise_loglik, summarize
from cmoc.analyses.fitting.cache import cache_info, clear_cache, fit_fingerprint


def _changed(fit):
    other = fit.copy(deep=True)
    post = other["posterior"].to_dataset()
    post["support_mechanism"] = post["support_mechanism"] * 0.5
    other["posterior"] = post
    return other


def test_same_content_is_computed_once(small_base, small_fit):
    clear_cache()
    first = summarize(small_fit, small_base)
    again = summarize(small_fit.copy(deep=True), small_base, ci=0.9)  # equal content, defaults
    pd.testing.assert_frame_equal(first, again)
    info = cache_info()
    assert info["hits"] >= 1
    assert info["misses"] == 2  # the summary, and the convergence check inside it


def test_a_changed_fit_gets_its_own_results(small_base, small_fit):
    clear_cache()
    other = _changed(small_fit)
    assert fit_fingerprint(other) != fit_fingerprint(small_fit)
    a = summarize(small_fit, small_base)
    b = summarize(other, small_base)
    assert not np.allclose(a["support_mean"], b["support_mean"])
    assert cache_info()["hits"] == 0


@pytest.mark.usefixtures("fast_compile")
def test_results_are_copies(small_base, small_fit):
    clear_cache()
    check = check_convergence(small_fit)
    check.table.loc[:, "max_r_hat"] = 99.0
    assert (check_convergence(small_fit).table["max_r_hat"] < 99).all()
    ll = pointwise_loglik(small_fit, small_base)
    ll.values[:] = 0.0
    assert float(abs(pointwise_loglik(small_fit, small_base)).sum()) > 0
