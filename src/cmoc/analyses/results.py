"""Fits on disk: netCDF DataTrees written atomically, loaded with a check against the evidence."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from ..evidence import EvidenceBase, file_mode
from ..models import ModelConfig

__all__ = [
    "FitMismatchError",
    "default_fit_path",
    "fit_config",
    "fit_id",
    "fit_mismatches",
    "load_fit",
    "read_json_result",
    "save_fit",
    "write_json_result",
]


class FitMismatchError(ValueError):
    """A saved fit that does not belong to the evidence or model it is used with."""


def default_fit_path(evidence_dir: str | Path, wave: str | None = None) -> Path:
    """Where ``cmoc fit DIR`` keeps its result: ``DIR/.cmoc/fit.nc`` (``fit-<wave>.nc``)."""
    name = "fit.nc" if wave is None else f"fit-{wave}.nc"
    return Path(evidence_dir) / ".cmoc" / name


def save_fit(idata: xr.DataTree, path: str | Path) -> Path:
    """Write a fit as netCDF, atomically: the previous file survives any interruption.

    Parameters
    ----------
    idata : xarray.DataTree
    path : str or Path

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, file_mode(path))
    os.close(fd)
    try:
        idata.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def fit_mismatches(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    config: ModelConfig | None = None,
    sampler: dict | None = None,
) -> list[str]:
    """Say how a fit differs from the evidence (and model config) it is used with.

    Returns
    -------
    list of str
        Empty when the fit was made from exactly this evidence (and config).
    """
    out = []
    attrs = idata.attrs
    if attrs.get("evidence_hash") != evidence.evidence_hash:
        out.append(
            f"the evidence changed since the fit (fit made from evidence "
            f"{str(attrs.get('evidence_hash', '?'))[:12]}, evidence is now "
            f"{evidence.evidence_hash[:12]})"
        )
    if config is not None and attrs.get("model_id") != config.id:
        out.append(
            f"the model configuration differs (fit {attrs.get('model_id')}, asked {config.id})"
        )
    if sampler is not None:
        stored = json.loads(attrs.get("sampler", "{}"))
        diff = sorted(k for k in sampler if stored.get(k) != sampler[k])
        if diff:
            out.append(
                "the sampler settings differ ("
                + ", ".join(f"{k}: fit {stored.get(k)!r}, asked {sampler[k]!r}" for k in diff)
                + ")"
            )
    return out


def load_fit(
    path: str | Path,
    evidence: EvidenceBase | None = None,
    config: ModelConfig | None = None,
) -> xr.DataTree:
    """Load a saved fit; with ``evidence`` (and ``config``), refuse one that does not match.

    Parameters
    ----------
    path : str or Path
    evidence : EvidenceBase, optional
    config : ModelConfig, optional

    Returns
    -------
    xarray.DataTree

    Raises
    ------
    FitMismatchError
        When the fit was made from other evidence or another model configuration.
    FileNotFoundError
        When there is no fit at ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no fit at {path}")
    idata = xr.open_datatree(path, engine="h5netcdf").load()
    idata.close()
    if "model_config" not in idata.attrs:
        raise FitMismatchError(f"{path} is not a cmoc fit (no provenance attrs)")
    if evidence is not None:
        problems = fit_mismatches(idata, evidence, config)
        if problems:
            raise FitMismatchError(f"{path}: " + "; ".join(problems) + "; run `cmoc fit` again")
    return idata


def fit_config(idata: xr.DataTree) -> tuple[ModelConfig, dict]:
    """Return the model configuration and sampler settings stored in a fit."""
    return (
        ModelConfig.model_validate_json(idata.attrs["model_config"]),
        json.loads(idata.attrs["sampler"]),
    )


def fit_id(idata: xr.DataTree) -> str:
    """Return a fingerprint of a fit: its provenance and every posterior draw.

    Results derived from a fit (a saved plan) keep it, and are reused only with the fit they
    came from: the same evidence, model and sampler settings are not enough when a refit could
    draw other numbers.

    Returns
    -------
    str
        SHA-256 (hex) over the evidence hash, model id, sampler settings and the posterior's
        variables (names, dtypes, shapes and values).
    """
    h = hashlib.sha256()
    for key in ("evidence_hash", "model_id", "sampler"):
        h.update(f"{key}\0{idata.attrs.get(key, '')}\n".encode())
    post = idata["posterior"]
    for name in sorted(post.data_vars):
        values = np.ascontiguousarray(post[name].values)
        h.update(f"{name}\0{values.dtype.str}\0{values.shape}\n".encode())
        h.update(values.tobytes())
    return h.hexdigest()


def write_json_result(path: str | Path, fmt: str, body: dict) -> Path:
    """Write a derived result (a plan, a calibration) as JSON, atomically.

    Parameters
    ----------
    path : str or Path
    fmt : str
        The format tag stored as ``"format"``; :func:`read_json_result` checks it.
    body : dict
        The rest of the document (JSON-serialisable).

    Returns
    -------
    Path
    """
    from ..evidence import atomic_write_text

    path = Path(path)
    atomic_write_text(path, json.dumps({"format": fmt, **body}, indent=1) + "\n")
    return path


def read_json_result(path: str | Path, fmt: str, what: str, hint: str) -> dict:
    """Read a document written by :func:`write_json_result` with the format tag ``fmt``.

    Raises
    ------
    ValueError
        ``"{path}: cannot read the {what} (...)"`` when the file cannot be read or parsed, and
        ``"{path}: not a {hint}"`` when it is not such a document.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read the {what} ({err})") from err
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise ValueError(f"{path}: not a {hint}")
    return doc
