"""The self-contained HTML report: a Jinja2 template (autoescaped) with inline SVG figures."""

from __future__ import annotations

import math
import os
import shlex
from datetime import UTC, datetime

import jinja2
import pandas as pd

from ..defaults import KHAT_MAX
from . import figures
from .content import MOVED_MIN, ReportContent
from .context_section import context_section, group_sections
from .findings import STATUS_ORDER, findings, whatif_sentence
from .rameses import rameses_rows, report_sections
from .tables import LEVEL_FLOOR_NOTE, level_text
from .trail import trail_anchors, trail_names

__all__ = [
    "build_date",
    "calibration_paragraph",
    "influence_paragraphs",
    "influence_warning",
    "measurement_methods_paragraph",
    "measurement_plan_method",
    "measurement_plan_rows",
    "measurement_ppc_paragraph",
    "methods_paragraph",
    "plan_method",
    "plan_paragraph",
    "plan_warning",
    "render_html",
    "report_figures",
    "unit_name",
]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("cmoc.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def _num(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    return f"{float(value):.{digits}f}"


def _interval(lo, hi, digits: int = 2) -> str:
    if pd.isna(lo) or pd.isna(hi):
        return "–"
    return f"[{float(lo):.{digits}f}, {float(hi):.{digits}f}]"


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


_ENV.filters.update(num=_num, interval=_interval, text=_text, level=level_text)
_ENV.globals["level_floor_note"] = LEVEL_FLOOR_NOTE


def build_date() -> str | None:
    """Return the build date from ``SOURCE_DATE_EPOCH`` (reproducible builds), else None."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError, OSError):
        return None


def methods_paragraph(content: ReportContent) -> str:
    """Describe, in prose, what was actually run (model, priors, sampler, seed, waves)."""
    if content.measurement:
        return measurement_methods_paragraph(content)
    m, s = content.model, content.sampler
    n_c = int((content.summary["target_type"] == "cmoc").sum())
    n_m = int((content.summary["target_type"] == "mechanism").sum())
    kinds = content.sources_by_kind_wave.drop(index="all kinds")
    total = int(content.sources_by_kind_wave.loc["all kinds", "all waves"])
    kind_text = ", ".join(f"{n} {k}" for k, n in kinds["all waves"].items())
    lik = (
        "a negative-binomial source likelihood (each source's talkativeness a Gamma multiplier, "
        "integrated out)"
        if m["likelihood"] == "negbin"
        else "a Poisson likelihood"
    )
    priors = "; ".join(f"{name} {prior}" for name, prior in content.priors)
    th, cl = content.thresholds, content.classification
    waves = " then ".join(content.waves)
    return (
        f"Support for {n_c} CMOCs and {n_m} mechanisms was estimated with cmoc "
        f"{content.provenance.get('cmoc_version', '')} from {total} sources ({kind_text}) "
        f"coded in {len(content.waves)} wave{'s' if len(content.waves) > 1 else ''} "
        f"({waves}). Mechanisms were treated as latent variables and CMOCs partially pooled "
        f"within their mechanism on the log-odds scale ({m['pooling']} deviations), with "
        f"supporting and refuting codes as thinned counts of each source's coding rate, "
        f"{lik}, source-kind rates and a zero-sum lean of each kind on support, group effects "
        f"on talkativeness, appraisal weights tempering each source's log-likelihood, and "
        f"banded counts as interval-censored totals. Priors: {priors}. The posterior after "
        f"each wave was obtained by refitting on the evidence accumulated up to it, with "
        f"{s.get('sampler')} NUTS ({s.get('chains')} chains of {s.get('tune')} tuning and "
        f"{s.get('draws')} retained draws, target acceptance {s.get('target_accept')}, seed "
        f"{s.get('seed')}). Convergence was checked by rank-normalised split R-hat (at most "
        f"1.01), bulk and tail effective sample size (at least 100 per chain) and divergent "
        f"transitions (none allowed). Support is reported as posterior mean with a "
        f"{content.ci:.0%} equal-tailed credible interval. A CMOC was called affirmed when "
        f"P(support > 1/2) >= {cl['affirm']}, refuted when it was <= {cl['refute']}, novel "
        f"when it was new in the newest wave and affirmed; evidence levels used the thresholds "
        f"limited >= {th['limited']}, moderate >= {th['moderate']}, significant >= "
        f"{th['significant']} supporting codes, with banded counts resolved through the "
        f"posterior predictive distribution." + _methods_extra(content)
    )


def _sources_text(content: ReportContent) -> tuple[int, int, int, str, str]:
    n_c = int((content.summary["target_type"] == "cmoc").sum())
    n_m = int((content.summary["target_type"] == "mechanism").sum())
    kinds = content.sources_by_kind_wave.drop(index="all kinds")
    total = int(content.sources_by_kind_wave.loc["all kinds", "all waves"])
    kind_text = ", ".join(f"{n} {k}" for k, n in kinds["all waves"].items())
    waves = " then ".join(content.waves)
    return n_c, n_m, total, kind_text, waves


def measurement_methods_paragraph(content: ReportContent) -> str:
    """Describe, in prose, what was run for a report of model v2 (the measurement model)."""
    s = content.sampler
    n_c, n_m, total, kind_text, waves = _sources_text(content)
    priors = "; ".join(f"{name} {prior}" for name, prior in content.priors)
    th, cl = content.thresholds, content.classification
    margin = cl["direction_margin"]
    recording = "; ".join(content.recording) if content.recording else "every kind recorded"
    return (
        f"Breadth, direction and depth of {n_c} CMOCs and {n_m} mechanisms were estimated "
        f"with cmoc {content.provenance.get('cmoc_version', '')} from {total} sources "
        f"({kind_text}) coded in {len(content.waves)} "
        f"wave{'s' if len(content.waves) > 1 else ''} ({waves}), with model v2, the "
        f"measurement model (the default model), which describes how codes arise: whether a source "
        f"evidences a mechanism at all (activation, by mechanism and source kind), whether it "
        f"then evidences each of the mechanism's targets (breadth), how many codes it gives "
        f"when it does (depth: one plus a negative binomial on the source's exposure and kind "
        f"rate), and which way they point (direction: pooled within mechanism on the log-odds "
        f"scale, with a zero-sum lean per kind), with refuting codes recorded as declared per "
        f"source kind ({recording}); totals over a wave or group and banded counts enter as "
        f"sums over their members, and appraisal weights temper each source's "
        f"log-likelihood. Priors: {priors}. The posterior after each wave was obtained by "
        f"refitting on the evidence accumulated up to it, with {s.get('sampler')} NUTS "
        f"({s.get('chains')} chains of {s.get('tune')} tuning and {s.get('draws')} retained "
        f"draws, target acceptance {s.get('target_accept')}, seed {s.get('seed')}). "
        f"Convergence was checked by rank-normalised split R-hat (at most 1.01), bulk and "
        f"tail effective sample size (at least 100 per chain) and divergent transitions (none "
        f"allowed). Breadth is the expected share of the sources coded against a target that "
        f"evidence it; direction the share of its codes that support it, reported only where "
        f"the target has codes of its own from sources of a kind whose refutes are recorded "
        f"(elsewhere “direction not tested”); depth the expected number of codes an "
        f"evidencing source of unit exposure gives; each as posterior mean with a "
        f"{content.ci:.0%} equal-tailed credible interval. A target was called unevidenced "
        f"without codes of its own; refuted when its direction was testable and "
        f"P(direction ≤ {0.5 - margin:g}) ≥ {1 - cl['refute']:g}; contested when testable, "
        f"with codes of both stances and neither direction clear; affirmed when "
        f"P(breadth ≥ {cl['breadth_min']:g}) ≥ {cl['affirm']:g}, its own rows show at least "
        f"{cl['min_sources']} distinct sources evidencing it, and, where testable, "
        f"P(direction ≥ {0.5 + margin:g}) ≥ {cl['affirm']:g} (novel when the CMOC is novel "
        f"or first coded in the newest wave); revised when a CMOC that revises it was affirmed "
        f"or novel; inconclusive otherwise. Evidence levels count the codes of either stance "
        f"in the newest wave, with the thresholds limited ≥ {th['limited']}, moderate ≥ "
        f"{th['moderate']}, significant ≥ {th['significant']}." + _methods_extra(content)
    )


def _methods_extra(content: ReportContent) -> str:
    """Sentences on planning and calibration, when the report shows them."""
    out = ""
    plan = content.plan
    if plan is not None and plan.targets and content.measurement:
        s = plan.settings
        out += (
            f" For each inconclusive target (CMOC or mechanism), the chance that 1 to "
            f"{s['max_new']} more sources of kind {s['kind']} would make it decisive (affirmed "
            f"or novel, refuted or contested by the rules above) was estimated by simulation "
            f"from the posterior ({s['simulations']} simulations shared by the targets, seed "
            f"{s['seed']}; new sources drawn from model v2, updates by Pareto-smoothed "
            f"importance sampling of the fit's draws, by the whole likelihood of the new "
            f"sources, then by each mechanism's factor where the Pareto k exceeded "
            f"{KHAT_MAX:g}, {_refit_budget(s.get('max_refits'))})."
        )
    elif plan is not None and plan.targets:
        s = plan.settings
        out += (
            f" For each inconclusive CMOC, the chance that 1 to {s['max_new']} more sources of "
            f"kind {s['kind']} would settle it was estimated by simulation from the posterior "
            f"({s['simulations']} simulations per CMOC, seed {s['seed']}; updates by "
            f"Pareto-smoothed importance sampling, exact refits where the Pareto k exceeded "
            f"0.7{'' if s.get('max_refits') is None else ', at most ' + str(s['max_refits'])})."
        )
    cal = content.calibration
    if cal is not None:
        out += (
            f" The model configuration was checked by simulation-based calibration "
            f"({cal.settings.get('datasets')} simulated datasets; ranks of the true values "
            f"among posterior draws tested for uniformity): {cal.text}."
        )
    n = content.judgements
    out += (
        " Confidence in each finding was graded by GRADE-CERQual's components computed from the "
        "fit and the evidence; "
    )
    if n:
        verb = "judgement overrides" if n == 1 else "judgements override"
        out += (
            f"{n} reviewer {verb} a computed component or grade (judgements.csv), shown beside it."
        )
    else:
        out += "no reviewer judgement overrides them."
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _refit_budget(cap) -> str:
    """``"no exact refit"``, ``"exact refits where it did too, at most 3"`` or unlimited."""
    if cap == 0:
        return "no exact refit"
    return "exact refits where it did too" + ("" if cap is None else f", at most {cap}")


def plan_paragraph(content: ReportContent) -> str:
    """Say what the planning section shows, or why it shows nothing (one or two sentences)."""
    plan = content.plan
    if "plan" in content.unavailable:
        return content.unavailable["plan"]
    if plan is None:
        return (
            "Not computed for this report (cmoc report --plan, or cmoc plan DIR, which saves "
            "the plan beside the fits for the next report)."
        )
    if content.measurement:
        return _measurement_plan_paragraph(content)
    wave = content.waves[-1]
    if not plan.targets:
        return f"No CMOC is inconclusive after wave “{wave}”: there is nothing to plan for."
    s = plan.settings
    ids = ", ".join(plan.targets)
    return (
        f"{_plural(len(plan.targets), 'CMOC')} {'is' if len(plan.targets) == 1 else 'are'} "
        f"inconclusive after wave “{wave}” ({ids}). For each, the chance that n = 1 to "
        f"{s['max_new']} more sources of kind “{s['kind']}” would settle it: affirm it "
        f"(P(support > ½) ≥ {s['affirm']:g}) or refute it (≤ {s['refute']:g})."
    )


def _targets_text(ids: list[str], types: dict[str, str]) -> str:
    """``"3 targets (2 CMOCs, 1 mechanism)"``."""
    n_c = sum(types.get(t) == "cmoc" for t in ids)
    n_m = len(ids) - n_c
    parts = [_plural(n, w) for n, w in ((n_c, "CMOC"), (n_m, "mechanism")) if n]
    return f"{_plural(len(ids), 'target')} ({', '.join(parts)})"


def _measurement_plan_paragraph(content: ReportContent) -> str:
    """Say what model v2's plan section shows.

    What is planned for, what decisive means, the chances after the most new sources, and what
    new sources of the kind cannot show.
    """
    plan = content.plan
    wave = content.waves[-1]
    if not plan.targets:
        return (
            f"No target (CMOC or mechanism) is inconclusive after wave “{wave}”: there is "
            "nothing to plan for."
        )
    s, t = plan.settings, plan.table
    cl = content.classification
    margin = cl["direction_margin"]
    types = dict(zip(content.summary["target_id"], content.summary["target_type"], strict=True))
    n = len(plan.targets)
    text = (
        f"{_targets_text(plan.targets, types)} {'is' if n == 1 else 'are'} inconclusive "
        f"after wave “{wave}” ({', '.join(plan.targets)}). For each, the chance that "
        f"n = 1 to {s['max_new']} more sources of kind “{s['kind']}” would make it decisive "
        f"by model v2's rules: affirmed (P(breadth ≥ {cl['breadth_min']:g}) ≥ "
        f"{s['affirm']:g}, at least {cl['min_sources']} sources shown to evidence it and, "
        f"where its direction is testable, P(direction ≥ {0.5 + margin:g}) ≥ {s['affirm']:g}; "
        f"novel for a new CMOC), refuted or contested."
    )
    last = t[t["n_new"] == t["n_new"].max()].sort_values(
        ["p_decisive", "target_id"], ascending=[False, True], kind="stable"
    )
    p = last["p_decisive"]
    best = last.iloc[0]
    text += (
        f" After {s['max_new']} more, P(decisive) is "
        + (
            f"{p.iloc[0]:.2f}"
            if n == 1
            else f"{p.min():.2f} to {p.max():.2f} (median {p.median():.2f}; highest "
            f"{best['target_id']}, {best['p_decisive']:.2f})"
        )
        + "."
    )
    if p.max() < 0.5:
        text += (
            f" None {'is' if n == 1 else 'of them is'} more likely than not to be decided by "
            f"{s['max_new']} more."
        )
    testable = content.summary.set_index("target_id")["direction_testable"]
    none_testable = not testable.reindex(plan.targets).fillna(False).astype(bool).any()
    recording = content.refutes_recording.get(s["kind"])
    if none_testable and recording is not None and recording != "recorded":
        text += (
            f" No planned target's direction is testable now, and sources of kind "
            f"“{s['kind']}” cannot make it so (their refutes are {recording}; only a kind "
            f"whose refutes are recorded tests direction): more of them can show breadth but "
            f"not direction, so here decisive can only mean affirmed."
        )
    return text


def plan_method(plan) -> str:
    """Say how a plan was computed: simulations, update, refits, Monte Carlo error, seed."""
    if plan.settings.model == "measurement":
        return measurement_plan_method(plan)
    s, t = plan.settings, plan.table
    refits, kept = int(t["refits"].sum()), int(t["unreliable"].sum())
    flagged = refits + kept
    cap = s.get("max_refits")
    if flagged == 0:
        refit_text = "no update had a Pareto k above 0.7, so none needed an exact refit"
    elif kept == 0:
        refit_text = (
            f"the {_plural(flagged, 'update')} with a Pareto k above 0.7 "
            f"{'was' if flagged == 1 else 'were'} replaced by exact refits of the base plus "
            f"the new sources"
        )
    elif refits == 0:
        refit_text = (
            f"{_plural(flagged, 'update')} with a Pareto k above 0.7 kept "
            f"{'its' if flagged == 1 else 'their'} less reliable PSIS estimate (no exact refits "
            f"here; cmoc plan DIR refits them, and this section then shows its plan)"
        )
    else:
        refit_text = (
            f"{_plural(flagged, 'update')} had a Pareto k above 0.7: {refits} "
            f"{'was' if refits == 1 else 'were'} replaced by exact refits (at most {cap}), "
            f"{kept} kept {'its' if kept == 1 else 'their'} less reliable PSIS estimate"
        )
    return (
        f"{s['simulations']} simulations per CMOC (seed {s['seed']}): a parameter vector "
        f"drawn from the posterior as the truth, {s['max_new']} new sources drawn from the "
        f"model under it (every target of the theory coded, talkativeness varying as fitted), "
        f"the first n of them added; the posterior was updated by Pareto-smoothed importance "
        f"sampling of the fit's draws, and {refit_text}. ± is the Monte Carlo standard error "
        f"of P(settled) (at most {float(t['mc_se'].max()):.3f})."
    )


def measurement_plan_method(plan) -> str:
    """Say how a model v2 plan was computed: settings, updates, refits, Monte Carlo error."""
    s, t = plan.settings, plan.table
    refits, kept = int(t["refits"].sum()), int(t["unreliable"].sum())
    updates = int(t["simulations"].sum())
    targeted = s.get("update") == "targeted"
    cap = s.get("max_refits")
    if refits + kept == 0:
        refit_text = f"no update kept a Pareto k above {KHAT_MAX:g}, so none needed an exact refit"
    else:
        by = " even by the mechanism's factor" if targeted else ""
        n_flagged = refits + kept
        flagged = (
            f"{n_flagged:,} update{'' if n_flagged == 1 else 's'} had a Pareto k above "
            f"{KHAT_MAX:g}{by}"
        )
        if refits == 0:
            refit_text = (
                f"{flagged} and kept {'its' if kept == 1 else 'their'} less reliable PSIS "
                f"estimate ({'this plan makes no exact refit' if cap == 0 else 'no refit'})"
            )
        else:
            refit_text = (
                f"{flagged}: {refits} {'was' if refits == 1 else 'were'} replaced by exact "
                f"refits of the base plus the new sources ({_refit_budget(cap)}), {kept} kept "
                f"{'its' if kept == 1 else 'their'} less reliable PSIS estimate"
            )
    update = (
        f"by the whole likelihood while its Pareto k is at most {KHAT_MAX:g}, then each target "
        f"by its mechanism's factor"
        if targeted
        else "by the whole likelihood"
    )
    budget = (
        "no exact refit"
        if cap == 0
        else f"at most {'any number of' if cap is None else cap} exact "
        f"refit{'' if cap == 1 else 's'}"
    )
    return (
        f"Settings: {s['simulations']} simulations (seed {s['seed']}), n = 1 to "
        f"{s['max_new']} new sources of kind “{s['kind']}”, update “{s['update']}”, "
        f"{budget}. In each simulation a posterior draw is taken as the truth and "
        f"{s['max_new']} new sources of the kind are drawn from model v2 under it (exact "
        f"codes, coded against the newest wave's whole theory, in a wave of their own); the "
        f"first n are added and the fit's draws reweighted by their likelihood with "
        f"Pareto-smoothed importance sampling (PSIS), {update}; every target is then "
        f"classified again. Of the {updates:,} updates (targets × simulations × n), "
        f"{refit_text}. The ± column is the largest Monte Carlo standard error of a "
        f"target's P(decisive) over n (at most {float(t['mc_se'].max()):.3f} in the table). "
        f"P(breadth ≥ …) after the most new sources is the mean over the simulations of the "
        f"updated probability, of the breadth averaged over the source kinds as they would "
        f"then be mixed: where sources of the planned kind rarely evidence a target, adding "
        f"them can lower it."
    )


def measurement_plan_rows(plan) -> list[dict]:
    """Return model v2's plan table one row per target, the chances of each n side by side.

    Each row: ``target_id``, ``target_type``, ``p_broad_now``, ``sources_min_now``,
    ``p_decisive`` (a list over ``n = 1..max_new``), ``mc_se`` (the largest over n), and after
    the most new sources ``p_affirmed``, ``p_refuted``, ``p_contested``, ``p_broad``; over
    every n ``refits``, ``unreliable`` (updates that kept a PSIS estimate with Pareto k above
    :data:`KHAT_MAX`), ``updates`` and ``khat_max``.
    """
    rows = []
    for target, t in plan.table.groupby("target_id", sort=False):
        t = t.sort_values("n_new")
        last = t.iloc[-1]
        rows.append(
            {
                "target_id": target,
                "target_type": last["target_type"],
                "p_broad_now": float(last["p_broad_now"]),
                "sources_min_now": int(last["sources_min_now"]),
                "p_decisive": [float(p) for p in t["p_decisive"]],
                "mc_se": float(t["mc_se"].max()),
                "p_affirmed": float(last["p_affirmed"]),
                "p_refuted": float(last["p_refuted"]),
                "p_contested": float(last["p_contested"]),
                "p_broad": float(last["p_broad"]),
                "refits": int(t["refits"].sum()),
                "unreliable": int(t["unreliable"].sum()),
                "updates": int(t["simulations"].sum()),
                "khat_max": float(t["khat_max"].max()),
            }
        )
    return rows


def plan_warning(content: ReportContent) -> str:
    """Where the plan's PSIS was strained (updates kept with Pareto k > 0.7), or ``""``.

    Per ``n``, the share of updates that kept a PSIS estimate with k above :data:`KHAT_MAX`
    (no exact refit), the largest k, and how to refit them.
    """
    plan = content.plan
    if plan is None or not plan.targets:
        return ""
    t, s = plan.table, plan.settings
    kept = int(t["unreliable"].sum())
    if kept == 0:
        return ""
    by_n = t.groupby("n_new", sort=True)[["unreliable", "simulations"]].sum()
    shares = ", ".join(f"{r.unreliable / r.simulations:.0%} at n = {n}" for n, r in by_n.iterrows())
    worst = t[t["unreliable"] > 0]
    share = t["unreliable"] / t["simulations"]
    most = t.loc[share.idxmax()]
    model = " --model FILE" if s.get("model") == "measurement" else ""
    return (
        f"PSIS was strained: {kept:,} of the {int(t['simulations'].sum()):,} updates "
        f"({shares}) kept an estimate with Pareto k above {KHAT_MAX:g} (largest "
        f"{float(worst['khat_max'].max()):.2f}), which rests on few of the fit's draws. Were "
        f"they all wrong, a chance could move by at most the share of its simulations they "
        f"make up: up to {float(share.max()):.2f} ({most['target_id']} after "
        f"{int(most['n_new'])} more: {int(most['unreliable'])} of {int(most['simulations'])}"
        f"); the column “PSIS kept” gives each target's count. cmoc plan DIR{model} "
        f"--max-refits N replaces up to N of them by exact refits (each a fit of the base plus "
        f"the new sources); this section shows a saved plan only when it was made from this "
        f"fit with the settings above."
    )


def _of(k: int, n: int, what: str) -> str:
    """``"3 of the 4 <what> (75%)"``."""
    return f"{k} of the {n} {what} ({k / n:.0%})" if n else f"none of the 0 {what}"


def measurement_ppc_paragraph(content: ReportContent) -> str:
    """Say what model v2's posterior predictive check found (shares in the interval, surprises)."""
    ppc, targets = content.ppc, content.ppc_targets
    pct = f"{content.ci:.0%}"
    if ppc is None or not len(ppc):
        return "There is no evidence to replicate: no source or total has a code."
    blocks = ppc[ppc["unit_type"] == "block"]
    sources = ppc[ppc["unit_type"] == "source"]
    s = content.sampler
    draws = int(s.get("chains") or 0) * int(s.get("draws") or 0)
    out = [
        f"The evidence was replicated from the fitted model v2, once per posterior draw "
        f"({draws:,} replicates), and each coded count compared with its replicates: the "
        f"central {pct} predictive interval is the range of the middle {pct} of them."
    ]
    if len(blocks):
        out.append(
            f"Totals: {_of(int(blocks['in_interval'].sum()), len(blocks), 'totals and bands')} "
            f"lie in their interval (one per target of each of "
            f"{_plural(blocks['unit'].nunique(), 'block')} of totals)."
        )
    if len(sources):
        out.append(
            "Sources coded one by one: the number of exact codes of "
            f"{_of(int(sources['in_interval'].sum()), len(sources), 'sources')} lies in it."
        )
    else:
        out.append(
            "No source is coded one by one here (every code is in a total or band), so no "
            "source is checked on its own."
        )
    k = int(ppc["surprising"].sum())
    out.append(
        f"{k} of the {len(ppc)} comparisons {'is' if k == 1 else 'are'} surprising (two-sided "
        f"predictive p < 0.05; if the model fits, about 5% or fewer are)."
    )
    if targets is not None and len(targets):
        bad = targets[targets["surprising"]]
        named = f": {', '.join(bad['target_id'])}" if len(bad) else ""
        out.append(
            f"Targets: {len(bad)} of the {len(targets)} coded against sources coded one by one "
            f"have a surprising number of sources evidencing them, of their codes or of "
            f"supporting codes{named}."
        )
    return " ".join(out)


def unit_name(unit_type: str, short: str, wave: str) -> str:
    """Name a unit of model v2's evidence in words (``short``: its short name).

    ``source R1``, or a block's ``the totals of M10 in wave “interviews” (codings.csv:11 +3)``.
    """
    if unit_type != "block":
        return f"source {short}"
    mechanism, _, rows = short.partition(" ")
    return f"the totals of {mechanism} in wave “{wave}” {rows}".rstrip()


def _grouped(rows: pd.DataFrame) -> str:
    """``without <unit>: T1, T2; without <unit>: T3`` (units by first appearance)."""
    parts = []
    for _, group in rows.groupby("unit", sort=False):
        r = group.iloc[0]
        name = unit_name(r["unit_type"], r["short"], r["wave"])
        parts.append(f"without {name}: {', '.join(group['target_id'])}")
    return "; ".join(parts)


def influence_paragraphs(content: ReportContent) -> list[str]:
    """Say how model v2's influence check was done and what moves the targets most.

    Returns
    -------
    list of str
        Paragraphs: how, and the largest change; whether affirmations rest on one unit; the
        targets one unit holds back (when there are any).
    """
    inf, top = content.influence, content.influence_top
    if inf is None or not len(inf):
        return ["There is no unit of evidence to leave out."]
    cl = content.classification
    b_min, affirm = cl["breadth_min"], cl["affirm"]
    p_text = f"P(breadth ≥ {b_min:g})"
    units = inf.drop_duplicates("unit")
    n_src = int((units["unit_type"] == "source").sum())
    n_blk = len(units) - n_src
    out = [
        f"Each unit of evidence (a source coded one by one, or a block of totals: one "
        f"mechanism's totals and bands over the same sources, which the model can only take "
        f"or leave together) was left out in turn, by Pareto-smoothed importance sampling of "
        f"the fit's draws (PSIS leave-one-out), to see how much each target's breadth and "
        f"{p_text} (the probability that at least {b_min:.0%} of the sources coded against it "
        f"evidence it; affirmation needs {affirm:g}) rest on it: {_plural(len(units), 'unit')} "
        f"({_plural(n_src, 'source')} coded one by one, {_plural(n_blk, 'block')} of totals)."
    ]
    moved = top[top["moved"]]
    if len(moved):
        m = moved.assign(_a=-moved["p_broad_change"].abs()).sort_values(
            ["_a", "target_id"], kind="stable"
        )
        r = m.iloc[0]
        flag = "" if r["reliable"] else f" (Pareto k {r['pareto_k']:.2f}: unreliable)"
        out.append(
            f"The largest change: without {unit_name(r['unit_type'], r['short'], r['wave'])}, "
            f"{p_text} of {r['target_id']} would be {r['p_broad_loo']:.2f} instead of "
            f"{r['p_broad']:.2f}{flag}."
        )
    else:
        out.append(
            f"No single unit changes a target's breadth or {p_text} by {MOVED_MIN:g} or more."
        )
    paragraphs = [" ".join(out)]
    status = content.summary.set_index("target_id")["status"]
    affirmed = inf["target_id"].map(status).isin(["affirmed", "novel"])
    n_affirmed = int(status.isin(["affirmed", "novel"]).sum())
    order = {t: i for i, t in enumerate(status.index)}

    def most(rows: pd.DataFrame, ascending: bool) -> pd.DataFrame:
        """Per target the unit with the lowest (highest) P without it, targets in order."""
        one = rows.sort_values(["p_broad_loo", "unit"], ascending=[ascending, True])
        one = one.drop_duplicates("target_id")
        return one.assign(_t=one["target_id"].map(order)).sort_values("_t", kind="stable")

    falls = most(inf[affirmed & (inf["p_broad_loo"] < affirm)], ascending=True)
    if len(falls):
        paragraphs.append(
            f"Affirmations resting on one unit: {len(falls)} of the {n_affirmed} affirmed or "
            f"novel targets would have {p_text} below {affirm:g} without a single unit "
            f"({_grouped(falls)})."
        )
    elif n_affirmed:
        paragraphs.append(
            f"No affirmation rests on one unit: without any single unit, {p_text} of every "
            f"affirmed or novel target stays at {affirm:g} or above."
        )
    rises = most(
        inf[~affirmed & (inf["p_broad"] < affirm) & (inf["p_broad_loo"] >= affirm)],
        ascending=False,
    )
    if len(rises):
        paragraphs.append(
            f"Held back by one unit: for {_plural(len(rises), 'target')} not affirmed, {p_text} "
            f"would reach {affirm:g} without a single unit ({_grouped(rises)}): a block of "
            f"totals can hold a breadth down, as its totals say how few of its sources "
            f"evidenced each target it covers, and that none evidenced a target of its "
            f"mechanism it leaves out."
        )
    return paragraphs


def influence_warning(content: ReportContent) -> str:
    """Name the units whose PSIS estimate is unreliable (Pareto k > 0.7), or return ``""``."""
    inf = content.influence
    if inf is None or not len(inf):
        return ""
    units = inf.drop_duplicates("unit")
    bad = units[~units["reliable"].astype(bool)].sort_values(
        ["pareto_k", "unit"], ascending=[False, True], kind="stable"
    )
    if not len(bad):
        return ""
    named = "; ".join(
        f"{unit_name(r.unit_type, r.short, r.wave)}, k = {r.pareto_k:.2f}"
        for r in bad.itertuples(index=False)
    )
    one = len(bad) == 1
    return (
        f"{_plural(len(bad), 'unit')} {'has' if one else 'have'} a Pareto k above {KHAT_MAX:g}, "
        f"where the estimate without {'it' if one else 'them'} is unreliable (it may give the "
        f"direction of the change but not its size): {named}. An exact refit without "
        f"{'it' if one else 'them'}: cmoc check DIR --model FILE --influence --refit {len(bad)}."
    )


def calibration_paragraph(content: ReportContent) -> str:
    """Say what simulation-based calibration found for the model, or how to run it."""
    cal = content.calibration
    model_id = content.provenance.get("model_id", "")
    if cal is None:
        return (
            f"Not run for this model configuration (id {model_id}). Simulation-based "
            f"calibration depends on the model, not on the evidence, and takes about 40 "
            f"minutes for 100 datasets on 2 cores: {content.calibration_command} (the next "
            f"report includes it)."
        )
    s = cal.settings
    lay = s.get("layout", {})
    return (
        f"{s.get('datasets')} evidence bases were simulated from the priors of this model "
        f"configuration (id {model_id}; {lay.get('mechanisms')} mechanisms, {lay.get('cmocs')} "
        f"CMOCs, {lay.get('sources')} sources; seed {s.get('seed')}) and each was fitted "
        f"({s.get('chains')} chains of {s.get('draws')} draws after {s.get('tune')} tuning "
        f"steps); if the fitting is right, the rank of each true value among "
        f"{int(cal.ranks['n_draws'].iloc[0]) if len(cal.ranks) else s.get('thin')} posterior "
        f"draws is uniform. Chi-square test per quantity, family-wise false-alarm rate "
        f"{cal.alpha:g}: {cal.text}."
    )


def _command(content: ReportContent) -> str:
    s = content.sampler
    args = [
        "cmoc",
        "report",
        f"<{content.name}>",
        *([] if content.measurement else ["--model", "<model file: model = hierarchical>"]),
        "--seed",
        str(s.get("seed")),
        "--draws",
        str(s.get("draws")),
        "--tune",
        str(s.get("tune")),
        "--chains",
        str(s.get("chains")),
        "--sampler",
        str(s.get("sampler")),
        "--target-accept",
        str(s.get("target_accept")),
    ]
    return shlex.join(args)


def whatif_crosstab(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """Count targets by status as reported (rows) and status in the what-if (columns)."""
    if table is None:
        return None
    order = [s for s in STATUS_ORDER if s in set(table["status"]) | set(table["status_whatif"])]
    cross = pd.crosstab(table["status"], table["status_whatif"])
    return cross.reindex(index=[s for s in order if s in cross.index], columns=order, fill_value=0)


def report_figures(content: ReportContent) -> dict[str, str | list[str] | None]:
    """Draw the report's figures once, for the HTML page and the Markdown's figure files.

    Returns
    -------
    dict
        ``web``, ``theory``, ``forest`` (a list: one SVG per part), ``trajectory``, ``ppc``,
        ``plan``, ``ranks``: SVG text, or None where the report has no such figure.
    """
    if content.measurement:
        return _measurement_figures(content)
    return {
        "web": None,  # links are estimated by model v2
        "theory": figures.theory_diagram(content.summary, content.mechanism_names),
        "forest": figures.forest(content.summary, content.ci),
        "trajectory": figures.trajectory(content.trajectory) if len(content.waves) > 1 else None,
        "ppc": figures.ppc_figure(content.ppc),
        "plan": (
            figures.plan_figure(content.plan.table)
            if content.plan is not None and len(content.plan.table)
            else None
        ),
        "ranks": (
            figures.rank_histograms(content.calibration.ranks, content.calibration.tests)
            if content.calibration is not None and len(content.calibration.ranks)
            else None
        ),
    }


def render_html(
    content: ReportContent, figs: dict[str, str | list[str] | None] | None = None
) -> str:
    """Render the report as one self-contained HTML page (figures inline, no external files).

    Parameters
    ----------
    content : ReportContent
    figs : dict, optional
        :func:`report_figures` of ``content``, when already drawn.

    Returns
    -------
    str
        The page. Deterministic: no timestamp unless ``SOURCE_DATE_EPOCH`` is set.
    """
    figs = report_figures(content) if figs is None else figs
    if content.measurement:
        return _render_measurement_html(content, figs)
    summary = content.summary.set_index("target_id")
    return _ENV.get_template("report.html.j2").render(
        c=content,
        figs=figs,
        forest_rows=figures.FOREST_ROWS,
        support=summary,
        methods=methods_paragraph(content),
        plan_text=plan_paragraph(content),
        plan_method=plan_method(content.plan) if content.plan and content.plan.targets else "",
        calibration_text=calibration_paragraph(content),
        command=_command(content),
        built=build_date(),
        status_style=figures.STATUS_STYLE,
        ctx=None,
        ctx_groups=[],
        anchors=trail_anchors(content.trail),
        rameses=rameses_rows(report_sections(content)),
        fnd=findings(content, trail_names(content.trail)),
    )


def _ppc_odd(content: ReportContent) -> pd.DataFrame | None:
    """Model v2's predictive comparisons that are surprising or outside their interval."""
    ppc = content.ppc
    if ppc is None:
        return None
    return ppc[ppc["surprising"].astype(bool) | ~ppc["in_interval"].astype(bool)]


def _plan_caption(content: ReportContent) -> str:
    """Return the caption of model v2's plan figure (what is drawn depends on the targets)."""
    plan = content.plan
    if plan is None or not len(plan.table):
        return ""
    t = plan.table
    kind = plan.settings["kind"]
    text = f"Chance that n more “{kind}” sources make each inconclusive target decisive"
    if t["target_id"].nunique() > figures.PLAN_LABELLED:
        text += (
            f" (the {figures.PLAN_LABELLED} with the highest chance after "
            f"{int(t['n_new'].max())} in colour, with their Monte Carlo error; the others grey)"
        )
    else:
        text += " (with its Monte Carlo error)"
    if (t["p_affirmed"] != t["p_decisive"]).any():
        text += "; dotted: the chance that they affirm it"
    return text + "."


def _measurement_figures(content: ReportContent) -> dict[str, str | list[str] | None]:
    """Draw the figures of a model v2 report (:func:`report_figures`)."""
    cl = content.classification
    has_links = content.links is not None and not content.links.empty
    return {
        "web": (
            figures.web_diagram(content.summary, content.links, content.mechanism_names)
            if has_links
            else None
        ),
        "theory": figures.theory_diagram(
            content.summary,
            content.mechanism_names,
            value="breadth_mean",
            label="posterior mean breadth",
            cmap="Blues",
            styles=figures.MEASUREMENT_STATUS_STYLE,
        ),
        "forest": figures.measurement_forest(
            content.summary, content.ci, cl["breadth_min"], cl["direction_margin"]
        ),
        "trajectory": (
            figures.measurement_trajectory(content.trajectory) if len(content.waves) > 1 else None
        ),
        "ppc": figures.ppc_figure(content.ppc)
        if content.ppc is not None and len(content.ppc)
        else None,
        "plan": (
            figures.plan_figure(
                content.plan.table.rename(columns={"p_decisive": "p_settled"}),
                outcome="decisive",
            )
            if content.plan is not None and len(content.plan.table)
            else None
        ),
        "ranks": (
            figures.rank_histograms(content.calibration.ranks, content.calibration.tests)
            if content.calibration is not None and len(content.calibration.ranks)
            else None
        ),
    }


def _render_measurement_html(content: ReportContent, figs: dict) -> str:
    """Render the report of model v2 fits (the sections v2 does not have yet say why)."""
    cl = content.classification
    summary = content.summary.set_index("target_id")
    breadth_axis = figures.share_axis(
        content.summary["breadth_lo"], content.summary["breadth_hi"], (cl["breadth_min"],)
    )
    return _ENV.get_template("report.html.j2").render(
        c=content,
        figs=figs,
        forest_rows=figures.FOREST_ROWS,
        forest_logit=breadth_axis.scale == "logit",
        whatif_text=whatif_sentence(content),
        whatif_cross=whatif_crosstab(content.recording_whatif),
        support=summary,
        methods=measurement_methods_paragraph(content),
        plan_text=plan_paragraph(content),
        plan_method=plan_method(content.plan) if content.plan and content.plan.targets else "",
        plan_warning=plan_warning(content),
        plan_rows=measurement_plan_rows(content.plan) if content.plan else [],
        plan_caption=_plan_caption(content),
        ppc_text=measurement_ppc_paragraph(content),
        influence_text=influence_paragraphs(content),
        influence_warning=influence_warning(content),
        ppc_odd=_ppc_odd(content),
        moved_min=f"{MOVED_MIN:g}",
        calibration_text=calibration_paragraph(content),
        command=_command(content),
        built=build_date(),
        status_style=figures.MEASUREMENT_STATUS_STYLE,
        ctx_groups=group_sections(content) if content.context is not None else [],
        anchors=trail_anchors(content.trail),
        rameses=rameses_rows(report_sections(content)),
        fnd=findings(content, trail_names(content.trail)),
        ctx=(
            None
            if content.context is None
            else context_section(
                content.context,
                content.mechanism_names,
                content.classification,
                content.context_groups,
            )
        ),
    )
