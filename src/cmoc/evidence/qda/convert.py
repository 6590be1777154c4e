"""A QDA export turned into evidence: a batch for ``cmoc update``, or a complete evidence base.

``import_qda`` reads the export with the reader of its format (``READERS``: the module is imported
by name, so a reader only has to exist as ``cmoc.evidence.qda.<module>`` with
``read(path, **options) -> QdaProject``), maps its codes to the theory (:mod:`.mapping`), turns
documents into sources and counts into ``codings.csv`` rows, checks the result with the evidence
loader and writes it atomically. Nothing is written when anything is wrong.
"""

from __future__ import annotations

import importlib
import json
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..load import load_evidence
from ..problems import EvidenceError, Problem
from ..reading import read_config, read_table
from ..schema import TABLES, EvidenceConfig, wave_label_problem
from ..writing import write_directory
from .mapping import (
    CodeMapping,
    MappingRule,
    Theory,
    Unmapped,
    map_codes,
    names_a_code,
    read_mapping_file,
)
from .model import QdaProject
from .safety import DEFAULT_LIMITS, Limits, QdaImportError, csv_text, escape_formula

__all__ = [
    "READERS",
    "SOURCE_COLUMNS",
    "ImportResult",
    "check_has_coding",
    "import_qda",
    "read_project",
    "source_ids",
]

READERS = {"refi-qda": "refi", "taguette": "taguette", "matrix": "matrix"}
"""Format name (``cmoc import FORMAT``) to the reader module in ``cmoc.evidence.qda``."""

SOURCE_COLUMNS = ("source_id", "kind", "wave", "group", "weight", "title", "note")
"""Columns of the ``sources.csv`` written (``group`` and ``weight`` only when some are set)."""

CODING_COLUMNS = ("source_id", "target_id", "stance", "count")
EXCERPT_COLUMNS = ("source_id", "target_id", "stance", "text", "location")
"""Columns of the ``codings.csv`` written."""

THEORY_FILES = ("mechanisms.csv", "cmocs.csv", "actions.csv")
"""Files copied byte for byte from ``--theory`` (``actions.csv`` when present)."""


def read_project(format: str, path: str | Path, **options: Any) -> QdaProject:
    """Read a QDA export with the reader of ``format``.

    Parameters
    ----------
    format : str
        A key of :data:`READERS`.
    path : str or Path
        The export.
    **options
        Passed to the reader's ``read``.

    Returns
    -------
    QdaProject
    """
    module_name = READERS.get(format)
    if module_name is None:
        raise QdaImportError(
            [Problem(str(path), None, None, format, f"a format: {', '.join(READERS)}")]
        )
    qualified = f"{__package__}.{module_name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as err:
        if err.name != qualified:
            raise
        raise QdaImportError(
            [Problem(str(path), None, None, format, "a format this cmoc has a reader for")]
        ) from err
    try:
        return module.read(Path(path), **options)
    except TypeError as err:
        if options and "unexpected keyword" in str(err):
            raise QdaImportError(
                [Problem(str(path), None, None, None, f"options the {format} reader takes ({err})")]
            ) from err
        raise


_UNSAFE_ID = re.compile(r"[^\w.\-]+")


def source_ids(names: list[str], reserved: set[str] = frozenset()) -> list[str]:
    """Make a unique, safe ``source_id`` from each document name.

    Runs of characters other than letters, digits, ``_``, ``.`` and ``-`` become ``_``;
    leading and trailing ``_``, ``.`` and ``-`` are dropped (so no id starts like a formula); the
    id is cut at 60 characters; an empty result is ``document``; a name already taken (compared
    case-insensitively, also against ``reserved`` labels such as waves and groups) gets ``-2``,
    ``-3``, ...

    Parameters
    ----------
    names : list of str
        Document names, in order.
    reserved : set of str
        Labels the ids must not equal.

    Returns
    -------
    list of str
    """
    taken = {r.casefold() for r in reserved}
    out: list[str] = []
    for name in names:
        base = _UNSAFE_ID.sub("_", unicodedata.normalize("NFKC", name)).strip("._-")
        base = base[:60].rstrip("._-") or "document"
        candidate, n = base, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate.casefold())
        out.append(candidate)
    return out


@dataclass(frozen=True)
class ImportResult:
    """What ``import_qda`` wrote and found.

    Attributes
    ----------
    out : Path
        The directory written.
    files : tuple of str
        File names written in it.
    complete : bool
        True for a complete evidence base (``theory`` given), False for a batch.
    format : str
    documents : int
        Documents read (each one a source, unless ``only_coded`` dropped it).
    sources : int
        Sources written.
    codes : int
        Codes in the project.
    references : int
        Coding references the reader counted, in all codes.
    imported : int
        References written to ``codings.csv`` (those of mapped codes).
    per_target : dict of (str, str) to (int, int)
        ``(target_id, stance)`` to (references, sources with any).
    unmapped : tuple of Unmapped
        Codes with references that map to nothing.
    ignored : tuple of str
        Codes the mapping file leaves out on purpose.
    waves : tuple of str
        Wave labels of the sources written.
    notes : tuple of str
        The reader's and the mapping's notes.
    """

    out: Path
    files: tuple[str, ...]
    complete: bool
    format: str
    documents: int
    sources: int
    codes: int
    references: int
    imported: int
    per_target: dict[tuple[str, str], tuple[int, int]]
    unmapped: tuple[Unmapped, ...] = ()
    ignored: tuple[str, ...] = ()
    waves: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """Return the text ``cmoc import`` prints."""
        what = "evidence base" if self.complete else "batch (for `cmoc update BASE --add DIR`)"
        lines = [
            f"wrote {what} {self.out}: {', '.join(self.files)}",
            f"documents: {self.documents} ({self.sources} sources, wave {', '.join(self.waves)})",
            f"codes: {self.codes}; references counted: {self.references}; imported: "
            f"{self.imported} into {len(self.per_target)} target-stance pair(s)",
        ]
        if self.per_target:
            width = max(len("target_id"), *(len(t) for t, _ in self.per_target))
            lines.append("mapped per target:")
            lines.append(f"  {'target_id':<{width}}  stance    references  sources")
            for (target, stance), (n, s) in self.per_target.items():
                lines.append(f"  {target:<{width}}  {stance:<8}  {n:>10}  {s:>7}")
        if self.unmapped:
            lost = sum(u.references for u in self.unmapped)
            lines.append(
                f"unmapped codes ({len(self.unmapped)}, {lost} reference(s) not imported):"
            )
            for u in self.unmapped:
                lines.append(f"  {u.path} ({u.references}): {u.reason}")
        else:
            lines.append("unmapped codes: none")
        if self.ignored:
            lines.append(f"left out by the mapping file: {', '.join(self.ignored)}")
        if self.notes:
            lines.append("notes:")
            lines.extend(f"  {n}" for n in self.notes)
        return "\n".join(lines) + "\n"


def _attribute(attributes: Mapping[str, str], name: str | None) -> str | None:
    if not name:
        return None
    for key, value in attributes.items():
        if key.strip().casefold() == name.strip().casefold():
            value = value.strip()
            return value or None
    return None


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _evidence_toml(
    config: EvidenceConfig, waves: list[str], theory: Path, keep_levels: bool
) -> str:
    lines = [
        f"# Written by `cmoc import` from the theory of {theory.name}; waves are the imported "
        "ones.",
        f"name = {_toml_string(config.name)}",
        f"title = {_toml_string(config.title)}",
        f"citation = {_toml_string(config.citation)}",
        "format = 1",
        f"waves = [{', '.join(_toml_string(w) for w in waves)}]",
    ]
    if keep_levels and config.group_levels:
        lines.append(f"group_levels = [{', '.join(_toml_string(g) for g in config.group_levels)}]")
    t = config.thresholds
    lines += [
        "",
        "[thresholds]",
        f"limited = {t.limited}",
        f"moderate = {t.moderate}",
        f"significant = {t.significant}",
        "",
        "[classification]",
        f"affirm = {config.classification.affirm!r}",
        f"refute = {config.classification.refute!r}",
    ]
    c = config.confidence
    if c.direct or c.partial or c.indirect:
        lines += ["", "[confidence]"]
        for name in ("direct", "partial", "indirect"):
            values = getattr(c, name)
            if values:
                lines.append(f"{name} = [{', '.join(_toml_string(v) for v in values)}]")
    return "\n".join(lines) + "\n"


def _check(files: dict[str, str], complete: bool) -> None:
    """Validate the files before writing them: the whole base, or the batch's rows."""
    with tempfile.TemporaryDirectory(prefix="cmoc-import-") as tmp:
        root = Path(tmp)
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8")
        if complete:
            try:
                load_evidence(root)
            except EvidenceError as err:
                raise QdaImportError(
                    err.problems, head="the imported evidence base would not be valid"
                ) from err
            return
        problems: list[Problem] = []
        read_table(root, TABLES["sources"], problems)
        read_table(root, TABLES["codings"], problems)
        if "excerpts.csv" in files:
            read_table(root, TABLES["excerpts"], problems)
        if problems:
            raise QdaImportError(problems, head="the imported batch would not be valid")


_NO_CODING = {
    "refi-qda": "no coded selection and no whole-document coding",
    "taguette": "no highlight with a tag",
    "matrix": "every count is zero",
}


def check_has_coding(project: QdaProject, label: str) -> None:
    """Refuse an export with nothing to import: no documents, or documents but no coding.

    Parameters
    ----------
    project : QdaProject
        The export, read.
    label : str
        How to name the export in the message.

    Raises
    ------
    QdaImportError
        A codebook alone (codes, no documents), an export with no documents at all, or one
        whose documents hold no coding reference (``the export holds N document(s) but no
        coding (...): nothing to import``).
    """
    if not project.documents:
        if project.codes:
            why = (
                f"documents with codings (this export has {len(project.codes)} code(s) and no "
                "documents: a codebook alone cannot be imported as evidence)"
            )
        else:
            why = "documents with codings (the export holds no documents and no coding)"
        raise QdaImportError([Problem(label, None, None, None, why)])
    if not any(n > 0 for n in project.counts.values()):
        n = len(project.documents)
        what = _NO_CODING.get(project.format, "no coding reference")
        raise QdaImportError(
            [
                Problem(
                    label,
                    None,
                    None,
                    None,
                    f"the export holds {n} document(s) but no coding ({what}): nothing to "
                    "import; export the project after coding, or check the export's settings",
                )
            ],
            head="nothing to import",
        )


def _refuse_codes_as_documents(
    project: QdaProject, rules: list[MappingRule] | None, theory: Theory | None, label: str
) -> None:
    """Refuse a matrix whose document labels are codes of the mapping or the convention.

    Half or more of the documents (at least one) named like a mapped code
    (``mechanism/M1``, a path of the mapping file) means codes on both axes: a co-occurrence
    table, whose cells count codes coded together, not coding references per document.
    """
    from .matrix import split_code_label

    coded = [
        d.name for d in project.documents if names_a_code(split_code_label(d.name), rules, theory)
    ]
    if not coded or 2 * len(coded) < len(project.documents):
        return
    shown = ", ".join(repr(n) for n in coded[:3]) + (", ..." if len(coded) > 3 else "")
    raise QdaImportError(
        [
            Problem(
                label,
                None,
                None,
                None,
                "a code-by-document table of coding references: this is a code co-occurrence "
                f"table (codes on both axes: {len(coded)} of the {len(project.documents)} "
                f"document label(s) are codes of the mapping file or the naming convention, "
                f"e.g. {shown}): export a Code-Document table instead (ATLAS.ti: Code-Document "
                "Table with absolute frequencies; MAXQDA: Code Matrix Browser, not the Code "
                "Relations Browser; NVivo: a Matrix Coding Query of codes by files or cases)",
            )
        ]
    )


def _nothing_mapped(project: QdaProject, cm: CodeMapping, label: str, mapping: str) -> Problem:
    """Return the problem for an export whose coding references all map to nothing."""
    refs = sum(project.counts.values())
    shown = "; ".join(f"{u.path!r} ({u.references}): {u.reason}" for u in cm.unmapped[:5])
    if len(cm.unmapped) > 5:
        shown += f"; and {len(cm.unmapped) - 5} more"
    if cm.ignored:
        shown += (
            ("; " if shown else "")
            + f"left out by {mapping}: "
            + ", ".join(repr(c) for c in cm.ignored[:5])
        )
    return Problem(
        label,
        None,
        None,
        None,
        f"codes mapped to the theory: the export holds {refs} coding reference(s) in "
        f"{len(project.documents)} document(s), but none maps to a CMOC or mechanism "
        f"({shown}); map them with --map or name them mechanism/<id> or cmoc/<id>",
    )


def import_qda(
    format: str,
    path: str | Path,
    out: str | Path,
    *,
    mapping: str | Path | None = None,
    strict: bool = False,
    theory: str | Path | None = None,
    kind: str = "document",
    wave: str | None = None,
    group: str | None = None,
    weight: float | None = None,
    kind_from: str | None = "kind",
    wave_from: str | None = "wave",
    group_from: str | None = "group",
    weight_from: str | None = "weight",
    only_coded: bool = False,
    overwrite: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    reader_options: Mapping[str, Any] | None = None,
) -> ImportResult:
    """Import a QDA export as a batch of evidence or, with ``theory``, a complete evidence base.

    Every document becomes a source (``source_id`` from its name, see :func:`source_ids`);
    ``kind``, ``wave``, ``group`` and ``weight`` come from the document's attribute named by
    ``*_from`` (case-insensitive; REFI-QDA variables, also through cases) and otherwise from the
    defaults given here. Coding references of mapped codes are summed per (source, target,
    stance) into ``codings.csv``.

    Parameters
    ----------
    format : str
        ``refi-qda``, ``taguette`` or ``matrix`` (:data:`READERS`).
    path : str or Path
        The export.
    out : str or Path
        New (or empty) directory to write.
    mapping : str or Path, optional
        Mapping file ``code,target_id,stance`` (:mod:`cmoc.evidence.qda.mapping`); codes it does
        not name are mapped by the naming convention.
    strict : bool
        Refuse codes with references that map to nothing.
    theory : str or Path, optional
        An evidence base whose theory (``mechanisms.csv``, ``cmocs.csv``, ``actions.csv``,
        ``evidence.toml`` settings) the import completes: targets are validated against it and
        ``out`` becomes a complete base with only the imported waves. Without it ``out`` is a
        batch (``sources.csv``, ``codings.csv``) for ``cmoc update BASE --add out``.
    kind : str
        Source kind for documents without a ``kind_from`` attribute.
    wave : str, optional
        Wave label for documents without a ``wave_from`` attribute (default: the export's file
        name without extension, made safe).
    group : str, optional
        Group path for documents without a ``group_from`` attribute (default none).
    weight : float, optional
        Appraisal weight in (0, 1] for documents without a ``weight_from`` attribute
        (default: none, meaning 1).
    kind_from, wave_from, group_from, weight_from : str or None
        Document attribute to read each from (None: always use the default).
    only_coded : bool
        Leave out documents with no reference to a mapped code (by default every document is a
        source: a document coded with nothing is evidence of zeros).
    overwrite : bool
        Replace a non-empty ``out``.
    limits : Limits
        Safety caps for reading.
    reader_options : mapping, optional
        Extra options for the reader (e.g. ``{"name_separator": "::"}`` for REFI-QDA).

    Returns
    -------
    ImportResult

    Raises
    ------
    QdaImportError
        Bad or unsafe input, unmapped codes under ``strict``, or a result that would not
        validate; nothing is written.
    EvidenceError
        An invalid theory base.
    """
    path, out = Path(path), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise QdaImportError(
            [Problem(str(out), None, None, None, "a new or empty directory for --out")]
        )
    if weight is not None and not 0 < weight <= 1:
        raise QdaImportError(
            [Problem("--weight", None, None, str(weight), "a weight in (0, 1] (an appraisal)")]
        )
    theory_ids: Theory | None = None
    config: EvidenceConfig | None = None
    if theory is not None:
        theory = Path(theory)
        if not theory.is_dir():
            raise QdaImportError(
                [Problem(str(theory), None, None, None, "an evidence base directory (--theory)")]
            )
        if out.resolve() == theory.resolve():
            raise QdaImportError(
                [Problem(str(out), None, None, None, "an --out other than the --theory base")]
            )
        theory_ids = Theory.from_directory(theory)
        problems: list[Problem] = []
        config = read_config(theory, problems)
        if problems or config is None:
            raise EvidenceError(
                [
                    Problem(str(theory / p.file), p.line, p.column, p.value, p.expected)
                    for p in problems
                ]
            )
    rules: list[MappingRule] | None = None
    if mapping is not None:
        rules = read_mapping_file(mapping, theory_ids, limits=limits)
    options = dict(reader_options or {})
    if format == "refi-qda":
        options.setdefault("limits", limits)
    project = read_project(format, path, **options)
    check_has_coding(project, str(path))
    if project.format == "matrix":
        _refuse_codes_as_documents(project, rules, theory_ids, str(path))
    label = str(mapping) if mapping is not None else "mapping file"
    cm: CodeMapping = map_codes(
        project,
        rules=rules,
        theory=theory_ids,
        strict=strict,
        mapping_label=label,
        export_label=str(path),
    )

    # per document: (target, stance) -> references
    per_doc: dict[str, Counter[tuple[str, str]]] = {}
    for (doc, code), n in project.counts.items():
        if code in cm.targets and n > 0:
            per_doc.setdefault(doc, Counter())[cm.targets[code]] += n
    if not per_doc:
        raise QdaImportError([_nothing_mapped(project, cm, str(path), label)])
    documents = [d for d in project.documents if not only_coded or per_doc.get(d.key)]
    if not documents:
        raise QdaImportError(
            [Problem(str(path), None, None, None, "a document with a mapped coding (--only-coded)")]
        )

    default_wave = wave or (re.sub(r"[^\w.\-]+", "_", path.stem).strip("._-") or "imported")
    problems = []
    rows: list[dict[str, Any]] = []
    for doc in documents:
        where = f"{path}: document {doc.name!r}"
        row: dict[str, Any] = {
            "kind": escape_formula(_attribute(doc.attributes, kind_from) or kind),
            "wave": escape_formula(_attribute(doc.attributes, wave_from) or default_wave),
            "group": None,
            "weight": weight,
            "title": doc.name,
            "note": f"{project.format} document {doc.key}",
        }
        wave_problem = wave_label_problem(row["wave"])
        if wave_problem is not None:
            given = _attribute(doc.attributes, wave_from)
            column = wave_from if given else "--wave"
            problems.append(Problem(where, None, column, given or default_wave, wave_problem))
        g = _attribute(doc.attributes, group_from) or group
        row["group"] = escape_formula(g) if g else None
        w = _attribute(doc.attributes, weight_from)
        if w is not None:
            try:
                value = float(w.replace(",", "."))
            except ValueError:
                value = float("nan")
            if not 0 < value <= 1:
                problems.append(
                    Problem(where, None, weight_from, w, "a weight in (0, 1] (an appraisal)")
                )
            row["weight"] = value
        rows.append(row)
    if problems:
        raise QdaImportError(problems, head="bad document attributes")
    waves = list(dict.fromkeys(r["wave"] for r in rows))
    groups = {r["group"] for r in rows if r["group"]}
    prefixes = {"/".join(g.split("/")[: i + 1]) for g in groups for i in range(g.count("/") + 1)}
    ids = source_ids([d.name for d in documents], reserved=set(waves) | prefixes)
    for row, sid in zip(rows, ids, strict=True):
        row["source_id"] = sid
    sid_of = {d.key: sid for d, sid in zip(documents, ids, strict=True)}

    order = list(theory_ids.targets) if theory_ids else []
    rank = {t: i for i, t in enumerate(order)}
    first_seen: dict[str, int] = {}
    for target, _ in cm.targets.values():
        first_seen.setdefault(target, len(first_seen))
    coding_rows: list[dict[str, Any]] = []
    per_target: dict[tuple[str, str], list[int]] = {}
    for doc in documents:
        for (target, stance), n in sorted(
            per_doc.get(doc.key, Counter()).items(),
            key=lambda kv: (
                rank.get(kv[0][0], len(rank) + first_seen[kv[0][0]]),
                kv[0][1] != "supports",
            ),
        ):
            coding_rows.append(
                {"source_id": sid_of[doc.key], "target_id": target, "stance": stance, "count": n}
            )
            tally = per_target.setdefault((target, stance), [0, 0])
            tally[0] += n
            tally[1] += 1
    per_target_sorted = dict(
        sorted(
            ((k, (v[0], v[1])) for k, v in per_target.items()),
            key=lambda kv: (
                rank.get(kv[0][0], len(rank) + first_seen[kv[0][0]]),
                kv[0][1] != "supports",
            ),
        )
    )

    excerpt_rows = [
        {
            "source_id": sid_of[doc],
            "target_id": cm.targets[code][0],
            "stance": cm.targets[code][1],
            "text": text,  # csv_text neutralises formula cells
            "location": where or None,
        }
        for (doc, code), found in project.passages.items()
        if code in cm.targets and doc in sid_of
        for text, where in found
    ]
    columns = [
        c
        for c in SOURCE_COLUMNS
        if c not in ("group", "weight") or any(r[c] is not None for r in rows)
    ]
    files: dict[str, str] = {
        "sources.csv": csv_text(columns, rows),
        "codings.csv": csv_text(CODING_COLUMNS, coding_rows, verbatim=("stance",)),
    }
    if excerpt_rows:  # the passages of the mapped codes (a matrix export has none)
        files["excerpts.csv"] = csv_text(EXCERPT_COLUMNS, excerpt_rows, verbatim=("stance",))
    if theory is not None and config is not None:
        files = {
            "evidence.toml": _evidence_toml(config, waves, theory, keep_levels=bool(groups)),
            **{
                name: (theory / name).read_text(encoding="utf-8")
                for name in THEORY_FILES
                if (theory / name).is_file()
            },
            **files,
        }
    _check(files, complete=theory is not None)
    try:
        write_directory(out, files, overwrite=overwrite)
    except FileExistsError as err:
        raise QdaImportError(
            [Problem(str(out), None, None, None, "a new or empty directory for --out")]
        ) from err
    notes = list(project.notes) + list(cm.notes)
    if project.format == "matrix":
        notes.append("a matrix export holds counts, not passages: no excerpts.csv")
    elif excerpt_rows:
        notes.append(f"{len(excerpt_rows)} passage(s) of mapped codes written to excerpts.csv")
    if only_coded and len(documents) < len(project.documents):
        notes.append(
            f"{len(project.documents) - len(documents)} document(s) without a mapped coding "
            "left out (--only-coded)"
        )
    return ImportResult(
        out=out,
        files=tuple(files),
        complete=theory is not None,
        format=project.format,
        documents=len(project.documents),
        sources=len(rows),
        codes=len(project.codes),
        references=sum(project.counts.values()),
        imported=sum(r["count"] for r in coding_rows),
        per_target=per_target_sorted,
        unmapped=cm.unmapped,
        ignored=cm.ignored,
        waves=tuple(waves),
        notes=tuple(notes),
    )
