"""Building the report files for a fitted evidence base (no sampling here).

The files are deterministic: the same evidence, model, sampler settings and seed give
byte-identical output (no timestamps, no absolute paths).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import xarray as xr

from ..evidence import EvidenceBase, atomic_write_text, describe
from ..models import ModelConfig
from .tables import render_summary, rounded

__all__ = ["build_report"]


def _priors(idata: xr.DataTree) -> list[tuple[str, str]]:
    return ModelConfig.model_validate_json(idata.attrs["model_config"]).describe_priors()


def _markdown(base: EvidenceBase, idata: xr.DataTree, frame: pd.DataFrame, check) -> str:
    data = rounded(frame)
    sampler = json.loads(idata.attrs.get("sampler", "{}"))
    packages = json.loads(idata.attrs.get("packages", "{}"))
    lines = [f"# {base.config.title}", ""]
    if not check.passed:
        lines += [f"> **WARNING: {check.text}.** The estimates below are not reliable.", ""]
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
    lines += [
        "",
        "## Model checks",
        "",
        f"Convergence: {check.text}.",
        "",
        "Priors and model choices:",
        "",
        *[f"- {name}: {prior}" for name, prior in _priors(idata)],
        "",
        "## Reproducibility",
        "",
        f"- evidence hash: `{idata.attrs.get('evidence_hash')}`",
        f"- model: {idata.attrs.get('model_name')} (config id `{idata.attrs.get('model_id')}`)",
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
    base: EvidenceBase, idata: xr.DataTree, frame: pd.DataFrame, check, out: str | Path
) -> list[Path]:
    """Write ``summary.csv``, ``summary.json`` and ``report.md`` into ``out``.

    Parameters
    ----------
    base : EvidenceBase
    idata : xarray.DataTree
        The fit of ``base``.
    frame : pandas.DataFrame
        :func:`cmoc.analyses.summarize` of the fit.
    check : ConvergenceCheck
        The convergence gate's verdict (a failure is shown at the top of the report).
    out : str or Path
        Output directory (created if needed).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "evidence": base.config.name,
        "wave": base.waves[-1],
        "ci": 0.9,
        "converged": check.passed,
        "convergence": check.text,
        "evidence_hash": base.evidence_hash,
    }
    files = {
        "summary.csv": render_summary(frame, "csv", meta),
        "summary.json": render_summary(frame, "json", meta),
        "report.md": _markdown(base, idata, frame, check),
    }
    written = []
    for name, text in files.items():
        atomic_write_text(out / name, text)
        written.append(out / name)
    return written
