"""Provenance of a fit: what produced it, stamped on every group of the result.

A stamped fit also carries the evidence it was fitted to, in its ``evidence`` group
(:func:`cmoc.analyses.fitting.store.evidence_tree`), so that it can be used from the file alone.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import xarray as xr

from ...evidence import EvidenceBase
from ...models import ModelConfig
from ...models import config as _models_config
from ...models.config import measurement_priors_json
from .store import EVIDENCE_GROUP, evidence_tree

__all__ = ["PACKAGES", "model_code", "package_versions", "provenance", "stamp"]

PACKAGES = ("cmoc", "pymc", "pytensor", "nutpie", "arviz", "numpy", "pandas", "xarray")


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


@cache
def model_code() -> str:
    """Fingerprint of the code a fit's draws depend on: ``cmoc.models`` and the fitting package.

    The SHA-256 (first 16 hex digits) of every ``.py`` file of the two packages, by path and
    content. A saved fit is reused only when made by the same code
    (:func:`~cmoc.analyses.fitting.reuse.fit_or_reuse`): the package version does not change
    with every change to a model, and a fit made by other code may hold other numbers.
    """
    digest = hashlib.sha256()
    for root in (Path(_models_config.__file__).parent, Path(__file__).parent):
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root.parent).as_posix().encode())
            digest.update(b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def provenance(evidence: EvidenceBase, config: ModelConfig, sampler: dict) -> dict[str, str]:
    """Build the attrs that identify a fit.

    Returns
    -------
    dict of str to str
        ``cmoc_version``, ``model_code`` (:func:`model_code`), ``evidence_name``,
        ``evidence_hash``, ``evidence_waves``, ``model_name``, ``model_id``, ``model_config``
        (JSON), ``sampler`` (JSON with sampler, seed, chains, draws, tune), ``packages``
        (JSON); for model v2 also ``measurement_priors`` (JSON: the priors it was fitted with).
    """
    versions = package_versions()
    return {
        "cmoc_version": versions["cmoc"],
        "model_code": model_code(),
        "evidence_name": evidence.config.name,
        "evidence_hash": evidence.evidence_hash,
        "evidence_waves": json.dumps(evidence.waves),
        "model_name": config.name,
        "model_id": config.id,
        "model_config": config.to_json(),
        "sampler": json.dumps(sampler, sort_keys=True),
        "packages": json.dumps(versions, sort_keys=True),
        **(
            {"measurement_priors": measurement_priors_json(context=config.context != "none")}
            if config.model == "measurement"
            else {}
        ),
    }


def stamp(
    idata: xr.DataTree, evidence: EvidenceBase, config: ModelConfig, sampler: dict
) -> xr.DataTree:
    """Write provenance into the attrs of the tree and of each of its groups; add the evidence.

    The evidence the fit was made from goes into the group ``evidence``
    (:func:`~cmoc.analyses.fitting.store.evidence_tree`), which keeps its own attrs.

    Raises
    ------
    ValueError
        When ``config`` names a pooling variant of model v2 that the draws are not of (a
        variant is built with ``build_measurement_model(..., pooling=)``): no fit is labelled
        as a model it is not.
    """
    _check_pooling(idata, config)
    attrs = provenance(evidence, config, sampler)
    idata.attrs.update(attrs)
    for name, node in idata.children.items():
        if name != EVIDENCE_GROUP:
            node.attrs.update(attrs)
    idata[EVIDENCE_GROUP] = evidence_tree(evidence)
    return idata


def _check_pooling(idata: xr.DataTree, config: ModelConfig) -> None:
    """Refuse draws of model v2 that are not of the pooling variant ``config`` names."""
    if config.model != "measurement" or "posterior" not in idata.children:
        return
    names = idata["posterior"].data_vars
    if "evidencing_own" in names:
        built = "none"
    elif "evidencing_sd" in names or "evidencing_logit" not in names:
        built = "partial"  # or draws without the model's variables: not judged here
    else:
        built = "complete"
    if built != config.support_pooling:
        raise ValueError(
            f"draws of model v2 with pooling {built!r} labelled as support_pooling "
            f"{config.support_pooling!r}: build the variant with "
            "build_measurement_model(..., pooling=...) (cmoc check --compare does)"
        )
