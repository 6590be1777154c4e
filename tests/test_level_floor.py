"""Levels the data do not bound from above: the band's floor is the data's, the rest the model's.

Where every row of a source kind, or of a mechanism, is an open lower bound (``>= 1``), the
likelihood only grows with that kind's rates or that mechanism's activation, and the codes above
the floors are the priors' or the pooling's. The IOC review is such a kind (every row ">= 1", no
target silent): its review-only fit put every review target at "significant" with P 0.945 to
0.959. cmoc shows such a level as "at least limited (model: ...)".
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cmoc.analyses.inference.levels import open_blocks, predictive_levels
from cmoc.evidence import load_evidence
from cmoc.evidence.recording import refutes_recording
from cmoc.models import measurement_data
from cmoc.reports.tables import level_text
from evidence_fixtures import write_two_mechanisms

SOURCES = "source_id,kind,wave\nR1,review,w1\nR2,review,w1\n" + "".join(
    f"I{j},interview,w2\n" for j in range(1, 5)
)
HEAD = "source_id,target_id,stance,count,count_min,count_max\n"
TARGETS = ("C1", "C2", "C3", "M1", "M2")
# every target of the theory has a ">= 1" row over the reviews and over the interviews
REVIEW = "".join(f"w1,{t},supports,,1,\n" for t in TARGETS)
OPEN = "".join(f"w2,{t},supports,,1,\n" for t in TARGETS)


def _base(root, codings: str):
    write_two_mechanisms(root, toml_tail="", sources=SOURCES, codings=HEAD + codings)
    return load_evidence(root)


def _md(base):
    return measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})


def _open(md) -> set[tuple[str, str]]:
    """The open blocks as (kind, mechanism)."""
    return {
        (md.data.kinds[int(md.block_kind[b])], md.data.mechanisms[int(md.block_mech[b])])
        for b in np.flatnonzero(open_blocks(md))
    }


REV, INT = "review", "interview"


@pytest.mark.parametrize(
    ("codings", "open_"),
    [
        (REVIEW + OPEN, {(REV, "M1"), (REV, "M2"), (INT, "M1"), (INT, "M2")}),
        # a cap bounds the interviews and M1: the reviews and M2 stay open
        (
            REVIEW + OPEN.replace("w2,M1,supports,,1,", "w2,M1,supports,,1,4"),
            {(REV, "M1"), (REV, "M2"), (INT, "M2")},
        ),
        # a target its block leaves silent is an exact zero
        (
            REVIEW + OPEN.replace("w2,C2,supports,,1,\n", ""),
            {(REV, "M1"), (REV, "M2"), (INT, "M2")},
        ),
        (
            REVIEW.replace("w1,C2,supports,,1,\n", "") + OPEN,
            {(REV, "M2"), (INT, "M1"), (INT, "M2")},
        ),
        (
            REVIEW + OPEN.replace("w2,C3,supports,,1,", "w2,C3,supports,3,,"),  # an exact total
            {(REV, "M1"), (REV, "M2"), (INT, "M1")},
        ),
        # reviews coded one by one bound their kind and, through their zeros, both mechanisms
        ("R1,C1,supports,2,,\nR2,C3,supports,1,,\n" + OPEN, {(INT, "M1"), (INT, "M2")}),
    ],
    ids=["all-open", "upper-bound", "silent-target", "silent-in-w1", "exact-total", "cells"],
)
def test_a_block_is_open_where_nothing_bounds_its_kind_or_its_mechanism(tmp_path, codings, open_):
    md = _md(_base(tmp_path / "b", codings))
    assert _open(md) == open_


def _idata(md, n_draws: int = 50) -> xr.DataTree:
    """A posterior of ``n_draws`` draws in the fit's names (values spread around a fit's)."""
    rng = np.random.default_rng(3)
    n_t, n_k, n_m = len(md.data.targets), len(md.data.kinds), len(md.data.mechanisms)

    def var(loc, *shape_dims):
        dims = [d for d, _ in shape_dims]
        shape = [n for _, n in shape_dims]
        x = loc + 0.3 * rng.standard_normal((1, n_draws, *shape))
        return (("chain", "draw", *dims), x)

    post = xr.Dataset(
        {
            "breadth": var(0.3, ("target", n_t)),  # marks a model v2 fit; not read here
            "activation_mechanism": var(0.5, ("mechanism", n_m)),
            "activation_kind": var(0.0, ("kind", n_k)),
            "evidencing_logit": var(0.0, ("target", n_t)),
            "kind_rate": var(0.0, ("kind", n_k)),
            "depth_target": var(0.2, ("target", n_t)),
            "dispersion": var(2.0),
            "concentration": var(6.0),
        }
    )
    return xr.DataTree.from_dict({"posterior": post})


def test_levels_of_an_open_block_carry_their_floor(tmp_path):
    base = _base(tmp_path / "open", REVIEW + OPEN)
    out = predictive_levels(_idata(_md(base)), base, "w2", seed=1)
    for t in TARGETS:
        assert out.at[t, "evidence_level_floor"] == "limited"
        assert out.at[t, "evidence_level"] in ("limited", "moderate", "significant")
    capped = _base(
        tmp_path / "capped", REVIEW + OPEN.replace("M1,supports,,1,", "M1,supports,,1,4")
    )
    out = predictive_levels(_idata(_md(capped)), capped, "w2", seed=1)
    assert (out.loc[["C1", "C2", "M1"], "evidence_level_floor"] == "").all()  # M1 capped
    assert (out.loc[["C3", "M2"], "evidence_level_floor"] == "limited").all()  # M2 still open
    review = predictive_levels(_idata(_md(capped)), capped, "w1", seed=1)
    assert (review["evidence_level_floor"] == "limited").all()  # no review row is bounded
    # a band that fixes the level by itself gets no floor, open mechanism or not
    fixed = _base(tmp_path / "fixed", REVIEW + OPEN.replace("C1,supports,,1,", "C1,supports,,5,"))
    out = predictive_levels(_idata(_md(fixed)), fixed, "w2", seed=1)
    assert out.at["C1", "evidence_level"] == "significant"
    assert out.at["C1", "evidence_level_floor"] == ""
    assert out.at["C2", "evidence_level_floor"] == "limited"


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("significant", 0.95, "limited"), "at least limited (model: significant, P = 0.95)"),
        (("moderate", 1.0, "limited"), "at least limited (model: moderate)"),
        (("moderate", 0.5, "none"), "any number of codes (model: moderate, P = 0.50)"),
        (("significant", 0.44, ""), "significant (P = 0.44)"),
        (("significant", 0.44, float("nan")), "significant (P = 0.44)"),
        (("limited", 1.0, None), "limited"),
        ((None, None, "limited"), ""),
    ],
)
def test_a_floor_shows_what_the_data_say_and_the_model_beside_it(args, text):
    assert level_text(*args) == text
