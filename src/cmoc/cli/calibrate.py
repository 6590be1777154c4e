"""``cmoc calibrate``: simulation-based calibration of the model (on Dask)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import UserError, err, is_tty, model_config
from .options import (
    SAMPLING,
    ModelOpt,
    SamplingOptions,
    SchedulerOpt,
    TableFormat,
    TableFormatOpt,
    WorkersOpt,
    sampling_options,
    workers_of,
)
from .render import render

__all__ = ["calibrate"]


@sampling_options(seed=0, draws=200, tune=200, chains=2, nuts_choice=False)
def calibrate(
    datasets: Annotated[int, typer.Option(min=2, help="Simulated evidence bases to fit.")] = 100,
    sampling: SamplingOptions = SAMPLING,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    format: TableFormatOpt = TableFormat.table,
    model: ModelOpt = None,
    generate: Annotated[
        Path | None,
        typer.Option(
            help="TOML file of the priors the data are drawn from (default: the fitted model's); "
            "a different one makes a deliberately misspecified check.",
        ),
    ] = None,
    layout: Annotated[
        str,
        typer.Option(
            help="Layout family of the simulated bases: exact (per-source cells), ioc (reviews "
            "exact, interviews as wave totals and bands), mixed (group totals, weights, "
            "exposures); ioc and mixed need model v2, the default model.",
        ),
    ] = "exact",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Also save the result (settings, tests, every rank) as JSON; `cmoc report DIR` "
            "shows DIR/.cmoc/calibration-<model id>.json.",
        ),
    ] = None,
) -> None:
    """Simulation-based calibration: ranks of the truth among posterior draws, tested uniform.

    Draws DATASETS evidence bases (2 mechanisms, 6 CMOCs, 30 sources of 2 kinds; --layout for
    totals, bands, groups, weights and exposures) from the model's priors, fits each (on
    Dask), and tests with a chi-square per quantity that the rank of every true value among 99
    posterior draws is uniform (family-wise false-alarm rate 1%). A run too small for its tests
    to find a posterior mean off by half a posterior sd (power below 0.5) is not called
    uniform: it says how many datasets would do. With --out the result is saved for the
    report.
    """
    from ..analyses import calibrate as run_calibration
    from ..analyses import save_calibration
    from ..models.generate import CalibrationLayout

    n_workers = workers_of(workers, scheduler)
    cfg = model_config(model)
    gen = model_config(generate) if generate is not None else None
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise UserError(f"--out {out}: give a file in an existing directory")
    try:
        family = CalibrationLayout.family(layout)
        result = run_calibration(
            datasets,
            sampling.seed,
            layout=family,
            config=cfg,
            generate=gen,
            chains=sampling.chains,
            draws=sampling.draws,
            tune=sampling.tune,
            workers=n_workers,
            scheduler=scheduler,
            progress=is_tty(),
        )
    except ValueError as error:
        raise UserError(str(error)) from error
    if out is not None:
        err(f"saved {save_calibration(result, out)}")
    title = "Simulation-based calibration (chi-square on binned ranks)"
    typer.echo(render(result.tests, format.value, title=title), nl=False)
    if format == TableFormat.csv:
        err(result.text)
    else:
        typer.echo(("" if result.calibrated else "WARNING: ") + result.text)
