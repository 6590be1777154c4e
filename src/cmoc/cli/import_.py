"""``cmoc import FORMAT FILE --out DIR``: coding from a QDA program as evidence."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["QdaFormat", "import_"]


class QdaFormat(StrEnum):
    """QDA export formats ``cmoc import`` reads."""

    refi_qda = "refi-qda"
    taguette = "taguette"
    matrix = "matrix"


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
    from ..evidence.qda import import_qda

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
