"""The self-contained HTML report: a Jinja2 template (autoescaped) with inline SVG figures."""

from __future__ import annotations

import math
import os
import shlex
from datetime import UTC, datetime

import jinja2
import pandas as pd

from . import figures
from .content import ReportContent

__all__ = ["build_date", "methods_paragraph", "render_html"]

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


_ENV.filters.update(num=_num, interval=_interval, text=_text)


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
        f"posterior predictive distribution."
    )


def _command(content: ReportContent) -> str:
    s = content.sampler
    args = [
        "cmoc",
        "report",
        f"<{content.name}>",
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


def render_html(content: ReportContent) -> str:
    """Render the report as one self-contained HTML page (figures inline, no external files).

    Parameters
    ----------
    content : ReportContent

    Returns
    -------
    str
        The page. Deterministic: no timestamp unless ``SOURCE_DATE_EPOCH`` is set.
    """
    figs = {
        "theory": figures.theory_diagram(content.summary, content.mechanism_names),
        "forest": figures.forest(content.summary, content.ci),
        "trajectory": figures.trajectory(content.trajectory) if len(content.waves) > 1 else None,
        "ppc": figures.ppc_figure(content.ppc),
    }
    summary = content.summary.set_index("target_id")
    return _ENV.get_template("report.html.j2").render(
        c=content,
        figs=figs,
        support=summary,
        methods=methods_paragraph(content),
        command=_command(content),
        built=build_date(),
        status_style=figures.STATUS_STYLE,
    )
