"""Updating as evidence arrives: append a wave, refit, and say what the new wave changed."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ...evidence import EVIDENCE_FILES, EvidenceBase, load_evidence
from ...evidence.append import AppendPlan, apply_plan, plan_append
from ...evidence.lock import exclusive, work_dir, writing
from ...models import ModelConfig
from ..checks.influence import influence, moved_most
from ..fitting.convergence import check_convergence
from ..fitting.sampling import SamplerConfig
from ..fitting.store import fit_file_name, results_dir
from ..fitting.waves import fit_waves
from ..inference.measurement import is_measurement_fit
from ..inference.summary import summarize
from .measurement_changes import CHANGE_HEAD, measurement_change_report

__all__ = ["CHANGE_COLUMNS", "UpdateResult", "change_report", "update"]

CHANGE_COLUMNS = [
    *CHANGE_HEAD,
    "support_before",
    "support_before_lo",
    "support_before_hi",
    "support_after",
    "support_after_lo",
    "support_after_hi",
    "shift",
    "shift_sd",
    "status_changed",
    "moved_most",
]


def change_report(
    before: EvidenceBase,
    before_fit: xr.DataTree,
    after: EvidenceBase,
    after_fit: xr.DataTree,
    *,
    ci: float = 0.9,
) -> pd.DataFrame:
    """Compare what was known after the previous wave with what is known after the newest.

    Parameters
    ----------
    before, after : EvidenceBase
        The evidence up to the previous wave, and up to the newest.
    before_fit, after_fit : xarray.DataTree
        Their fits (exact refits on the accumulated evidence).
    ci : float
        Probability of the intervals.

    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS`, one row per target of ``after``: status, codes and evidence level
        of the target in each of the two waves, support with its interval before and after, the
        shift in posterior mean support and its standard deviation (``sqrt(sd_before**2 +
        sd_after**2)``, the two fits treated as independent), and ``moved_most``: the units of
        the newest wave (sources, or totals over the wave) that moved the target's support most,
        with their contributions (:func:`cmoc.analyses.checks.influence.moved_most`; ``*`` marks an
        unreliable PSIS estimate). Targets new in the newest wave have no "before" values.
        For model v2 fits: :func:`~cmoc.analyses.measurement_change_report` (breadth and
        direction before and after, and what the newest wave brought).
    """
    if is_measurement_fit(after_fit):
        return measurement_change_report(before, before_fit, after, after_fit, ci=ci)
    b = summarize(before_fit, before, ci=ci).set_index("target_id")
    a = summarize(after_fit, after, ci=ci).set_index("target_id")
    out = pd.DataFrame(index=a.index)
    out["target_type"] = a["target_type"]
    out["mechanism_id"] = a["mechanism_id"]
    out["status_before"] = b["status"].reindex(a.index)
    out["status_after"] = a["status"]
    out["codes_before"] = b["codes"].reindex(a.index)
    out["codes_after"] = a["codes"]
    out["level_before"] = b["evidence_level"].reindex(a.index)
    out["level_after"] = a["evidence_level"]
    out["level_before_p"] = b["evidence_level_p"].reindex(a.index)
    out["level_after_p"] = a["evidence_level_p"]
    out["level_before_floor"] = out["level_after_floor"] = ""  # model v1: levels rest on data
    for when, frame in (("before", b.reindex(a.index)), ("after", a)):
        out[f"support_{when}"] = frame["support_mean"]
        out[f"support_{when}_lo"] = frame["support_lo"]
        out[f"support_{when}_hi"] = frame["support_hi"]
    out["shift"] = out["support_after"] - out["support_before"]
    out["shift_sd"] = np.sqrt(b["support_sd"].reindex(a.index) ** 2 + a["support_sd"] ** 2)
    out["status_changed"] = out["status_before"].fillna("(new)") != out["status_after"]
    table = influence(after_fit, after, wave=after.waves[-1])
    out["moved_most"] = moved_most(table).reindex(out.index).fillna("")
    return out.reset_index()[CHANGE_COLUMNS]


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file (not a link to one, which is never followed)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _seed_scratch(work: Path, scratch_work: Path, old: EvidenceBase, new_waves: list[str]) -> None:
    """Copy into the scratch copy the saved fits its waves may reuse (regular files only).

    An earlier wave keeps its fit's name; the previously newest wave's fit (``fit.nc``) is
    offered as that wave's fit, which is reused if its evidence is unchanged.
    """
    for wave in new_waves[:-1]:
        target = scratch_work / fit_file_name(wave)
        sources = [work / fit_file_name(wave)]
        if wave == old.waves[-1]:
            sources.append(work / fit_file_name())
        for source in sources:
            if _regular(source):
                shutil.copyfile(source, target)
                break


@dataclass
class UpdateResult:
    """What ``cmoc update`` did.

    Attributes
    ----------
    plan : AppendPlan
        The files written (empty when the batch was already in the base).
    changes : pandas.DataFrame or None
        :func:`change_report` of the previous wave against the new one.
    messages : list of str
        How each fit was obtained, and anything else worth saying.
    """

    plan: AppendPlan
    changes: pd.DataFrame | None
    messages: list[str]


def update(
    directory: str | Path,
    batch: str | Path,
    wave: str | None = None,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    progress: bool = False,
) -> UpdateResult:
    """Append a batch of evidence as a new wave, refit, and report what changed.

    The batch is validated against the base before anything is written; on any problem an
    ``EvidenceError`` is raised and no file changes. Rows already present and identical are
    skipped (a batch made only of those changes nothing).

    Parameters
    ----------
    directory : str or Path
        The evidence base.
    batch : str or Path
        Directory with ``sources.csv`` and ``codings.csv`` (and optionally new theory rows).
    wave : str, optional
        Label of the new wave (default: the wave named in the batch).
    config : ModelConfig, optional
    sampler : SamplerConfig, optional
    progress : bool

    Returns
    -------
    UpdateResult
    """
    directory = Path(directory)
    # a bad base or batch is refused before the lock writes anything into .cmoc/
    plan = plan_append(load_evidence(directory), batch, wave)
    if plan.changes_nothing:
        return UpdateResult(
            plan, None, ["every row of the batch is already in the evidence base: nothing changed"]
        )
    with writing(directory, "update"):
        # read again under the lock: the plan is made from the base as it is now, after any
        # update that ran while this one waited
        base = load_evidence(directory)
        plan = plan_append(base, batch, wave)
        if plan.changes_nothing:
            return UpdateResult(
                plan,
                None,
                ["every row of the batch is already in the evidence base: nothing changed"],
            )
        return _update_locked(directory, base, plan, config, sampler, progress=progress)


def _update_locked(
    directory: Path,
    base: EvidenceBase,
    plan: AppendPlan,
    config: ModelConfig | None,
    sampler: SamplerConfig | None,
    *,
    progress: bool,
) -> UpdateResult:
    work = work_dir(directory, create=True)
    # fit the updated base in a scratch copy first: until the files are switched at the end,
    # an interruption (even a kill) leaves the evidence base and its saved fits as they were
    with tempfile.TemporaryDirectory(prefix="update-", dir=work) as tmp:
        (Path(tmp) / ".owner").write_text(str(os.getpid()))
        scratch = Path(tmp) / "base"
        scratch.mkdir()
        for name in EVIDENCE_FILES:
            if name in plan.files:
                (scratch / name).write_bytes(plan.files[name])
            elif _regular(directory / name):
                shutil.copyfile(directory / name, scratch / name)
        scratch_work = results_dir(scratch)
        scratch_work.mkdir()
        new_waves = [*base.waves, plan.wave]
        _seed_scratch(work, scratch_work, base, new_waves)
        fits = fit_waves(scratch, config, sampler, progress=progress)
        waves = list(fits)
        (before, before_fit, how_b), (after, after_fit, how_a) = (
            fits[waves[-2]],
            fits[waves[-1]],
        )
        changes = change_report(before, before_fit, after, after_fit)
        # everything that could fail is done before the commit: after it, the update has happened
        checks = [
            (w, check_convergence(f)) for w, f in ((waves[-2], before_fit), (waves[-1], after_fit))
        ]
        fitted = [scratch_work / fit_file_name(w if w != waves[-1] else None) for w in waves]
        # the evidence and its new fits change together: a load sees both or neither
        with exclusive(directory):
            apply_plan(directory, plan)
            for path in fitted:
                if _regular(path):
                    os.replace(path, work / path.name)
    added = ", ".join(f"{n} {f}" for f, n in plan.added.items() if n)
    where = str(work)
    messages = [
        *base.notes,
        f"added wave {plan.wave!r}: {added}",
        f"{waves[-2]}: {how_b.replace(str(scratch_work), where)}",
        f"{waves[-1]}: {how_a.replace(str(scratch_work), where)}",
    ]
    for label, check in checks:
        messages.append(f"{label}: {'' if check.passed else 'WARNING: '}{check.text}")
    return UpdateResult(plan, changes, messages)
