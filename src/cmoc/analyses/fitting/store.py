"""Results on disk: fits (netCDF DataTrees) and derived JSON results, and where they are kept.

Every path cmoc derives inside an evidence base's ``.cmoc/`` folder is named here: the fits
(:func:`default_fit_path`, :func:`variant_path`), the plan (:func:`default_plan_path`) and the
calibrations (:func:`default_calibration_path`, :func:`saved_calibration_paths`). Fits are
written atomically and loaded with a check against the evidence.

A fit carries the evidence it was fitted to in its ``evidence`` group (:func:`evidence_tree`,
one sub-group per table, written when the fit is stamped): :func:`fit_evidence` rebuilds the
evidence base from the file alone, and a fit used with other evidence is refused naming the
files that differ (:func:`cmoc.evidence.portable.evidence_differences`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from contextlib import nullcontext, suppress
from pathlib import Path

import numpy as np
import xarray as xr

from ...evidence import EvidenceBase, EvidenceError, Problem, file_mode, load_evidence
from ...evidence.lock import WORK_DIR, writing
from ...evidence.portable import (
    PORTABLE_FORMAT,
    TABLE_NAMES,
    PortableTable,
    evidence_differences,
    from_portable,
    to_portable,
)
from ...models import ModelConfig
from .attrs import Provenance

__all__ = [
    "COMPARISON_FILE",
    "EVIDENCE_GROUP",
    "PLAN_FILE",
    "PREDATES",
    "FitEvidenceError",
    "FitFileError",
    "FitMismatchError",
    "base_of_result",
    "comparison_path",
    "context_fit_path",
    "default_calibration_path",
    "default_fit_path",
    "default_plan_path",
    "evidence_tree",
    "fit_config",
    "fit_evidence",
    "fit_file_name",
    "fit_id",
    "fit_mismatches",
    "load_fit",
    "read_json_result",
    "results_dir",
    "save_fit",
    "saved_calibration_paths",
    "variant_path",
    "write_json_result",
]

PLAN_FILE = "plan.json"
COMPARISON_FILE = "comparison.json"
"""Where a plan is kept beside the fits: ``DIR/.cmoc/plan.json``."""


class FitMismatchError(ValueError):
    """A saved fit that does not belong to the evidence or model it is used with."""


class FitFileError(EvidenceError):
    """A file that should hold a saved fit and cannot be read as one (exit status 2)."""


class FitEvidenceError(ValueError):
    """A fit that does not carry the evidence it was fitted to (saved before portable fits)."""


EVIDENCE_GROUP = "evidence"
"""The group of a fit's DataTree that holds the evidence it was fitted to."""

PREDATES = "this fit predates portable fits (it does not carry the evidence it was fitted to)"
"""What :func:`fit_evidence` says of a fit saved before fits carried their evidence."""


def evidence_tree(evidence: EvidenceBase) -> xr.DataTree:
    """Return the evidence as a DataTree group: one sub-group per table, one variable a column.

    Each table (``mechanisms``, ``cmocs``, ``sources``, ``codings``, ``actions``) is a dataset
    along its own ``row`` dimension: strings are variable-length UTF-8 (a column that repeats
    its strings, such as ids, as int32 codes into ``<column>__values``), numbers int64 or
    float64, and a column with missing values has a small int8 companion saying which
    (:class:`cmoc.evidence.portable.PortableTable`; its layout is the dataset's ``layout``
    attr, JSON). The group's attrs hold ``evidence.toml`` as parsed (``evidence_config``,
    JSON), the evidence hash and the layout's ``format``.

    Parameters
    ----------
    evidence : EvidenceBase

    Returns
    -------
    xarray.DataTree
    """
    config_json, tables = to_portable(evidence)
    children = {}
    for name, table in tables.items():
        variables = {}
        for var, values in table.arrays.items():
            variable = xr.Variable((table.dims.get(var, "row"),), values)
            if values.dtype == object:
                variable.encoding["dtype"] = str  # variable-length UTF-8, even when empty
            variables[var] = variable
        ds = xr.Dataset(variables, attrs={"layout": json.dumps(table.layout, ensure_ascii=False)})
        children[name] = xr.DataTree(ds)
    attrs = {
        "format": PORTABLE_FORMAT,
        "evidence_config": config_json,
        "evidence_hash": evidence.evidence_hash,
    }
    return xr.DataTree(xr.Dataset(attrs=attrs), children=children)


def fit_evidence(idata: xr.DataTree) -> EvidenceBase:
    """Rebuild the evidence base a fit was made from, out of the fit alone.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit (:func:`load_fit`, :func:`cmoc.analyses.fit`).

    Returns
    -------
    EvidenceBase
        With ``path`` None; its ``evidence_hash`` is the fit's.

    Raises
    ------
    FitEvidenceError
        When the fit does not carry its evidence (saved before portable fits: :data:`PREDATES`),
        or carries evidence that cannot be read or does not match the fit's evidence hash.
        Give such a fit the evidence base it was fitted to (``load_fit(path, evidence)``).
    """
    if EVIDENCE_GROUP not in idata.children:
        raise FitEvidenceError(PREDATES)
    node = idata[EVIDENCE_GROUP]
    fmt = node.attrs.get("format")
    if fmt != PORTABLE_FORMAT:
        raise FitEvidenceError(
            f"the evidence in this fit is stored in format {fmt!r}, which this cmoc does not "
            f"read (it reads {PORTABLE_FORMAT}; upgrade cmoc)"
        )
    try:
        tables = {}
        for name in TABLE_NAMES:
            ds = node[name].to_dataset()
            tables[name] = PortableTable(
                {var: ds[var].values for var in ds.data_vars},
                json.loads(ds.attrs["layout"]),
                {var: ds[var].dims[0] for var in ds.data_vars if ds[var].dims != ("row",)},
            )
        evidence = from_portable(node.attrs["evidence_config"], tables)
    except (KeyError, TypeError, ValueError) as err:
        raise FitEvidenceError(
            f"the evidence stored in this fit cannot be read ({type(err).__name__}: "
            f"{str(err)[:120]})"
        ) from err
    made_from = Provenance.of(idata).evidence_hash
    if made_from and evidence.evidence_hash != made_from:
        raise FitEvidenceError(
            "the evidence stored in this fit is not the evidence it was fitted to (its hash "
            "differs)"
        )
    return evidence


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def fit_file_name(wave: str | None = None) -> str:
    """Name of the saved fit of the evidence up to ``wave`` (None: the newest wave).

    A wave label is never used raw in a file name: ``fit-<slug>-<hash>.nc``, where the slug
    keeps at most 40 of the label's letters, digits, ``_`` and ``-`` (other runs become ``_``)
    and the hash is the first 8 hex digits of the label's SHA-256, so that any label, even
    ``../x``, one with a NUL or an emoji, names one file inside ``.cmoc/`` and two labels never
    share one.
    """
    if wave is None:
        return "fit.nc"
    label = str(wave)
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    slug = _UNSAFE.sub("_", label).strip("_")[:40] or "wave"
    return f"fit-{slug}-{digest}.nc"


def results_dir(evidence_dir: str | Path) -> Path:
    """Return the folder of what cmoc derives from a base: ``DIR/.cmoc`` (not created here)."""
    return Path(evidence_dir) / WORK_DIR


def default_fit_path(evidence_dir: str | Path, wave: str | None = None) -> Path:
    """Where ``cmoc fit DIR`` keeps its result: ``DIR/.cmoc/fit.nc`` (:func:`fit_file_name`)."""
    return results_dir(evidence_dir) / fit_file_name(wave)


def context_fit_path(evidence_dir: str | Path, by: str = "kind", wave: str | None = None) -> Path:
    """Where the fit with context effects is kept: ``DIR/.cmoc/context-<by>-<fit name>``.

    Beside the default model's fit (:func:`default_fit_path`), for ``cmoc summary --by`` and the
    report's "for whom, in what circumstances" section; ``by`` is one of
    :data:`cmoc.models.CONTEXTS` other than ``none`` (``group:N`` is kept as ``groupN``).
    """
    return results_dir(evidence_dir) / f"context-{by.replace(':', '')}-{fit_file_name(wave)}"


def variant_path(directory: str | Path, variant: str, model: str = "hierarchical") -> Path:
    """Where a comparison variant's fit is kept: ``DIR/.cmoc/fit-model-<variant>.nc``.

    Of model v2 (``model="measurement"``): ``DIR/.cmoc/fit-model-measurement-<variant>.nc``,
    so that the variants of the two models never share a file.
    """
    prefix = "" if model == "hierarchical" else f"{model}-"
    return results_dir(directory) / f"fit-model-{prefix}{variant}.nc"


def comparison_path(evidence_dir: str | Path, model: str = "hierarchical") -> Path:
    """Where the model comparison is kept: ``DIR/.cmoc/comparison.json``.

    Of model v2 (``model="measurement"``): ``DIR/.cmoc/comparison-measurement.json``.
    """
    if model == "hierarchical":
        return results_dir(evidence_dir) / COMPARISON_FILE
    return results_dir(evidence_dir) / f"comparison-{model}.json"


def default_plan_path(evidence_dir: str | Path) -> Path:
    """Where ``cmoc plan DIR`` keeps its result: ``DIR/.cmoc/plan.json``."""
    return results_dir(evidence_dir) / PLAN_FILE


def default_calibration_path(evidence_dir: str | Path, model_id: str) -> Path:
    """Where the report looks first: ``DIR/.cmoc/calibration-<model id>.json``."""
    return results_dir(evidence_dir) / f"calibration-{model_id}.json"


def saved_calibration_paths(evidence_dir: str | Path) -> list[Path]:
    """Return the files ``DIR/.cmoc/calibration*.json`` (none when there is no ``.cmoc/``)."""
    folder = results_dir(evidence_dir)
    return list(folder.glob("calibration*.json")) if folder.is_dir() else []


def base_of_result(path: str | Path) -> Path | None:
    """Return the evidence base whose ``.cmoc/`` holds ``path`` (None: a file elsewhere)."""
    path = Path(path)
    folder = path.parent
    if folder.name != WORK_DIR or not (folder.parent / "evidence.toml").is_file():
        return None
    return folder.parent


def _saving(path: Path, what: str):
    """Return the writer lock of the base a result is saved into (none for a file elsewhere)."""
    base = base_of_result(path)
    return nullcontext() if base is None else writing(base, what)


def _refuse_stale(idata: xr.DataTree, path: Path, base_dir: Path) -> None:
    """Refuse to save a fit of evidence that has changed since (under the writer lock).

    A command that read the base before another one updated it would otherwise save its old
    fit over the new one.
    """
    try:
        current = load_evidence(base_dir)
    except EvidenceError:
        return  # being edited: no fit of it is used until it is valid and matches again
    if path.name == fit_file_name():
        evidence = current
    else:
        waves = [w for w in current.waves if fit_file_name(w) == path.name]
        if not waves:
            return  # not a fit of a wave (a model comparison's variant)
        evidence = current.up_to(waves[0])
    made_from = Provenance.of(idata).evidence_hash
    if made_from and made_from != evidence.evidence_hash:
        raise EvidenceError(
            [
                Problem(
                    str(path),
                    None,
                    None,
                    None,
                    "a fit of the evidence as it is now: the evidence base changed while this "
                    "fit was made (another cmoc command wrote it), so it was not saved over the "
                    "newer one; run the command again",
                )
            ]
        )


def save_fit(idata: xr.DataTree, path: str | Path) -> Path:
    """Write a fit as netCDF, atomically: the previous file survives any interruption.

    A fit saved into an evidence base's ``.cmoc/`` is saved under the base's writer lock
    (:mod:`cmoc.evidence.lock`), and refused when the evidence of its wave has changed since it
    was read: a command that started before an update does not save its old fit over the
    update's.

    Parameters
    ----------
    idata : xarray.DataTree
    path : str or Path

    Returns
    -------
    Path

    Raises
    ------
    EvidenceError
        When the base's evidence changed while the fit was made.
    """
    path = Path(path)
    with _saving(path, "save a fit"):
        base = base_of_result(path)
        if base is not None:
            _refuse_stale(idata, path, base)
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
        Empty when the fit was made from exactly this evidence (and config). A fit that
        carries its evidence (:func:`fit_evidence`) names each file that differs, such as
        ``"codings.csv differs from the evidence this fit was made from (1 row changed
        (count_min))"``.
    """
    out = []
    made = Provenance.of(idata)
    if made.evidence_hash != evidence.evidence_hash:
        differences = []
        if EVIDENCE_GROUP in idata.children:
            with suppress(FitEvidenceError):  # unreadable: said as before, by the hashes
                differences = evidence_differences(fit_evidence(idata), evidence)
        if differences:
            out.append("the evidence changed since the fit: " + "; ".join(differences))
        else:
            out.append(
                f"the evidence changed since the fit (fit made from evidence "
                f"{(made.evidence_hash or '?')[:12]}, evidence is now "
                f"{evidence.evidence_hash[:12]})"
            )
    if config is not None and made.model_id != config.id:
        out.append(f"the model configuration differs (fit {made.model_id}, asked {config.id})")
    if sampler is not None:
        stored = made.sampler
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

    Without ``evidence`` the fit is returned as saved: :func:`fit_evidence` gives the evidence
    it was fitted to. With ``evidence``, a fit of other evidence is refused, naming each file
    that differs (see :func:`fit_mismatches`).

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
    FitFileError
        When the file is truncated or not a netCDF fit (an :class:`EvidenceError`: exit 2).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no fit at {path}")
    try:
        idata = xr.open_datatree(path, engine="h5netcdf").load()
        idata.close()
    except Exception as err:  # HDF5 and netCDF decoders raise many kinds for a broken file
        raise FitFileError(
            [
                Problem(
                    str(path),
                    None,
                    None,
                    None,
                    "a fit saved by cmoc fit; this file is truncated or not netCDF: run cmoc "
                    f"fit again ({type(err).__name__}: {str(err)[:120]})",
                )
            ]
        ) from err
    if "model_config" not in idata.attrs:
        raise FitMismatchError(f"{path} is not a cmoc fit (no provenance attrs)")
    if evidence is not None:
        problems = fit_mismatches(idata, evidence, config)
        if problems:
            raise FitMismatchError(f"{path}: " + "; ".join(problems) + "; run `cmoc fit` again")
    return idata


def fit_config(idata: xr.DataTree) -> tuple[ModelConfig, dict]:
    """Return the model configuration and sampler settings stored in a fit."""
    made = Provenance.of(idata)
    return ModelConfig.from_json(made.model_config), made.sampler


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
    from ...evidence import atomic_write_text

    path = Path(path)
    with _saving(path, "save a result"):
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
