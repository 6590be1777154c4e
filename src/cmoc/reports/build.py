"""Building the report files for a fitted evidence base (no sampling here).

The files are deterministic: the same evidence, model, sampler settings and seed give
byte-identical output (no timestamps unless ``SOURCE_DATE_EPOCH`` is set, no absolute paths).

Writing is all or nothing: every file is rendered in memory, then written in full to a temporary
file beside its destination (and flushed to disk), and only when all are written are they
renamed over the old ones. A full disk, a quota or a permission problem therefore leaves the
old report as it was (:class:`ReportWriteError`); the renames need no space. Files in the output
folder that are not the report's own are never touched.

``report.md`` is Markdown with every piece of data text escaped (:func:`md_text`), so an id or a
name can neither inject HTML nor break a table.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

import pandas as pd

from ..evidence import EvidenceBase, describe, file_mode
from .content import MOVED_MIN, ReportContent
from .context_section import context_section, group_sections
from .figure_files import FIGURES_DIR, figure_files, is_figure_file, md_figure
from .findings import findings, whatif_sentence
from .html import (
    build_date,
    calibration_paragraph,
    influence_paragraphs,
    influence_warning,
    measurement_plan_rows,
    measurement_ppc_paragraph,
    methods_paragraph,
    plan_method,
    plan_paragraph,
    plan_warning,
    render_html,
    report_figures,
    whatif_crosstab,
)
from .pdf import render_pdf, require_pdf
from .rameses import rameses_rows, report_sections
from .tables import LEVEL_FLOOR_NOTE, level_text, render_summary, rounded
from .trail import trail_names

__all__ = [
    "REPORT_FILES",
    "ReportWriteError",
    "build_report",
    "md_code",
    "md_fence",
    "md_text",
    "report_slug",
    "write_report_files",
]

REPORT_FILES = ("report.html", "report.md", "summary.csv", "summary.json", "report.pdf")
"""The files a report consists of: the only files :func:`build_report` replaces."""

# "_" between two letters or digits never delimits emphasis (CommonMark flanking rules), so
# snake_case stays readable; anywhere else it is escaped like the rest
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&$#]|(?<![^\W_])_|_(?![^\W_]))")
_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")


def md_text(value: object) -> str:
    r"""Return data text for Markdown: one line, shown as it is, whatever its characters.

    Line breaks become spaces (a table row or a heading is one line); every character with an
    inline meaning in CommonMark or GitHub Markdown (``\ ` * _ [ ] < > | ~ & $ #``; ``_``
    only where it could delimit emphasis, not inside ``snake_case``) gets a
    backslash, so ``<script>`` is text, ``|`` does not split a table cell, ``[a](b)`` is no
    link, ``$x$`` no formula and a trailing ``#`` stays in a heading. Characters meaningful
    only at a line's start (``-``, ``+``, ``1.``) need nothing: data text never starts a line.
    """
    text = "" if value is None else str(value)
    return _MD_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", text))


def md_code(value: object) -> str:
    """Return data text as a Markdown code span (fenced by more backticks than it holds)."""
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_fence(text: str) -> list[str]:
    """Return the lines of a fenced code block holding ``text`` verbatim (HTML included)."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def _md_table(frame: pd.DataFrame, first: str | None = None) -> list[str]:
    """Return a Markdown table of ``frame`` (its index first, as column ``first``, if given)."""
    cols = ([first] if first else []) + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(md_text(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for index, row in frame.iterrows():
        cells = ([index] if first else []) + list(row)
        lines.append("| " + " | ".join(md_text(c) for c in cells) + " |")
    return [*lines, ""]


def _md_evidence(base: EvidenceBase, content: ReportContent, files: dict[str, str]) -> list[str]:
    """Return the Markdown of "The evidence" and "The programme theory" (as the HTML)."""
    lines = [
        "## The evidence",
        "",
        f"{md_code(base.config.name)} ({md_text(base.config.citation)}); waves "
        + " -> ".join(md_text(w) for w in base.waves)
        + ".",
        "",
        "### Sources by kind and wave",
        "",
        *_md_table(content.sources_by_kind_wave, "kind"),
    ]
    if len(content.groups):
        lines += ["### Groups", "", *_md_table(content.groups.reset_index(drop=True))]
    lines += ["### Codings per wave", "", *_md_table(content.codings_by_wave)]
    lines += ["As `cmoc validate` describes the base:", "", *md_fence(describe(base)), ""]
    theory = [
        *md_figure(
            files,
            "web",
            f"The web after wave {md_text(content.waves[-1])}: mechanisms, causes above "
            "effects, and the links between them; fill: breadth, ring and arrow colour: status",
        ),
        *md_figure(
            files, "theory", "The programme theory: CMOCs around their mechanisms, by status"
        ),
    ]
    if theory:
        lines += ["## The programme theory", "", *theory]
    return lines


def _markdown(
    base: EvidenceBase, content: ReportContent, files: dict[str, str] | None = None
) -> str:
    """Render the companion of the HTML report: its sections as text, figures linked.

    ``files`` are the figure files written beside it (:func:`figure_files`); none: no figures.
    """
    files = files or {}
    check = content.convergence
    data = rounded(content.summary)
    lines = [f"# {md_text(base.config.title)}", ""]
    if not check.passed:
        lines += [
            f"> **WARNING: {md_text(check.text)}.** The estimates below are not reliable.",
            "",
        ]
    for wave, wave_check in content.wave_checks.items():
        if not wave_check.passed and wave != base.waves[-1]:
            lines += [
                f"> **WARNING: the fit after wave '{md_text(wave)}': {md_text(wave_check.text)}.**",
                "",
            ]
    built = build_date()
    if built:
        lines += [f"Built {built}.", ""]
    if content.recording:
        lines += [
            "Refuting codes recorded, by source kind: "
            + "; ".join(md_text(r) for r in content.recording)
            + ". Where they were not recorded, the evidence cannot show a CMOC contested or "
            "refuted.",
            "",
        ]
    if content.nesting:
        lines += [md_text(content.nesting), ""]
    if content.scope_note:
        lines += [f"This is {md_text(content.scope_note)}.", ""]
    lines += _md_findings(content)
    lines += _md_evidence(base, content, files)
    if content.measurement:
        return "\n".join(lines + _measurement_markdown(base, content, files))
    lines += [
        "## Support per mechanism and CMOC",
        "",
        "Support is the posterior probability that a CMOC (or a mechanism's typical CMOC) is "
        "borne out when it is coded; the interval is the 90% equal-tailed credible interval and "
        "P(>1/2) the posterior probability that support exceeds one half.",
        "",
        "| target | type | mechanism | support | 90% interval | P(>1/2) "
        f"| codes, wave {md_text(base.waves[-1])} | evidence level, wave "
        f"{md_text(base.waves[-1])} | status | ESS | R-hat |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data.itertuples(index=False):
        lines.append(
            f"| {md_text(r.target_id)} | {md_text(r.target_type)} | {md_text(r.mechanism_id)} | "
            f"{r.support_mean:.2f} | [{r.support_lo:.2f}, {r.support_hi:.2f}] | "
            f"{r.p_supported:.2f} | {md_text(r.codes)} | "
            f"{_md_level(r)} | "
            f"{md_text(r.status)} | {md_text(r.ess_bulk)} | {r.r_hat:.3f} |"
        )
    lines += ["", *md_figure(files, "forest", "Support per CMOC, grouped by mechanism")]
    lines += md_figure(files, "trajectory", "Support of each mechanism after each wave")
    lines += [*_md_actions(content), *_md_cerqual(content), *_md_trail(content)]
    lines += ["## Planning the next sources", "", md_text(plan_paragraph(content)), ""]
    lines += md_figure(files, "plan", "The chance each CMOC is settled after more sources")
    plan = content.plan
    if plan is not None and plan.targets:
        lines += [
            "| CMOC | P(>1/2) now | n more | P(settled) ± MC error | P(affirmed) | P(refuted) "
            "| exact refits | PSIS kept with k > 0.7 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in plan.table.itertuples(index=False):
            lines.append(
                f"| {md_text(r.target_id)} | {r.p_supported_now:.2f} | {r.n_new} | "
                f"{r.p_settled:.2f} ± "
                f"{r.mc_se:.2f} | {r.p_affirmed:.2f} | {r.p_refuted:.2f} | {r.refits} | "
                f"{r.unreliable} |"
            )
        lines += ["", md_text(plan_method(plan)), ""]
    lines += [
        "## Model checks",
        "",
        f"Convergence: {md_text(check.text)}.",
        "",
        *md_figure(files, "ppc", "Observed codes against their posterior predictive intervals"),
    ]
    lines += _md_checks_tail(base, content, files)
    return "\n".join(lines)


def _md_checks_tail(
    base: EvidenceBase, content: ReportContent, files: dict[str, str] | None = None
) -> list[str]:
    """Return the Markdown from the calibration on: calibration, priors, reproducibility."""
    sampler = content.sampler
    packages = content.provenance["packages"]
    lines = [
        "Simulation-based calibration. " + md_text(calibration_paragraph(content)),
        "",
    ]
    cal = content.calibration
    if cal is not None:
        lines += [
            "| quantity | datasets | chi-square | p-value | threshold | mean rank | uniform "
            "| power |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in cal.tests.itertuples(index=False):
            lines.append(
                f"| {md_text(r.quantity)} | {r.datasets} | {r.chi2:.1f} | {r.p_value:.4f} | "
                f"{r.threshold:.4f} | {r.mean_rank:.2f} | {'yes' if r.uniform else 'NO'} | "
                f"{r.power:.2f} |"
            )
        lines.append("")
        lines += md_figure(files or {}, "ranks", "Calibration ranks per quantity")
    lines += [
        "Priors and model choices:",
        "",
        *[f"- {md_text(name)}: {md_text(prior)}" for name, prior in content.priors],
        "",
        "## Methods",
        "",
        md_text(methods_paragraph(content)),
        "",
        *_md_rameses(content),
        "## Reproducibility",
        "",
        f"- evidence hash: {md_code(content.provenance['evidence_hash'])}",
        "- model: "
        + md_text("v2 (measurement)" if content.measurement else content.model["name"])
        + " "
        f"(config id {md_code(content.provenance['model_id'])})",
        "- sampler: "
        + md_text(
            ", ".join(f"{k} {sampler[k]}" for k in sorted(sampler) if sampler[k] is not None)
        ),
        "- packages: " + md_text(", ".join(f"{k} {v}" for k, v in sorted(packages.items()))),
        "- command: "
        + md_code(
            f"cmoc report <evidence dir {base.config.name}> "
            + ("" if content.measurement else "--model <model file: model = hierarchical> ")
            + f"--seed {sampler.get('seed')} "
            f"--draws {sampler.get('draws')} --tune {sampler.get('tune')} "
            f"--chains {sampler.get('chains')} --sampler {sampler.get('sampler')}"
        ),
        "",
    ]
    return lines


def _md_level(r) -> str:
    """Return a summary row's evidence level as shown (:func:`level_text`), for Markdown."""
    return md_text(
        level_text(
            r.evidence_level,
            getattr(r, "evidence_level_p", None),
            getattr(r, "evidence_level_floor", None),
        )
    )


def _md_interval(mean: float, lo: float, hi: float) -> str:
    return f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"


def _md_direction(
    testable: bool, mean: float, lo: float, hi: float, untested: str = "direction not tested"
) -> str:
    return _md_interval(mean, lo, hi) if testable else untested


def _md_shift(shift: float, sd: float) -> str:
    return "-" if pd.isna(shift) else f"{shift:+.3f} ± {sd:.3f}"


def _measurement_markdown(
    base: EvidenceBase, content: ReportContent, files: dict[str, str]
) -> list[str]:
    """Return the Markdown of a model v2 report after the evidence: estimates, changes, checks."""
    data = rounded(content.summary)
    pct = f"{content.ci:.0%}"
    lines = [
        "## Breadth, direction and status per mechanism and CMOC (model v2)",
        "",
        "Breadth is the expected share of the sources coded against a target that evidence it; "
        "direction the share of its codes that support it, tested only where the target has codes "
        'of its own from sources of a kind whose refutes are recorded ("direction not tested" '
        "elsewhere); depth the expected number of codes an evidencing source gives it. "
        f"Intervals are {pct} equal-tailed credible intervals; codes +/- count supporting and "
        "refuting codes over every wave so far, sources the distinct sources a target's own rows "
        "show to evidence it (a total or band counts one), the evidence level the codes of the "
        "newest wave; where a band leaves the level open it comes with its probability (P "
        f"below 1/2: no level is likely). {LEVEL_FLOOR_NOTE}",
        "",
        f"| target | type | mechanism | status | breadth [{pct}] | direction [{pct}] | depth "
        f"| codes +/-, all waves | sources | evidence level, wave {md_text(content.waves[-1])} "
        "| confidence | ESS | R-hat |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data.itertuples(index=False):
        direction = _md_direction(
            r.direction_testable, r.direction_mean, r.direction_lo, r.direction_hi
        )
        lines.append(
            f"| {md_text(r.target_id)} | {md_text(r.target_type)} | {md_text(r.mechanism_id)} | "
            f"{md_text(r.status)} | {_md_interval(r.breadth_mean, r.breadth_lo, r.breadth_hi)} | "
            f"{direction} | {r.depth_mean:.1f} | {r.supports}/{r.refutes} | {r.sources_min} | "
            f"{_md_level(r)} | "
            f"{md_text(r.confidence)} | {md_text(r.ess_bulk)} | "
            f"{r.r_hat:.3f} |"
        )
    lines += [
        "",
        *md_figure(
            files,
            "forest",
            "Breadth (left) and, where tested, direction (right) per CMOC grouped by mechanism, "
            "with supporting and refuting codes over every wave",
        ),
    ]
    lines += _md_paths(content)
    lines += _md_context(content)
    changes = content.changes
    if changes is not None:
        ch = rounded(changes)
        lines += [
            "",
            f"## What wave {md_text(content.waves[-1])} changed",
            "",
            *md_figure(
                files,
                "trajectory",
                "Breadth and, where tested, direction of each mechanism after each wave",
            ),
            "| target | status | evidence level, each wave's own codes | breadth before "
            "| breadth after | shift ± sd | direction before -> after | shift ± sd | newest wave "
            "| moved most by |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in ch.itertuples(index=False):
            before = "(new)" if pd.isna(r.status_before) else md_text(r.status_before)
            after = md_text(r.status_after)
            status = after if before == after else f"{before} -> {after}"
            level = (
                md_text(level_text(r.level_before, r.level_before_p, r.level_before_floor)) or "-"
            )
            b_before = (
                "-"
                if pd.isna(r.breadth_before)
                else _md_interval(r.breadth_before, r.breadth_before_lo, r.breadth_before_hi)
            )
            b_after = _md_interval(r.breadth_after, r.breadth_after_lo, r.breadth_after_hi)
            direction, d_shift = "direction not tested", "-"
            if r.direction_testable:
                d_before = "-" if pd.isna(r.direction_before) else f"{r.direction_before:.2f}"
                d_after = _md_interval(
                    r.direction_after, r.direction_after_lo, r.direction_after_hi
                )
                direction = f"{d_before} -> {d_after}"
                d_shift = _md_shift(r.direction_shift, r.direction_shift_sd)
            lines.append(
                f"| {md_text(r.target_id)} | {status} | {md_text(content.waves[-2])}: {level}; "
                f"{md_text(content.waves[-1])}: "
                f"{md_text(level_text(r.level_after, r.level_after_p, r.level_after_floor))} | "
                f"{b_before} | {b_after} | "
                f"{_md_shift(r.breadth_shift, r.breadth_shift_sd)} | {direction} | {d_shift} | "
                f"{r.new_sources} source{'' if r.new_sources == 1 else 's'}, "
                f"+{r.new_supports} / -{r.new_refutes} codes | "
                f"{md_text(r.moved_most) if r.moved_most else '-'} |"
            )
        lines += [
            "",
            'Evidence level: each wave graded on its own codes ("none" after a wave means that '
            "wave added no code, not that earlier evidence was lost; codes over every wave are in "
            f"the table above). {LEVEL_FLOOR_NOTE} "
            "Moved most by: the units of the newest wave (a source coded one by one, or a block "
            "of totals: one mechanism's totals over the same sources) whose removal changes the "
            "target's posterior mean breadth most, with the change (breadth with the unit minus "
            "without it), estimated by Pareto-smoothed importance sampling (leave-one-unit-out); "
            "changes below 0.005 or within Monte Carlo error are not listed; \\* marks an "
            "unreliable estimate (Pareto k > 0.7).",
        ]
    check = content.convergence
    lines += [
        "",
        *_md_actions(content),
        *_md_cerqual(content),
        *_md_trail(content),
        *_md_measurement_plan(content),
        *md_figure(files, "plan", "The chance each target is decided after more sources"),
        "## Model checks",
        "",
        f"Convergence: {md_text(check.text)}.",
        "",
        *_md_measurement_ppc(content),
        *md_figure(files, "ppc", "Observed counts against their posterior predictive intervals"),
        *_md_influence(content),
        *_md_comparison(content),
        *_md_measurement_sensitivity(content),
        *_md_whatif(content),
    ]
    return lines + _md_checks_tail(base, content, files)


def _md_context(content: ReportContent) -> list[str]:
    """Return the Markdown of "for whom, in what circumstances" (model v2, several kinds)."""
    if content.context is None:
        return []
    ctx = context_section(
        content.context, content.mechanism_names, content.classification, content.context_groups
    )
    lines = ["", "## For whom, in what circumstances", ""]
    text = (
        "Model v2 refitted with a deviation of each target's evidencing and direction per "
        "source kind, partly pooled towards the target's own (`cmoc summary DIR --by kind`). "
        f"The kinds differ overall: {'; '.join(ctx.overall)}. A target *depends on context* "
        f"when, with probability at least {ctx.affirm:g}, two kinds' breadths differ by more "
        f"than {ctx.breadth_margin:g} or their directions by more than "
        f"{ctx.direction_margin:g}; a direction is compared only between kinds whose refutes "
        "are recorded and that coded the target."
    )
    check = content.context_check
    if check is not None and not check.passed:
        text += f" **The fit with context effects did not converge: {md_text(check.text)}**"
    lines += [text, ""]
    if ctx.depends:
        noun = "target depends" if ctx.depends == 1 else "targets depend"
        if ctx.beyond == 0:
            own, theirs = ("its", "its") if ctx.depends == 1 else ("their", "theirs")
            said = (
                f"none beyond the kinds' overall difference: {own} difference is the kinds', "
                f"not {theirs}"
            )
        else:
            said = f"{ctx.beyond} beyond the kinds' overall difference"
        lines += [
            f"{ctx.depends} {noun} on context, {said} (the last column: the probability that a "
            "target's own deviations make its odds differ between the kinds by more than a "
            f"factor {ctx.odds_ratio:g} over and above every target's common difference):",
            "",
        ]
    else:
        lines += [
            f"No CMOC, mechanism or link depends on context by these margins. The "
            f"{len(ctx.rows)} closest:",
            "",
        ]
    lines += _md_context_table(ctx, "the kinds'")
    lines += _md_only(ctx.one_kind, "{} sources", "kind")
    for level, g in group_sections(content):
        lines += [f"### By {md_text(g.level_name)} (group level {level})", ""]
        text = (
            "Model v2 refitted with a deviation of each target's evidencing and direction per "
            "group at this level, beside each group's common difference (`cmoc summary DIR "
            f"--by group-level --level {level}`). The groups differ overall: "
            f"{md_text('; '.join(g.overall))}. "
        )
        if g.depends:
            noun = "target depends" if g.depends == 1 else "targets depend"
            text += (
                f"{g.depends} {noun} on the group, {g.beyond} beyond the groups' common difference:"
            )
        else:
            text += (
                "No CMOC, mechanism or link depends on the group by these margins. The "
                f"{len(g.rows)} closest:"
            )
        if g.check is not None and not g.check.passed:
            text += f" **The fit by group did not converge: {md_text(g.check.text)}**"
        lines += [text, ""]
        lines += _md_context_table(g, "the groups'")
        lines += _md_only(g.one_kind, "sources of {}", "group")
    if ctx.groups:
        said = [
            f"{md_text(g['head'])}: "
            + (
                f"`{g['command']}`"
                if g["command"]
                else f"cannot be compared, {md_text(g['reason'])}"
            )
            for g in ctx.groups
        ]
        lines += [f"By group (the sources' group paths): {'; '.join(said)}.", ""]
    return lines


def _md_judged(v: dict) -> str:
    """Return a component's cell: its level, or the computed and judged levels with the reason."""
    if not v["judged"]:
        return v["level"]
    j = v["judged"]
    said = f"{j['reason']}; {j['reviewer']}, {j['date']}"
    return f"computed: {v['computed']}; judged: {v['level']} ({said})"


def _md_actions(content: ReportContent) -> list[str]:
    """Return the Markdown of the action statements with the evidence they rest on."""
    if not len(content.actions):
        return []
    v2 = content.measurement
    lines = [
        "## Action statements and the evidence they rest on",
        "",
        "Each statement with the status of every mechanism and CMOC it rests on; weakest: the "
        + (
            "least borne out (by status, then breadth)."
            if v2
            else "lowest posterior mean support among them."
        ),
        "",
        "| action | statement | rests on (status) | weakest |",
        "|---|---|---|---|",
    ]
    for a in content.actions.itertuples(index=False):
        rests = a.rests_on_status.replace(";", "; ").replace("=", ": ")
        if not a.weakest:
            weakest = "–"
        elif v2:
            weakest = (
                f"{a.weakest} {a.weakest_status}, breadth {a.weakest_breadth:.2f} "
                f"[{a.weakest_breadth_lo:.2f}, {a.weakest_breadth_hi:.2f}]"
            )
        else:
            interval = f"[{a.weakest_lo:.2f}, {a.weakest_hi:.2f}]"
            weakest = f"{a.weakest} {a.weakest_support:.2f} {interval}"
        cells = [a.action_id, a.statement, rests, weakest]
        lines.append("| " + " | ".join(md_text(c) for c in cells) + " |")
    return [*lines, ""]


def _md_findings(content: ReportContent) -> list[str]:
    """Return the Markdown of the opening "Findings" (:mod:`cmoc.reports.findings`)."""
    fnd = findings(content, trail_names(content.trail))
    lines = ["## Findings", "", md_text(fnd.overview), ""]
    for g in fnd.groups:
        items = "; ".join(f"{it['target_id']} {it['text']}" for it in g["items"])
        lines += [f"**{md_text(g['heading'])}:** {md_text(items)}.", ""]
    if fnd.assumptions:
        lines += ["What drives these results:", ""]
        lines += [f"- {md_text(a)}" for a in fnd.assumptions]
        lines.append("")
    return lines


def _md_rameses(content: ReportContent) -> list[str]:
    """Return the Markdown of the RAMESES table (:mod:`cmoc.reports.rameses`)."""
    lines = [
        "## Reporting standards (RAMESES)",
        "",
        "The items of RAMESES II (realist evaluations) and RAMESES I (realist syntheses) this "
        "report serves, and the sections that serve them; the rest are the authors'.",
        "",
        "| standard | item | name | served by | how |",
        "|---|---|---|---|---|",
    ]
    for r in rameses_rows(report_sections(content)):
        served = ", ".join(title for _, title in r["served"]) or "left to the authors"
        cells = [r["standard"], r["number"], r["item"], served, r["how"]]
        lines.append("| " + " | ".join(md_text(c) for c in cells) + " |")
    return [*lines, ""]


def _md_cerqual(content: ReportContent) -> list[str]:
    """Return the Markdown of the GRADE-CERQual tables (:mod:`cmoc.reports.cerqual`)."""
    if not content.cerqual:
        return []
    n = content.judgements
    lines = [
        "## Confidence in each finding (GRADE-CERQual)",
        "",
        "Each component computed from the posterior and the evidence (docs/reports.md, "
        '"Confidence grade"); '
        + (
            f"{n} reviewer judgement(s) override a computed value (`judgements.csv`), shown "
            "beside it."
            if n
            else "no reviewer judgement overrides a computed value (`judgements.csv`)."
        ),
        "",
        "### Summary of Qualitative Findings",
        "",
        "| finding | studies contributing | CERQual assessment | explanation |",
        "|---|---|---|---|",
    ]
    for r in content.cerqual:
        if r.judged_grade:
            j = r.judged_grade
            said = (
                f"computed: {r.computed}; judged: {r.assessment} ({j['reason']}; "
                f"{j['reviewer']}, {j['date']})"
            )
        elif r.assessment != r.computed:
            said = f"computed: {r.computed}; {r.assessment} with the judged components"
        else:
            said = r.assessment
        cells = [r.finding, r.studies, said, r.explanation]
        lines.append("| " + " | ".join(md_text(c) for c in cells) + " |")
    lines += [
        "",
        "### Evidence Profile",
        "",
        "| finding | studies contributing | methodological limitations | coherence | adequacy "
        "| relevance | CERQual assessment | explanation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in content.cerqual:
        cells = [r.finding, r.studies]
        for comp in ("limitations", "coherence", "adequacy", "relevance"):
            v = r.components[comp]
            cells.append(f"{_md_judged(v)}: {v['why']}")
        cells += [r.assessment, r.explanation]
        lines.append("| " + " | ".join(md_text(c) for c in cells) + " |")
    return [*lines, ""]


def _md_trail(content: ReportContent) -> list[str]:
    """Return the Markdown of "Evidence behind each number" (:mod:`cmoc.reports.trail`)."""
    if not content.trail:
        return []
    lines = [
        "## Evidence behind each number",
        "",
        "Per mechanism, CMOC and link: its rows of `codings.csv`, its supporting and refuting "
        "codes per source and wave, and its passages (`excerpts.csv`). Codes over every wave; a "
        "band counts its lower bound (>= n); not recorded: refuting codes were not coded for "
        "that kind of source, so none is known.",
        "",
    ]
    for e in content.trail:
        lines += [
            f"### {md_text(e.target_id)}: {md_text(e.name)}",
            "",
            f"Codes over every wave: {md_text(e.supports)} supporting; refuting: "
            f"{md_text(e.refutes)}; {e.n_rows} {'row' if e.n_rows == 1 else 'rows'}."
            + (f" {md_text(e.note)}" if e.note else ""),
            "",
        ]
        if e.rows:
            link = e.target_type == "link"
            head = ["line", *(["CMOC", "role"] if link else []), "source", "wave", "stance"]
            lines += ["| " + " | ".join([*head, "codes", "basis"]) + " |"]
            lines += ["|" + "---|" * (len(head) + 2)]
            for r in e.rows:
                cells = [r["line"], *([r["target"], r["role"]] if link else [])]
                cells += [r["source"], r["wave"], r["stance"], r["codes"], r["basis"]]
                lines.append("| " + " | ".join(md_text(c) for c in cells) + " |")
            if e.n_rows > len(e.rows):
                lines += [
                    "",
                    f"The first {len(e.rows)} of {e.n_rows} rows, and of {e.n_sources} sources "
                    "below; the codes above count them all.",
                ]
            lines += [
                "",
                "| source | wave | supporting codes | refuting codes |",
                "|---|---|---|---|",
            ]
            for s in e.per_source:
                cells = [s["source"], s["wave"], s["supports"], s["refutes"]]
                lines.append("| " + " | ".join(md_text(c) for c in cells) + " |")
            lines.append("")
        if e.related:
            lines += [f"Its CMOCs: {md_text(', '.join(e.related))}.", ""]
        if e.more_excerpts:
            lines += [f"{e.more_excerpts} more passages in `excerpts.csv`.", ""]
        for x in e.excerpts:
            where = f", {x['location']}" if x["location"] else ""
            said = f"{x['source']}{where} ({x['stance']} {x['target']})"
            lines += [f"> {md_text(x['text'])}", f"> — {md_text(said)}", ""]
    return lines


def _md_only(one: dict[str, list[str]], what: str, other: str) -> list[str]:
    """Return the notes on the targets only one context's sources were coded against."""
    lines = []
    for context, ids in one.items():
        lines += [
            f"Coded against {what.format(md_text(context))} only (no estimate for another "
            f"{other}): {md_text(', '.join(ids))}.",
            "",
        ]
    return lines


def _md_context_table(ctx, beyond: str) -> list[str]:
    """Return the Markdown table of a context section's rows (contexts side by side)."""
    if not ctx.rows:
        return []
    head = ["target", "type", "name"]
    head += [f"breadth, {k}" for k in ctx.kinds] + [f"direction, {k}" for k in ctx.kinds]
    head += ["P(breadth differs)", "P(direction differs)", f"P(beyond {beyond})"]
    lines = ["| " + " | ".join(md_text(h) for h in head) + " |", "|" + "---|" * len(head)]
    for r in ctx.rows:
        cells = [r["target_id"], r["target_type"], r["name"]]
        cells += [r["breadth"].get(k, "–") for k in ctx.kinds]
        cells += [r["direction"].get(k, "–") for k in ctx.kinds]
        cells += [r["p_breadth"], r["p_direction"], r["p_beyond"]]
        lines.append("| " + " | ".join(md_text(c) for c in cells) + " |")
    return [*lines, ""]


def _md_paths(content: ReportContent) -> list[str]:
    """Return the Markdown of the paths into the web's outcome nodes (model v2 with links)."""
    if content.paths is None:
        return []
    cl = content.classification
    lines = ["", "## Paths into the web's outcomes", ""]
    if not len(content.paths):
        return [*lines, "The web has no outcome node (a mechanism that links end at and none "
                "start from) reached from a cause.", ""]  # fmt: skip
    lines += [
        "| outcome | | path | sign | links' statuses | weakest link | P(weakest holds) "
        "| P(all hold) | product of the links' P |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in content.paths.itertuples(index=False):
        lines.append(
            f"| {md_text(r.outcome)} | {r.rank} | {md_text(r.path)} | {r.sign} | "
            f"{md_text(r.statuses)} | {md_text(r.weakest_link)} | {r.p_weakest:.2f} | "
            f"{r.p_all_hold:.2f} | {r.p_product:.2f} |"
        )
    lines += [
        "",
        "Per outcome node (a mechanism that links end at and none start from), the strongest "
        "and the weakest paths from the web's causes (mechanisms that links start from and none "
        f"end at). In a posterior draw a link holds when its breadth is at least "
        f"{cl['breadth_min']} and, where its direction was tested, its direction is at least "
        f"{0.5 + cl['direction_margin']:g}; P(all hold) counts the draws in which every link of "
        "the path holds. Any two mechanisms: `cmoc paths DIR --from A --to B`.",
        "",
    ]
    return lines


def _md_comparison(content: ReportContent) -> list[str]:
    """Return model v2's comparison: why it is missing, or its reading and table."""
    if "comparison" in content.unavailable:
        return ["Model comparison. " + md_text(content.unavailable["comparison"]), ""]
    comparison = content.comparison
    if comparison is None:
        return ["Model comparison. Not run for this report.", ""]
    lines = [
        "Model comparison. " + md_text(comparison.text),
        "",
        "| model | ELPD (LOO) | se | p_loo | difference | se of difference | stacking weight "
        "| units with k > 0.7 | converged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in comparison.table.itertuples(index=False):
        lines.append(
            f"| {md_text(r.model)} | {r.elpd:.1f} | {r.se:.1f} | {r.p_loo:.1f} | "
            f"{r.elpd_diff:.1f} | {r.dse:.1f} | {r.weight:.2f} | {r.bad_k} | "
            f"{'yes' if r.converged else 'NO'} |"
        )
    return [*lines, ""]


def _md_measurement_plan(content: ReportContent) -> list[str]:
    """Return model v2's plan section: the HTML report's sentences, warning and table."""
    lines = ["## Planning the next sources", "", md_text(plan_paragraph(content)), ""]
    plan = content.plan
    if plan is None or not plan.targets:
        return lines
    warning = plan_warning(content)
    if warning:
        lines += [f"**Warning:** {md_text(warning)}", ""]
    b_min = content.classification["breadth_min"]
    ns = range(1, plan.settings.max_new + 1)
    last = ns[-1]
    lines += [
        f"P(decisive) after n more sources of kind {md_text(plan.settings.kind)}, one row per "
        "target:",
        "",
        f"| target | type | P(breadth >= {b_min}) now | sources now | "
        + " | ".join(f"n = {n}" for n in ns)
        + f" | ± MC error (largest) | P(affirmed) at {last} | P(refuted) at {last} "
        f"| P(contested) at {last} | P(breadth >= {b_min}) at {last} | exact refits "
        "| PSIS kept (k > 0.7) | largest k |",
        "|" + "---|" * (13 + len(ns) - 1),
    ]
    for r in measurement_plan_rows(plan):
        lines.append(
            f"| {md_text(r['target_id'])} | "
            f"{md_text(r['target_type'])} | {r['p_broad_now']:.2f} | {r['sources_min_now']} | "
            + " | ".join(f"{p:.2f}" for p in r["p_decisive"])
            + f" | {r['mc_se']:.2f} | {r['p_affirmed']:.2f} | {r['p_refuted']:.2f} | "
            f"{r['p_contested']:.2f} | {r['p_broad']:.2f} | {r['refits']} | "
            f"{r['unreliable']} of {r['updates']} | "
            f"{_md_num(r['khat_max'], 2)} |"
        )
    return [*lines, "", md_text(plan_method(plan)), ""]


def _md_measurement_ppc(content: ReportContent) -> list[str]:
    """Return model v2's posterior predictive check: the HTML report's sentence and tables."""
    pct = f"{content.ci:.0%}"
    lines = ["Posterior predictive check. " + md_text(measurement_ppc_paragraph(content)), ""]
    groups = content.ppc_by_group
    if groups is not None and len(groups):
        lines += [
            f"| wave | checked | kind | comparisons | in the {pct} interval | share "
            "| surprising (p < 0.05) | share |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in groups.itertuples(index=False):
            what = "totals of blocks" if r.unit_type == "block" else "sources' exact codes"
            lines.append(
                f"| {md_text(r.wave)} | {what} | {md_text(r.kind)} | {r.rows} | "
                f"{r.in_interval} | {r.share_in_interval:.2f} | {r.surprising} | "
                f"{r.share_surprising:.2f} |"
            )
        lines.append("")
    ppc = content.ppc
    odd = ppc[ppc["surprising"].astype(bool) | ~ppc["in_interval"].astype(bool)]
    if len(odd):
        lines += [
            f"Surprising (p < 0.05) or outside the {pct} predictive interval:",
            "",
            f"| comparison | observed | predicted mean [{pct} interval] | p |",
            "|---|---|---|---|",
        ]
        for r in odd.itertuples(index=False):
            lines.append(
                f"| {md_text(r.label)} | {md_text(r.observed)} | {r.predicted_mean:.1f} "
                f"[{r.predicted_lo:.0f}, {r.predicted_hi:.0f}] | {r.p_value:.3f} |"
            )
        lines.append("")
    targets = content.ppc_targets
    if targets is not None and len(targets):
        lines += [
            "Per target, among the sources coded one by one (p: two-sided predictive p-value):",
            "",
            f"| target | sources coded against it | evidencing it | predicted [{pct}] | p "
            "| their codes | predicted | p | supporting codes | predicted | p | surprising |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in targets.itertuples(index=False):
            lines.append(
                f"| {md_text(r.target_id)} | {r.sources} | {r.evidencing} | "
                f"{r.evidencing_mean:.1f} [{r.evidencing_lo:.0f}, {r.evidencing_hi:.0f}] | "
                f"{r.p_value:.3f} | {r.codes} | {r.codes_mean:.1f} | {r.codes_p_value:.3f} | "
                f"{_md_num(r.supports, 0)} | {_md_num(r.supports_mean, 1)} | "
                f"{_md_num(r.supports_p_value)} | {'yes' if r.surprising else 'no'} |"
            )
        lines.append("")
    return lines


def _md_influence(content: ReportContent) -> list[str]:
    """Return model v2's influence of single units: the HTML report's sentences and table."""
    first, *more = influence_paragraphs(content)
    lines = ["Influence of single units of evidence. " + md_text(first)]
    for paragraph in more:
        lines += ["", md_text(paragraph)]
    warning = influence_warning(content)
    if warning:
        lines += ["", f"**Warning:** {md_text(warning)}"]
    lines.append("")
    top = content.influence_top
    if top is None or not len(top):
        return lines
    b_min = content.classification["breadth_min"]
    lines += [
        f"| target | status | moved most by (left out) | P(breadth >= {b_min}): with -> "
        "without | breadth: with -> without | Pareto k |",
        "|---|---|---|---|---|---|",
    ]
    for r in top.itertuples(index=False):
        if r.moved:
            k = f"{r.pareto_k:.2f}" + ("" if r.reliable else " **unreliable**")
            lines.append(
                f"| {md_text(r.target_id)} | {md_text(r.status)} | {md_text(r.label)} | "
                f"{r.p_broad:.2f} -> {r.p_broad_loo:.2f} | {r.breadth_mean:.3f} -> "
                f"{r.breadth_loo:.3f} | {k} |"
            )
        else:
            lines.append(
                f"| {md_text(r.target_id)} | {md_text(r.status)} | no single unit moves it | "
                f"{r.p_broad:.2f} | {r.breadth_mean:.3f} | - |"
            )
    lines += [
        "",
        f"Per target, the unit of evidence whose removal changes P(breadth >= {b_min}) most "
        "(differences below 0.01 count as equal; then the one that changes the breadth most), "
        "estimated by Pareto-smoothed importance sampling of the fit's draws: the probability "
        "and the posterior mean breadth with all the evidence and without that unit. No single "
        f"unit moves it: no unit changes either by {MOVED_MIN:g} or more. Pareto k above 0.7: "
        "the estimate is unreliable (an exact refit without the unit is needed).",
        "",
    ]
    return lines


def _md_whatif(content: ReportContent) -> list[str]:
    """Return the Markdown of "What the recording of refutes decides" (as the HTML)."""
    table = content.recording_whatif
    if table is None:
        return []
    cross = whatif_crosstab(table)
    lines = [
        "### What the recording of refutes decides",
        "",
        md_text(whatif_sentence(content)),
        "",
        "| status as reported | "
        + " | ".join(f"{md_text(c)} if missing refutes were none" for c in cross.columns)
        + " |",
        "|---|" + "---|" * len(cross.columns),
    ]
    for status, row in cross.iterrows():
        lines.append(f"| {md_text(status)} | " + " | ".join(str(v) for v in row) + " |")
    lines += [
        "",
        "| target | status | status if none | direction if none | breadth | breadth if none |",
        "|---|---|---|---|---|---|",
    ]
    for r in rounded(table).itertuples(index=False):
        direction = _md_direction(
            r.direction_testable_whatif,
            r.direction_mean_whatif,
            r.direction_lo_whatif,
            r.direction_hi_whatif,
            "not tested",
        )
        lines.append(
            f"| {md_text(r.target_id)} | {md_text(r.status)} | {md_text(r.status_whatif)} | "
            f"{direction} | {r.breadth_mean:.2f} | {r.breadth_mean_whatif:.2f} |"
        )
    check = content.recording_whatif_check
    lines += [
        "",
        "The what-if fit is model v2 refitted to the same evidence with `[recording]` declaring "
        "every source kind's refutes recorded, so that every missing refutes cell is a zero "
        f"(saved as `.cmoc/whatif-refutes-none-fit.nc`; {md_text(check.text)}).",
        "",
    ]
    return lines


def _md_measurement_sensitivity(content: ReportContent) -> list[str]:
    """Return the prior sensitivity of a model v2 fit: the HTML report's verdict and table."""
    sens = content.sensitivity
    weak = sens[sens["diagnosis"] == "potential strong prior / weak likelihood"]
    conflict = sens[sens["diagnosis"] == "potential prior-data conflict"]
    moved = sens[sens["status_sensitive"]]
    named = ": " + ", ".join(f"**{md_text(t)}**" for t in moved["target_id"]) if len(moved) else ""
    lines = [
        "Prior sensitivity. Power-scaling the priors of model v2 (MeasurementPriors; "
        f"Kallioinen et al. 2024): {len(weak)} of {len(sens)} targets have a breadth driven "
        "by the prior more than by their evidence (strong prior / weak likelihood), "
        f"{len(conflict)} show a potential prior-data conflict, and {len(moved)} would change "
        f"status if the priors were half or twice as strong{named}.",
        "",
        "| target | prior | likelihood | diagnosis | status | prior x1/2 | prior x2 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sens.itertuples(index=False):
        lines.append(
            f"| {md_text(r.target_id)} | {_md_num(r.prior_sensitivity)} | "
            f"{_md_num(r.likelihood_sensitivity)} | {md_text(r.diagnosis)} | "
            f"{md_text(r.status)} | {md_text(r.status_weaker_prior)} | "
            f"{md_text(r.status_stronger_prior)} |"
        )
    lines += [
        "",
        "Sensitivity: cumulative Jensen-Shannon distance of each breadth's posterior per unit "
        "change of the power (ArviZ psense_summary); above 0.05 is flagged. Statuses under the "
        "priors half and twice as strong come from importance reweighting of the draws (Pareto "
        f"k {_md_num(sens['pareto_k_weaker'].iloc[0], 2)} and "
        f"{_md_num(sens['pareto_k_stronger'].iloc[0], 2)}; above 0.7 the reweighting is "
        "unreliable).",
        "",
    ]
    return lines


def _md_num(value: float, digits: int = 3) -> str:
    return "-" if pd.isna(value) else f"{value:.{digits}f}"


class ReportWriteError(Exception):
    """The report could not be written (disk full, quota, permissions); nothing was changed.

    Attributes
    ----------
    path : Path
        The file (or folder) being written when it failed.
    error : OSError
        The error of the operating system.
    """

    def __init__(self, message: str, path: Path, error: OSError):
        super().__init__(message)
        self.path = path
        self.error = error


_SLUG_LENGTH = 48


def report_slug(name: str) -> str:
    """Return the folder name of a report: ``name`` as a safe slug, unique to it.

    The slug is lower-case ASCII letters, digits, ``-`` and ``_`` (at most 48 of them, then
    possibly the suffix), with accents dropped and every other run of characters made one ``-``.
    A name that is its own slug (``ioc``) is kept; any other gets the first 8 hex digits of its
    SHA-256 as a suffix (``IOC study`` -> ``ioc-study-<hash>``, ``../../x`` -> ``x-<hash>``), so
    two names never share a folder and a path in the name never leaves ``reports/build/``.

    Parameters
    ----------
    name : str
        The ``name`` of ``evidence.toml``.

    Returns
    -------
    str
    """
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9_-]+", "-", plain.lower()).strip("-_")
    slug = slug[:_SLUG_LENGTH].strip("-_")
    if slug == name:
        return slug
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{slug or 'report'}-{digest}"


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to the file descriptor (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _stage(path: Path, data: bytes) -> Path:
    """Write ``data`` in full to a new temporary file beside ``path``; return the file."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        try:
            # mkstemp makes the file private: keep the replaced file's mode, or the usual one
            os.fchmod(fd, file_mode(path))
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - a file system that cannot sync directories
        pass
    finally:
        os.close(fd)


def _reason(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "no space left on device"
    if err.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if err.errno == errno.ENOTDIR:
        return "not a folder"
    return (err.strerror or type(err).__name__).lower()


def write_report_files(out: str | Path, files: dict[str, bytes]) -> list[Path]:
    """Replace the report's files in ``out`` all together; leave everything else alone.

    Every file is first written in full beside its destination; only then are they renamed over
    the old ones. On an error while writing, the temporary files (and any folder made for the
    report) are removed and :class:`ReportWriteError` is raised: the old report is as it was.

    Parameters
    ----------
    out : str or Path
        The report folder (created if needed, with its parents).
    files : dict of str to bytes
        File name (one of :data:`REPORT_FILES`, or a figure file ``figures/<name>.svg``,
        :mod:`cmoc.reports.figure_files`) to content. When figure files are given, the
        ``figures/`` folder's figure files that are not among them (an earlier build's) are
        removed after the switch.

    Returns
    -------
    list of Path
        The files written, in the order given.
    """
    out = Path(out)
    unknown = {n for n in files if n not in REPORT_FILES and not is_figure_file(n)}
    if unknown:
        raise ValueError(f"not report files: {sorted(unknown)}")
    figures_dir = out / FIGURES_DIR
    made = [d for d in (out, *out.parents) if not d.exists()]  # deepest first
    if any(is_figure_file(n) for n in files) and not figures_dir.exists():
        made.insert(0, figures_dir)
    staged: dict[str, Path] = {}
    current = out
    try:
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(out))
        out.mkdir(parents=True, exist_ok=True)
        if figures_dir in made:
            current = figures_dir
            figures_dir.mkdir()
        elif any(is_figure_file(n) for n in files) and (
            figures_dir.is_symlink() or not figures_dir.is_dir()
        ):
            current = figures_dir
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(figures_dir))
        for name in files:
            current = out / name
            if current.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a folder", str(current))
        for name, data in files.items():
            current = out / name
            staged[name] = _stage(current, data)
    except OSError as err:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        for directory in made:  # the folders made for the report, deepest first
            try:
                directory.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                break
        raise ReportWriteError(
            f"{_reason(err)} while writing {current}: nothing was changed", current, err
        ) from err
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    written = []
    for name, tmp in staged.items():
        # renames need no space: once every file is written, the switch does not fail for
        # lack of it
        os.replace(tmp, out / name)
        written.append(out / name)
    if any(is_figure_file(n) for n in files):
        for old in sorted(figures_dir.glob("*.svg")):  # an earlier build's figures not drawn now
            if (
                is_figure_file(f"{FIGURES_DIR}/{old.name}")
                and f"{FIGURES_DIR}/{old.name}" not in files
            ):
                old.unlink(missing_ok=True)
        _sync_directory(figures_dir)
    _sync_directory(out)
    return written


def build_report(
    base: EvidenceBase, content: ReportContent, out: str | Path, pdf: bool = False
) -> list[Path]:
    """Write ``report.html``, ``report.md``, ``summary.csv``, ``summary.json`` and the figures.

    The figures go to ``out/figures/`` as SVG files that ``report.md`` links
    (:mod:`cmoc.reports.figure_files`); ``report.html`` carries them inline.

    Parameters
    ----------
    base : EvidenceBase
        The evidence base reported on.
    content : ReportContent
        From :func:`cmoc.reports.report_content`.
    out : str or Path
        Output directory (created if needed). The files are replaced all together
        (:func:`write_report_files`); other files in it are left alone.
    pdf : bool, default False
        Also write ``report.pdf``, the HTML report typeset for print (:mod:`cmoc.reports.pdf`;
        needs the ``pdf`` extra).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ReportWriteError
        A file could not be written (disk full, quota, permissions): nothing was changed.
    """
    if pdf:
        require_pdf()
    check = content.convergence
    meta = {
        "evidence": base.config.name,
        "wave": base.waves[-1],
        "ci": content.ci,
        "converged": check.passed,
        "convergence": check.text,
        "evidence_hash": base.evidence_hash,
    }
    figs = report_figures(content)
    svgs = figure_files(figs)
    texts = {
        "report.html": render_html(content, figs),
        "report.md": _markdown(base, content, svgs),
        "summary.csv": render_summary(content.summary, "csv", meta),
        "summary.json": render_summary(content.summary, "json", meta),
        **svgs,
    }
    files = {name: text.encode("utf-8") for name, text in texts.items()}
    if pdf:
        files["report.pdf"] = render_pdf(texts["report.html"])
    return write_report_files(out, files)
