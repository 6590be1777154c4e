"""What every command shares: the user-error type, messages on stderr, loading the inputs.

Nothing here imports PyMC: the analyses are imported inside the functions that need them, so
``cmoc validate`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..evidence import load_evidence as _load_evidence

if TYPE_CHECKING:
    from ..evidence import EvidenceBase
    from ..models import ModelConfig

__all__ = [
    "UserError",
    "err",
    "evidence_for",
    "fit_meta",
    "is_tty",
    "load_evidence",
    "model_config",
]


class UserError(Exception):
    """Bad input from the user: reported without a traceback, exit status 2."""


def err(message: str) -> None:
    """Print a message on stderr."""
    typer.echo(message, err=True)


def fit_meta(idata, base: EvidenceBase, **extra: object) -> dict[str, object]:
    """Check a fit's convergence (a warning on stderr if it failed); return the facts printed.

    Printed beside the rows of a command's output: evidence, wave, ``extra``, convergence and
    the evidence hash.
    """
    from ..analyses import check_convergence

    check = check_convergence(idata)
    if not check.passed:
        err(f"WARNING: {check.text}")
    return {
        "evidence": base.config.name,
        "wave": base.waves[-1],
        **extra,
        "converged": check.passed,
        "convergence": check.text,
        "evidence_hash": base.evidence_hash,
    }


def is_tty() -> bool:
    """Whether stderr is a terminal (progress bars are drawn only then)."""
    return sys.stderr.isatty()


def load_evidence(directory: Path) -> EvidenceBase:
    """Load an evidence base and show its notes (a recovery, the ledger's findings) on stderr."""
    base = _load_evidence(directory)
    for note in base.notes:
        err(note)
    return base


def evidence_for(base: EvidenceBase, wave: str | None) -> EvidenceBase:
    """Return the evidence up to ``wave`` (all of it when None); an unknown wave is a UserError."""
    if wave is None:
        return base
    if wave not in base.waves:
        raise UserError(f"wave {wave!r} is not one of {', '.join(base.waves)}")
    return base.up_to(wave)


def model_config(path: Path | None, base: EvidenceBase | None = None) -> ModelConfig:
    """Return the model configuration of ``--model FILE`` (the defaults when None).

    With ``base``, the model is checked against it. Model v2 (the default) does not fit every
    layout of totals yet: where the model was not named (no file, or a file without
    ``model``), such a base gets model v1, said on stderr; where model v2 was named, or the base
    contradicts its own ``[recording]``, it is a :class:`UserError` (exit status 2).
    """
    from ..models import DEFAULT_CONFIG, ModelConfig, default_config_for, measurement_problem

    if path is None:
        config = DEFAULT_CONFIG
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"{path}: cannot read the model file ({error})") from error
        try:
            config = ModelConfig.from_toml(text)
        except ValueError as error:
            raise UserError(f"{path}: bad model configuration:\n{error}") from error
    if config.model == "measurement" and config.support_pooling != "partial":
        raise UserError(
            f"{path}: support_pooling = {config.support_pooling!r} of model v2 names a "
            "comparison variant, fitted by `cmoc check --compare` beside the model itself: "
            'leave it at "partial" (the default)'
        )
    if base is None or config.model != "measurement":
        return config
    if "model" not in config.model_fields_set:
        chosen, why = default_config_for(base)
        if why is not None:
            err(f"note: {why}")
            if "support_pooling" in config.model_fields_set:
                return chosen.merged({"support_pooling": config.support_pooling})
            return chosen
    problem = measurement_problem(base)
    if problem is not None:
        message, layout = problem
        hint = '; model v1 fits it: --model FILE with model = "hierarchical"' if layout else ""
        where = f"{base.path}: " if base.path is not None else ""
        raise UserError(f"{where}model v2 cannot be fitted: {message}{hint}")
    return config
