"""The report's sequence, shared by ``cmoc report`` and scripts.

Validate the base (bad input writes nothing, not even a lock), take its writer lock, read it
again under the lock, find the saved calibration, fit the evidence known after each wave (or
reuse the saved fits), compare the hierarchy with no and complete pooling, plan for the
inconclusive CMOCs (or reuse the saved plan), compute the report's content, warn of fits that
failed the convergence gate, and write the files. Each step says what it does through ``say``
before it starts, so a long step is never silent.

A report of model v2 fits (``ModelConfig(model="measurement")``) runs the same sequence, with
v2's own comparison (its pooling variants of the target level, by PSIS-LOO over v2's units,
:func:`cmoc.analyses.compare_models` called as for v1), predictive check, influence of single
units and plan (every inconclusive target, CMOC or mechanism, by v2's statuses:
:data:`cmoc.analyses.REPORT_PLAN_V2`, PSIS only; a saved v2 plan is reused only when made from
the same fit with the same settings). A section v2 does not have yet would be skipped, said,
and explained in its place (:data:`cmoc.reports.content.NOT_YET_V2`, now empty).

:func:`build_report_from_fit` builds the report of one saved fit from the file alone (the
evidence it carries): the newest wave only, nothing fitted and nothing written beside the fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..analyses import (
    DEFAULT_CI,
    REPORT_PLAN,
    REPORT_PLAN_V2,
    VARIANTS,
    CalibrationResult,
    FitEvidenceError,
    FitMismatchError,
    SamplerConfig,
    compare_models,
    context_fit_or_reuse,
    find_calibration,
    fit_config,
    fit_evidence,
    fit_waves,
    load_calibration,
    load_fit,
    plan_or_reuse,
    plan_result,
    refutes_read_as_none,
    report_group_levels,
    whatif_fit_or_reuse,
)
from ..evidence import EvidenceBase, load_evidence
from ..evidence.lock import writing
from ..models import DEFAULT_CONFIG, ModelConfig, config_for
from .build import build_report, report_slug
from .content import NOT_YET_V2, ReportContent, report_content
from .pdf import require_pdf

__all__ = [
    "ReportRun",
    "ReportSettingsError",
    "build_report_for",
    "build_report_from_fit",
    "default_report_dir",
    "report_content_for",
    "saved_calibration",
]


class ReportSettingsError(ValueError):
    """A setting of the report that cannot be used (a calibration file of another model)."""


@dataclass(frozen=True)
class ReportRun:
    """What computing (and writing) a report did.

    Attributes
    ----------
    base : EvidenceBase
        The evidence base as read under the writer lock.
    content : ReportContent
        Everything the report shows.
    written : tuple of Path
        The files written (empty when only the content was computed).
    messages : tuple of str
        Everything said on the way, in order: the notes of the load, what each step did and
        how each fit and the plan were obtained, warnings of fits that failed the gate.
    """

    base: EvidenceBase
    content: ReportContent
    written: tuple[Path, ...]
    messages: tuple[str, ...]


class _Say:
    """Collect messages, passing each on to a callback as it is said."""

    def __init__(self, callback: Callable[[str], None] | None) -> None:
        self.callback = callback
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        self.messages.append(message)
        if self.callback is not None:
            self.callback(message)


def default_report_dir(base: EvidenceBase) -> Path:
    """Return ``reports/build/<slug of the evidence name>`` (relative to the working directory)."""
    return Path("reports") / "build" / report_slug(base.config.name)


def saved_calibration(
    directory: str | Path, config: ModelConfig, path: str | Path | None = None
) -> CalibrationResult | None:
    """Return the saved calibration the report shows: ``path`` (checked), else the newest.

    Parameters
    ----------
    directory : str or Path
        The evidence base (its ``.cmoc/calibration*.json`` are searched when ``path`` is None).
    config : ModelConfig
        The model configuration the report fits.
    path : str or Path, optional
        A calibration saved by ``cmoc calibrate --out FILE``.

    Returns
    -------
    CalibrationResult or None

    Raises
    ------
    ReportSettingsError
        When ``path`` is not a saved calibration, or not one of ``config``.
    """
    if path is None:
        return find_calibration(directory, config.id)
    try:
        result = load_calibration(path)
    except ValueError as error:
        raise ReportSettingsError(str(error)) from error
    if not result.calibrates(config.id):
        st = result.settings
        what = (
            "a misspecification check"
            if st.get("model_id") != st.get("generate_id")
            else "a calibration of another model configuration"
        )
        raise ReportSettingsError(
            f"{path} is {what} (fitted {st.get('model_id')}, data drawn from "
            f"{st.get('generate_id')}); this report's model configuration is {config.id}"
        )
    return result


def _is_v2(config: ModelConfig | None) -> bool:
    """Whether a report is of model v2 fits (the measurement model)."""
    return (config or DEFAULT_CONFIG).model == "measurement"


def _skip_v2(say: _Say, *, compare: bool) -> None:
    """Say which asked steps a report of model v2 leaves out (:data:`NOT_YET_V2`), and why."""
    for asked, name in ((compare, "comparison"),):
        if asked and name in NOT_YET_V2:
            say(f"model v2: skipping the {name}. {NOT_YET_V2[name]}")


def _report_plan(config: ModelConfig | None) -> dict:
    """Return a report's plan settings: :data:`REPORT_PLAN_V2` of model v2, else v1's."""
    return REPORT_PLAN_V2 if _is_v2(config) else REPORT_PLAN


def _planning_says(config: ModelConfig | None, how: str) -> str:
    """Say what the plan is for and with which settings, before it starts (``how``: reuse)."""
    if not _is_v2(config):
        return f"planning for the inconclusive CMOCs ({how})..."
    s = REPORT_PLAN_V2
    refits = "no exact refit" if not s["max_refits"] else f"at most {s['max_refits']} exact refits"
    return (
        f"planning for the inconclusive targets, CMOCs and mechanisms (model v2: "
        f"{s['simulations']} simulations, up to {s['max_new']} new sources, {refits}; {how})..."
    )


def _validated(directory: str | Path, say: _Say) -> None:
    """Read the base once before the lock: bad input is refused before anything is written."""
    for note in load_evidence(directory).notes:
        say(note)


def _content(
    directory: str | Path,
    config: ModelConfig | None,
    sampler: SamplerConfig | None,
    *,
    compare: bool,
    plan: bool,
    context: bool,
    calibration: str | Path | None,
    ci: float,
    workers: int,
    progress: bool,
    say: _Say,
    whatif: bool = True,
) -> tuple[EvidenceBase, ReportContent]:
    """Compute the report's content (the writer lock held by the caller)."""
    base = load_evidence(directory)  # the base read under the lock is the one the fits are of
    cfg = config_for(base, config)
    s = sampler or SamplerConfig()
    saved = saved_calibration(directory, cfg, calibration)
    if _is_v2(cfg):
        _skip_v2(say, compare=compare)
        compare = compare and "comparison" not in NOT_YET_V2
    say(
        f"fitting the evidence known after each wave ({', '.join(base.waves)}), or reusing "
        "the saved fits..."
    )
    fits = fit_waves(directory, cfg, s, progress=progress)
    for wave, (_, _, how) in fits.items():
        say(f"{wave}: {how}")
    comparison = None
    if compare:
        others = ", ".join(name for name in VARIANTS if name != "hierarchical")
        say(
            f"fitting the comparison models ({others}"
            + (" of model v2's target level" if _is_v2(cfg) else "")
            + "), or reusing their saved fits, and comparing them by PSIS-LOO..."
        )
        comparison = compare_models(directory, base, cfg, s, progress=progress, say=say)
    planned = None
    if plan:
        reuse = "with these settings" if _is_v2(cfg) else ""
        say(_planning_says(cfg, f"the saved plan if made from this fit {reuse}".rstrip()))
        planned, how = plan_or_reuse(
            directory,
            fits[base.waves[-1]][1],
            base,
            seed=s.seed,
            workers=workers,
            progress=progress,
            **_report_plan(cfg),
        )
        say(f"plan: {how}")
    context_fit = None
    if context and _is_v2(cfg) and base.sources["kind"].nunique() > 1:
        say(
            "fitting model v2 with context effects (per source kind: the 'for whom, in what "
            "circumstances' section), or reusing its saved fit..."
        )
        context_fit, how = context_fit_or_reuse(directory, base, cfg, s, progress=progress)
        say(f"context: {how}")
    group_fits = {}
    if context and _is_v2(cfg):
        for level in report_group_levels(base):
            say(f"fitting model v2 with contexts by group level {level}, or reusing its fit...")
            group_fits[level], how = context_fit_or_reuse(
                directory, base, cfg, s, by=f"group:{level}", progress=progress
            )
            say(f"context by group level {level}: {how}")
    whatif_fit = None
    if whatif and _is_v2(cfg) and refutes_read_as_none(base) is not None:
        say(
            "refitting model v2 with every missing refute read as none (what the recording "
            "of refutes decides), or reusing its saved fit..."
        )
        *whatif_fit, how = whatif_fit_or_reuse(directory, base, cfg, s, progress=progress)
        say(f"what-if: {how}")
    say("computing the report's tables (summaries, checks, what each wave changed)...")
    content = report_content(
        base,
        {w: (ev, f) for w, (ev, f, _) in fits.items()},
        ci=ci,
        comparison=comparison,
        plan=planned,
        calibration=saved,
        context=context_fit,
        group_context=group_fits,
        whatif=None if whatif_fit is None else tuple(whatif_fit),
        say=say,
    )
    for wave, check in content.wave_checks.items():
        if not check.passed:
            say(f"WARNING: the fit after wave {wave!r}: {check.text}")
    return base, content


def report_content_for(
    directory: str | Path,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    compare: bool = True,
    plan: bool = True,
    context: bool = True,
    whatif: bool = True,
    calibration: str | Path | None = None,
    ci: float = DEFAULT_CI,
    workers: int = 0,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
) -> ReportRun:
    """Fit (or reuse) what the report of ``directory`` needs and compute its content.

    The sequence of :func:`build_report_for` without writing the files (``written`` is empty).
    Parameters as there, plus ``ci``, the probability of every interval.

    Returns
    -------
    ReportRun
    """
    said = _Say(say)
    _validated(directory, said)
    with writing(directory, "report content"):
        base, content = _content(
            directory,
            config,
            sampler,
            compare=compare,
            plan=plan,
            context=context,
            whatif=whatif,
            calibration=calibration,
            ci=ci,
            workers=workers,
            progress=progress,
            say=said,
        )
    return ReportRun(base, content, (), tuple(said.messages))


def build_report_for(
    directory: str | Path,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    compare: bool = True,
    plan: bool = True,
    context: bool = True,
    whatif: bool = True,
    calibration: str | Path | None = None,
    out: str | Path | None = None,
    pdf: bool = False,
    workers: int = 0,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
) -> ReportRun:
    """Build the report of an evidence base: validate, fit each wave (or reuse), write the files.

    Parameters
    ----------
    directory : str or Path
        The evidence base. Its fits, the comparison's variants and the plan are saved in (and
        reused from) ``DIR/.cmoc/``, under its writer lock, held for the whole build.
    config : ModelConfig, optional
        The model configuration (default :data:`cmoc.models.DEFAULT_CONFIG`).
    sampler : SamplerConfig, optional
        Sampler settings (validated; default ``SamplerConfig()``); the plan uses its seed.
    compare : bool
        Compare the hierarchy with no and complete pooling (two more fits, saved).
    context : bool
        Of model v2 with two source kinds or more: fit (or reuse) model v2 with context effects
        for the "for whom, in what circumstances" section (one more fit, saved).
    whatif : bool
        Of model v2 where some kind's refutes are not recorded: fit (or reuse) the what-if
        with every missing refute read as none (:mod:`cmoc.analyses.checks.recording_whatif`;
        one more fit, saved), for the findings' statement of that assumption.
    plan : bool
        Plan for inconclusive CMOCs (``DIR/.cmoc/plan.json`` if made from this fit, else
        :data:`cmoc.analyses.REPORT_PLAN`, saved); of model v2, for inconclusive targets
        (``plan.json`` if made from this fit with :data:`cmoc.analyses.REPORT_PLAN_V2`, else
        computed with those settings, and saved unless ``plan.json`` holds a plan of this fit
        made with other settings).
    calibration : str or Path, optional
        A saved calibration of the model (default: the newest matching one in ``DIR/.cmoc/``).
    out : str or Path, optional
        Output directory (default :func:`default_report_dir`).
    pdf : bool
        Also write ``report.pdf`` (checked before anything is fitted).
    workers : int
        Dask worker processes for the plan (0: in this process).
    progress : bool
        Show the samplers' and the plan's progress bars.
    say : callable, optional
        Called with each message as it is said (``ReportRun.messages`` keeps them all).

    Returns
    -------
    ReportRun

    Raises
    ------
    EvidenceError
        Bad evidence (nothing written), or the writer lock not obtained in time.
    PdfUnavailableError
        ``pdf`` without the PDF library (before anything is done).
    ReportSettingsError
        A ``calibration`` file that is not one of this model.
    ReportWriteError
        A report file could not be written (the previous report is left as it was).
    """
    if pdf:  # before any fitting: a missing PDF library is bad input, not a late surprise
        require_pdf()
    said = _Say(say)
    _validated(directory, said)
    with writing(directory, "cmoc report"):
        base, content = _content(
            directory,
            config,
            sampler,
            compare=compare,
            plan=plan,
            context=context,
            whatif=whatif,
            calibration=calibration,
            ci=DEFAULT_CI,
            workers=workers,
            progress=progress,
            say=said,
        )
        target = Path(out) if out is not None else default_report_dir(base)
        said(f"writing the report files to {target}...")
        written = build_report(base, content, target, pdf=pdf)
    return ReportRun(base, content, tuple(written), tuple(said.messages))


ONE_FIT_NOTE = (
    "it shows the newest wave only; the trajectory across waves, what each wave changed, "
    "the model comparison and the estimates per source kind need the evidence base "
    "(cmoc report DIR)"
)
"""What a report built by :func:`build_report_from_fit` leaves out, as it says."""


def build_report_from_fit(
    fit_path: str | Path,
    evidence_dir: str | Path | None = None,
    config: ModelConfig | None = None,
    *,
    plan: bool = True,
    calibration: str | Path | None = None,
    out: str | Path | None = None,
    pdf: bool = False,
    workers: int = 0,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
) -> ReportRun:
    """Build the report of one saved fit, from the file alone (the evidence it carries).

    Nothing is fitted and nothing is written beside the fit: the report shows the evidence and
    posterior of the fit's newest wave (the trajectory across waves, what each wave changed and
    the model comparison need the base, :func:`build_report_for`); the plan, when asked for,
    is computed (PSIS updates, :data:`cmoc.analyses.REPORT_PLAN`, of a model v2 fit
    :data:`cmoc.analyses.REPORT_PLAN_V2`) and not saved.

    Parameters
    ----------
    fit_path : str or Path
        A fit saved by ``cmoc fit`` (or :func:`cmoc.analyses.save_fit`).
    evidence_dir : str or Path, optional
        The evidence base the fit should belong to: the fit is refused, naming each file that
        differs, when it was made from other evidence; needed for a fit saved before fits
        carried their evidence. Its saved calibrations are searched as by
        :func:`build_report_for`.
    config : ModelConfig, optional
        When given, the fit must be of this model configuration.
    plan : bool
        Plan for the inconclusive CMOCs.
    calibration : str or Path, optional
        A saved calibration of the fit's model (checked).
    out : str or Path, optional
        Output directory (default :func:`default_report_dir`).
    pdf : bool
        Also write ``report.pdf``.
    workers : int
        Dask worker processes for the plan (0: in this process).
    progress : bool
        Show the plan's progress bar.
    say : callable, optional
        Called with each message as it is said.

    Returns
    -------
    ReportRun

    Raises
    ------
    ReportSettingsError
        A fit without its evidence and no ``evidence_dir``, a fit of other evidence or of
        another model configuration, or a calibration of another model.
    FitFileError
        A file that is not a readable fit (an :class:`~cmoc.evidence.EvidenceError`).
    """
    if pdf:
        require_pdf()
    said = _Say(say)
    path = Path(fit_path)
    try:
        idata = load_fit(path)
    except (FileNotFoundError, FitMismatchError) as error:
        raise ReportSettingsError(str(error)) from error
    if evidence_dir is not None:
        base = load_evidence(evidence_dir)
        for note in base.notes:
            said(note)
        try:
            load_fit(path, base)  # the check only: names each file that differs
        except FitMismatchError as error:
            raise ReportSettingsError(str(error)) from error
    else:
        try:
            base = fit_evidence(idata)
        except FitEvidenceError as error:
            raise ReportSettingsError(
                f"{path}: {error}: give the evidence base it was fitted to, "
                f"`cmoc report DIR --fit {path}`"
            ) from error
    cfg, sampler = fit_config(idata)
    if config is not None and config.id != cfg.id:
        raise ReportSettingsError(
            f"{path} is a fit of the model configuration {cfg.id}, not of the one asked "
            f"({config.id}): leave out --model to report the fit's own"
        )
    newest = base.waves[-1]
    said(f"reporting the fit {path} of {base.config.name!r} after wave {newest!r}: {ONE_FIT_NOTE}")
    saved = None
    if evidence_dir is not None or calibration is not None:
        # without a base, only a calibration given as a file (its folder is not searched)
        saved = saved_calibration(evidence_dir or path.parent, cfg, calibration)
    planned = None
    if plan:
        said(_planning_says(cfg, "computed, not saved"))
        planned = plan_result(
            idata,
            base,
            seed=int(sampler.get("seed", SamplerConfig().seed)),
            workers=workers,
            progress=progress,
            **_report_plan(cfg),
        )
    said("computing the report's tables (summaries, checks)...")
    content = replace(
        report_content(
            base, {newest: (base, idata)}, ci=DEFAULT_CI, plan=planned, calibration=saved
        ),
        scope_note=f"the report of one saved fit ({path.name}), from the file alone: "
        + ONE_FIT_NOTE,
    )
    for wave, check in content.wave_checks.items():
        if not check.passed:
            said(f"WARNING: the fit after wave {wave!r}: {check.text}")
    target = Path(out) if out is not None else default_report_dir(base)
    said(f"writing the report files to {target}...")
    written = build_report(base, content, target, pdf=pdf)
    return ReportRun(base, content, tuple(written), tuple(said.messages))
