"""Defaults and vocabulary shared by every layer, in one place.

The lowest module of cmoc (it imports nothing of cmoc and no third-party package), so that
:mod:`cmoc.evidence` (the classification and evidence-level thresholds of ``evidence.toml``),
:mod:`cmoc.analyses` (the Pareto-k limit, the convergence gate), :mod:`cmoc.reports` and
:mod:`cmoc.cli` (the seed, the credible interval) read the same numbers. A value given by the
user (an option, a keyword argument, ``evidence.toml``) always wins over these.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AFFIRM",
    "BREADTH_MIN",
    "CI",
    "CONTEXT_MARGIN_BREADTH",
    "CONTEXT_MARGIN_DIRECTION",
    "CONTEXT_ODDS_RATIO",
    "DIRECTION_MARGIN",
    "EXTEND",
    "KHAT_MAX",
    "LEVEL_THRESHOLDS",
    "MAX_DIVERGENCES",
    "MAX_REFITS",
    "MAX_REFITS_V2",
    "MAX_RHAT",
    "MAX_TARGET_ACCEPT",
    "MIN_ESS_PER_CHAIN",
    "MIN_SOURCES",
    "NOT_RECORDED",
    "PARTIAL",
    "RECORDED",
    "RECORDING",
    "REFUTE",
    "REFUTES_DEFAULT",
    "REFUTES_INFERRED",
    "SEED",
    "SMALL_ELPD_DIFF",
    "STATUSES",
    "SURPRISE_P",
    "TUNE",
    "Status",
]

SEED = 20211
"""The seed of every command, report and function that draws random numbers, unless given."""

CI = 0.9
"""Probability of the equal-tailed credible (and predictive) interval: ``support_lo/hi``."""

KHAT_MAX = 0.7
"""Pareto ``k`` above which a PSIS estimate is not trusted (Vehtari et al. 2024): a unit's
leave-one-out estimate is flagged, a comparison is unreliable, a plan's update is refitted."""

AFFIRM = 0.9
"""``P(support > 1/2)`` at or above which a CMOC is affirmed (or novel): ``[classification]``."""

REFUTE = 0.1
"""``P(support > 1/2)`` at or below which a CMOC is refuted: ``[classification]``."""

DIRECTION_MARGIN = 0.15
"""Model v2: a direction is clear when it lies beyond ``1/2 +- DIRECTION_MARGIN`` (at least 65%
of a target's codes support it, or at least 65% refute it) with probability ``AFFIRM`` (for
support) or ``1 - REFUTE`` (for refutation): ``[classification] direction_margin``. A share
near one half, however precisely known, is contested, not refuted."""

BREADTH_MIN = 0.05
"""Model v2: the share of the sources coded against a target that must evidence it, with
probability ``AFFIRM``, before it can be affirmed (``[classification] breadth_min``): one
source in twenty; a target that rests on one source among many is not affirmed."""

CONTEXT_MARGIN_BREADTH = 0.1
"""Model v2 with context effects: a target's breadth *depends on context* when, with
probability ``AFFIRM``, the breadths of two source kinds differ by more than this
(``[classification] context_breadth_margin``): one source in ten."""

CONTEXT_MARGIN_DIRECTION = 0.2
"""Model v2 with context effects: a target's direction *depends on context* when, with
probability ``AFFIRM``, the directions of two source kinds (that record refutes) differ by more
than this (``[classification] context_direction_margin``): say 80% of the codes supporting in
one kind against 60% in the other."""

CONTEXT_ODDS_RATIO = 2.0
"""Model v2 with context effects: a target depends on context *beyond the kinds' overall
difference* when, with probability ``AFFIRM``, its own deviations make the odds of being
evidenced (or of a code supporting it) in one kind differ from another's by more than this
factor, over and above every target's common difference between the kinds
(``[classification] context_odds_ratio``)."""

MIN_SOURCES = 2
"""Model v2: the number of distinct sources that, by a target's own rows, surely evidence it
before it can be affirmed or novel (``[classification] min_sources``). A band of codes over many
sources (">= 5 codes in the interviews") may all come from one of them: the rows show one source
for sure. Two is corroboration: a review paper and an interview, or two papers."""

TUNE = {"hierarchical": 1000, "measurement": 500}
"""Tuning steps per chain of a fit, by model, when none are given (``--tune``).

Model v2 (``measurement``) passes the convergence gate with 500 on the IOC base at seeds
20211, 1, 2 and 3 (R-hat <= 1.007, smallest bulk ESS >= 501, no divergences) and failed it at
300 (R-hat 1.014): benchmarks/README.md, "the IOC fit phase by phase". Half the warm-up is a
quarter of the fit's leapfrog steps. Model v1 keeps 1,000.
"""

EXTEND = 1
"""Times a fit that fails the convergence gate is sampled again (``--extend``), as the gate's
advice says: with twice the draws and tuning steps after R-hat or ESS failures alone; with twice
the tuning steps and a higher ``target_accept`` (half the way to 1, at most
:data:`MAX_TARGET_ACCEPT`) after divergent transitions.

R-hat and ESS are estimated from the draws: near the gate's limits they pass or fail by chance,
and more draws settle it. Measured on model v2 at 1,000 sources x 100 CMOCs with true spreads of
0.05 (docs/sampling.md, "Extension"): the default run failed at 3 of 24 seeds on R-hat
1.011-1.033 (``evidencing_sd``) and with draws and tuning doubled passed at all three. More
draws do not repair a step size too long for the posterior's curvature: on a small theory (the
four-mechanism planted web base of ``tests/test_links_planted.py``, seeds 1-8) the default run
diverged at 4 of 8 seeds (seed 2: 92 divergent transitions); extended after divergences, 4 of 8
passed at ``EXTEND = 1`` (3 before) and 5 of 8 at 2; with the mechanisms' directions centred
where they visibly differ, 7 of 8 at ``EXTEND = 1`` (docs/sampling.md, "Extension").
"""

MAX_TARGET_ACCEPT = 0.99
"""The highest ``target_accept`` an extension after divergences goes to; a run with divergences
at it is not extended (the posterior has a region NUTS cannot follow: docs/sampling.md)."""

MAX_REFITS = 10
"""Default cap on a plan's exact refits (``cmoc plan --max-refits``).

With the targeted update (``cmoc plan --update targeted``) an update needs a refit only when
even the CMOC's own new codes move its support too far for reweighting (none in 36,000 updates
of a 40-source base with ``max_new = 20``); a refit costs seconds (one compilation per worker,
25-35 s, then the fit's chains and draws). Updates beyond the cap keep their PSIS estimate and
are counted in ``unreliable`` (``cmoc plan`` says how many on stderr).
"""

MAX_REFITS_V2 = 0
"""Default cap on the exact refits of a model v2 plan (``cmoc plan`` of a v2 fit).

Measured on the 40-source base of ``benchmarks/bench_plan.py`` (``--max-new 20``, 2 workers):
1,414 of the plan's updates keep a Pareto k above 0.7 even on their mechanism's factor; ten
refits (each a full v2 fit, about 60 s there) took the command from 72 s to 264 s and changed
no ``p_decisive`` of its 100 rows, because ten of 1,414 cannot. A budget that could matter
would take hours, so by default none is spent and the warning says how many updates kept their
PSIS estimate; ``--max-refits N`` still refits N of them (benchmarks/README.md, "Plan").
"""

LEVEL_THRESHOLDS = {"limited": 1, "moderate": 3, "significant": 5}
"""Codes in a wave at which the evidence for a target is limited, moderate, significant
(``[thresholds]`` of ``evidence.toml``)."""

RECORDED = "recorded"
"""``[recording]`` value: every refuting code of sources of the kind was coded, so a missing
``refutes`` cell is a zero."""

PARTIAL = "partial"
"""``[recording]`` value: refuting codes were coded for sources of the kind, but not all of them
(or not surely all), so the refutes seen are a lower bound."""

NOT_RECORDED = "not recorded"
"""``[recording]`` value: refuting codes of sources of the kind were not coded; their number is
unknown and the direction of a target cannot be tested from those sources."""

RECORDING = (RECORDED, PARTIAL, NOT_RECORDED)
"""The values of ``[recording] refutes = { KIND = ... }`` in ``evidence.toml``, most informative
first."""

REFUTES_DEFAULT = NOT_RECORDED
"""Recording of refutes for a source kind that ``[recording]`` does not name and whose sources
have no ``refutes`` row: nothing says refutes were looked for (docs/evidence-format.md)."""

REFUTES_INFERRED = PARTIAL
"""Recording of refutes for a source kind that ``[recording]`` does not name but whose sources
have at least one ``refutes`` row (their own or in a total covering them): some refutes were
coded, nothing says all were, so never "recorded" unless declared."""

MAX_RHAT = 1.01
"""Largest rank-normalised split R-hat the convergence gate accepts."""

MIN_ESS_PER_CHAIN = 100.0
"""Smallest bulk and tail ESS per chain the convergence gate accepts (400 for 4 chains)."""

MAX_DIVERGENCES = 0
"""Divergent transitions after tuning the convergence gate accepts."""

SURPRISE_P = 0.05
"""Two-sided posterior predictive p-value below which a unit's count is called surprising."""

SMALL_ELPD_DIFF = 4.0
"""ELPD differences below this are read as negligible whatever their standard error
(Sivula, Magnusson and Vehtari 2022)."""


class Status(StrEnum):
    """Status of a CMOC or mechanism after the newest wave (design brief, section 5).

    Members are strings: ``Status.affirmed == "affirmed"``; tables hold the plain values.
    """

    affirmed = "affirmed"
    refuted = "refuted"
    novel = "novel"
    revised = "revised"
    contested = "contested"
    unevidenced = "unevidenced"
    inconclusive = "inconclusive"


STATUSES = tuple(s.value for s in Status)
"""The statuses as plain strings, in :class:`Status` order."""
