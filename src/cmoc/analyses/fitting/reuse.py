"""Fit once, reuse after: the saved fit is used again while evidence, model and sampler match."""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import xarray as xr

from ...evidence import EVIDENCE_FILES, EvidenceBase, EvidenceError, Problem
from ...evidence.lock import writing
from ...evidence.recording import refutes_recording
from ...models import ModelConfig, config_for, context_classes, group_level_of
from .attrs import Provenance
from .provenance import model_code
from .sampling import SamplerConfig, fit
from .store import (
    FitFileError,
    FitMismatchError,
    base_of_result,
    context_fit_path,
    fit_mismatches,
    load_fit,
    save_fit,
)

__all__ = ["check_context", "context_fit_or_reuse", "fit_or_reuse"]


def _code_mismatch(saved: xr.DataTree) -> list[str]:
    """Say whether a saved fit was made by other model or fitting code than this cmoc's."""
    made = Provenance.of(saved).model_code
    if made == model_code():
        return []
    if not made:
        return ["the fit does not record the model code that made it"]
    return [f"the model code changed since the fit (fit made by {made}, now {model_code()})"]


def fit_or_reuse(
    evidence: EvidenceBase,
    path: str | Path,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    progress: bool = False,
) -> tuple[xr.DataTree, str]:
    """Return the fit saved at ``path`` if it matches, else fit, save and return it.

    Parameters
    ----------
    evidence : EvidenceBase
    path : str or Path
        Where the fit is kept.
    config : ModelConfig, optional
    sampler : SamplerConfig, optional
    progress : bool

    Returns
    -------
    (xarray.DataTree, str)
        The fit, and why it was reused or (re)fitted, in words.

    Raises
    ------
    EvidenceError
        When ``path`` is in the ``.cmoc/`` folder of the base ``evidence`` was read from and
        that base has changed since it was read (another command updated it): a fit of the old
        evidence must not replace the new one.

    Notes
    -----
    A fit kept in an evidence base's ``.cmoc/`` is checked, made and saved under the base's
    writer lock (:mod:`cmoc.evidence.lock`): a second command that writes the base waits.
    """
    cfg = config_for(evidence, config)
    s = (sampler or SamplerConfig()).for_model(cfg.model).validated()
    path = Path(path)
    base = base_of_result(path)
    with nullcontext() if base is None else writing(base, "fit"):
        if base is not None:
            _refuse_changed(evidence, base)
        reason = "no saved fit"
        if path.is_file():
            try:
                saved = load_fit(path)
            except (OSError, ValueError, FitMismatchError, FitFileError) as err:
                reason = f"the saved fit could not be read ({err})"
            else:
                problems = fit_mismatches(saved, evidence, cfg, asdict(s)) + _code_mismatch(saved)
                if not problems:
                    return saved, (
                        f"reused the saved fit {path} (evidence, model, its code and sampler "
                        "unchanged)"
                    )
                reason = "; ".join(problems)
        idata = fit(evidence, cfg, s, progress=progress)
        save_fit(idata, path)
    return idata, f"fitted ({reason}); saved to {path}"


def _refuse_changed(evidence: EvidenceBase, base: Path) -> None:
    """Refuse evidence read from ``base`` whose files have changed since (writer lock held)."""
    if evidence.path is None or not evidence.file_hashes:
        return  # built in memory, or the evidence up to an earlier wave (its own hash decides)
    try:
        same_base = Path(evidence.path).resolve() == base.resolve()
    except OSError:
        return
    if not same_base:
        return
    now = {
        name: hashlib.sha256((base / name).read_bytes()).hexdigest()
        for name in EVIDENCE_FILES
        if (base / name).is_file()
    }
    if now != evidence.file_hashes:
        changed = sorted(
            n
            for n in set(now) | set(evidence.file_hashes)
            if now.get(n) != evidence.file_hashes.get(n)
        )
        raise EvidenceError(
            [
                Problem(
                    str(base),
                    None,
                    None,
                    ", ".join(changed),
                    "the evidence base as this command read it: another cmoc command changed "
                    "it since, so no fit of the old evidence is saved over its fits; run the "
                    "command again",
                )
            ]
        )


def check_context(evidence: EvidenceBase, by: str) -> None:
    """Raise ValueError where ``evidence`` cannot identify estimates per context ``by``.

    By kind: fewer than two kinds. By group level (``group:N``): as
    :func:`cmoc.models.context_classes` (:class:`cmoc.models.NotIdentified`).
    """
    if (level := group_level_of(by)) is not None:
        recording = {k: r.refutes for k, r in refutes_recording(evidence).items()}
        context_classes(evidence, recording, level)
        return
    kinds = sorted(set(evidence.sources["kind"]))
    if len(kinds) < 2:
        raise ValueError(
            f"{evidence.config.name} has sources of one kind only ({', '.join(kinds)}): "
            "there is no other context to compare with"
        )


def context_fit_or_reuse(
    directory: str | Path,
    evidence: EvidenceBase,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    by: str = "kind",
    wave: str | None = None,
    progress: bool = False,
) -> tuple[xr.DataTree, str]:
    """Return the fit of model v2 with context effects kept beside ``directory``'s fit.

    The default model's configuration for ``evidence`` (or ``config``) with ``context = by``,
    fitted or reused at :func:`~cmoc.analyses.fitting.store.context_fit_path` as
    :func:`fit_or_reuse` does.

    Parameters
    ----------
    directory : str or Path
        The evidence base's directory (its ``.cmoc/`` keeps the fit).
    evidence : EvidenceBase
        The evidence up to ``wave``.
    config : ModelConfig, optional
        Of model v2; default :func:`cmoc.models.config_for`.
    sampler : SamplerConfig, optional
    by : {"kind", "group:N"}
        The contexts (:data:`cmoc.models.CONTEXTS`).
    wave : str, optional
        The wave the evidence runs to (None: the newest); names the file.
    progress : bool

    Returns
    -------
    (xarray.DataTree, str)
        The fit, and why it was reused or (re)fitted, in words.

    Raises
    ------
    ValueError
        When the configuration is not of model v2, the base has one source kind (by kind), or
        the data do not identify the groups (:class:`cmoc.models.NotIdentified`: one group at
        the level, or a total over several groups).
    """
    cfg = config_for(evidence, config)
    if cfg.model != "measurement":
        raise ValueError("context effects are part of model v2 (the measurement model) only")
    check_context(evidence, by)
    path = context_fit_path(directory, by, wave)
    return fit_or_reuse(evidence, path, cfg.merged({"context": by}), sampler, progress=progress)
