"""Posterior draws shared by the summary, the levels, the links, the confidence grade and checks."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["flat_draws", "support_draws"]


def flat_draws(x: xr.DataArray) -> np.ndarray:
    """Return a posterior variable's values with the draws first: ``(chain * draw, ...)``."""
    return x.stack(s=("chain", "draw")).transpose("s", ...).values


def support_draws(idata: xr.DataTree) -> xr.DataArray:
    """Support draws of all targets along one ``target`` dimension (CMOCs then mechanisms).

    Parameters
    ----------
    idata : xarray.DataTree
        A fit with ``support_mechanism`` (and ``support_cmoc`` when the base has CMOCs).

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, target)``.
    """
    post = idata["posterior"].to_dataset()
    parts = []
    if "support_cmoc" in post:
        parts.append(post["support_cmoc"].rename(cmoc="target"))
    parts.append(post["support_mechanism"].rename(mechanism="target"))
    return xr.concat(parts, dim="target")
