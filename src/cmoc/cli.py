"""The ``cmoc`` command line, a thin layer over evidence, analyses and reports.

Exit status: 0 on success, 2 on bad input (messages on stderr), 1 on an internal error.
Results go to stdout, messages to stderr. Heavy modules (PyMC) are imported only by the
commands that sample, so ``cmoc validate`` stays fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .evidence import EvidenceError, describe
from .evidence import load_evidence as _load_evidence

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Bayesian evidence synthesis for realist reviews and evaluations.",
)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    """Bayesian evidence synthesis for realist reviews and evaluations."""


class UserError(Exception):
    """Bad input from the user: reported without a traceback, exit status 2."""


class Sampler(StrEnum):
    """Samplers offered on the command line."""

    nutpie = "nutpie"
    pymc = "pymc"


class Format(StrEnum):
    """Summary output formats."""

    table = "table"
    csv = "csv"
    json = "json"


def _err(message: str) -> None:
    typer.echo(message, err=True)


def load_evidence(directory: Path):
    """Load an evidence base and show its notes (a recovery, the ledger's findings) on stderr."""
    base = _load_evidence(directory)
    for note in base.notes:
        _err(note)
    return base


def _is_tty() -> bool:
    return sys.stderr.isatty()


DirArg = Annotated[Path, typer.Argument(help="Evidence base directory.", show_default=False)]
SeedOpt = Annotated[int, typer.Option(help="Random seed (same seed, same numbers).")]
DrawsOpt = Annotated[int, typer.Option(help="Draws per chain after tuning.", min=1)]
TuneOpt = Annotated[int, typer.Option(help="Tuning steps per chain.", min=0)]
ChainsOpt = Annotated[int, typer.Option(help="Number of chains.", min=1)]
SamplerOpt = Annotated[Sampler, typer.Option(help="NUTS implementation.")]
AcceptOpt = Annotated[
    float,
    typer.Option(
        "--target-accept",
        min=0.5,
        max=0.999,
        help="NUTS target acceptance; raise it (0.95, 0.99) if a fit reports divergences.",
    ),
]


def _sampler(
    sampler: Sampler, seed: int, draws: int, tune: int, chains: int, target_accept: float = 0.9
):
    from .analyses import SamplerConfig, SamplerError

    try:
        return SamplerConfig(
            sampler=sampler.value,
            seed=seed,
            draws=draws,
            tune=tune,
            chains=chains,
            target_accept=target_accept,
        ).validated()
    except SamplerError as err:
        raise UserError(str(err)) from err


ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="TOML file overriding the model's defaults (priors, likelihood); see `cmoc priors`.",
    ),
]


def _model_config(path: Path | None):
    from .models import DEFAULT_CONFIG, ModelConfig

    if path is None:
        return DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read the model file ({err})") from err
    try:
        return ModelConfig.from_toml(text)
    except ValueError as err:
        raise UserError(f"{path}: bad model configuration:\n{err}") from err


def _evidence_for(base, wave: str | None):
    if wave is None:
        return base
    if wave not in base.waves:
        raise UserError(f"wave {wave!r} is not one of {', '.join(base.waves)}")
    return base.up_to(wave)


@app.command()
def validate(directory: DirArg) -> None:
    """Validate an evidence base and print a one-screen summary of it.

    The ledger's findings are notes of the load (every command shows them on stderr); an edited
    earlier wave is also repeated on stdout, and is a warning, not an error (exit status 0).
    """
    from .evidence.ledger import read_ledger

    base = load_evidence(directory)  # checks ledger.csv too: a garbled one is exit status 2
    typer.echo(describe(base))
    entries = read_ledger(directory)
    if entries:
        waves = sorted({e.wave for e in entries}, key=lambda w: (w not in base.waves, w))
        typer.echo(f"ledger: {len(waves)} waves recorded ({', '.join(waves)})")
    for note in base.notes:
        if note.startswith("WARNING: "):
            typer.echo(note)
    typer.echo("valid")


@app.command()
def fit(
    directory: DirArg,
    out: Annotated[
        Path | None, typer.Option(help="Where to save the fit (default DIR/.cmoc/fit.nc).")
    ] = None,
    seed: SeedOpt = 20211,
    draws: DrawsOpt = 1000,
    tune: TuneOpt = 1000,
    chains: ChainsOpt = 4,
    sampler: SamplerOpt = Sampler.nutpie,
    target_accept: AcceptOpt = 0.9,
    wave: Annotated[str | None, typer.Option(help="Fit the evidence up to this wave only.")] = None,
    model: ModelOpt = None,
    all_waves: Annotated[
        bool,
        typer.Option(
            "--all-waves", help="Fit the evidence known after each wave (reusing saved fits)."
        ),
    ] = False,
) -> None:
    """Fit the hierarchical model and save the posterior (netCDF, written atomically)."""
    base = _evidence_for(load_evidence(directory), wave)
    s = _sampler(sampler, seed, draws, tune, chains, target_accept)
    cfg = _model_config(model)
    if all_waves:
        if wave is not None or out is not None:
            raise UserError("--all-waves fits every wave to DIR/.cmoc: no --wave or --out")
        from .analyses import check_convergence, fit_waves

        for label, (_, idata, how) in fit_waves(directory, cfg, s, progress=_is_tty()).items():
            _err(f"{label}: {how}")
            check = check_convergence(idata)
            _err(f"{label}: {'WARNING: ' if not check.passed else ''}{check.text}")
        return
    from .analyses import check_convergence, default_fit_path, save_fit
    from .analyses import fit as fit_model

    path = out or default_fit_path(directory, wave)
    idata = fit_model(base, cfg, sampler=s, progress=_is_tty())
    save_fit(idata, path)
    check = check_convergence(idata)
    if not check.passed:
        _err(f"WARNING: {check.text}")
    else:
        _err(check.text)
    typer.echo(str(path))


@app.command()
def priors(model: ModelOpt = None) -> None:
    """Print the model's priors and choices (the defaults, or with the overrides of --model)."""
    cfg = _model_config(model)
    width = max(len(name) for name, _ in cfg.describe_priors())
    for name, prior in cfg.describe_priors():
        typer.echo(f"{name:<{width}}  {prior}")
    typer.echo(f"model config id: {cfg.id}")


@app.command()
def summary(
    target: Annotated[Path, typer.Argument(help="Evidence base directory, or a saved fit (.nc).")],
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    wave: Annotated[
        str | None, typer.Option(help="Summarise the fit of the evidence up to this wave.")
    ] = None,
    ci: Annotated[
        float, typer.Option(help="Probability of the equal-tailed credible interval.")
    ] = 0.9,
    evidence: Annotated[
        Path | None,
        typer.Option(
            help="Evidence base of a fit given as FILE (default: DIR for DIR/.cmoc/*.nc)."
        ),
    ] = None,
    changes: Annotated[
        bool,
        typer.Option(
            "--changes", help="What the wave (default: the newest) changed since the one before."
        ),
    ] = False,
) -> None:
    """Summarise support per CMOC and mechanism: interval, P(support > 1/2), evidence, status."""
    if not 0 < ci < 1:
        raise UserError(f"--ci must be between 0 and 1 (got {ci})")
    if changes:
        _changes(target, wave, ci, format)
        return
    from .analyses import (
        FitMismatchError,
        check_convergence,
        default_fit_path,
        load_fit,
        summarize,
    )
    from .reports import render_summary

    if target.is_dir():
        directory, path = target, default_fit_path(target, wave)
    else:
        if not target.is_file():
            raise UserError(f"{target}: no such evidence directory or fit file")
        path = target
        directory = evidence
    if not path.is_file():
        hint = f" --wave {wave}" if wave else ""
        raise UserError(f"no fit at {path}: run `cmoc fit {target}{hint}` first")
    if directory is None:
        # a fit kept in DIR/.cmoc/ belongs to DIR; elsewhere, say where the evidence is
        guess = path.resolve().parent.parent
        if path.resolve().parent.name != ".cmoc" or not (guess / "evidence.toml").is_file():
            raise UserError(f"which evidence base is {path} a fit of? give --evidence DIR")
        directory = guess
    base = _evidence_for(load_evidence(directory), wave)
    try:
        idata = load_fit(path, base)
    except FitMismatchError as err:
        raise UserError(str(err)) from err
    frame = summarize(idata, base, ci=ci)
    check = check_convergence(idata)
    if not check.passed:
        _err(f"WARNING: {check.text}")
    meta = {
        "evidence": base.config.name,
        "wave": base.waves[-1],
        "ci": ci,
        "converged": check.passed,
        "convergence": check.text,
        "evidence_hash": base.evidence_hash,
    }
    typer.echo(render_summary(frame, format.value, meta), nl=False)


def _changes(directory: Path, wave: str | None, ci: float, fmt: Format) -> None:
    from .analyses import FitMismatchError, change_report, default_fit_path, load_fit
    from .reports import render_changes

    if not directory.is_dir():
        raise UserError("--changes needs the evidence base directory")
    base = load_evidence(directory)
    after_wave = wave or base.waves[-1]
    if after_wave not in base.waves:
        raise UserError(f"wave {after_wave!r} is not one of {', '.join(base.waves)}")
    k = base.wave_index(after_wave)
    if k == 0:
        raise UserError(f"{after_wave!r} is the first wave: nothing came before it")
    before_wave = base.waves[k - 1]
    fits = []
    for w in (before_wave, after_wave):
        newest = w == base.waves[-1]
        ev = base if newest else base.up_to(w)
        path = default_fit_path(directory, None if newest else w)
        if not path.is_file():
            raise UserError(
                f"no fit of the evidence up to {w!r}: run `cmoc fit {directory} --all-waves`"
            )
        try:
            fits.append((ev, load_fit(path, ev)))
        except FitMismatchError as err:
            raise UserError(f"{err} (`cmoc fit {directory} --all-waves` refits)") from err
    frame = change_report(fits[0][0], fits[0][1], fits[1][0], fits[1][1], ci=ci)
    typer.echo(render_changes(frame, fmt.value), nl=False)


@app.command()
def update(
    directory: DirArg,
    add: Annotated[
        Path, typer.Option("--add", help="Batch directory: sources.csv, codings.csv (+ theory).")
    ],
    wave: Annotated[
        str | None, typer.Option(help="Label of the new wave (default: the batch's wave).")
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="Change report format.")] = (
        Format.table
    ),
    seed: SeedOpt = 20211,
    draws: DrawsOpt = 1000,
    tune: TuneOpt = 1000,
    chains: ChainsOpt = 4,
    sampler: SamplerOpt = Sampler.nutpie,
    target_accept: AcceptOpt = 0.9,
    model: ModelOpt = None,
) -> None:
    """Append a batch of evidence as a new wave, refit, and print what the new wave changed."""
    s = _sampler(sampler, seed, draws, tune, chains, target_accept)
    cfg = _model_config(model)
    from .analyses import update as run
    from .reports import render_changes

    result = run(directory, add, wave, cfg, s, progress=_is_tty())
    # the wave is committed from here on: a failure to print must not read as a failed update
    try:
        for message in result.messages:
            _err(message)
        if result.changes is not None:
            typer.echo(render_changes(result.changes, format.value), nl=False)
    except Exception as err:  # anything: the update itself succeeded
        _err(
            f"WARNING: the update succeeded (wave {result.plan.wave!r} added and fitted), but "
            f"printing its change report failed ({type(err).__name__}: {err}); "
            f"`cmoc summary {directory} --changes` shows it"
        )


class QdaFormat(StrEnum):
    """QDA export formats ``cmoc import`` reads."""

    refi_qda = "refi-qda"
    taguette = "taguette"
    matrix = "matrix"


@app.command("import")
def import_(
    format: Annotated[
        QdaFormat,
        typer.Argument(
            help="refi-qda (.qdpx project, .qdc codebook), taguette, or matrix.",
            show_default=False,
        ),
    ],
    file: Annotated[Path, typer.Argument(help="The QDA export.", show_default=False)],
    out: Annotated[Path, typer.Option(help="New directory to write.", show_default=False)],
    map_file: Annotated[
        Path | None,
        typer.Option(
            "--map", help="Mapping CSV 'code,target_id,stance' (code: a code path or GUID)."
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse codes with references that map to nothing.")
    ] = False,
    theory: Annotated[
        Path | None,
        typer.Option(
            help="Evidence base whose theory the import completes: write a whole base "
            "(default: a batch for `cmoc update BASE --add DIR`)."
        ),
    ] = None,
    kind: Annotated[str, typer.Option(help="Source kind of documents without one.")] = "document",
    wave: Annotated[
        str | None,
        typer.Option(help="Wave of documents without one (default: the file's name)."),
    ] = None,
    group: Annotated[str | None, typer.Option(help="Group path of documents without one.")] = None,
    weight: Annotated[
        float | None,
        typer.Option(help="Appraisal weight in (0, 1] of documents without one."),
    ] = None,
    kind_from: Annotated[
        str, typer.Option(help="Document attribute (variable) giving the kind.")
    ] = "kind",
    wave_from: Annotated[str, typer.Option(help="Document attribute giving the wave.")] = "wave",
    group_from: Annotated[str, typer.Option(help="Document attribute giving the group.")] = "group",
    weight_from: Annotated[
        str, typer.Option(help="Document attribute giving the weight.")
    ] = "weight",
    only_coded: Annotated[
        bool,
        typer.Option("--only-coded", help="Leave out documents with no mapped coding."),
    ] = False,
    name_separator: Annotated[
        str | None,
        typer.Option(help="refi-qda: split code names into levels on this (ATLAS.ti: '::')."),
    ] = None,
    codebook: Annotated[
        Path | None,
        typer.Option(
            help="taguette: the codebook export (QDC, CSV or XLSX) beside the highlights."
        ),
    ] = None,
    orientation: Annotated[
        str | None,
        typer.Option(help="matrix: auto, codes-rows or codes-columns (default: detected)."),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option(help="matrix: the worksheet of an XLSX file to read.")
    ] = None,
) -> None:
    """Import coding from a QDA program as evidence: a batch, or with --theory a whole base.

    Codes map to CMOCs and mechanisms through --map, or by their names (mechanism/<id>,
    cmoc/<id>, optionally /supports or /refutes). One coding reference counts one code.
    """
    from .evidence.qda import import_qda

    given = {
        "name_separator": name_separator,
        "codebook": codebook,
        "orientation": orientation,
        "sheet": sheet,
    }
    # each reader refuses the options that are not its own, with a message naming them
    options = {k: v for k, v in given.items() if v is not None}
    result = import_qda(
        format.value,
        file,
        out,
        mapping=map_file,
        strict=strict,
        theory=theory,
        kind=kind,
        wave=wave,
        group=group,
        weight=weight,
        kind_from=kind_from,
        wave_from=wave_from,
        group_from=group_from,
        weight_from=weight_from,
        only_coded=only_coded,
        reader_options=options,
    )
    typer.echo(result.summary(), nl=False)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="New directory for the simulated evidence base.")],
    seed: SeedOpt = 0,
    mechanisms: Annotated[int, typer.Option(min=1, help="Number of mechanisms.")] = 8,
    cmocs: Annotated[int, typer.Option(min=1, help="Number of CMOCs.")] = 40,
    sources: Annotated[int, typer.Option(min=2, help="Number of sources.")] = 300,
    waves: Annotated[int, typer.Option(min=1, help="Number of waves.")] = 2,
) -> None:
    """Write a synthetic evidence base with known truth (truth.csv) for tests and examples."""
    from .analyses import SimulationSpec
    from .analyses import simulate as run

    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty: choose a new directory")
    spec = SimulationSpec(mechanisms=mechanisms, cmocs=cmocs, sources=sources, waves=waves)
    base = run(out, spec, seed=seed)
    typer.echo(describe(base))
    typer.echo(str(out))


@app.command()
def report(
    directory: DirArg,
    out: Annotated[
        Path | None,
        typer.Option(help="Output directory (default reports/build/<slug of the evidence name>)."),
    ] = None,
    seed: SeedOpt = 20211,
    draws: DrawsOpt = 1000,
    tune: TuneOpt = 1000,
    chains: ChainsOpt = 4,
    sampler: SamplerOpt = Sampler.nutpie,
    target_accept: AcceptOpt = 0.9,
    model: ModelOpt = None,
    pdf: Annotated[
        bool,
        typer.Option(
            "--pdf", help="Also write report.pdf, typeset by WeasyPrint (the pdf extra of cmoc)."
        ),
    ] = False,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare/--no-compare",
            help="Compare the hierarchy with no and complete pooling (two more fits, saved).",
        ),
    ] = True,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan/--no-plan",
            help="Plan for inconclusive CMOCs: reuse DIR/.cmoc/plan.json if made from this fit, "
            "else simulate (200 per CMOC, up to 5 new sources, PSIS without refits; saved).",
        ),
    ] = True,
    calibration: Annotated[
        Path | None,
        typer.Option(
            help="A saved calibration of the model (cmoc calibrate --out FILE); default: the "
            "newest matching DIR/.cmoc/calibration*.json.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Dask worker processes for the plan (default 0: in this process, quicker for "
            "the report's PSIS-only plan of a few CMOCs than starting a cluster).",
        ),
    ] = 0,
) -> None:
    """Build the report: validate, fit each wave (or reuse saved fits), write the files.

    The report (``report.html``, self-contained) shows the posterior after every wave, so the
    evidence up to each wave is fitted (``DIR/.cmoc/fit-<wave>.nc``, ``fit.nc`` for the newest)
    unless a saved fit still matches evidence, model and sampler settings. It also shows the
    plan for inconclusive CMOCs (``DIR/.cmoc/plan.json``, computed and saved when missing) and
    a saved simulation-based calibration of the model configuration, if there is one.
    """
    if pdf:  # before any fitting: a missing PDF library is bad input, not a late surprise
        from .reports.pdf import PdfUnavailableError, require_pdf

        try:
            require_pdf()
        except PdfUnavailableError as err:
            raise UserError(str(err)) from err
    load_evidence(directory)  # validated first: bad input writes nothing, not even a lock
    from .evidence.lock import writing

    # one writer at a time, and the base read under the lock is the one the fits are of
    with writing(directory, "cmoc report"):
        base = _load_evidence(directory)
        s = _sampler(sampler, seed, draws, tune, chains, target_accept)
        cfg = _model_config(model)
        saved_calibration = _calibration_for(directory, cfg, calibration)
        from .analyses import fit_waves
        from .reports import ReportWriteError, build_report, report_content, report_slug

        fits = fit_waves(directory, cfg, s, progress=_is_tty())
        for wave, (_, _, how) in fits.items():
            _err(f"{wave}: {how}")
        comparison = None
        if compare:
            from .analyses import compare_models

            comparison = compare_models(directory, base, cfg, s, progress=_is_tty())
        planned = None
        if plan:
            from .analyses import REPORT_PLAN, plan_or_reuse

            planned, how = plan_or_reuse(
                directory,
                fits[base.waves[-1]][1],
                base,
                seed=seed,
                workers=workers,
                progress=_is_tty(),
                **REPORT_PLAN,
            )
            _err(f"plan: {how}")
        content = report_content(
            base,
            {w: (ev, f) for w, (ev, f, _) in fits.items()},
            comparison=comparison,
            plan=planned,
            calibration=saved_calibration,
        )
        for wave, check in content.wave_checks.items():
            if not check.passed:
                _err(f"WARNING: the fit after wave {wave!r}: {check.text}")
        target = out or Path("reports") / "build" / report_slug(base.config.name)
        try:
            written = build_report(base, content, target, pdf=pdf)
        except ReportWriteError as err:
            raise UserError(f"cannot write the report: {err}") from err
        for path in written:
            typer.echo(str(path))


def _calibration_for(directory: Path, cfg, path: Path | None):
    """Return the saved calibration the report shows: ``path`` (checked), else the newest."""
    from .analyses import find_calibration, load_calibration

    if path is None:
        return find_calibration(directory, cfg.id)
    try:
        result = load_calibration(path)
    except ValueError as err:
        raise UserError(str(err)) from err
    if not result.calibrates(cfg.id):
        st = result.settings
        what = (
            "a misspecification check"
            if st.get("model_id") != st.get("generate_id")
            else "a calibration of another model configuration"
        )
        raise UserError(
            f"{path} is {what} (fitted {st.get('model_id')}, data drawn from "
            f"{st.get('generate_id')}); this report's model configuration is {cfg.id}"
        )
    return result


def _frame_text(frame, fmt: Format, title: str) -> str:
    """Render any analysis frame: CSV, JSON records, or a plain text table under a title."""
    import json

    if fmt == Format.csv:
        from .evidence.csvsafe import frame_to_csv

        return frame_to_csv(frame)
    if fmt == Format.json:
        return json.dumps(json.loads(frame.to_json(orient="records")), indent=2) + "\n"
    with pd_options():
        return f"{title}\n{frame.to_string(index=False)}\n"


def pd_options():
    """Pandas display options for wide text tables."""
    import pandas as pd

    return pd.option_context(
        "display.width", 200, "display.max_columns", 50, "display.precision", 3
    )


@app.command()
def check(
    directory: DirArg,
    compare: Annotated[
        bool, typer.Option("--compare", help="Compare the hierarchy with no and complete pooling.")
    ] = False,
    sensitivity: Annotated[
        bool, typer.Option("--sensitivity", help="Prior sensitivity by power-scaling.")
    ] = False,
    influence: Annotated[
        bool, typer.Option("--influence", help="Which units of evidence move each target.")
    ] = False,
    ppc: Annotated[
        bool, typer.Option("--ppc", help="Posterior predictive check of every unit.")
    ] = False,
    refit: Annotated[
        int,
        typer.Option(help="With --influence: refit exactly without up to N unreliable units."),
    ] = 0,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    wave: Annotated[str | None, typer.Option(help="Check the fit up to this wave.")] = None,
    seed: SeedOpt = 20211,
    draws: DrawsOpt = 1000,
    tune: TuneOpt = 1000,
    chains: ChainsOpt = 4,
    sampler: SamplerOpt = Sampler.nutpie,
    target_accept: AcceptOpt = 0.9,
    model: ModelOpt = None,
) -> None:
    """Check the model: predictive check, prior sensitivity, influence, model comparison.

    Without a flag, runs the predictive check, the sensitivity and the influence analysis on
    the saved fit (fitting it first if needed); --compare also fits the no-pooling and
    complete-pooling variants (saved beside the fit) and compares them by PSIS-LOO.
    """
    chosen = {
        "ppc": ppc,
        "sensitivity": sensitivity,
        "influence": influence,
        "compare": compare,
    }
    if not any(chosen.values()):
        chosen.update(ppc=True, sensitivity=True, influence=True)
    names = [k for k, v in chosen.items() if v]
    if format == Format.csv and len(names) > 1:
        raise UserError(
            "--format csv prints one table: choose one of --ppc, --sensitivity, "
            "--influence, --compare"
        )
    base = _evidence_for(load_evidence(directory), wave)
    s = _sampler(sampler, seed, draws, tune, chains, target_accept)
    cfg = _model_config(model)
    from .analyses import (
        compare_models,
        default_fit_path,
        fit_or_reuse,
        moved_most,
        posterior_predictive,
        ppc_summary,
        prior_sensitivity,
        refit_unreliable,
    )
    from .analyses import (
        influence as influence_table,
    )

    idata, how = fit_or_reuse(base, default_fit_path(directory, wave), cfg, s, progress=_is_tty())
    _err(how)
    out: dict[str, object] = {}
    if chosen["ppc"]:
        table = posterior_predictive(idata, base, seed=s.seed)
        out["ppc"] = table if format != Format.table else ppc_summary(table)
    if chosen["sensitivity"]:
        out["sensitivity"] = prior_sensitivity(idata, base)
    if chosen["influence"]:
        table = influence_table(idata, base)
        if refit:
            table = refit_unreliable(table, idata, base, s, max_refits=refit)
        out["influence"] = table if format != Format.table else moved_most(table).reset_index()
    if chosen["compare"]:
        result = compare_models(directory, base, cfg, s, progress=_is_tty())
        out["compare"] = result.table
        _err(("" if result.passed else "WARNING: ") + result.text)
    titles = {
        "ppc": "Posterior predictive check (units by wave, type and kind)",
        "sensitivity": "Prior sensitivity (power-scaling)",
        "influence": "Units that moved each target most (PSIS leave-one-out; * unreliable)",
        "compare": "Model comparison (PSIS-LOO)",
    }
    if format == Format.json:
        import json

        doc = {k: json.loads(v.to_json(orient="records")) for k, v in out.items()}
        typer.echo(json.dumps(doc, indent=2))
        return
    for name, frame in out.items():
        typer.echo(_frame_text(frame, format, titles[name]), nl=False)


class TableFormat(StrEnum):
    """Output formats of plan and calibrate."""

    table = "table"
    csv = "csv"


WorkersOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Worker processes of a local Dask cluster (default 2)."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(help="Address of an existing Dask scheduler (tcp://host:8786) instead."),
]


def _workers(workers: int | None, scheduler: str | None) -> int:
    if workers is not None and scheduler is not None:
        raise UserError("give --workers or --scheduler, not both")
    return workers or 2


@app.command()
def calibrate(
    datasets: Annotated[int, typer.Option(min=2, help="Simulated evidence bases to fit.")] = 100,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = (
        TableFormat.table
    ),
    draws: DrawsOpt = 200,
    tune: TuneOpt = 200,
    chains: ChainsOpt = 2,
    model: ModelOpt = None,
    generate: Annotated[
        Path | None,
        typer.Option(
            help="TOML file of the priors the data are drawn from (default: the fitted model's); "
            "a different one makes a deliberately misspecified check.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Also save the result (settings, tests, every rank) as JSON; `cmoc report DIR` "
            "shows DIR/.cmoc/calibration-<model id>.json.",
        ),
    ] = None,
) -> None:
    """Simulation-based calibration: ranks of the truth among posterior draws, tested uniform.

    Draws DATASETS evidence bases (2 mechanisms, 6 CMOCs, 30 sources of 2 kinds) from the
    model's priors, fits each (on Dask), and tests with a chi-square per quantity that the
    rank of every true value among 99 posterior draws is uniform (family-wise false-alarm
    rate 1%). With --out the result is saved for the report.
    """
    from .analyses.calibration import calibrate as run_calibration
    from .analyses.calibration import save_calibration

    n_workers = _workers(workers, scheduler)
    cfg = _model_config(model)
    gen = _model_config(generate) if generate is not None else None
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise UserError(f"--out {out}: give a file in an existing directory")
    try:
        result = run_calibration(
            datasets,
            seed,
            config=cfg,
            generate=gen,
            chains=chains,
            draws=draws,
            tune=tune,
            workers=n_workers,
            scheduler=scheduler,
            progress=_is_tty(),
        )
    except ValueError as err:
        raise UserError(str(err)) from err
    if out is not None:
        _err(f"saved {save_calibration(result, out)}")
    if format == TableFormat.csv:
        from .evidence.csvsafe import frame_to_csv

        typer.echo(frame_to_csv(result.tests), nl=False)
        _err(result.text)
        return
    with pd_options():
        typer.echo("Simulation-based calibration (chi-square on binned ranks)")
        typer.echo(result.tests.to_string(index=False))
    typer.echo(("" if result.calibrated else "WARNING: ") + result.text)


@app.command()
def plan(
    directory: DirArg,
    kind: Annotated[
        str | None,
        typer.Option(help="Kind of the new sources (default: the newest wave's commonest)."),
    ] = None,
    max_new: Annotated[int, typer.Option(min=1, help="Most new sources considered.")] = 5,
    seed: SeedOpt = 20211,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = (
        TableFormat.table
    ),
    simulations: Annotated[
        int, typer.Option(min=1, help="Simulations per CMOC (Monte Carlo error ~ 0.5/sqrt(N)).")
    ] = 200,
    plot: Annotated[
        Path | None, typer.Option(help="Also draw P(settled) against n to this file (.svg, .png).")
    ] = None,
    max_refits: Annotated[
        int | None,
        typer.Option(
            min=0, help="At most N exact refits where PSIS is unreliable (default: every one)."
        ),
    ] = None,
    draws: DrawsOpt = 1000,
    tune: TuneOpt = 1000,
    chains: ChainsOpt = 4,
    model: ModelOpt = None,
) -> None:
    """How many more sources of a kind would be expected to settle each inconclusive CMOC.

    Simulates new sources from the current posterior, updates on them (importance
    reweighting, or an exact refit where its Pareto k is above 0.7) and counts how often the
    CMOC would then be affirmed or refuted by the base's [classification] thresholds. Uses the
    saved fit (fitting first if needed, with --seed); saves the plan beside it
    (DIR/.cmoc/plan.json), where `cmoc report DIR` finds it.
    """
    n_workers = _workers(workers, scheduler)
    base = load_evidence(directory)
    s = _sampler(Sampler.nutpie, seed, draws, tune, chains)
    cfg = _model_config(model)
    from .analyses import default_fit_path, fit_or_reuse
    from .analyses.plan import (
        PLAN_COLUMNS,
        default_plan_path,
        plan_figure,
        plan_result,
        save_plan,
    )

    kinds = list(dict.fromkeys(base.sources["kind"]))
    if kind is not None and kind not in kinds:
        raise UserError(f"--kind {kind!r} is not a source kind of the base ({', '.join(kinds)})")
    idata, how = fit_or_reuse(base, default_fit_path(directory), cfg, s, progress=_is_tty())
    _err(how)
    try:
        result = plan_result(
            idata,
            base,
            kind=kind,
            max_new=max_new,
            simulations=simulations,
            seed=seed,
            max_refits=max_refits,
            workers=n_workers,
            scheduler=scheduler,
            progress=_is_tty(),
        )
    except ValueError as err:
        raise UserError(str(err)) from err
    _err(f"saved {save_plan(result, default_plan_path(directory))}")
    table = result.table
    if table.empty:
        message = f"no inconclusive CMOC in {base.config.name}: nothing to plan"
        if format == TableFormat.csv:
            typer.echo(",".join(PLAN_COLUMNS))
            _err(message)
        else:
            typer.echo(message)
        return
    if format == TableFormat.csv:
        from .evidence.csvsafe import frame_to_csv

        typer.echo(frame_to_csv(table), nl=False)
        return
    with pd_options():
        typer.echo(
            f"Expected settlement of inconclusive CMOCs after n more {table['kind'].iloc[0]} "
            f"sources ({simulations} simulations each)"
        )
        typer.echo(table.to_string(index=False))
    if plot is not None:
        from .reports.figures import plot_table

        typer.echo(str(plan_figure(plot_table(table), plot)))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    """
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="cmoc")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except EvidenceError as err:
        _err(str(err))
        return 2
    except UserError as err:
        _err(f"error: {err}")
        return 2
    except KeyboardInterrupt:
        _err("interrupted: files already saved are intact")
        return 130
    except Exception as err:
        if "--debug" in args:
            raise
        _err(f"internal error: {type(err).__name__}: {err} (run with --debug for a traceback)")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
