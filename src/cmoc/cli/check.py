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
    "sensitivity": "Prior sensitivity (power-scaling)",
    "influence": "Units that moved each target most (PSIS leave-one-out; * unreliable)",
    "compare": "Model comparison (PSIS-LOO)",
}


@sampling_options()
def check(
    directory: DirArg,
    compare: Annotated[
        bool, typer.Option("--compare", help="Compare the hierarchy with no and complete pooling.")
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
    model v2 fit (--model with model = "measurement"), only the sensitivity is available.
    """
    chosen = {
        "ppc": ppc,
        "sensitivity": sensitivity,
        "influence": influence,
        "compare": compare,
    }
    cfg = model_config(model)
    v2 = cfg.model == "measurement"
    if v2 and any(chosen[k] for k in ("ppc", "influence", "compare")):
        raise UserError(
            "model v2 (measurement) fits have only --sensitivity so far: the predictive "
            "check, the influence and the comparison need model v1"
        )
    if not any(chosen.values()):
        chosen.update(ppc=not v2, sensitivity=True, influence=not v2)
        if v2:
            err("model v2 (measurement): only the prior sensitivity is available so far")
    names = [k for k, v in chosen.items() if v]
    if format == Format.csv and len(names) > 1:
        raise UserError(
            "--format csv prints one table: choose one of --ppc, --sensitivity, "
            "--influence, --compare"
        )
    base = evidence_for(load_evidence(directory), wave)
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
    if chosen["compare"]:
        err(
            "fitting the comparison models (no pooling, complete pooling), or reusing their "
            "saved fits, and comparing them by PSIS-LOO..."
        )
        results["compare"] = compare_models(directory, base, cfg, s, progress=is_tty())
        err(("" if results["compare"].passed else "WARNING: ") + results["compare"].text)
    out = {name: result.table for name, result in results.items()}
    if format == Format.table:
        # the terminal shows the short forms: surprising units by group, the top movers
        if "ppc" in out:
            out["ppc"] = ppc_summary(out["ppc"])
        if "influence" in out:
            out["influence"] = moved_most(out["influence"]).reset_index()
    sections = {name: (_TITLES[name], frame) for name, frame in out.items()}
    typer.echo(render_sections(sections, format.value), nl=False)
