"""``cmoc summary DIR_OR_FILE``: support per CMOC and mechanism, or what a wave changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..defaults import CI
from .common import UserError, err, evidence_for, fit_meta, load_evidence
from .options import ContextBy, Format, FormatOpt
from .render import render

__all__ = ["summary"]


def summary(
    target: Annotated[Path, typer.Argument(help="Evidence base directory, or a saved fit (.nc).")],
    format: FormatOpt = Format.table,
    wave: Annotated[
        str | None, typer.Option(help="Summarise the fit of the evidence up to this wave.")
    ] = None,
    ci: Annotated[
        float, typer.Option(help="Probability of the equal-tailed credible interval.")
    ] = CI,
    evidence: Annotated[
        Path | None,
        typer.Option(
            help="Evidence base a fit given as FILE must belong to (default: DIR for "
            "DIR/.cmoc/*.nc; elsewhere the evidence the fit carries)."
        ),
    ] = None,
    changes: Annotated[
        bool,
        typer.Option(
            "--changes", help="What the wave (default: the newest) changed since the one before."
        ),
    ] = False,
    links: Annotated[
        bool,
        typer.Option(
            "--links",
            help="The links of the web alone (A->B: a CMOC whose context or outcome is a "
            "mechanism); model v2.",
        ),
    ] = False,
    by: Annotated[
        ContextBy | None,
        typer.Option(
            "--by",
            help="Breadth and direction per source kind (or per group at --level of the "
            "sources' group paths), and P(they differ), from model v2 with context effects, "
            "fitted beside DIR's fit (or reused): DIR/.cmoc/context-kind-fit.nc "
            "(context-groupN-fit.nc). Refused where the data cannot identify them.",
        ),
    ] = None,
    level: Annotated[
        int,
        typer.Option(
            "--level",
            min=1,
            help="With --by group-level: the level of the group paths (1: the outermost).",
        ),
    ] = 1,
) -> None:
    """Summarise support per CMOC and mechanism: interval, P(support > 1/2), evidence, status."""
    if not 0 < ci < 1:
        raise UserError(f"--ci must be between 0 and 1 (got {ci})")
    if changes:
        if by is not None:
            raise UserError("--changes and --by: choose one")
        _changes(target, wave, ci, format)
        return
    if by is not None:
        context = f"group:{level}" if by.value == "group-level" else by.value
        _by_context(target, wave, ci, format, context, links, level)
        return
    from ..analyses import (
        FitEvidenceError,
        FitMismatchError,
        default_fit_path,
        fit_evidence,
        load_fit,
        summarize,
    )
    from ..reports import render_summary, rounded

    if target.is_dir():
        directory, path = target, default_fit_path(target, wave)
    else:
        if not target.is_file():
            raise UserError(f"{target}: no such evidence directory or fit file")
        path = target
        directory = evidence
    if not path.is_file():
        hint = f" --wave {wave}" if wave else ""
        raise UserError(f"no fit at {path}: run `cmoc fit {target}{hint}` first")
    if directory is None:
        # a fit kept in DIR/.cmoc/ belongs to DIR and is checked against it
        guess = path.resolve().parent.parent
        if path.resolve().parent.name == ".cmoc" and (guess / "evidence.toml").is_file():
            directory = guess
    if directory is None:
        # elsewhere the fit stands alone, with the evidence it carries
        try:
            idata = load_fit(path)
            base = fit_evidence(idata)
        except FitMismatchError as error:
            raise UserError(str(error)) from error
        except FitEvidenceError as error:
            raise UserError(
                f"{path}: {error}: give the evidence base it was fitted to, `cmoc summary "
                f"{path} --evidence DIR`, or summarise the base itself, `cmoc summary DIR`"
            ) from error
        if wave is not None and wave != base.waves[-1]:
            raise UserError(
                f"{path} is a fit of the evidence up to wave {base.waves[-1]!r}, not "
                f"{wave!r}: summarise that wave's fit (`cmoc fit DIR --wave {wave}`)"
            )
    else:
        base = evidence_for(load_evidence(directory), wave)
        try:
            idata = load_fit(path, base)
        except FitMismatchError as error:
            raise UserError(str(error)) from error
    frame = summarize(idata, base, ci=ci)
    if links:
        if "link" not in set(frame["target_type"]):
            raise UserError(_no_links(base, frame))
        frame = frame[frame["target_type"] == "link"].reset_index(drop=True)
    meta = fit_meta(idata, base, ci=ci)
    text = render(
        rounded(frame),
        format.value,
        meta=meta,
        table=lambda data: render_summary(data, "table", meta),
    )
    typer.echo(text, nl=False)


def _by_context(
    directory: Path, wave: str | None, ci: float, fmt: Format, by: str, links: bool, level: int
) -> None:
    """Print each target's breadth and direction per context (``--by``)."""
    from ..analyses import (
        SamplerConfig,
        check_context,
        context_estimates,
        context_fit_or_reuse,
        default_fit_path,
        fit_config,
        load_fit,
    )
    from ..reports import render_context, rounded
    from .common import is_tty, model_config

    if not directory.is_dir():
        raise UserError(f"--by needs the evidence base directory, not {directory}")
    base = evidence_for(load_evidence(directory), wave)
    cfg, sampler = model_config(None, base), SamplerConfig()
    main = default_fit_path(directory, wave)
    if main.is_file():  # DIR's own fit: the context fit takes its model and sampler settings
        try:
            cfg, settings = fit_config(load_fit(main))
            sampler = SamplerConfig(**settings)
        except (KeyError, TypeError, ValueError):
            cfg, sampler = model_config(None, base), SamplerConfig()
    if cfg.model != "measurement":
        raise UserError("--by: context effects are estimated by model v2 (the measurement model)")
    option = "kind" if by == "kind" else f"group-level --level {level}"
    try:
        check_context(base, by)
        err(f"model v2 with context effects by {by}: fitting it, or reusing its saved fit...")
        idata, how = context_fit_or_reuse(
            directory, base, cfg, sampler, by=by, wave=wave, progress=is_tty()
        )
    except ValueError as error:
        raise UserError(f"--by {option}: {error}") from error
    err(how)
    frame = context_estimates(idata, base, ci=ci, links=True)
    if links:
        frame = frame[frame["target_type"] == "link"].reset_index(drop=True)
        if frame.empty:
            raise UserError(_no_links(base, frame.assign(breadth_mean=0.0)))
    meta = fit_meta(idata, base, ci=ci, by=by)
    typer.echo(render_context(rounded(frame), fmt.value, meta), nl=False)


def _no_links(base, frame) -> str:
    """Say why a summary has no link rows."""
    if "breadth_mean" not in frame.columns:
        return "--links: links are estimated by model v2 (the measurement model); this fit is v1"
    return (
        f"--links: no CMOC of {base.config.name} expresses a link (a context or outcome that is "
        "a mechanism id, cmocs.csv)"
    )


def _changes(directory: Path, wave: str | None, ci: float, fmt: Format) -> None:
    """Print what ``wave`` (default: the newest) changed since the wave before it."""
    from ..analyses import FitMismatchError, change_report, default_fit_path, load_fit
    from ..reports import render_changes, rounded

    if not directory.is_dir():
        raise UserError("--changes needs the evidence base directory")
    base = load_evidence(directory)
    after_wave = wave or base.waves[-1]
    if after_wave not in base.waves:
        raise UserError(f"wave {after_wave!r} is not one of {', '.join(base.waves)}")
    k = base.wave_index(after_wave)
    if k == 0:
        raise UserError(f"{after_wave!r} is the first wave: nothing came before it")
    before_wave = base.waves[k - 1]
    fits = []
    for w in (before_wave, after_wave):
        newest = w == base.waves[-1]
        ev = base if newest else base.up_to(w)
        path = default_fit_path(directory, None if newest else w)
        if not path.is_file():
            raise UserError(
                f"no fit of the evidence up to {w!r}: run `cmoc fit {directory} --all-waves`"
            )
        try:
            fits.append((ev, load_fit(path, ev)))
        except FitMismatchError as error:
            raise UserError(f"{error} (`cmoc fit {directory} --all-waves` refits)") from error
    frame = change_report(fits[0][0], fits[0][1], fits[1][0], fits[1][1], ci=ci)
    text = render(rounded(frame), fmt.value, table=lambda data: render_changes(data, "table"))
    typer.echo(text, nl=False)
