"""The ``cmoc`` command line: a thin layer over :mod:`cmoc.evidence`, :mod:`cmoc.analyses` and
:mod:`cmoc.reports`.

Exit status: 0 on success, 2 on bad input (messages on stderr), 1 on an internal error.
Results go to stdout, messages to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .evidence import EvidenceError, describe, load_evidence

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Bayesian evidence synthesis for realist reviews and evaluations.",
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
) -> None:
    """Bayesian evidence synthesis for realist reviews and evaluations."""


class UserError(Exception):
    """Bad input from the user: reported without a traceback, exit status 2."""


def _err(message: str) -> None:
    typer.echo(message, err=True)


DirArg = Annotated[Path, typer.Argument(help="Evidence base directory.")]


@app.command()
def validate(directory: DirArg) -> None:
    """Validate an evidence base and print a one-screen summary of it."""
    base = load_evidence(directory)
    typer.echo(describe(base))
    typer.echo("valid")


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
    except Exception as err:
        if "--debug" in args:
            raise
        _err(f"internal error: {type(err).__name__}: {err} (run with --debug for a traceback)")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
