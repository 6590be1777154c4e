"""Hierarchical values scaled by what their data pin down (a partially non-centred form).

A group value ``x ~ Normal(mean, sd)`` whose data pin it to within a sampling sd ``s`` is
sampled as ``x = mean + k z`` with ``k = sd / sqrt(1 + sd^2 / s^2)`` and ``z ~ Normal(0, sd / k)``:
the same prior for ``x`` (an affine map of a normal), only the sampled coordinate differs.
``k`` is the sd of ``x`` given its data under a normal approximation, so ``z``'s posterior has
about unit scale whatever ``sd`` is: where ``sd`` is much smaller than ``s`` the form is the
non-centred one (``k = sd``, ``z`` standard normal), where it is much larger it is the centred
one scaled by ``s`` (``z = (x - mean) / s``). The plain non-centred form fails in the second
regime: ``z = (x - mean) / sd`` is pinned to a thin curved ridge that is long in ``log sd``,
and trajectories that start in ``sd``'s upper tail diverge; the centred form fails in the first
(the funnel). Measured on the planted base of ``tests/test_measurement_planted.py`` (docs/model.md,
"Scaled by the data"). A group without data (``1 / s^2 = 0``) gets the non-centred form.
"""

from __future__ import annotations

from functools import partial

import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import ZeroSumTransform

from .hierarchical import _zero_sum_around

__all__ = [
    "data_centred_normal",
    "data_centred_zero_sum",
    "data_scale",
    "data_scaled_normal",
    "data_scaled_zero_sum",
]


def data_scale(sd, precision):
    """Return ``k = sd / sqrt(1 + sd^2 precision)``: a value's sd given data of ``precision``.

    Parameters
    ----------
    sd : tensor-like
        The prior sd of the value (a hierarchical scale).
    precision : tensor-like
        ``1 / s^2``, the data's precision about the value (0: no data).
    """
    return sd / pt.sqrt(1.0 + sd**2 * pt.as_tensor_variable(precision))


def data_scaled_normal(name: str, mean, sd, precision, **kwargs) -> pt.TensorVariable:
    """``Normal(mean, sd)`` values sampled as ``mean + k z``, ``z ~ Normal(0, sd / k)``.

    Parameters
    ----------
    name : str
        Name of the sampled ``z``.
    mean, sd : tensor-like
        The values' prior mean and sd.
    precision : tensor-like or None
        Per value (or one for all), the data's precision about it (:func:`data_scale`); a model
        input (``pm.Data``) where bases of one structure should share a compilation. ``None``:
        no data, the plain non-centred form ``mean + sd z``, ``z`` standard normal.
    **kwargs
        Passed to ``pymc.Normal`` (``dims``, ``shape``).
    """
    if precision is None:
        return mean + sd * pm.Normal(name, 0.0, 1.0, **kwargs)
    k = data_scale(sd, precision)
    return mean + k * pm.Normal(name, 0.0, sd / k, **kwargs)


def data_scaled_zero_sum(name: str, sd, precision, **kwargs) -> pt.TensorVariable:
    """``ZeroSumNormal(sd)`` deviations, sampled as ``k w``, ``w ~ ZeroSumNormal(sd / k)``.

    ``k = data_scale(sd, precision)`` with one precision for all (a zero-sum normal has one
    scale): the deviations' prior is unchanged; ``precision=None``: ``sd w``, ``w`` zero-sum
    standard normal. ``**kwargs`` go to ``pymc.ZeroSumNormal``.
    """
    if precision is None:
        return sd * pm.ZeroSumNormal(name, sigma=1.0, **kwargs)
    k = data_scale(sd, precision)
    return k * pm.ZeroSumNormal(name, sigma=sd / k, **kwargs)


def data_centred_normal(name: str, mean, sd, estimate, precision, **kwargs) -> pt.TensorVariable:
    """``Normal(mean, sd)`` values centred on their data as far as the data pin them.

    With ``c = sd^2 / (sd^2 + s^2)`` (``precision = 1 / s^2``, per value) and ``k`` of
    :func:`data_scale`, the values are ``c estimate + (1 - c) mean + k w``,
    ``w ~ Normal(c (mean - estimate) / k, sd / k)``: given ``mean`` and ``sd`` an affine map of
    ``w``, so the prior is unchanged (:func:`data_centred_zero_sum` without the zero sum).
    Where the data pin a value (``c`` near 1) it does not move with ``mean``: the non-centred
    form's collective direction of ``mean`` against every standardised value is gone; where
    they do not (``precision`` 0) the form is the plain non-centred one. ``estimate`` and
    ``precision`` may be model inputs (``pm.Data``); ``**kwargs`` go to ``pymc.Normal``.
    """
    k = data_scale(sd, precision)
    c = 1.0 - (k / sd) ** 2
    w = pm.Normal(name, c * (mean - estimate) / k, sd / k, **kwargs)
    return c * estimate + (1.0 - c) * mean + k * w


def data_centred_zero_sum(name: str, mean, sd, estimate, precision, n: int) -> pt.TensorVariable:
    """``mean + ZeroSumNormal(sd)`` deviations of ``n`` values, centred on their data.

    With ``c = sd^2 / (sd^2 + s^2)`` (``precision = 1 / s^2``, one for all) and ``k`` of
    :func:`data_scale`, the deviations are ``c estimate + (1 - c) mean + k w``,
    ``w ~ mean_w + ZeroSumNormal(sd / k)``, ``mean_w = c (mean - estimate) / k``: given ``sd``
    an affine map of ``w``, so the prior is unchanged. ``w`` is the standardised error of a
    normal approximation to the deviations' posterior (``estimate`` the data's own values, each
    with variance ``s^2``): near the centred form where ``sd`` is large (``w`` does not move
    with ``mean``), near the non-centred one where it is small. ``mean`` and ``estimate`` must
    each sum to zero; both may be model inputs (``pm.Data``).
    """
    k = data_scale(sd, precision)
    c = 1.0 - (k / sd) ** 2  # sd^2 p / (1 + sd^2 p)
    w = pm.CustomDist(
        name,
        c * (mean - estimate) / k,
        sd / k,
        dist=partial(_zero_sum_around, n=n),
        transform=ZeroSumTransform([-1]),
        shape=n,
    )
    return c * estimate + (1.0 - c) * mean + k * w
