"""``cmoc fit DIR``: fit the model and save the posterior (one wave, or every wave)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import UserError, err, evidence_for, is_tty, load_evidence, model_config
from .options import SAMPLING, DirArg, ModelOpt, SamplingOptions, sampling_options

__all__ = ["fit"]


@sampling_options()
def fit(
    directory: DirArg,
    out: Annotated[
        Path | None, typer.Option(help="Where to save the fit (default DIR/.cmoc/fit.nc).")
    ] = None,
    sampling: SamplingOptions = SAMPLING,
    wave: Annotated[str | None, typer.Option(help="Fit the evidence up to this wave only.")] = None,
    model: ModelOpt = None,
    all_waves: Annotated[
        bool,
        typer.Option(
            "--all-waves", help="Fit the evidence known after each wave (reusing saved fits)."
        ),
    ] = False,
) -> None:
    """Fit the model (v2 by default; --model FILE) and save the posterior (netCDF, atomically)."""
    base = evidence_for(load_evidence(directory), wave)
    s = sampling.config()
    cfg = model_config(model, base)
    if all_waves:
        if wave is not None or out is not None:
            raise UserError("--all-waves fits every wave to DIR/.cmoc: no --wave or --out")
        from ..analyses import check_convergence, fit_waves

        for label, (_, idata, how) in fit_waves(directory, cfg, s, progress=is_tty()).items():
            err(f"{label}: {how}")
            check = check_convergence(idata)
            err(f"{label}: {'WARNING: ' if not check.passed else ''}{check.text}")
        return
    from ..analyses import check_convergence, default_fit_path, save_fit
    from ..analyses import fit as fit_model

    path = out or default_fit_path(directory, wave)
    idata = fit_model(base, cfg, sampler=s, progress=is_tty())
    save_fit(idata, path)
    check = check_convergence(idata)
    err(f"WARNING: {check.text}" if not check.passed else check.text)
    typer.echo(str(path))
