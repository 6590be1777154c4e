"""``cmoc check DIR``: predictive check, prior sensitivity, influence, model comparison."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import UserError, err, evidence_for, is_tty, load_evidence, model_config
from .options import (
    SAMPLING,
    DirArg,
    Format,
    FormatOpt,
    ModelOpt,
    SamplingOptions,
    sampling_options,
)
from .render import render_sections

__all__ = ["check"]

_TITLES = {
    "ppc": "Posterior predictive check (units by wave, type and kind)",
    "ppc_targets": "Targets with a surprising number of evidencing sources or codes (model v2)",
    "sensitivity": "Prior sensitivity (power-scaling)",
    "influence": "Units that moved each target most (PSIS leave-one-out; * unreliable)",
    "compare": "Model comparison (PSIS-LOO)",
}


@sampling_options()
def check(
    directory: DirArg,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Compare the hierarchy with no and complete pooling by PSIS-LOO (model v1 or v2).",
        ),
    ] = False,
    sensitivity: Annotated[
        bool, typer.Option("--sensitivity", help="Prior sensitivity by power-scaling.")
    ] = False,
    influence: Annotated[
        bool, typer.Option("--influence", help="Which units of evidence move each target.")
    ] = False,
    ppc: Annotated[
        bool, typer.Option("--ppc", help="Posterior predictive check of every unit.")
    ] = False,
    refit: Annotated[
        int,
        typer.Option(help="With --influence: refit exactly without up to N unreliable units."),
    ] = 0,
    format: FormatOpt = Format.table,
    wave: Annotated[str | None, typer.Option(help="Check the fit up to this wave.")] = None,
    sampling: SamplingOptions = SAMPLING,
    model: ModelOpt = None,
) -> None:
    """Check the model: predictive check, prior sensitivity, influence, model comparison.

    Without a flag, runs the predictive check, the sensitivity and the influence analysis on
    the saved fit (fitting it first if needed); --compare also fits the no-pooling and
    complete-pooling variants (saved beside the fit) and compares them by PSIS-LOO. Of a
    model v2 fit (the default model), the units of evidence are sources and
    blocks of totals, influence is on breadth, and --compare pools v2's target level
    (evidencing, depth and direction: as the model, none, or shared by a mechanism's targets).
    """
    chosen = {
        "ppc": ppc,
        "sensitivity": sensitivity,
        "influence": influence,
        "compare": compare,
    }
    if not any(chosen.values()):
        chosen.update(ppc=True, sensitivity=True, influence=True)
    names = [k for k, v in chosen.items() if v]
    if format == Format.csv and len(names) > 1:
        raise UserError(
            "--format csv prints one table: choose one of --ppc, --sensitivity, "
            "--influence, --compare"
        )
    base = evidence_for(load_evidence(directory), wave)
    cfg = model_config(model, base)
    v2 = cfg.model == "measurement"
    s = sampling.config()
    from ..analyses import (
        check_influence,
        check_predictive,
        check_sensitivity,
        compare_models,
        default_fit_path,
        fit_or_reuse,
        moved_most,
        ppc_summary,
    )

    idata, how = fit_or_reuse(base, default_fit_path(directory, wave), cfg, s, progress=is_tty())
    err(how)
    results = {}
    if chosen["ppc"]:
        results["ppc"] = check_predictive(idata, base, seed=s.seed)
    if chosen["sensitivity"]:
        results["sensitivity"] = check_sensitivity(idata, base)
    if chosen["influence"]:
        results["influence"] = check_influence(idata, base, sampler=s, max_refits=refit)
    if v2:  # the readings v1 leaves to the tables: intervals, Pareto k, p_broad moved
        for name in ("ppc", "influence"):
            if name in results:
                err(results[name].text)
    if chosen["compare"]:
        err(
            "fitting the comparison models (no pooling, complete pooling"
            + (" of the targets' evidencing, depth and direction" if v2 else "")
            + "), or reusing their saved fits, and comparing them by PSIS-LOO..."
        )
        results["compare"] = compare_models(directory, base, cfg, s, progress=is_tty())
        err(("" if results["compare"].passed else "WARNING: ") + results["compare"].text)
    out = {name: result.table for name, result in results.items()}
    if format == Format.table:
        # the terminal shows the short forms: surprising units by group, the top movers
        if "ppc" in out:
            out["ppc"] = ppc_summary(out["ppc"])
            targets = results["ppc"].tables.get("targets")
            if targets is not None and targets["surprising"].any():  # model v2
                out["ppc_targets"] = targets[targets["surprising"].astype(bool)]
        if "influence" in out:
            out["influence"] = moved_most(out["influence"]).reset_index()
    sections = {name: (_TITLES[name], frame) for name, frame in out.items()}
    typer.echo(render_sections(sections, format.value), nl=False)
