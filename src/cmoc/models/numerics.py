"""Compiled numerics that give the same numbers whatever the state of the compile cache.

PyTensor compiles every function of a model (nutpie's log density and gradient, PyMC's
samplers, ``pm.compute_deterministics``, ``pm.draw``) with numba, and by default with LLVM's
fast-math flags (``reassoc``, ``contract``, ``arcp``, ``afn``, ``nsz``). Those let LLVM reorder
and fuse floating-point operations wherever it inlines one function into another, so two
machine-code forms of the same graph can round differently. A graph compiled for the first
time and the same graph loaded from PyTensor's numba cache are such forms: measured on a
30-source base, the rewritten graph and the final LLVM IR of nutpie's log-density function were
identical, yet one gradient component differed by one unit in the last place at 3 of 5 points,
and NUTS turns that into another chain. With the flags off (``numba__fastmath=False``) LLVM may
not change the order or rounding of any operation, so every compiled form computes the same
IEEE results and the cold and warm fits agree to the bit (also across ``PYTHONHASHSEED``).

:func:`use_exact_float_math` is called when :mod:`cmoc.models` is imported, so the CLI, scripts,
notebooks and Dask workers all compile this way. It changes PyTensor's global configuration
for the process; a user who sets ``pytensor.config.numba__fastmath = True`` afterwards gets fast
math back, and with it results that depend on the cache.
"""

from __future__ import annotations

import pytensor

__all__ = ["exact_float_math", "use_exact_float_math"]


def use_exact_float_math() -> None:
    """Compile PyTensor's numba functions without fast-math flags (IEEE-exact, cache-proof)."""
    pytensor.config.numba__fastmath = False


def exact_float_math() -> bool:
    """Whether numba functions are compiled without fast-math flags."""
    return not pytensor.config.numba__fastmath
