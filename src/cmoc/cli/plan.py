"""``cmoc plan DIR``: how many more sources would settle each inconclusive CMOC (on Dask).

Of a model v2 fit (the default model): how many more sources would
make each inconclusive target (CMOC or mechanism) decisive, by v2's estimands and statuses
(:mod:`cmoc.analyses.planning.plan_measurement`); same options, same messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import UserError, err, is_tty, load_evidence, model_config
from .options import (
    SAMPLING,
    DirArg,
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

__all__ = ["plan"]


# --sampler and --target-accept too: the saved fit is reused only with its own sampler settings
# (model v2 fits of IOC are made with --target-accept 0.97)
@sampling_options()
def plan(
    directory: DirArg,
    kind: Annotated[
        str | None,
        typer.Option(help="Kind of the new sources (default: the newest wave's commonest)."),
    ] = None,
    max_new: Annotated[int, typer.Option(min=1, help="Most new sources considered.")] = 5,
    sampling: SamplingOptions = SAMPLING,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    format: TableFormatOpt = TableFormat.table,
    simulations: Annotated[
        int, typer.Option(min=1, help="Simulations per CMOC (Monte Carlo error ~ 0.5/sqrt(N)).")
    ] = 200,
    plot: Annotated[
        Path | None, typer.Option(help="Also draw P(settled) against n to this file (.svg, .png).")
    ] = None,
    max_refits: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="At most N exact refits where even the targeted update's Pareto k is above 0.7; "
            "the others keep their PSIS estimate and are counted in `unreliable` "
            "[default: 0 for model v2, 10 for model v1].",
            show_default=False,
        ),
    ] = None,
    update: Annotated[
        str,
        typer.Option(
            help="targeted: reweight by the new sources' whole likelihood while its Pareto k is "
            "at most 0.7, then by the new codes of the CMOC's mechanism's targets (or its own); "
            "full: by the whole likelihood, refitting where its k is above 0.7 (slow for many "
            "new sources)."
        ),
    ] = "targeted",
    model: ModelOpt = None,
) -> None:
    """How many more sources of a kind would be expected to settle each inconclusive CMOC.

    Of a model v2 fit (the default model): how many would make each
    inconclusive target (CMOC or mechanism) decisive (affirmed or novel, refuted, contested),
    by its breadth, direction and the sources that show it (p_decisive).

    Simulates new sources from the current posterior, updates on them (importance
    reweighting, targeted on the codes of the CMOC's mechanism where the whole likelihood's
    Pareto k is above 0.7, or an exact refit, at most --max-refits, where that fails too) and
    counts how often the CMOC would then be affirmed or refuted by the base's [classification]
    thresholds. Uses the saved fit (fitting first if needed, with --seed); saves the plan beside
    it (DIR/.cmoc/plan.json), where `cmoc report DIR` finds it.
    """
    n_workers = workers_of(workers, scheduler)
    base = load_evidence(directory)
    s = sampling.config()
    cfg = model_config(model, base)
    # looked up in the package when called (tests replace plan_result and save_plan there)
    from .. import analyses

    kinds = list(dict.fromkeys(base.sources["kind"]))
    if kind is not None and kind not in kinds:
        raise UserError(f"--kind {kind!r} is not a source kind of the base ({', '.join(kinds)})")
    idata, how = analyses.fit_or_reuse(
        base, analyses.default_fit_path(directory), cfg, s, progress=is_tty()
    )
    err(how)
    try:
        result = analyses.plan_result(
            idata,
            base,
            kind=kind,
            max_new=max_new,
            simulations=simulations,
            seed=s.seed,
            max_refits="by model" if max_refits is None else max_refits,
            workers=n_workers,
            scheduler=scheduler,
            progress=is_tty(),
            update=update,
        )
    except ValueError as error:
        raise UserError(str(error)) from error
    err(f"saved {analyses.save_plan(result, analyses.default_plan_path(directory))}")
    table = result.table
    unreliable = int(table["unreliable"].sum()) if not table.empty else 0
    if unreliable:
        err(
            f"warning: the refit budget (--max-refits {result.settings.max_refits}) was reached: "
            f"{unreliable} "
            "update(s) kept a PSIS estimate with Pareto k above 0.7 (column `unreliable`, "
            "largest k in `khat_max`); a larger --max-refits refits them"
        )
    v2 = result.settings.model == "measurement"
    if table.empty:
        what = "target" if v2 else "CMOC"
        message = f"no inconclusive {what} in {base.config.name}: nothing to plan"
        if format == TableFormat.csv:
            typer.echo(",".join(table.columns))
            err(message)
        else:
            typer.echo(message)
        return
    kind_now = table["kind"].iloc[0]
    title = (
        f"Chance that n more {kind_now} sources make each inconclusive target decisive "
        f"(model v2, {simulations} simulations)"
        if v2
        else f"Expected settlement of inconclusive CMOCs after n more {kind_now} "
        f"sources ({simulations} simulations each)"
    )
    typer.echo(render(table, format.value, title=title), nl=False)
    if plot is not None and format != TableFormat.csv:
        from ..reports.figures import plot_table
        from ..reports.plots_plan import write_plan_figure

        # the figure draws p_settled: a v2 plan's is p_decisive
        drawn = table.rename(columns={"p_decisive": "p_settled"}) if v2 else table
        typer.echo(str(write_plan_figure(plot_table(drawn), plot)))
