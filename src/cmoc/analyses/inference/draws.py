"""Posterior draws of support, shared by the summary, the confidence grade and the checks."""

from __future__ import annotations

import xarray as xr

__all__ = ["support_draws"]


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
