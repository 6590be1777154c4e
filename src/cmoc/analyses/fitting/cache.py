"""Each expensive quantity of a fit computed once: a small memo keyed by the fit's content.

A report asks for the same quantity of the same fit many times: the convergence gate (by the
summary, the confidence grade, the comparison and the report itself), the summary (by the
report and by the change report), the pointwise log-likelihood (by the comparison, the
influence and the sensitivity). :func:`per_fit` remembers the last results of such a function.

The key is the *content* of its arguments, never an object's identity alone: a fit is
fingerprinted by every array, coordinate and attribute of every group (:func:`fit_fingerprint`,
about 20 ms for a 16 MB fit), an evidence base by its ``evidence_hash`` and the line numbers the
units of evidence are named by. So the fit saved as ``fit.nc`` and read twice (by the waves and
by the comparison) shares its results, and a different fit, or a fit changed in place, can never
get another's. Results are deep-copied in and out, so a caller that changes what it was given
cannot change what the next caller gets. At most :data:`MAX_ENTRIES` results are kept (least
recently used dropped first); :func:`clear_cache` empties the memo.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import xarray as xr

from ...evidence import EvidenceBase

__all__ = ["MAX_ENTRIES", "cache_info", "clear_cache", "fit_fingerprint", "per_fit"]

MAX_ENTRIES = 32
"""Results kept at most (a pointwise log-likelihood of the IOC base is about 5 MB)."""

_lock = threading.Lock()
_memo: OrderedDict[tuple, Any] = OrderedDict()
_stats = {"hits": 0, "misses": 0}


def _update_with_array(h, values: np.ndarray) -> None:
    arr = np.asarray(values)
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    if arr.dtype.hasobject:
        h.update(repr(arr.tolist()).encode())
    else:
        h.update(np.ascontiguousarray(arr).tobytes())


def _update_with_attrs(h, attrs: dict) -> None:
    h.update(json.dumps(attrs, sort_keys=True, default=repr).encode())


def fit_fingerprint(idata: xr.DataTree) -> str:
    """Return a digest of everything in a fit: every group's variables, coordinates and attrs.

    Parameters
    ----------
    idata : xarray.DataTree

    Returns
    -------
    str
        Equal for two fits exactly when their contents are equal (up to the hash).
    """
    h = hashlib.blake2b(digest_size=20)
    for node in idata.subtree:
        h.update(f"\0group\0{node.path}\0".encode())
        _update_with_attrs(h, dict(node.attrs))
        ds = node.to_dataset(inherit=False)
        for name in sorted(ds.variables, key=str):
            var = ds.variables[name]
            h.update(f"\0var\0{name}\0{var.dims}\0".encode())
            _update_with_attrs(h, dict(var.attrs))
            _update_with_array(h, var.values)
    return h.hexdigest()


def _evidence_key(evidence: EvidenceBase) -> tuple:
    # evidence_hash leaves line numbers out; the units of evidence are named by them
    lines = evidence.codings.get("line", ())
    h = hashlib.blake2b(digest_size=16)
    _update_with_array(h, np.asarray(lines))
    return ("evidence", evidence.evidence_hash, h.hexdigest())


def _key_of(value: Any) -> Hashable:
    if isinstance(value, xr.DataTree):
        return ("fit", fit_fingerprint(value))
    if isinstance(value, EvidenceBase):
        return _evidence_key(value)
    if isinstance(value, list | tuple):
        return (type(value).__name__, *(_key_of(v) for v in value))
    hash(value)  # a TypeError for anything else that cannot be a key: not memoised
    return (type(value).__qualname__, value)


def per_fit[F: Callable[..., Any]](func: F) -> F:
    """Memoise ``func`` on the content of its arguments (fits, evidence bases, plain values).

    Calls with an argument that is neither a fit, an evidence base nor hashable are computed
    as usual and not remembered. Exceptions are not remembered.
    """
    name = f"{func.__module__}.{func.__qualname__}"
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        # defaults filled in, so f(x) and f(x, ci=0.9) share one result
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        try:
            key = (name, tuple((k, _key_of(v)) for k, v in bound.arguments.items()))
        except TypeError:
            return func(*args, **kwargs)
        with _lock:
            if key in _memo:
                _memo.move_to_end(key)
                _stats["hits"] += 1
                return copy.deepcopy(_memo[key])
        result = func(*args, **kwargs)
        with _lock:
            _stats["misses"] += 1
            _memo[key] = copy.deepcopy(result)
            while len(_memo) > MAX_ENTRIES:
                _memo.popitem(last=False)
        return result

    return wrapper  # type: ignore[return-value]


def clear_cache() -> None:
    """Forget every remembered result."""
    with _lock:
        _memo.clear()
        _stats.update(hits=0, misses=0)


def cache_info() -> dict[str, int]:
    """Return ``hits``, ``misses`` and ``entries`` of the memo (for tests and benchmarks)."""
    with _lock:
        return {**_stats, "entries": len(_memo)}
