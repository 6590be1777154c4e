"""Building the report files for a fitted evidence base (no sampling here).

The files are deterministic: the same evidence, model, sampler settings and seed give
byte-identical output (no timestamps unless ``SOURCE_DATE_EPOCH`` is set, no absolute paths).
"""

from __future__ import annotations

from pathlib import Path

from ..evidence import EvidenceBase, atomic_write_bytes, atomic_write_text, describe
from .content import ReportContent
from .html import (
    build_date,
    calibration_paragraph,
    plan_method,
    plan_paragraph,
    render_html,
)
from .pdf import render_pdf, require_pdf
from .tables import render_summary, rounded

__all__ = ["build_report"]


def _markdown(base: EvidenceBase, content: ReportContent) -> str:
    """Render the plain-text companion of the HTML report: support table and model checks."""
    check = content.convergence
    data = rounded(content.summary)
    sampler = content.sampler
    packages = content.provenance["packages"]
    lines = [f"# {base.config.title}", ""]
    if not check.passed:
        lines += [f"> **WARNING: {check.text}.** The estimates below are not reliable.", ""]
    for wave, wave_check in content.wave_checks.items():
        if not wave_check.passed and wave != base.waves[-1]:
            lines += [f"> **WARNING: the fit after wave {wave!r}: {wave_check.text}.**", ""]
    built = build_date()
    if built:
        lines += [f"Built {built}.", ""]
    lines += [
        f"Evidence: `{base.config.name}` ({base.config.citation}); waves "
        + " -> ".join(base.waves)
        + ".",
        "",
        "```",
        describe(base),
        "```",
        "",
        "## Support per mechanism and CMOC",
        "",
        "Support is the posterior probability that a CMOC (or a mechanism's typical CMOC) is "
        "borne out when it is coded; the interval is the 90% equal-tailed credible interval and "
        "P(>1/2) the posterior probability that support exceeds one half.",
        "",
        "| target | type | mechanism | support | 90% interval | P(>1/2) | codes | evidence "
        "| status | ESS | R-hat |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data.itertuples(index=False):
        lines.append(
            f"| {r.target_id} | {r.target_type} | {r.mechanism_id} | {r.support_mean:.2f} | "
            f"[{r.support_lo:.2f}, {r.support_hi:.2f}] | {r.p_supported:.2f} | {r.codes} | "
            f"{r.evidence_level} | {r.status} | {r.ess_bulk} | {r.r_hat:.3f} |"
        )
    lines += ["", "## Planning the next sources", "", plan_paragraph(content), ""]
    plan = content.plan
    if plan is not None and plan.targets:
        lines += [
            "| CMOC | P(>1/2) now | n more | P(settled) ± MC error | P(affirmed) | P(refuted) "
            "| exact refits | PSIS kept with k > 0.7 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in plan.table.itertuples(index=False):
            lines.append(
                f"| {r.target_id} | {r.p_supported_now:.2f} | {r.n_new} | {r.p_settled:.2f} ± "
                f"{r.mc_se:.2f} | {r.p_affirmed:.2f} | {r.p_refuted:.2f} | {r.refits} | "
                f"{r.unreliable} |"
            )
        lines += ["", plan_method(plan), ""]
    lines += [
        "## Model checks",
        "",
        f"Convergence: {check.text}.",
        "",
        "Simulation-based calibration. " + calibration_paragraph(content),
        "",
    ]
    cal = content.calibration
    if cal is not None:
        lines += [
            "| quantity | datasets | chi-square | p-value | threshold | mean rank | uniform |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in cal.tests.itertuples(index=False):
            lines.append(
                f"| {r.quantity} | {r.datasets} | {r.chi2:.1f} | {r.p_value:.4f} | "
                f"{r.threshold:.4f} | {r.mean_rank:.2f} | {'yes' if r.uniform else 'NO'} |"
            )
        lines.append("")
    lines += [
        "Priors and model choices:",
        "",
        *[f"- {name}: {prior}" for name, prior in content.priors],
        "",
        "## Reproducibility",
        "",
        f"- evidence hash: `{content.provenance['evidence_hash']}`",
        f"- model: {content.model['name']} (config id `{content.provenance['model_id']}`)",
        "- sampler: "
        + ", ".join(f"{k} {sampler[k]}" for k in sorted(sampler) if sampler[k] is not None),
        "- packages: " + ", ".join(f"{k} {v}" for k, v in sorted(packages.items())),
        f"- command: `cmoc report <evidence dir {base.config.name}> --seed {sampler.get('seed')} "
        f"--draws {sampler.get('draws')} --tune {sampler.get('tune')} "
        f"--chains {sampler.get('chains')} --sampler {sampler.get('sampler')}`",
        "",
    ]
    return "\n".join(lines)


def build_report(
    base: EvidenceBase, content: ReportContent, out: str | Path, pdf: bool = False
) -> list[Path]:
    """Write ``report.html``, ``report.md``, ``summary.csv`` and ``summary.json`` into ``out``.

    Parameters
    ----------
    base : EvidenceBase
        The evidence base reported on.
    content : ReportContent
        From :func:`cmoc.reports.report_content`.
    out : str or Path
        Output directory (created if needed). Each file is written atomically.
    pdf : bool, default False
        Also write ``report.pdf``, the HTML report typeset for print (:mod:`cmoc.reports.pdf`;
        needs the ``pdf`` extra). It is rendered before any file is written, so a failure
        leaves the directory as it was.

    Returns
    -------
    list of Path
        The files written.
    """
    if pdf:
        require_pdf()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    check = content.convergence
    meta = {
        "evidence": base.config.name,
        "wave": base.waves[-1],
        "ci": content.ci,
        "converged": check.passed,
        "convergence": check.text,
        "evidence_hash": base.evidence_hash,
    }
    files = {
        "report.html": render_html(content),
        "report.md": _markdown(base, content),
        "summary.csv": render_summary(content.summary, "csv", meta),
        "summary.json": render_summary(content.summary, "json", meta),
    }
    pdf_bytes = render_pdf(files["report.html"]) if pdf else None
    written = []
    for name, text in files.items():
        atomic_write_text(out / name, text)
        written.append(out / name)
    if pdf_bytes is not None:
        atomic_write_bytes(out / "report.pdf", pdf_bytes)
        written.append(out / "report.pdf")
    return written
