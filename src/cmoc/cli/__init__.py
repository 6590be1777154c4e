"""The ``cmoc`` command line, a thin layer over evidence, analyses and reports.

One module per command (:mod:`~cmoc.cli.validate`, ``fit``, ``priors``, ``summary``,
``paths``, ``update``, ``import_``, ``simulate``, ``report``, ``check``, ``calibrate``,
``plan``); the options several commands share are declared once in
:mod:`~cmoc.cli.options`, and every frame is printed through :func:`cmoc.cli.render.render`.

Exit status: 0 on success, 2 on bad input (messages on stderr), 1 on an internal error.
Results go to stdout, messages to stderr. Heavy modules (PyMC) are imported only by the
commands that sample, so ``cmoc validate`` stays fast.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from typing import Annotated

import typer

from ..evidence import EvidenceError
from . import (
    calibrate,
    check,
    fit,
    import_,
    paths,
    plan,
    priors,
    report,
    simulate,
    summary,
    update,
    validate,
)
from .common import UserError, err

__all__ = ["UserError", "app", "main"]

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


# in the order `cmoc --help` lists them
app.command()(validate.validate)
app.command()(fit.fit)
app.command()(priors.priors)
app.command()(summary.summary)
app.command()(paths.paths)
app.command()(update.update)
app.command("import")(import_.import_)
app.command()(simulate.simulate)
app.command()(report.report)
app.command()(check.check)
app.command()(calibrate.calibrate)
app.command()(plan.plan)


@contextmanager
def _fallbacks_as_notes():
    """Show the models' ModelFallbackWarning (v1 fitted where v2 cannot yet) as a note."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__name__ == "ModelFallbackWarning":  # by name: no import of the models
            err(f"note: {message}")
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    """
    args = sys.argv[1:] if argv is None else argv
    try:
        with _fallbacks_as_notes():
            app(args=args, prog_name="cmoc")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except EvidenceError as error:
        err(str(error))
        return 2
    except UserError as error:
        err(f"error: {error}")
        return 2
    except KeyboardInterrupt:
        err("interrupted: files already saved are intact")
        return 130
    except Exception as error:
        # looked up, not imported: importing the models would slow every command down
        unsupported = getattr(
            sys.modules.get("cmoc.models.measurement_data"), "UnsupportedLayout", None
        )
        if unsupported is not None and isinstance(error, unsupported):
            err(
                f"error: model v2 cannot be fitted: {error}; model v1 fits this layout: "
                '--model FILE with model = "hierarchical"'
            )
            return 2
        if "--debug" in args:
            raise
        err(f"internal error: {type(error).__name__}: {error} (run with --debug for a traceback)")
        return 1
    return 0
