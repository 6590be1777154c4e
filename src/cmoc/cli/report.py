"""``cmoc report DIR``: build the report (the sequence is :func:`cmoc.reports.build_report_for`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import UserError, err, is_tty, model_config
from .options import SAMPLING, DirArg, ModelOpt, SamplingOptions, sampling_options

__all__ = ["report"]


@sampling_options()
def report(
    directory: DirArg,
    out: Annotated[
        Path | None,
        typer.Option(help="Output directory (default reports/build/<slug of the evidence name>)."),
    ] = None,
    sampling: SamplingOptions = SAMPLING,
    model: ModelOpt = None,
    pdf: Annotated[
        bool,
        typer.Option(
            "--pdf", help="Also write report.pdf, typeset by WeasyPrint (the pdf extra of cmoc)."
        ),
    ] = False,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare/--no-compare",
            help="Compare the hierarchy with no and complete pooling (two more fits, saved).",
        ),
    ] = True,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan/--no-plan",
            help="Plan for inconclusive CMOCs: reuse DIR/.cmoc/plan.json if made from this fit, "
            "else simulate (200 per CMOC, up to 5 new sources, PSIS without refits; saved).",
        ),
    ] = True,
    calibration: Annotated[
        Path | None,
        typer.Option(
            help="A saved calibration of the model (cmoc calibrate --out FILE); default: the "
            "newest matching DIR/.cmoc/calibration*.json.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Dask worker processes for the plan (default 0: in this process, quicker for "
            "the report's PSIS-only plan of a few CMOCs than starting a cluster).",
        ),
    ] = 0,
) -> None:
    """Build the report: validate, fit each wave (or reuse saved fits), write the files.

    The report (``report.html``, self-contained) shows the posterior after every wave, so the
    evidence up to each wave is fitted (``DIR/.cmoc/fit-<wave>.nc``, ``fit.nc`` for the newest)
    unless a saved fit still matches evidence, model and sampler settings. It also shows the
    plan for inconclusive CMOCs (``DIR/.cmoc/plan.json``, computed and saved when missing) and
    a saved simulation-based calibration of the model configuration, if there is one.
    """
    s = sampling.config()
    cfg = model_config(model)
    from ..reports import ReportSettingsError, ReportWriteError, build_report_for
    from ..reports.pdf import PdfUnavailableError

    try:
        run = build_report_for(
            directory,
            cfg,
            s,
            compare=compare,
            plan=plan,
            calibration=calibration,
            out=out,
            pdf=pdf,
            workers=workers,
            progress=is_tty(),
            say=err,
        )
    except (PdfUnavailableError, ReportSettingsError) as error:
        raise UserError(str(error)) from error
    except ReportWriteError as error:
        raise UserError(f"cannot write the report: {error}") from error
    for path in run.written:
        typer.echo(str(path))
