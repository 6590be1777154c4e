"""Model v2's predictive levels: a block's targets given everything the block's rows say.

The analytic predictive (:func:`_v2_block_predictive`) is checked against rejection sampling
of the generative story with the same parameters: draw how many members are active, which
targets each evidences and how many codes it gives, and keep the draws that reproduce every
row of the block, the silent targets' zeros included.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cmoc.analyses.inference.levels import _v2_block_predictive
from cmoc.evidence import load_evidence
from cmoc.evidence.recording import refutes_recording
from cmoc.models import measurement_data
from evidence_fixtures import write_two_mechanisms

SOURCES = "source_id,kind,wave\nR1,review,w1\nR2,review,w1\n" + "".join(
    f"I{j},interview,w2\n" for j in range(1, 7)
)
# over the six interviews: C1 at least one code, M1 (the mechanism's own code) 2 to 4, C2
# silent (an exact zero), C3 of another mechanism
CODINGS = (
    "source_id,target_id,stance,count,count_min,count_max\n"
    "R1,C1,supports,1,,\nR2,C3,supports,2,,\n"
    "w2,C1,supports,,1,\nw2,M1,supports,,2,4\nw2,C3,supports,,1,\n"
)


def _base(root, recording: str, codings: str = CODINGS):
    write_two_mechanisms(root, toml_tail=recording, sources=SOURCES, codings=codings)
    base = load_evidence(root)
    rec = {k: r.refutes for k, r in refutes_recording(base).items()}
    return measurement_data(base, rec)


def _m1_block(md) -> int:
    """The block of M1's rows over the interviews."""
    return next(i for i, m in enumerate(md.block_mech) if md.data.mechanisms[m] == "M1")


PARAMS = {  # per target: logit of evidencing given activation, log depth
    "logit_b": {"C1": 0.4, "C2": -0.3, "C3": 0.0, "M1": 0.8},
    "lam": {"C1": 0.3, "C2": -0.2, "C3": 0.1, "M1": 0.5},
}


def _post(md, logit_a=0.2, kappa=0.3, rho=-0.4, phi=1.7, direction=0.8, c=6.0):
    """One posterior draw with the parameters above, in the fit's names and shapes."""
    targets, kinds = md.data.targets, md.data.kinds
    n_t, n_k = len(targets), len(kinds)
    logit_b = np.array([PARAMS["logit_b"].get(t, 0.0) for t in targets])
    lam = np.array([PARAMS["lam"].get(t, 0.0) for t in targets])
    kind_eff = np.array([kappa if k == "interview" else -kappa for k in kinds])

    def one(x, *dims):
        return (("chain", "draw", *dims), np.asarray(x, dtype=float)[None, None])

    return xr.Dataset(
        {
            "activation_mechanism": one(np.full(len(md.data.mechanisms), logit_a), "mechanism"),
            "activation_kind": one(kind_eff, "kind"),
            "evidencing_logit": one(logit_b, "target"),
            "kind_rate": one(np.full(n_k, rho), "kind"),
            "depth_target": one(lam, "target"),
            "dispersion": one(phi),
            "direction_kind": one(np.full((n_t, n_k), direction), "target", "kind"),
            "concentration": one(c),
        }
    )


def _simulate(md, post, b: int, n: int, seed: int, split: bool):
    """Rejection sampling of block ``b``: the number active and the codes of each row's target."""
    rng = np.random.default_rng(seed)
    p = {k: post[k].values[0, 0] for k in post}
    k, m = int(md.block_kind[b]), int(md.block_mech[b])
    a = 1 / (1 + np.exp(-(p["activation_mechanism"][m] + p["activation_kind"][k])))
    j_f, n_f = int(md.block_free[b]), int(md.block_forced[b])
    active = n_f + rng.binomial(j_f, a, size=n)
    rows = np.flatnonzero(md.bt_block == b)
    keep = np.ones(n, bool)
    for t in np.flatnonzero(md.block_zero[b]):  # silent: no active free member evidences it
        bt = 1 / (1 + np.exp(-p["evidencing_logit"][t]))
        keep &= rng.binomial(active - n_f, bt) == 0
    codes = {}
    for i in rows:
        t = int(md.bt_tgt[i])
        bt = 1 / (1 + np.exp(-p["evidencing_logit"][t]))
        mu = np.exp(p["kind_rate"][k] + p["depth_target"][t] + md.block_log_exposure[b])
        phi = p["dispersion"]
        e = rng.binomial(active, bt)
        # e evidencing members give e + NB(e mu, e phi) codes (a sum of e draws of 1 + NB)
        extra = np.where(
            e > 0,
            rng.negative_binomial(np.maximum(e, 1) * phi, phi / (phi + mu)),
            0,
        )
        total = e + extra
        lo, hi = int(md.bt_lo[i]), int(md.bt_hi[i])
        keep &= (total >= lo) & ((hi < 0) | (total <= hi))
        if split:  # the split of the total: all of it supports (refutes row: an exact zero)
            q, c = p["direction_kind"][t, k], p["concentration"]
            s = rng.binomial(total, rng.beta(c * q, c * (1 - q), size=n))
            keep &= s == total
        codes[int(i)] = total
    return (active - n_f)[keep], {i: x[keep] for i, x in codes.items()}, keep.mean()


@pytest.mark.parametrize("recorded", [False, True], ids=["no split", "split weighed"])
def test_the_block_conditional_is_the_generative_story_given_the_rows(tmp_path, recorded):
    recording = (
        '\n[recording]\nrefutes = { review = "recorded", interview = "recorded" }\n'
        if recorded
        else '\n[recording]\nrefutes = { review = "not recorded", interview = "not recorded" }\n'
    )
    codings = CODINGS + ("w2,C1,refutes,0,,\nw2,M1,refutes,0,,\nw2,C3,refutes,0,,\n" * recorded)
    md = _base(tmp_path / "b", recording, codings)
    post = _post(md, direction=0.95, c=30.0)  # a split with every code supporting: not rare
    b = _m1_block(md)
    assert md.block_free[b] == 6 and md.block_zero[b, md.data.targets.index("C2")] == 1
    top = 12
    w, rows = _v2_block_predictive(post, md, b, top)
    k_kept, sims, accepted = _simulate(md, post, b, 2_000_000, seed=5, split=recorded)
    assert accepted > 0.01  # enough accepted draws for the comparison below
    # the number of active members given the rows
    freq_k = np.bincount(k_kept, minlength=w.shape[1]) / k_kept.size
    np.testing.assert_allclose(w[0], freq_k, atol=4e-3)
    assert len(rows) == 2  # C1 and M1
    for i, row in rows.items():
        x = sims[i]
        pmf, mean = row["pmf"][0], row["mean"]
        freq = np.bincount(np.minimum(x, top), minlength=top + 1) / x.size
        assert pmf.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(pmf, freq, atol=4e-3)
        assert float(mean[0]) == pytest.approx(x.mean(), rel=0.02)


def test_silent_siblings_pull_the_active_count_down(tmp_path):
    # the same block with C2 silent or with C2 at least one: fewer members active in the first,
    # so C1's predictive codes are fewer (what conditioning on the zeros means)
    recording = '\n[recording]\nrefutes = { review = "not recorded", interview = "not recorded" }\n'
    md0 = _base(tmp_path / "a", recording)
    md1 = _base(tmp_path / "b", recording, CODINGS + "w2,C2,supports,,1,\n")
    means = []
    for md in (md0, md1):
        b = _m1_block(md)
        w, rows = _v2_block_predictive(_post(md), md, b, 12)
        i = next(i for i in rows if md.data.targets[md.bt_tgt[i]] == "C1")
        means.append((float((w[0] * np.arange(w.shape[1])).sum()), float(rows[i]["mean"][0])))
    assert means[0][0] < means[1][0] and means[0][1] < means[1][1]


def test_block_draws_follow_the_conditional_and_repeat_by_seed(tmp_path):
    recording = '\n[recording]\nrefutes = { review = "not recorded", interview = "not recorded" }\n'
    md = _base(tmp_path / "b", recording)
    one = _post(md)
    post = xr.concat([one] * 20_000, dim="draw")
    b = _m1_block(md)
    _, rows = _v2_block_predictive(one, md, b, 8)
    a = _v2_block_predictive(post, md, b, 8, np.random.default_rng(1))[1]
    again = _v2_block_predictive(post, md, b, 8, np.random.default_rng(1))[1]
    for i, row in rows.items():
        freq = np.bincount(a[i]["draws"], minlength=9) / a[i]["draws"].size
        np.testing.assert_allclose(freq, row["pmf"][0], atol=0.012)
        np.testing.assert_array_equal(a[i]["draws"], again[i]["draws"])


def test_a_member_with_a_cell_of_its_own_is_active_for_sure(tmp_path):
    # I1 has an exact cell of M1 (C2): it is a forced member of the interviews' block, always
    # active, and C2's silence binds only the five free members
    recording = '\n[recording]\nrefutes = { review = "not recorded", interview = "not recorded" }\n'
    md = _base(tmp_path / "b", recording, CODINGS + "I1,C2,supports,2,,\n")
    post = _post(md)
    b = _m1_block(md)
    assert md.block_forced[b] == 1 and md.block_free[b] == 5
    w, rows = _v2_block_predictive(post, md, b, 12)
    k_kept, sims, _ = _simulate(md, post, b, 2_000_000, seed=11, split=False)
    np.testing.assert_allclose(w[0], np.bincount(k_kept, minlength=6) / k_kept.size, atol=4e-3)
    for i, row in rows.items():
        x = sims[i]
        freq = np.bincount(np.minimum(x, 12), minlength=13) / x.size
        np.testing.assert_allclose(row["pmf"][0], freq, atol=4e-3)
        assert float(row["mean"][0]) == pytest.approx(x.mean(), rel=0.02)
