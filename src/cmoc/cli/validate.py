"""``cmoc validate DIR``: check an evidence base and print a one-screen summary of it."""

from __future__ import annotations

import typer

from ..evidence import describe
from .common import load_evidence
from .options import DirArg

__all__ = ["validate"]


def validate(directory: DirArg) -> None:
    """Validate an evidence base and print a one-screen summary of it.

    The ledger's findings are notes of the load (every command shows them on stderr); an edited
    earlier wave is also repeated on stdout, and is a warning, not an error (exit status 0).
    """
    from ..evidence.ledger import read_ledger

    base = load_evidence(directory)  # checks ledger.csv too: a garbled one is exit status 2
    typer.echo(describe(base))
    entries = read_ledger(directory)
    if entries:
        waves = sorted({e.wave for e in entries}, key=lambda w: (w not in base.waves, w))
        typer.echo(f"ledger: {len(waves)} waves recorded ({', '.join(waves)})")
    for note in base.notes:
        if note.startswith("WARNING: "):
            typer.echo(note)
    typer.echo("valid")
