"""cmoc: Bayesian evidence synthesis for realist reviews and realist evaluations.

The subpackages, in the one direction data flows:

- :mod:`cmoc.evidence`: load, validate, describe and write evidence bases (no PyMC);
- :mod:`cmoc.models`: PyMC model builders (evidence base in, ``pm.Model`` out; no file I/O);
- :mod:`cmoc.analyses`: fit, summarise, check and simulate (uses both above);
- :mod:`cmoc.reports`: tables and reports from fitted results (no sampling).

Only the evidence layer is imported eagerly, so ``import cmoc`` stays fast; the rest load on
first use.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from .evidence import EvidenceBase, EvidenceError, load_evidence

try:
    __version__ = version("cmoc")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_LAZY = {
    "fit": "cmoc.analyses",
    "load_fit": "cmoc.analyses",
    "summarize": "cmoc.analyses",
    "simulate": "cmoc.analyses",
    "build_model": "cmoc.models",
    "ModelConfig": "cmoc.models",
}

__all__ = ["EvidenceBase", "EvidenceError", "__version__", "load_evidence", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cmoc' has no attribute {name!r}")
