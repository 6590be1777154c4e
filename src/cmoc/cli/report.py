"""``cmoc report DIR``: build the report (the sequence is :func:`cmoc.reports.build_report_for`).

``cmoc report --fit FIT.nc`` (or ``cmoc report DIR --fit FIT.nc``) builds the report of one
saved fit from the file alone (:func:`cmoc.reports.pipeline.build_report_from_fit`).

``cmoc report DIR`` reports model v2 fits, the default model
(breadth, direction, depth, v2's statuses, predictive check, influence of single units, the
comparison of its pooling variants and the plan for its inconclusive targets,
:data:`cmoc.analyses.REPORT_PLAN_V2`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .common import UserError, err, is_tty, model_config
from .options import SAMPLING, ModelOpt, SamplingOptions, sampling_options

__all__ = ["report"]


@sampling_options()
def report(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Evidence base directory (optional with --fit).", show_default=False),
    ] = None,
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
            help="Compare the hierarchy with no and complete pooling (two more fits, saved; "
            "of model v2, of its target level).",
        ),
    ] = True,
    context: Annotated[
        bool,
        typer.Option(
            "--context/--no-context",
            help="Model v2, two source kinds or more: each target per source kind, from model "
            "v2 with context effects (one more fit, saved: DIR/.cmoc/context-kind-fit.nc).",
        ),
    ] = True,
    whatif: Annotated[
        bool,
        typer.Option(
            "--whatif/--no-whatif",
            help="Model v2, where some kind's refutes are not recorded: refit with every "
            "missing refute read as none, and state what that reading would change (one more "
            "fit, saved: DIR/.cmoc/whatif-refutes-none-fit.nc).",
        ),
    ] = True,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan/--no-plan",
            help="Plan for inconclusive CMOCs: reuse DIR/.cmoc/plan.json if made from this fit, "
            "else simulate (200 per CMOC, up to 5 new sources, PSIS without refits; saved). "
            "Model v2: for inconclusive targets (CMOCs and mechanisms), 200 simulations, up to "
            "5 new sources, PSIS without refits; plan.json reused only if made from this fit "
            "with these settings.",
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
    fit: Annotated[
        Path | None,
        typer.Option(
            "--fit",
            help="Report this saved fit from the file alone (the newest wave only; nothing "
            "fitted or saved). With DIR, the fit must be of DIR's evidence.",
        ),
    ] = None,
) -> None:
    """Build the report: validate, fit each wave (or reuse saved fits), write the files.

    The report (``report.html``, self-contained) shows the posterior after every wave, so the
    evidence up to each wave is fitted (``DIR/.cmoc/fit-<wave>.nc``, ``fit.nc`` for the newest)
    unless a saved fit still matches evidence, model and sampler settings. It also shows the
    plan for inconclusive CMOCs (``DIR/.cmoc/plan.json``, computed and saved when missing) and
    a saved simulation-based calibration of the model configuration, if there is one.

    With ``--fit FILE`` the report is that one fit's, from the evidence the file carries: the
    newest wave only (the trajectory across waves and the model comparison need DIR), the
    fit's own model and sampler settings, the plan computed and not saved.

    The report is of model v2, the default model (breadth,
    direction where testable, depth, its statuses, and its own predictive check, influence of
    single units, prior sensitivity, comparison of its pooling variants by PSIS-LOO over its
    units, and plan: the chance that more sources make each inconclusive target decisive, by
    PSIS without refits, the saved plan reused only when made from the same fit with the same
    settings); with ``--model FILE`` holding ``model = "hierarchical"``, or for a base whose
    layout of totals model v2 does not fit yet (said on stderr), of model v1.
    """
    if directory is None and fit is None:
        raise UserError(
            "give an evidence base, `cmoc report DIR`, or a saved fit, `cmoc report --fit FILE`"
        )
    s = sampling.config()
    from ..reports import ReportSettingsError, ReportWriteError, build_report_for
    from ..reports.pdf import PdfUnavailableError

    try:
        if fit is not None:
            from ..reports.pipeline import build_report_from_fit

            if not fit.is_file():
                raise UserError(f"{fit}: no such fit file")
            run = build_report_from_fit(
                fit,
                directory,
                None if model is None else model_config(model),
                plan=plan,
                calibration=calibration,
                out=out,
                pdf=pdf,
                workers=workers,
                progress=is_tty(),
                say=err,
            )
        else:
            run = build_report_for(
                directory,
                # unnamed: the pipeline picks the default model for the base, with a note
                None if model is None else model_config(model),
                s,
                compare=compare,
                plan=plan,
                context=context,
                whatif=whatif,
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
    figures = [p for p in run.written if p.suffix == ".svg"]
    for path in run.written:
        if path not in figures:
            typer.echo(str(path))
    if figures:  # one line for the folder: report.md links each file
        typer.echo(f"{figures[0].parent}{os.sep} ({len(figures)} figures report.md links)")
