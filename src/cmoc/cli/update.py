"""``cmoc update DIR --add BATCH``: append a wave, refit, print what it changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import err, is_tty, model_config
from .options import SAMPLING, DirArg, Format, ModelOpt, SamplingOptions, sampling_options
from .render import render

__all__ = ["update"]


@sampling_options()
def update(
    directory: DirArg,
    add: Annotated[
        Path, typer.Option("--add", help="Batch directory: sources.csv, codings.csv (+ theory).")
    ],
    wave: Annotated[
        str | None, typer.Option(help="Label of the new wave (default: the batch's wave).")
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="Change report format.")] = (
        Format.table
    ),
    sampling: SamplingOptions = SAMPLING,
    model: ModelOpt = None,
) -> None:
    """Append a batch of evidence as a new wave, refit, and print what the new wave changed."""
    s = sampling.config()
    # unnamed: the update picks the default model for the base with the new wave
    cfg = None if model is None else model_config(model)
    from ..analyses import update as run
    from ..reports import render_changes, rounded

    result = run(directory, add, wave, cfg, s, progress=is_tty())
    # the wave is committed from here on: a failure to print must not read as a failed update
    try:
        for message in result.messages:
            err(message)
        if result.changes is not None:
            text = render(
                rounded(result.changes),
                format.value,
                table=lambda data: render_changes(data, "table"),
            )
            typer.echo(text, nl=False)
    except Exception as error:  # anything: the update itself succeeded
        err(
            f"WARNING: the update succeeded (wave {result.plan.wave!r} added and fitted), but "
            f"printing its change report failed ({type(error).__name__}: {error}); "
            f"`cmoc summary {directory} --changes` shows it"
        )
