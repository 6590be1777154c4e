"""Options shared by several commands, each declared once.

The seven sampler options (``--seed --draws --tune --chains --sampler --target-accept
--extend``) are
added to a command by :func:`sampling_options`, which replaces the command's ``sampling``
parameter with them and hands the command one :class:`SamplingOptions`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..defaults import EXTEND
from ..defaults import SEED as DEFAULT_SEED
from .common import UserError

if TYPE_CHECKING:
    from ..analyses import SamplerConfig

__all__ = [
    "SAMPLING",
    "SEED",
    "AcceptOpt",
    "ChainsOpt",
    "ContextBy",
    "DirArg",
    "DrawsOpt",
    "Format",
    "FormatOpt",
    "ModelOpt",
    "Sampler",
    "SamplerOpt",
    "SamplingOptions",
    "SchedulerOpt",
    "SeedOpt",
    "TableFormat",
    "TableFormatOpt",
    "TuneOpt",
    "WorkersOpt",
    "sampling_options",
    "workers_of",
]

SEED = DEFAULT_SEED
"""The seed of every command that fits evidence, unless ``--seed`` says otherwise
(:data:`cmoc.defaults.SEED`)."""


class Sampler(StrEnum):
    """Samplers offered on the command line."""

    nutpie = "nutpie"
    pymc = "pymc"


class Format(StrEnum):
    """Output formats of the commands that print frames."""

    table = "table"
    csv = "csv"
    json = "json"


class ContextBy(StrEnum):
    """Contexts ``cmoc summary --by`` compares (model v2's :data:`cmoc.models.CONTEXTS`)."""

    kind = "kind"
    group_level = "group-level"


class TableFormat(StrEnum):
    """Output formats of plan and calibrate."""

    table = "table"
    csv = "csv"


DirArg = Annotated[Path, typer.Argument(help="Evidence base directory.", show_default=False)]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
TableFormatOpt = Annotated[TableFormat, typer.Option("--format", help="Output format.")]
ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="TOML file overriding the model's defaults (priors, likelihood); see `cmoc priors`.",
    ),
]
FixedTuneOpt = Annotated[int, typer.Option("--tune", help="Tuning steps per chain.", min=0)]
SeedOpt = Annotated[int, typer.Option(help="Random seed (same seed, same numbers).")]
DrawsOpt = Annotated[int, typer.Option(help="Draws per chain after tuning.", min=1)]
TuneOpt = Annotated[
    int | None,
    typer.Option(
        help="Tuning steps per chain (default: the model's own, 1000 for model v1, 500 for v2).",
        min=0,
        show_default=False,
    ),
]
ChainsOpt = Annotated[int, typer.Option(help="Number of chains.", min=1)]
ExtendOpt = Annotated[
    int,
    typer.Option(
        "--extend",
        min=0,
        help=(
            "Times a fit that fails the convergence gate is sampled again as the gate advises: "
            "twice the draws and tuning after R-hat or ESS failures, twice the tuning and a "
            "higher target-accept after divergences; 0: never."
        ),
    ),
]
SamplerOpt = Annotated[Sampler, typer.Option(help="NUTS implementation.")]
AcceptOpt = Annotated[
    float,
    typer.Option(
        "--target-accept",
        min=0.5,
        max=0.999,
        help="NUTS target acceptance; raise it (0.95, 0.99) if a fit reports divergences.",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Worker processes of a local Dask cluster (default 2)."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(help="Address of an existing Dask scheduler (tcp://host:8786) instead."),
]


@dataclass(frozen=True)
class SamplingOptions:
    """The sampler options of one command line.

    Attributes
    ----------
    seed, draws, chains : int
    tune : int or None
        None: the model's own default (:data:`cmoc.defaults.TUNE`), set when the model is known.
    sampler : Sampler
    target_accept : float
    extend : int
        :attr:`cmoc.analyses.SamplerConfig.extend`.
    """

    seed: int = SEED
    draws: int = 1000
    tune: int | None = None
    chains: int = 4
    sampler: Sampler = Sampler.nutpie
    target_accept: float = 0.9
    extend: int = EXTEND

    def config(self) -> SamplerConfig:
        """Return the validated sampler settings; settings it refuses are a UserError."""
        from ..analyses import SamplerConfig, SamplerError

        try:
            return SamplerConfig(
                sampler=self.sampler.value,
                seed=self.seed,
                draws=self.draws,
                tune=self.tune,
                chains=self.chains,
                target_accept=self.target_accept,
                extend=self.extend,
            ).validated()
        except SamplerError as error:
            raise UserError(str(error)) from error


SAMPLING = SamplingOptions()
"""The default of a command's ``sampling`` parameter (replaced by :func:`sampling_options`)."""


def sampling_options(
    *,
    seed: int = SEED,
    draws: int = 1000,
    tune: int | None = None,
    chains: int = 4,
    nuts_choice: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the sampler options, with these defaults, in place of its ``sampling``.

    Parameters
    ----------
    seed, draws, chains : int
        The options' defaults.
    tune : int or None
        The default of ``--tune``; None: the model's own (:data:`cmoc.defaults.TUNE`).
    nuts_choice : bool
        Also offer ``--sampler`` and ``--target-accept`` (else nutpie at 0.9).

    Returns
    -------
    callable
        A decorator for a command function that has a ``sampling: SamplingOptions``
        parameter; the options take that parameter's place in ``--help``.
    """
    kind = inspect.Parameter.KEYWORD_ONLY
    options = [
        inspect.Parameter("seed", kind, default=seed, annotation=SeedOpt),
        inspect.Parameter("draws", kind, default=draws, annotation=DrawsOpt),
        inspect.Parameter(
            "tune", kind, default=tune, annotation=TuneOpt if tune is None else FixedTuneOpt
        ),
        inspect.Parameter("chains", kind, default=chains, annotation=ChainsOpt),
    ]
    if nuts_choice:
        options += [
            inspect.Parameter("sampler", kind, default=Sampler.nutpie, annotation=SamplerOpt),
            inspect.Parameter("target_accept", kind, default=0.9, annotation=AcceptOpt),
            inspect.Parameter("extend", kind, default=EXTEND, annotation=ExtendOpt),
        ]
    names = [p.name for p in options]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        params = []
        for param in signature.parameters.values():
            if param.name == "sampling":
                params += options
            else:
                params.append(param.replace(kind=kind))
        if len(params) == len(signature.parameters):
            raise TypeError(f"{command.__name__} has no `sampling` parameter")

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            sampling = SamplingOptions(**{name: kwargs.pop(name) for name in names})
            return command(**kwargs, sampling=sampling)

        # typer reads the options from the signature and the annotations of the wrapper
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


def workers_of(workers: int | None, scheduler: str | None) -> int:
    """Return the local Dask workers to start (default 2); both options given is a UserError."""
    if workers is not None and scheduler is not None:
        raise UserError("give --workers or --scheduler, not both")
    return workers or 2
