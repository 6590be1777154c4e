"""Codes of a QDA project mapped to the theory: ``code -> (target_id, stance)``.

Two ways, tried in this order for every code:

1. a **mapping file**, CSV with the header ``code,target_id,stance``: ``code`` is a code's path in
   the code tree (levels joined by ``/``, compared case-insensitively, spaces around levels
   ignored) or its GUID (compared without braces and in any letter case: ``{A0..}`` is
   ``a0..``); ``target_id`` a cmoc_id or mechanism_id (empty: the code is left out on purpose,
   and not listed as unmapped); ``stance`` ``supports`` or ``refutes`` (empty means
   ``supports``). Two rows naming the same code (one by its path, one by its GUID) are merged
   when they say the same (target and stance; a note says so) and refused otherwise, naming both
   lines;
2. the **naming convention**: a code path ending in ``mechanism/<mechanism_id>`` or
   ``cmoc/<cmoc_id>``, optionally followed by ``/supports`` or ``/refutes`` (``supports`` when
   absent), matched case-insensitively (``mechanisms``/``cmocs`` also accepted, and the tree may
   sit under other folders: ``Theory/CMOC/C1/refutes``). With a theory the id must be a
   mechanism (after ``mechanism``) or a CMOC (after ``cmoc``) of it, and is written as the theory
   spells it.

A code named ``Category: subcode`` (ATLAS.ti's way of naming subcodes; a colon and a space)
that nothing matches as written is tried as the path ``Category/subcode``, for both ways (a
note says so); a row may also name a code path as ``Category: subcode``.

Codes with references that map to nothing are listed with the reason; ``strict=True`` makes them
(and mapping rows that match no code) an error.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..problems import EvidenceError, Problem
from ..reading import read_table
from ..schema import TABLES
from .model import GUID_PATTERN, QdaCode, QdaProject, normalize_guid
from .safety import DEFAULT_LIMITS, Limits, QdaImportError, needs_escape, read_small_file

__all__ = [
    "STANCES",
    "CodeMapping",
    "MappingRule",
    "Theory",
    "Unmapped",
    "colon_path",
    "convention_target",
    "map_codes",
    "names_a_code",
    "read_mapping_file",
]

STANCES = ("supports", "refutes")
"""The stances of ``codings.csv``."""

_MECHANISM_WORDS = ("mechanism", "mechanisms")
_CMOC_WORDS = ("cmoc", "cmocs")


@dataclass(frozen=True)
class Theory:
    """The ids of a theory, to validate and spell targets.

    Attributes
    ----------
    mechanisms : tuple of str
        Mechanism ids in file order.
    cmocs : tuple of str
        CMOC ids in file order.
    """

    mechanisms: tuple[str, ...]
    cmocs: tuple[str, ...]

    @property
    def targets(self) -> tuple[str, ...]:
        """CMOCs then mechanisms, as the evidence base orders targets."""
        return self.cmocs + self.mechanisms

    def resolve(self, target: str, kind: str | None = None) -> str | None:
        """Return the theory's spelling of ``target`` (case-insensitive), or None.

        Parameters
        ----------
        target : str
            An id as written in a code name or mapping file.
        kind : {'mechanism', 'cmoc'}, optional
            Look only among mechanisms or CMOCs.
        """
        pools = {"mechanism": self.mechanisms, "cmoc": self.cmocs}
        pool = pools[kind] if kind else self.targets
        exact = [t for t in pool if t == target]
        if exact:
            return exact[0]
        folded = [t for t in pool if t.casefold() == target.casefold()]
        return folded[0] if len(folded) == 1 else None

    @classmethod
    def from_directory(cls, directory: str | Path) -> Theory:
        """Read the ids of ``mechanisms.csv`` and ``cmocs.csv`` of an evidence base.

        Raises
        ------
        EvidenceError
            Either file missing or invalid (problems name ``THEORY/file:line``).
        """
        directory = Path(directory)
        problems: list[Problem] = []
        mechs = read_table(directory, TABLES["mechanisms"], problems) or []
        cmocs = read_table(directory, TABLES["cmocs"], problems) or []
        if problems:
            raise EvidenceError(
                [
                    Problem(str(directory / p.file), p.line, p.column, p.value, p.expected)
                    for p in problems
                ]
            )
        return cls(
            tuple(r.mechanism_id for _, r in mechs),
            tuple(r.cmoc_id for _, r in cmocs),
        )


@dataclass(frozen=True)
class MappingRule:
    """One row of a mapping file.

    Attributes
    ----------
    code : str
        A code path (``mechanism/trust``) or GUID, as written.
    target_id : str or None
        The target (theory spelling when a theory was given); None leaves the code out.
    stance : str
        ``supports`` or ``refutes``.
    line : int
        Line of the row in the file (header is line 1).
    """

    code: str
    target_id: str | None
    stance: str
    line: int


@dataclass(frozen=True)
class Unmapped:
    """A code that maps to no target.

    Attributes
    ----------
    code : QdaCode
    path : str
        Its path joined with ``/``.
    references : int
        Its coding references in the project.
    reason : str
        Why it maps to nothing.
    """

    code: QdaCode
    path: str
    references: int
    reason: str


@dataclass(frozen=True)
class CodeMapping:
    """Where every code of a project goes.

    Attributes
    ----------
    targets : dict of str to (str, str)
        Code key to ``(target_id, stance)`` for the codes that map.
    by : dict of str to str
        Code key to how it was mapped (``mapping.csv:LINE`` or ``convention``).
    ignored : tuple of str
        Paths of codes the mapping file leaves out on purpose (empty ``target_id``).
    unmapped : tuple of Unmapped
        Codes with references that map to nothing.
    notes : tuple of str
        Other remarks (unreferenced unmapped codes, mapping rows matching no code).
    """

    targets: dict[str, tuple[str, str]]
    by: dict[str, str]
    ignored: tuple[str, ...] = ()
    unmapped: tuple[Unmapped, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def _norm_path(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return "/".join(level.strip().casefold() for level in text.split("/"))


def _rule_key(code: str) -> str:
    """Return what makes two mapping rows name the same code: the GUID (normalised) or path."""
    text = code.strip()
    if GUID_PATTERN.fullmatch(text):
        return "guid " + normalize_guid(text)
    return "path " + _norm_path(text)


_COLON = re.compile(r"(?<!:):\s+")


def colon_path(path: tuple[str, ...]) -> tuple[str, ...]:
    """Split every level at ``: `` (a colon followed by a space), as ATLAS.ti names subcodes.

    ``("Parent: Child",)`` becomes ``("Parent", "Child")``; ``::`` (already a level separator
    where a reader knows it) and a colon without a following space (``10:30``) are left alone.

    Parameters
    ----------
    path : tuple of str
        A code path.

    Returns
    -------
    tuple of str
        The path with colon levels split, empty levels dropped.
    """
    return tuple(part.strip() for level in path for part in _COLON.split(level) if part.strip())


def read_mapping_file(
    path: str | Path, theory: Theory | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> list[MappingRule]:
    """Read and check a mapping file (``code,target_id,stance``).

    Parameters
    ----------
    path : str or Path
        The CSV file (UTF-8, a byte-order mark allowed).
    theory : Theory, optional
        When given, every ``target_id`` must be one of its CMOCs or mechanisms.
    limits : Limits
        Size cap.

    Returns
    -------
    list of MappingRule

    Raises
    ------
    QdaImportError
        One problem per bad row or header, naming the file and line.
    """
    path = Path(path)
    file = str(path)
    data = read_small_file(path, limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise QdaImportError(
            [Problem(file, None, None, None, f"UTF-8 text ({err.reason} at byte {err.start})")]
        ) from err
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise QdaImportError(
            [Problem(file, None, None, None, "a header 'code,target_id,stance'")]
        ) from None
    problems: list[Problem] = []
    missing = [c for c in ("code", "target_id") if c not in header]
    stray = [c for c in header if c not in ("code", "target_id", "stance")]
    if missing or stray:
        raise QdaImportError(
            [
                Problem(
                    file,
                    1,
                    None,
                    ",".join(header),
                    "the header 'code,target_id,stance' (code: a code path like "
                    "'mechanism/trust' or a GUID)",
                )
            ]
        )
    rules: list[MappingRule] = []
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        row = dict(zip(header, (c.strip() for c in cells), strict=False))
        if len(cells) > len(header):
            problems.append(Problem(file, line, None, None, f"{len(header)} cells"))
            continue
        code = row.get("code", "")
        target = row.get("target_id", "") or None
        stance = (row.get("stance", "") or "supports").lower()
        if not code:
            problems.append(Problem(file, line, "code", "", "a code path or GUID"))
            continue
        key = _rule_key(code)
        if key in seen:
            problems.append(
                Problem(file, line, "code", code, f"one row per code (also on line {seen[key]})")
            )
            continue
        seen[key] = line
        if stance not in STANCES:
            problems.append(
                Problem(file, line, "stance", row.get("stance"), "'supports' or 'refutes'")
            )
            continue
        if target is not None:
            if needs_escape(target) or ";" in target:
                problems.append(
                    Problem(
                        file,
                        line,
                        "target_id",
                        target,
                        "an id not starting with = + - @ and without ';'",
                    )
                )
                continue
            if theory is not None:
                resolved = theory.resolve(target)
                if resolved is None:
                    problems.append(
                        Problem(
                            file,
                            line,
                            "target_id",
                            target,
                            "a cmoc_id or mechanism_id of the theory (or empty to leave the "
                            "code out)",
                        )
                    )
                    continue
                target = resolved
        rules.append(MappingRule(code, target, stance, line))
    if problems:
        raise QdaImportError(problems, head=f"bad mapping file {file}")
    return rules


def convention_target(
    path: tuple[str, ...], theory: Theory | None = None
) -> tuple[tuple[str, str] | None, str]:
    """Map a code path by the naming convention.

    Parameters
    ----------
    path : tuple of str
        The code's path.
    theory : Theory, optional
        Validate and spell the id.

    Returns
    -------
    ((str, str) or None, str)
        ``(target_id, stance)`` or None, and the reason when None.
    """
    levels = [p.strip() for p in path]
    low = [p.casefold() for p in levels]
    stance = "supports"
    if len(low) >= 3 and low[-1] in STANCES and low[-3] in _MECHANISM_WORDS + _CMOC_WORDS:
        stance, word, ident = low[-1], low[-3], levels[-2]
    elif len(low) >= 2 and low[-2] in _MECHANISM_WORDS + _CMOC_WORDS:
        word, ident = low[-2], levels[-1]
    else:
        return None, "not in the mapping file, and not named mechanism/<id> or cmoc/<id>"
    kind = "mechanism" if word in _MECHANISM_WORDS else "cmoc"
    if not ident or needs_escape(ident) or ";" in ident:
        return None, f"{ident!r} is not a usable id"
    if theory is not None:
        resolved = theory.resolve(ident, kind)
        if resolved is None:
            return None, f"{ident!r} is not a {kind} of the theory"
        ident = resolved
    return (ident, stance), ""


def map_codes(
    project: QdaProject,
    *,
    rules: list[MappingRule] | None = None,
    theory: Theory | None = None,
    strict: bool = False,
    mapping_label: str = "mapping file",
    export_label: str | None = None,
) -> CodeMapping:
    """Map every code of ``project``: the mapping file's rules first, then the convention.

    Parameters
    ----------
    project : QdaProject
        The export read.
    rules : list of MappingRule, optional
        From :func:`read_mapping_file`.
    theory : Theory, optional
        Validate convention-mapped ids against it.
    strict : bool
        Raise when a code with references maps to nothing, or a mapping row matches no code.
    mapping_label : str
        How to name the mapping file in notes and messages.
    export_label : str, optional
        How to name the export in messages (default: its format).

    Returns
    -------
    CodeMapping

    Raises
    ------
    QdaImportError
        Two mapping rows naming one code (by path and by GUID) with different targets or
        stances (one problem per such row, naming both lines); with ``strict``, one problem per
        unmapped code and per mapping row matching no code.
    """
    refs: Counter[str] = Counter()
    for (_, code), n in project.counts.items():
        refs[code] += n
    by_guid = {normalize_guid(r.code): r for r in rules or []}
    by_path = {_norm_path(r.code): r for r in rules or []}
    used: set[int] = set()
    targets: dict[str, tuple[str, str]] = {}
    by: dict[str, str] = {}
    ignored: list[str] = []
    unmapped: list[Unmapped] = []
    notes: list[str] = []
    conflicts: list[Problem] = []
    silent = 0
    for code in project.codes:
        shown = "/".join(code.path)
        matches: list[tuple[MappingRule, str]] = []
        rule = by_guid.get(normalize_guid(code.key))
        if rule is not None:
            matches.append((rule, "its GUID" if GUID_PATTERN.fullmatch(rule.code) else "its path"))
        rule = by_path.get(_norm_path(shown))
        if rule is not None and all(rule.line != m.line for m, _ in matches):
            matches.append((rule, "its path"))
        split = colon_path(code.path)
        if not matches and split != code.path:
            rule = by_path.get(_norm_path("/".join(split)))
            if rule is not None:
                matches.append((rule, "its path"))
                notes.append(
                    f"{mapping_label}:{rule.line}: code {shown!r} read as the path "
                    f"{'/'.join(split)!r} (': ' separates a category from its subcode)"
                )
        if not matches and len(code.path) > 1:
            # the label as the program shows it, 'Category: subcode', written in the file
            rule = by_path.get(_norm_path(": ".join(code.path)))
            if rule is not None:
                matches.append((rule, "its label"))
        if len(matches) > 1:
            for r, _ in matches:
                used.add(r.line)
            first, how = matches[0]
            other = [
                (r, h)
                for r, h in matches[1:]
                if (r.target_id, r.stance)
                != (
                    first.target_id,
                    first.stance,
                )
            ]
            if other:
                for r, h in other:
                    conflicts.append(
                        Problem(
                            mapping_label,
                            r.line,
                            "code",
                            r.code,
                            f"one row per code: this row names the code {shown!r} by {h} "
                            f"({_says(r)}), line {first.line} names it by {how} "
                            f"({_says(first)}); keep the row you mean",
                        )
                    )
                continue
            ordered = sorted(matches, key=lambda m: m[0].line)
            notes.append(
                f"{mapping_label}: lines {', '.join(str(r.line) for r, _ in ordered)} name the "
                f"code {shown!r} by {' and by '.join(h for _, h in ordered)} and say the same "
                f"({_says(first)}): merged into one"
            )
        rule = matches[0][0] if matches else None
        if rule is not None:
            used.add(rule.line)
            if rule.target_id is None:
                ignored.append(shown)
            else:
                targets[code.key] = (rule.target_id, rule.stance)
                by[code.key] = f"{mapping_label}:{rule.line}"
            continue
        found, reason = convention_target(code.path, theory)
        if found is None and split != code.path:
            alt, _ = convention_target(split, theory)
            if alt is not None:
                found = alt
                notes.append(
                    f"code {shown!r} read as the path {'/'.join(split)!r} for the naming "
                    "convention (': ' separates a category from its subcode)"
                )
        if found is not None:
            targets[code.key] = found
            by[code.key] = "convention"
        elif refs[code.key]:
            unmapped.append(Unmapped(code, shown, refs[code.key], reason))
        else:
            silent += 1
    if conflicts:
        raise QdaImportError(
            conflicts, head=f"{mapping_label}: two rows map the same code differently"
        )
    if silent:
        notes.append(f"{silent} code(s) without references map to nothing (not listed)")
    unused = [r for r in rules or [] if r.line not in used]
    for r in unused:
        notes.append(f"{mapping_label}:{r.line}: {r.code!r} matches no code of the project")
    if strict and (unmapped or unused):
        problems = [
            Problem(
                export_label or project.format,
                None,
                "code",
                u.path,
                f"a code mapped to the theory ({u.references} reference(s) would be lost: "
                f"{u.reason}; map it, or give it an empty target_id in the mapping file)",
            )
            for u in unmapped
        ] + [
            Problem(mapping_label, r.line, "code", r.code, "a code of the project") for r in unused
        ]
        raise QdaImportError(problems, head="--strict: codes that map to nothing")
    return CodeMapping(targets, by, tuple(ignored), tuple(unmapped), tuple(notes))


def names_a_code(
    path: tuple[str, ...], rules: list[MappingRule] | None = None, theory: Theory | None = None
) -> bool:
    """Tell whether a label, read as a code path, is a code the mapping or the convention knows.

    Used to recognise a table whose *documents* axis holds codes (a co-occurrence table).

    Parameters
    ----------
    path : tuple of str
        The label read as a code path.
    rules : list of MappingRule, optional
        The mapping file's rows: a row naming this path (not a GUID) counts.
    theory : Theory, optional
        Passed to :func:`convention_target`.

    Returns
    -------
    bool
    """
    if not path:
        return False
    slashed = tuple(p.strip() for level in path for p in level.split("/") if p.strip())
    candidates = {path, colon_path(path), slashed, colon_path(slashed)}
    paths = {_norm_path(r.code) for r in rules or [] if not GUID_PATTERN.fullmatch(r.code.strip())}
    for candidate in candidates:
        if _norm_path("/".join(candidate)) in paths:
            return True
        if convention_target(candidate, theory)[0] is not None:
            return True
    return False


def _says(rule: MappingRule) -> str:
    if rule.target_id is None:
        return "left out: empty target_id"
    return f"{rule.target_id} {rule.stance}"
