"""Model configuration: priors and likelihood choices, merged from documented defaults."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CENTER_MIN_CODES",
    "CENTER_MIN_GROUPS",
    "DEFAULT_CONFIG",
    "KIND_CENTER_MIN_CODES",
    "V1_CONFIG",
    "V1_ONLY_FIELDS",
    "ModelConfig",
    "Prior",
    "describe_measurement_priors",
    "measurement_priors_json",
]

CENTER_MIN_CODES = 20
"""Median exact codes per mechanism (CMOC) from which ``"auto"`` centres that level."""

CENTER_MIN_GROUPS = 5
"""Mechanisms needed before ``mechanisms="auto"`` centres them: with fewer, their spread is
poorly identified and the centred form meets the funnel at small spreads."""

KIND_CENTER_MIN_CODES = 4000
"""Weighted exact codes every source kind needs before ``kind_leans="auto"`` centres the kind
leans, when their scale ``kind_lean_sd`` is a parameter (not by default): then each lean is
pinned to within about 0.03 on the log-odds scale, a small fraction of a typical lean, and the
non-centred form would trade a pinned lean for a narrow banana between its standardised value
and the poorly identified scale (only a few kinds inform it). With fewer codes the centred form
meets the funnel at small scales (a threshold of 200 gave 1-128 divergences on the 250-source
recovery bases, 600-1,700 codes per kind)."""

Positive = Annotated[float, Field(gt=0)]


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("constrained-"))


class Prior(BaseModel):
    """A prior by family name and parameters.

    ``Normal(mu, sigma)``; ``HalfNormal(sigma)``; ``Exponential`` with mean ``sigma``;
    ``Gamma`` with mean ``mu`` and standard deviation ``sigma`` (shape ``mu**2 / sigma**2``,
    rate ``mu / sigma**2``): with shape > 1 its density vanishes at zero, a boundary-avoiding
    prior for a scale that only a few groups inform.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dist: Literal["Normal", "HalfNormal", "Exponential", "Gamma"]
    mu: float = 0.0
    sigma: Positive = 1.0

    @model_validator(mode="after")
    def _gamma_mean_positive(self) -> Prior:
        if self.dist == "Gamma" and self.mu <= 0:
            raise ValueError(f"a Gamma prior needs a positive mean mu, got {self.mu:g}")
        return self

    @property
    def gamma_shape_rate(self) -> tuple[float, float]:
        """Shape and rate of a ``Gamma`` prior."""
        return self.mu**2 / self.sigma**2, self.mu / self.sigma**2

    def __str__(self) -> str:
        if self.dist == "Normal":
            return f"Normal({self.mu:g}, {self.sigma:g})"
        if self.dist == "HalfNormal":
            return f"HalfNormal({self.sigma:g})"
        if self.dist == "Gamma":
            shape, rate = self.gamma_shape_rate
            return f"Gamma(shape={shape:g}, rate={rate:g})"
        return f"Exponential(rate={1 / self.sigma:g})"


V1_ONLY_FIELDS = frozenset(
    {
        "likelihood",
        "pooling",
        "group_effects",
        "mechanisms",
        "cmocs",
        "kind_leans",
        "support_mean",
        "support_sd_mechanism",
        "support_sd_cmoc",
        "salience_sd_mechanism",
        "salience_sd_cmoc",
        "kind_rate",
        "kind_lean_sd",
        "group_sd",
        "inv_dispersion",
    }
)
"""Settings that only model v1 reads: a configuration that sets one must name its model."""


class ModelConfig(BaseModel):
    """Everything that defines the hierarchical model besides the evidence.

    Defaults are weakly informative on the log-odds and log-rate scales; docs/model.md gives
    the equations. Override any field: ``ModelConfig(likelihood="poisson")`` or
    ``DEFAULT_CONFIG.merged({"support_mean": {"dist": "Normal", "sigma": 2}})``.

    Attributes
    ----------
    model : {"measurement", "hierarchical"}
        ``measurement``: model v2, the default (:func:`~cmoc.models.build_measurement_model`:
        breadth, depth and direction, with the recording of refutes declared in
        ``evidence.toml``), whose priors are its own defaults
        (:class:`~cmoc.models.MeasurementPriors`): of the other fields only
        ``support_pooling`` applies to it. ``hierarchical``: model v1
        (:func:`~cmoc.models.build_model`, support and salience), kept for comparison with
        fits made before v2; every other field is its.
    likelihood : {"negbin", "poisson"}
        ``negbin``: each source's talkativeness has a Gamma(phi, phi) multiplier, integrated out
        (a negative-multinomial source likelihood); ``poisson``: no such extra variation.
    support_pooling : {"partial", "none", "complete"}
        How supports share information: ``partial`` (the hierarchy: CMOCs around their
        mechanism, mechanisms around a global mean), ``none`` (every CMOC and mechanism on its
        own, each with the ``support_mean`` prior) or ``complete`` (one support for all). The
        last two exist for model comparison (``cmoc check --compare``); salience stays pooled.
        Of model v2, the same choice for its target level, of evidencing (breadth), depth and
        direction together (``build_measurement_model(..., pooling=)``): ``partial`` (the
        model), ``none`` (every target on its own) or ``complete`` (targets share their
        mechanism's breadth, depth and direction); it is part of ``id`` for both models.
    context : {"none", "kind", "group:N"}
        Model v2 only: whether each target's breadth and direction may differ between source
        kinds (``build_measurement_model(..., context=)``; docs/model.md, "Context
        dependence"). ``none`` (the default model); ``kind``: partly pooled per-(target,
        kind) deviations, the model behind ``cmoc summary --by kind`` and the report's "for
        whom, in what circumstances" section, fitted beside the default model; ``group:N``:
        the same per group at level ``N`` of the sources' group paths (``cmoc summary --by
        group-level``), where the data identify it. Part of ``id`` only when not ``none``
        (fits saved before it existed keep their ids).
    pooling : {"normal", "logistic"}
        Distribution of a CMOC's standardised deviation from its mechanism's support. With
        ``logistic`` and the hierarchy fixed at mean 0 and scale 1, support has a uniform prior.
    group_effects : {"auto", "all", "none"}
        Levels of the group paths that get talkativeness effects. ``auto`` gives an effect to
        each group of two or more sources with their own non-zero counts (a group of one is
        its source), and keeps the levels with at least two such groups that are not the
        source kinds again (see ``cmoc.models.data``); ``all`` every level and group.
    mechanisms : {"auto", "centered", "noncentered"}
        Parametrisation of the mechanism level (support ``mu_m`` and salience ``theta_m``).
        ``auto`` centres it when there are at least :data:`CENTER_MIN_GROUPS` mechanisms and
        the median one has at least :data:`CENTER_MIN_CODES` exact source-level codes (its own
        and its CMOCs'), where the data pin each mechanism down and the centred form samples
        better; with 3 or 4 such mechanisms, support and salience are each centred only where
        the mechanisms visibly differ (``_spread_visible`` in ``models/hierarchical.py``);
        otherwise (little or only aggregate evidence, as in the IOC base) it stays non-centred.
    cmocs : {"auto", "centered", "noncentered"}
        The same for the CMOC level (``eta_c``, ``lambda_c``); ``auto`` centres, among the
        CMOCs with at least :data:`CENTER_MIN_CODES` exact codes, support and salience each
        only where those CMOCs visibly differ within their mechanisms (docs/model.md, "Small
        true spreads in model v1").
    kind_leans : {"auto", "centered", "noncentered"}
        Parametrisation of the kinds' zero-sum lean on support (``delta_k``) when its scale
        ``kind_lean_sd`` is a parameter (a :class:`Prior`): ``auto`` centres it when every kind
        has at least :data:`KIND_CENTER_MIN_CODES` weighted exact codes (a data-rich base,
        where the non-centred form's standardised leans and scale form a narrow banana), and
        keeps it non-centred otherwise (small bases, totals only). Ignored with a fixed scale.
    support_mean, support_sd_mechanism, support_sd_cmoc : Prior
        Global mean log-odds of support, spread of mechanisms around it, spread of CMOCs around
        their mechanism.
    salience_sd_mechanism, salience_sd_cmoc : Prior
        Spread of mechanisms' log coding rates around zero, and of CMOCs around their mechanism.
    kind_rate : Prior
        Log rate of codes per source and target for each source kind.
    kind_lean_sd : float or Prior
        Scale of the (zero-sum) lean of each source kind on support. A number fixes it (the
        default, 0.5: the leans are iid ``Normal(0, 0.5)`` minus their mean): with the usual
        two to four kinds their scale is barely identified, and as a parameter it gave the
        sampler a funnel or a banana on mid-sized bases (docs/model.md, "Kind leans"). A
        :class:`Prior` makes it a parameter, as in a hierarchy over many kinds.
    group_sd : Prior
        Scale of group effects on talkativeness, one scale per level of the group path.
    inv_dispersion : Prior
        Prior on ``1/phi``, the variance of the Gamma talkativeness multiplier (negbin only).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["hierarchical"] = "hierarchical"
    model: Literal["hierarchical", "measurement"] = "measurement"
    likelihood: Literal["negbin", "poisson"] = "negbin"
    support_pooling: Literal["partial", "none", "complete"] = "partial"
    context: Annotated[str, Field(pattern=r"^(none|kind|group:[1-9][0-9]*)$")] = "none"
    pooling: Literal["normal", "logistic"] = "normal"
    group_effects: Literal["auto", "all", "none"] = "auto"
    mechanisms: Literal["auto", "centered", "noncentered"] = "auto"
    cmocs: Literal["auto", "centered", "noncentered"] = "auto"
    kind_leans: Literal["auto", "centered", "noncentered"] = "auto"
    support_mean: Prior = Prior(dist="Normal", mu=0.0, sigma=1.5)
    support_sd_mechanism: Prior = Prior(dist="HalfNormal", sigma=1.0)
    support_sd_cmoc: Prior = Prior(dist="HalfNormal", sigma=1.0)
    salience_sd_mechanism: Prior = Prior(dist="HalfNormal", sigma=1.0)
    salience_sd_cmoc: Prior = Prior(dist="HalfNormal", sigma=1.0)
    kind_rate: Prior = Prior(dist="Normal", mu=-2.0, sigma=2.0)
    kind_lean_sd: Prior | Positive = 0.5
    group_sd: Prior = Prior(dist="HalfNormal", sigma=0.5)
    inv_dispersion: Prior = Prior(dist="HalfNormal", sigma=1.0)

    @model_validator(mode="after")
    def _v1_settings_name_their_model(self) -> ModelConfig:
        # model v2 ignores v1's settings: setting one without naming the model is a slip
        v1_only = sorted(self.model_fields_set & V1_ONLY_FIELDS)
        if v1_only and "model" not in self.model_fields_set:
            raise ValueError(
                f"{', '.join(v1_only)}: settings of model v1, which is no longer the default; "
                'add model = "hierarchical" to fit model v1 (model v2, the default, has its own '
                "priors: docs/model.md)"
            )
        if self.context != "none" and self.model != "measurement":
            raise ValueError(
                f'context = "{self.context}" is a setting of model v2 (model = "measurement")'
            )
        return self

    def merged(self, overrides: dict | None) -> ModelConfig:
        """Return a copy with ``overrides`` (nested dicts allowed) applied and validated."""
        dumped = self.model_dump()
        # only the fields set so far stay set: v1 settings must still name their model
        data = {key: dumped[key] for key in self.model_fields_set}
        for key, value in (overrides or {}).items():
            if isinstance(value, dict) and isinstance(dumped.get(key), dict):
                data[key] = {**dumped[key], **value}
            else:
                data[key] = value
        return ModelConfig.model_validate(data)

    @classmethod
    def from_toml(cls, text: str) -> ModelConfig:
        """Parse overrides of the defaults from TOML text (the file is read by the caller).

        Example::

            likelihood = "poisson"
            [support_mean]
            dist = "Normal"
            mu = 0.5
            sigma = 1.0

        Raises
        ------
        ValueError
            With every problem, one per line (``key: what was expected``).
        """
        import tomllib

        from pydantic import ValidationError

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"not valid TOML: {err}") from err
        try:
            return DEFAULT_CONFIG.merged(data)
        except ValidationError as err:
            # one line per setting; a prior-or-number setting lists why each reading failed
            problems: dict[str, list[str]] = {}
            for e in err.errors():
                # drop pydantic's names of union members ("constrained-float", "function-after[")
                loc = ".".join(str(p) for p in e["loc"] if not _is_union_tag(p)) or "(top)"
                got = f" (got {e['input']!r})" if e["type"] != "missing" else ""
                msg = e["msg"].removeprefix("Value error, ") + got
                problems.setdefault(loc, []).append(msg)
            lines = [f"{loc}: {'; or '.join(dict.fromkeys(m))}" for loc, m in problems.items()]
            raise ValueError("\n".join(lines)) from err

    def to_json(self) -> str:
        """Canonical JSON (sorted keys) for a result's attrs (:meth:`from_json` reads it)."""
        data = self.model_dump()
        if data["context"] == "none":
            # without the key, as before contexts existed: fits keep their ids
            del data["context"]
        if data["model"] == "hierarchical":
            # without the key, as before model v2 existed: v1 fits keep their ids
            del data["model"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """Read :meth:`to_json`'s text (or pydantic's JSON): no ``model`` key means model v1.

        Model v1 was the only model, then the default, when fits, plans and calibrations
        without the key were saved; model v2 is the default only for new configurations.
        """
        data = json.loads(text)
        data.setdefault("model", "hierarchical")
        data.setdefault("context", "none")
        return cls.model_validate(data)

    @property
    def id(self) -> str:
        """Short hash identifying this configuration.

        Model v2's priors are :class:`~cmoc.models.MeasurementPriors`' defaults, not fields of
        this configuration, so they enter its id: a fit saved under other defaults is not
        taken for one of this model (it is refitted).
        """
        text = self.to_json()
        if self.model == "measurement":
            text += measurement_priors_json(context=self.context != "none")
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _kind_lean_scale(self) -> str:
        if isinstance(self.kind_lean_sd, Prior):
            return str(self.kind_lean_sd)
        return f"fixed at {self.kind_lean_sd:g}"

    def describe_priors(self) -> list[tuple[str, str]]:
        """Return ``(parameter, prior)`` pairs in plain text, for printing and reports."""
        if self.model == "measurement":
            out = describe_measurement_priors(
                measurement_priors_json(context=self.context != "none")
            )
            if self.support_pooling != "partial":  # a comparison variant
                out.append(("target pooling (evidencing, depth, direction)", self.support_pooling))
            return out
        return [
            ("global mean support (log-odds), mu_0", str(self.support_mean)),
            ("mechanism support spread, tau_mu", str(self.support_sd_mechanism)),
            ("CMOC support spread within mechanism, sigma_eta", str(self.support_sd_cmoc)),
            ("support pooling", self.support_pooling),
            ("CMOC pooling distribution", self.pooling),
            ("mechanism salience spread, tau_theta", str(self.salience_sd_mechanism)),
            ("CMOC salience spread within mechanism, sigma_lambda", str(self.salience_sd_cmoc)),
            ("log coding rate per source kind, rho_k", str(self.kind_rate)),
            ("kind lean on support (zero-sum) scale, sigma_delta", self._kind_lean_scale()),
            ("group effect scale per level, sigma_g", str(self.group_sd)),
            ("group levels with effects", self.group_effects),
            ("mechanism-level parametrisation", self.mechanisms),
            ("CMOC-level parametrisation", self.cmocs),
            (
                "kind-lean parametrisation",
                self.kind_leans
                if isinstance(self.kind_lean_sd, Prior)
                else "centred (fixed scale)",
            ),
            ("talkativeness variance 1/phi", str(self.inv_dispersion)),
            ("likelihood", self.likelihood),
        ]


DEFAULT_CONFIG = ModelConfig()
"""The default model configuration (model v2, the measurement model)."""

V1_CONFIG = ModelConfig(model="hierarchical")
"""Model v1's default configuration, what its builder and generator use when given none."""


def measurement_priors_json(priors=None, *, context: bool = False) -> str:
    """Model v2's priors as canonical JSON (sorted keys), as a fit's attrs store them.

    Parameters
    ----------
    priors : MeasurementPriors, optional
        Default: ``MeasurementPriors()``.
    context : bool
        Include the scales of the context deviations (``context_*``): for a model with
        ``context="kind"`` only, so that the default model's JSON (and ids) stay as they were.
    """
    from dataclasses import fields

    from .measurement import MeasurementPriors

    priors = priors or MeasurementPriors()
    data = {}
    for f in fields(priors):
        if f.name.startswith("context_") and not context:
            continue
        value = getattr(priors, f.name)
        data[f.name] = value.model_dump() if isinstance(value, Prior) else value
    return json.dumps(data, sort_keys=True)


def describe_measurement_priors(text: str) -> list[tuple[str, str]]:
    """Return model v2's priors, given as :func:`measurement_priors_json` wrote them, in words.

    Raises
    ------
    ValueError
        When ``text`` is not such JSON.
    """
    try:
        raw = json.loads(text)
        p = {k: Prior(**v) if isinstance(v, dict) else float(v) for k, v in raw.items()}
        return [
            ("activation mean (logit), alpha_0", str(p["activation_mean"])),
            ("activation spread across mechanisms, tau_alpha", str(p["activation_sd"])),
            (
                "activation lean per kind (zero-sum), kappa",
                f"ZeroSumNormal({p['activation_kind_sd']:g})",
            ),
            ("evidencing mean (logit), beta_0", str(p["evidencing_mean"])),
            ("evidencing spread across targets, sigma_b", str(p["evidencing_sd"])),
            ("log coding rate per source kind, rho_k", str(p["kind_rate"])),
            ("depth spread across mechanisms, tau_theta", str(p["depth_sd_mechanism"])),
            ("depth spread within mechanism, sigma_l", str(p["depth_sd_target"])),
            ("depth dispersion 1/phi", str(p["inv_dispersion"])),
            ("direction mean (log-odds), mu_0", str(p["support_mean"])),
            ("direction spread across mechanisms, tau_mu", str(p["support_sd_mechanism"])),
            ("direction spread within mechanism, sigma_eta", str(p["support_sd_target"])),
            (
                "kind lean on direction (zero-sum), delta",
                f"ZeroSumNormal({p['kind_lean_sd']:g})",
            ),
            ("concentration of the direction's beta-binomial, c", str(p["concentration"])),
            (
                "recording of refutes of a partial kind, psi_k",
                f"Beta({p['recording_a']:g}, {p['recording_b']:g})",
            ),
        ] + [
            (what, str(p[key]))
            for key, what in (
                ("context_sd_breadth", "evidencing deviation per target and kind, sigma_B"),
                ("context_sd_direction", "direction deviation per target and kind, sigma_D"),
            )
            if key in p
        ]
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"not model v2's priors as JSON: {err}") from err
