"""``cmoc simulate --out DIR``: a synthetic evidence base with known truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..evidence import describe
from .common import UserError
from .options import SeedOpt

__all__ = ["simulate"]


def simulate(
    out: Annotated[Path, typer.Option(help="New directory for the simulated evidence base.")],
    seed: SeedOpt = 0,
    mechanisms: Annotated[int, typer.Option(min=1, help="Number of mechanisms.")] = 8,
    cmocs: Annotated[int, typer.Option(min=1, help="Number of CMOCs.")] = 40,
    sources: Annotated[int, typer.Option(min=2, help="Number of sources.")] = 300,
    waves: Annotated[int, typer.Option(min=1, help="Number of waves.")] = 2,
) -> None:
    """Write a synthetic evidence base with known truth (truth.csv) for tests and examples."""
    from ..analyses import SimulationSpec
    from ..analyses import simulate as run

    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty: choose a new directory")
    spec = SimulationSpec(mechanisms=mechanisms, cmocs=cmocs, sources=sources, waves=waves)
    base = run(out, spec, seed=seed)
    typer.echo(describe(base))
    typer.echo(str(out))
