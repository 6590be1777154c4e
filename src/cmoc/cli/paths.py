"""``cmoc paths DIR --from A --to B``: the paths through the web and whether they hold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import UserError, err, evidence_for, fit_meta, load_evidence
from .options import DirArg, Format, FormatOpt
from .render import render

__all__ = ["paths"]


def paths(
    directory: DirArg,
    source: Annotated[str, typer.Option("--from", help="Mechanism id the paths start at.")],
    target: Annotated[str, typer.Option("--to", help="Mechanism id the paths end at.")],
    max_links: Annotated[
        int, typer.Option("--max-links", min=1, help="Longest path followed, in links.")
    ] = 6,
    wave: Annotated[
        str | None, typer.Option(help="Use the fit of the evidence up to this wave.")
    ] = None,
    format: FormatOpt = Format.table,
) -> None:
    """List every path from one mechanism to another through the links of the web.

    Each path with its sign, its links' statuses, its weakest link and the probability that
    all its links hold, from the joint posterior draws of the saved fit (`cmoc fit DIR`).
    """
    from ..analyses import (
        FitMismatchError,
        PathError,
        default_fit_path,
        load_fit,
        theory_paths,
    )

    if not Path(directory).is_dir():
        raise UserError(f"{directory}: no such evidence directory")
    base = evidence_for(load_evidence(directory), wave)
    path = default_fit_path(directory, wave)
    if not path.is_file():
        hint = f" --wave {wave}" if wave else ""
        raise UserError(f"no fit at {path}: run `cmoc fit {directory}{hint}` first")
    try:
        idata = load_fit(path, base)
    except FitMismatchError as error:
        raise UserError(str(error)) from error
    try:
        frame = theory_paths(idata, base, source, target, max_links=max_links)
    except PathError as error:
        raise UserError(str(error)) from error
    meta = fit_meta(idata, base, **{"from": source, "to": target})
    if frame.empty:
        err(f"no path from {source} to {target} of at most {max_links} links")
    title = f"{base.config.name}: paths from {source} to {target} after wave {base.waves[-1]}"
    typer.echo(render(frame.round(3), format.value, title=title, meta=meta), nl=False)
