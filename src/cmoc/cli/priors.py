"""``cmoc priors``: print the model's priors and choices."""

from __future__ import annotations

import typer

from .common import model_config
from .options import ModelOpt

__all__ = ["priors"]


def priors(model: ModelOpt = None) -> None:
    """Print the model's priors and choices (the defaults, or with the overrides of --model)."""
    cfg = model_config(model)
    width = max(len(name) for name, _ in cfg.describe_priors())
    for name, prior in cfg.describe_priors():
        typer.echo(f"{name:<{width}}  {prior}")
    typer.echo(f"model config id: {cfg.id}")
