"""Every number the report shows, as CSV files: one per table of the report.

``cmoc report DIR`` renders :func:`cmoc.reports.report_content`; this script computes the same
content through the public API and writes each of its tables (``ReportContent.tables()``) as
``<table>.csv``, so that any number in ``report.html`` can be traced, checked or reused:
``summary``, ``mechanisms``, ``cmocs``, ``sources_by_kind_wave``, ``groups``,
``codings_by_wave``, ``trajectory``, ``changes``, ``actions``, ``ppc``, ``ppc_by_group``,
``convergence``, ``plan`` (the chance that more sources settle each inconclusive CMOC) and, when
a saved calibration of the model is found, ``calibration`` and ``calibration_ranks``. Fits are
those of ``cmoc report`` (``DIR/.cmoc/``, reused while evidence, model and sampler settings
match), and so is the plan (``DIR/.cmoc/plan.json``, reused while made from the same fit), so
with the same settings the numbers are the report's.

Run from the repository root::

    .venv/bin/python analyses/report_numbers.py evidence/ioc --out /tmp/ioc-numbers
    .venv/bin/python analyses/report_numbers.py evidence/ioc --seed 1 --draws 500 --out /tmp/n
    .venv/bin/python analyses/report_numbers.py DIR --no-plan --calibration cal.json --out /tmp/n

Exit status 0 on success, 2 on bad evidence or settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cmoc
from cmoc.analyses import SamplerConfig, SamplerError
from cmoc.evidence import atomic_write_text
from cmoc.evidence.csvsafe import frame_to_csv
from cmoc.models import ModelConfig
from cmoc.reports import report_content_for


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def write_numbers(
    directory: Path,
    out: Path,
    sampler: SamplerConfig,
    ci: float = 0.9,
    *,
    plan: bool = True,
    calibration: Path | None = None,
    workers: int = 2,
    config: ModelConfig | None = None,
) -> list:
    """Fit (or reuse) every wave of ``directory`` and write the report's tables into ``out``.

    The fits, the plan and the content come from :func:`cmoc.reports.report_content_for`, the
    sequence ``cmoc report`` runs (without the model comparison, which has no table here).

    Parameters
    ----------
    directory : Path
        The evidence base.
    out : Path
        Output directory (created if needed).
    sampler : SamplerConfig
        Sampler settings (the report's defaults unless changed).
    ci : float
        Probability of the intervals.
    plan : bool
        Include the plan (reused from ``DIR/.cmoc/plan.json``, else computed as ``cmoc report``
        computes it, with the sampler's seed, and saved).
    calibration : Path, optional
        A saved calibration (default: the newest of the model in ``DIR/.cmoc/``).
    workers : int
        Dask workers for the plan (0: in this process).
    config : ModelConfig, optional
        The model (default: the default model for the base, as ``cmoc report``).

    Returns
    -------
    list of Path
        The files written.
    """
    run = report_content_for(
        directory,
        config,
        sampler,
        compare=False,
        plan=plan,
        calibration=calibration,
        ci=ci,
        workers=workers,
        say=_say,
    )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in run.content.tables().items():
        path = out / f"{name}.csv"
        # text cells that a spreadsheet would run as formulas are neutralised; the sign of a
        # CMOC (+ or -) is cmoc's own vocabulary and stays as it is
        atomic_write_text(path, frame_to_csv(table, verbatim=("sign",)))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Run the script; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="evidence base directory")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=20211)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--ci", type=float, default=0.9)
    parser.add_argument("--no-plan", action="store_true", help="leave the plan out")
    parser.add_argument("--calibration", type=Path, help="a saved calibration (JSON)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers for the plan")
    parser.add_argument("--model", type=Path, help="a model file (TOML), as `cmoc --model`")
    args = parser.parse_args(argv)
    try:
        config = None
        if args.model is not None:
            config = ModelConfig.from_toml(args.model.read_text(encoding="utf-8"))
        sampler = SamplerConfig(
            seed=args.seed,
            chains=args.chains,
            draws=args.draws,
            tune=args.tune,
            target_accept=args.target_accept,
        ).validated()
        written = write_numbers(
            args.directory,
            args.out,
            sampler,
            args.ci,
            plan=not args.no_plan,
            calibration=args.calibration,
            workers=args.workers,
            config=config,
        )
    except (cmoc.EvidenceError, SamplerError, ValueError, OSError) as err:
        print(str(err), file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
