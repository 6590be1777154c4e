"""REFI-QDA reader: ``.qdpx`` projects and ``.qdc`` codebooks (QDA-XML 1.0 and older).

Counting rules (they reproduce what the exporting program reports; see docs/qda-import.md):

- one ``<Coding>`` is one reference, wherever it sits in a source: inside a
  ``PlainTextSelection``, ``PDFSelection``, ``PictureSelection``, ``AudioSelection``,
  ``VideoSelection``, a ``TranscriptSelection`` (in a transcript of an audio or video source), or
  directly in the source (whole-document coding);
- the same selection (same GUID) coded with the same code is one reference even when the
  export writes it twice: ATLAS.ti writes each PDF quotation as a ``PDFSelection`` and again as a
  ``PlainTextSelection`` of the PDF's text representation;
- a selection with a ``Description`` but no ``Coding`` is an annotation: not counted (noted);
- a coding whose ``CodeRef`` points at a ``Case`` GUID is a case assignment (NVivo writes cases
  as codes sharing the case's GUID): not counted (noted), and such codes are not listed;
- GUIDs are compared without braces and case-insensitively (the schemas' ``GUIDType`` allows
  ``{...}`` and either case); codes are keyed by GUID, so two codes with the same name under
  different parents stay distinct;
- a ``<Coding>`` whose ``CodeRef`` names no code and no case (or that has no ``CodeRef``) is an
  error, not a note: the schema requires the reference, and dropping the coding would lose
  evidence without a trace.

Source attributes come from ``<VariableValue>`` elements on a source and on the cases that list it
(``<Case><SourceRef>``, including MAXQDA's nameless case per document); a source's own value wins
over its case's. A named case also gives the attribute ``case``.

Nothing outside the archive is opened: ``relative:///`` and ``absolute:///`` paths and
``basePath`` are never read. Inside a ``.qdpx``, besides the ``.qde`` (or ``.qdc``) XML, only the
``internal://`` plain texts of sources with coded text selections are read (``Sources/``,
through the same caps), for the passages (``QdaProject.passages``: :func:`_passages`).
"""

from __future__ import annotations

import unicodedata
import zipfile
from collections import Counter
from pathlib import Path
from xml.etree.ElementTree import Element

from ..problems import Problem
from .model import QdaCode, QdaDocument, QdaProject, normalize_guid
from .safety import (
    DEFAULT_LIMITS,
    Limits,
    QdaImportError,
    UnsafeInputError,
    open_archive,
    parse_xml,
    read_member,
    read_small_file,
)

__all__ = ["NAMESPACES", "SELECTION_TYPES", "SOURCE_TYPES", "read"]

NAMESPACES = {
    "urn:QDA-XML:project:1.0": "QDA-XML project 1.0",
    "urn:QDA-XML:project:0:10": "QDA-XML project 0.10 (older exports)",
    "urn:QDA-XML:codebook:1.0": "QDA-XML codebook 1.0",
    "urn:QDA-XML:codebook:0:4": "QDA-XML codebook 0.4 (older exports)",
}
"""Namespaces read, with how the notes name them."""

SOURCE_TYPES = ("TextSource", "PictureSource", "PDFSource", "AudioSource", "VideoSource")
"""Elements of ``<Sources>`` that are documents."""

SELECTION_TYPES = (
    "PlainTextSelection",
    "PDFSelection",
    "PictureSelection",
    "AudioSelection",
    "VideoSelection",
    "TranscriptSelection",
)
"""Elements that hold codings of part of a source."""

_VALUE_TYPES = (
    "TextValue",
    "BooleanValue",
    "IntegerValue",
    "FloatValue",
    "DateValue",
    "DateTimeValue",
)


def _local(tag: object) -> str:
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    return tag[1 : tag.index("}")] if tag.startswith("{") else ""


def _children(element: Element, name: str) -> list[Element]:
    return [c for c in element if _local(c.tag) == name]


def _child(element: Element, name: str) -> Element | None:
    for c in element:
        if _local(c.tag) == name:
            return c
    return None


def _text(value: str | None) -> str:
    """Names as NFC (macOS programs write decomposed accents), without outer spaces."""
    return unicodedata.normalize("NFC", value or "").strip()


def _guid(element: Element, attribute: str = "guid") -> str:
    """Return the GUID as compared: braces off, lower case (``{A0..}`` is ``a0..``)."""
    return normalize_guid(element.get(attribute))


def _load(path: Path, limits: Limits) -> tuple[bytes, str]:
    """Return the project XML and how to name it in messages."""
    label = str(path)
    if zipfile.is_zipfile(path):
        with open_archive(path, limits) as archive:
            roots = [
                info
                for info in archive.infolist()
                if "/" not in info.filename
                and not info.is_dir()
                and info.filename.lower().endswith(".qde")
            ]
            if len(roots) != 1:
                found = ", ".join(i.filename for i in roots) or "none"
                raise QdaImportError(
                    [
                        Problem(
                            label,
                            None,
                            None,
                            None,
                            "one project file '*.qde' at the root of the .qdpx archive "
                            f"(found: {found})",
                        )
                    ]
                )
            data = read_member(archive, roots[0], label, limits)
            return data, f"{label}: {roots[0].filename}"
    if path.suffix.lower() == ".qdpx":
        raise QdaImportError([Problem(label, None, None, None, "a zip archive (a .qdpx is one)")])
    return read_small_file(path, limits), label


def _codes(
    book: Element | None, label: str, limits: Limits, name_separator: str | None
) -> tuple[list[QdaCode], list[str]]:
    """Return the code tree, flattened in document order (parents before children)."""
    notes: list[str] = []
    codes: list[QdaCode] = []
    seen: set[str] = set()
    if book is None:
        return codes, notes
    top = _child(book, "Codes")
    if top is None:
        return codes, notes
    stack: list[tuple[Element, tuple[str, ...], int]] = [
        (c, (), 1) for c in reversed(_children(top, "Code"))
    ]
    while stack:
        element, parent, depth = stack.pop()
        if depth > limits.max_code_depth:
            raise UnsafeInputError(
                [
                    Problem(
                        label,
                        None,
                        None,
                        "/".join(parent[:5]) + "/...",
                        f"codes nested at most {limits.max_code_depth} levels deep",
                    )
                ]
            )
        name = _text(element.get("name"))
        levels = (
            tuple(p.strip() for p in name.split(name_separator) if p.strip())
            if name_separator and name
            else (name,)
        )
        path = parent + (levels or ("",))
        key = _guid(element) or "/".join(path)
        if not _guid(element):
            notes.append(f"code {'/'.join(path)!r} has no GUID: keyed by its path")
        if key in seen:
            notes.append(f"code GUID {key} appears twice: the second ({'/'.join(path)!r}) ignored")
        else:
            seen.add(key)
            codable = (element.get("isCodable") or "true").strip().lower() not in ("false", "0")
            codes.append(QdaCode(key=key, path=path, codable=codable))
        for sub in reversed(_children(element, "Code")):
            stack.append((sub, path, depth + 1))
    return codes, notes


def _variable_values(element: Element, variables: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for vv in _children(element, "VariableValue"):
        ref = _child(vv, "VariableRef")
        if ref is None:
            continue
        name = variables.get(_guid(ref, "targetGUID"))
        if not name:
            continue
        for kind in _VALUE_TYPES:
            value = _child(vv, kind)
            if value is not None and value.text is not None and value.text.strip():
                values[name] = _text(value.text)
                break
    return values


def _dangling_problems(
    label: str, dangling: dict[str, Counter[str]], n_codes: int
) -> list[Problem]:
    """One problem per ``targetGUID`` that names no code (at most 20, then a count)."""
    problems: list[Problem] = []
    for guid, sources in list(dangling.items())[:20]:
        n = sum(sources.values())
        where = ", ".join(repr(s) for s in list(sources)[:3]) + (
            f" and {len(sources) - 3} other source(s)" if len(sources) > 3 else ""
        )
        problems.append(
            Problem(
                label,
                None,
                "CodeRef targetGUID",
                guid or "(no CodeRef)",
                f"a reference to a <Code> of the codebook ({n} coding(s) in {where} point at "
                f"none of its {n_codes} code(s); GUIDs are compared without braces and in any "
                "letter case): the export is incomplete or broken, and importing it would lose "
                "those codings; export the project again",
            )
        )
    if len(dangling) > 20:
        problems.append(
            Problem(
                label, None, "CodeRef targetGUID", None, f"{len(dangling) - 20} more such GUIDs"
            )
        )
    return problems


def read(
    path: str | Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    name_separator: str | None = None,
) -> QdaProject:
    """Read a REFI-QDA project (``.qdpx``, or a bare ``.qde``) or codebook (``.qdc``).

    Parameters
    ----------
    path : str or Path
        The export. A zip archive is read as a ``.qdpx`` (its one ``*.qde`` at the root, under
        any name); anything else as XML.
    limits : Limits
        Safety caps (:data:`~cmoc.evidence.qda.safety.DEFAULT_LIMITS`).
    name_separator : str, optional
        Split code names on this string into levels of the path, for programs that flatten
        the hierarchy into the name (ATLAS.ti writes ``Coke::diet Coke``: pass ``"::"``).

    Returns
    -------
    QdaProject
        Documents with their attributes, codes keyed by GUID, counts of references per
        (document, code), and notes on what was not counted. A codebook has codes only.

    Raises
    ------
    QdaImportError
        Not a REFI-QDA file, malformed XML, or a coding whose ``CodeRef`` names no code or
        case of the project (one problem per such GUID).
    UnsafeInputError
        A hostile archive or XML (see :mod:`cmoc.evidence.qda.safety`).
    """
    path = Path(path)
    data, label = _load(path, limits)
    root = parse_xml(data, label, limits=limits)
    kind = _local(root.tag)
    if kind not in ("Project", "CodeBook"):
        raise QdaImportError(
            [
                Problem(
                    label,
                    None,
                    None,
                    kind,
                    "a REFI-QDA <Project> (.qdpx/.qde) or <CodeBook> (.qdc) root element",
                )
            ]
        )
    notes: list[str] = []
    ns = _namespace(root.tag)
    if ns in NAMESPACES:
        notes.append(f"read as {NAMESPACES[ns]} ({ns})")
    else:
        notes.append(f"unknown namespace {ns!r}: read by element names as QDA-XML 1.0")

    book = root if kind == "CodeBook" else _child(root, "CodeBook")
    codes, code_notes = _codes(book, label, limits, name_separator)
    notes.extend(code_notes)
    if kind == "CodeBook":
        notes.append("a codebook: codes only, no documents or codings")
        return QdaProject("refi-qda", (), tuple(codes), {}, tuple(notes))

    variables = {}
    vars_el = _child(root, "Variables")
    if vars_el is not None:
        for v in _children(vars_el, "Variable"):
            if _guid(v) and (v.get("name") or "").strip():
                variables[_guid(v)] = _text(v.get("name"))

    # cases: their GUIDs (codings of them are not code counts) and the attributes they give
    case_guids: set[str] = set()
    case_attrs: dict[str, dict[str, str]] = {}
    conflicts: set[tuple[str, str]] = set()
    cases_el = _child(root, "Cases")
    for case in _children(cases_el, "Case") if cases_el is not None else []:
        if _guid(case):
            case_guids.add(_guid(case))
        values = _variable_values(case, variables)
        case_name = _text(case.get("name"))
        if case_name:
            values.setdefault("case", case_name)
        for ref in _children(case, "SourceRef"):
            target = case_attrs.setdefault(_guid(ref, "targetGUID"), {})
            for name, value in values.items():
                if name in target and target[name] != value:
                    conflicts.add((_guid(ref, "targetGUID"), name))
                    continue
                target[name] = value

    case_codes = [c for c in codes if c.key in case_guids]
    if case_codes:
        codes = [c for c in codes if c.key not in case_guids]
        notes.append(
            f"{len(case_codes)} code(s) share a Case GUID (cases written as codes): not codes"
        )
    code_keys = {c.key for c in codes}

    documents: list[QdaDocument] = []
    counts: Counter[tuple[str, str]] = Counter()
    pending: list[tuple[str, str, Element, Element]] = []  # coded selections, for passages
    stats: Counter[str] = Counter()
    sources_el = _child(root, "Sources")
    doc_keys: set[str] = set()
    # targetGUID -> source name -> codings pointing at no code of the codebook
    dangling: dict[str, Counter[str]] = {}
    for source in list(sources_el) if sources_el is not None else []:
        if _local(source.tag) not in SOURCE_TYPES:
            continue
        key = _guid(source) or f"source-{len(documents) + 1}"
        if key in doc_keys:
            notes.append(f"source GUID {key} appears twice: the second ignored")
            continue
        doc_keys.add(key)
        name = _text(source.get("name")) or key
        attributes = dict(case_attrs.get(key, {}))
        attributes.update(_variable_values(source, variables))  # the source's own values win
        for guid, var in sorted(conflicts):
            if guid == key:
                notes.append(f"{name}: cases give different values of {var!r}: the first kept")
        documents.append(QdaDocument(key=key, name=name, attributes=attributes))

        seen: set[tuple[str, str]] = set()
        # (element, its parent, the nearest element holding plain text: the source or a
        # representation of it)
        stack: list[tuple[Element, Element, Element]] = [
            (c, source, source) for c in reversed(source)
        ]
        while stack:
            element, parent, owner = stack.pop()
            local = _local(element.tag)
            if local == "Coding":
                ref = _child(element, "CodeRef")
                code = _guid(ref, "targetGUID") if ref is not None else ""
                where = _guid(parent) or f"element-{id(parent)}"
                if parent is source:
                    where = "whole document"
                if (where, code) in seen:
                    stats["duplicate"] += 1
                    continue
                seen.add((where, code))
                if code in case_guids:
                    stats["case"] += 1
                elif code not in code_keys:
                    dangling.setdefault(code, Counter())[name] += 1
                else:
                    counts[(key, code)] += 1
                    stats["whole document" if parent is source else _local(parent.tag)] += 1
                    if parent is not source:
                        pending.append((key, code, parent, owner))
                continue
            if local in SELECTION_TYPES and _child(element, "Coding") is None:
                stats["annotation" if _child(element, "Description") is not None else "bare"] += 1
            if local == "Representation":
                owner = element
            stack.extend((c, element, owner) for c in reversed(element))  # document order

    if dangling:
        raise QdaImportError(_dangling_problems(label, dangling, len(codes)))

    total = sum(counts.values())
    by_type = ", ".join(f"{stats[t]} {t}" for t in (*SELECTION_TYPES, "whole document") if stats[t])
    notes.append(f"{total} coding reference(s) counted" + (f": {by_type}" if by_type else ""))
    if stats["duplicate"]:
        notes.append(
            f"{stats['duplicate']} coding(s) repeat a selection already coded with the same code "
            "(e.g. a PDF quotation written again in its text representation): counted once"
        )
    if stats["annotation"]:
        notes.append(
            f"{stats['annotation']} annotation(s) (a selection with a description but no "
            "coding): not counted"
        )
    if stats["bare"]:
        notes.append(f"{stats['bare']} selection(s) with no coding: not counted")
    if stats["case"]:
        notes.append(f"{stats['case']} coding(s) of cases (not codes): not counted")
    passages, said = _passages(path, pending, limits)
    notes.extend(said)
    if root.get("basePath") or any(
        (s.get("path") or s.get("plainTextPath") or "").startswith(("relative:", "absolute:"))
        for s in (list(sources_el) if sources_el is not None else [])
    ):
        notes.append("paths to the exporter's disk (basePath, relative:///, absolute:///) ignored")
    return QdaProject(
        "refi-qda", tuple(documents), tuple(codes), dict(counts), tuple(notes), passages
    )


def _internal_texts(path: Path, wanted: set[str], limits: Limits) -> dict[str, str]:
    """Read the ``internal://`` plain texts ``wanted`` from the ``.qdpx`` archive (``Sources/``).

    Only members of the archive itself, through :func:`read_member`'s caps; a text that is
    missing or not UTF-8 is left out (its selections fall back to their quotation).
    """
    out: dict[str, str] = {}
    if not wanted or not zipfile.is_zipfile(path):
        return out
    with open_archive(path, limits) as archive:
        members = {
            info.filename.split("/", 1)[1].lower(): info
            for info in archive.infolist()
            if info.filename.lower().startswith("sources/") and not info.is_dir()
        }
        for name in sorted(wanted):
            info = members.get(name.lower())
            if info is None:
                continue
            try:
                out[name] = unicodedata.normalize(
                    "NFC", read_member(archive, info, str(path), limits).decode("utf-8-sig")
                )
            except UnicodeDecodeError:
                continue
    return out


def _embedded(owner: Element) -> str | None:
    content = _child(owner, "PlainTextContent")
    return None if content is None or content.text is None else content.text


def _passages(
    path: Path, pending: list[tuple[str, str, Element, Element]], limits: Limits
) -> tuple[dict[tuple[str, str], tuple[tuple[str, str], ...]], list[str]]:
    """Return the text of each coded selection, per (document, code), and notes.

    A ``PlainTextSelection``: its span (``startPosition`` to ``endPosition``, characters) of
    the plain text of its source or representation, embedded (``PlainTextContent``) or an
    ``internal://`` member of the archive; without that text, its ``name`` (ATLAS.ti writes
    the quotation there, cut at about 100 characters with an ellipsis). A ``PDFSelection``:
    the ``PlainTextContent`` of its representation, else its ``name``. Other selections
    (pictures, audio, video) have no text.
    """
    wanted = {
        o.get("plainTextPath", "")[len("internal://") :]
        for _, _, _, o in pending
        if (o.get("plainTextPath") or "").startswith("internal://") and _embedded(o) is None
    }
    texts = _internal_texts(path, wanted, limits)
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    stats: Counter[str] = Counter()
    for key, code, sel, owner in pending:
        local = _local(sel.tag)
        text, where = None, ""
        if local == "PlainTextSelection":
            try:
                start, end = int(sel.get("startPosition", "")), int(sel.get("endPosition", ""))
            except ValueError:
                start = end = -1
            where = f"characters {start}-{end}" if 0 <= start < end else ""
            full = _embedded(owner)
            if full is None:
                full = texts.get((owner.get("plainTextPath") or "")[len("internal://") :])
            if full is not None and 0 <= start < end <= len(full):
                text = full[start:end]
                stats["span"] += 1
        elif local == "PDFSelection":
            rep = _child(sel, "Representation")
            text = _embedded(rep) if rep is not None else None
            where = f"page {int(sel.get('page')) + 1}" if (sel.get("page") or "").isdigit() else ""
            if text is not None:
                stats["representation"] += 1
        if text is None and local in ("PlainTextSelection", "PDFSelection") and sel.get("name"):
            text = _text(sel.get("name"))
            stats["name"] += 1
        text = " ".join((text or "").split())
        if not text:
            stats["none"] += 1
            continue
        out.setdefault((key, code), []).append((text, where))
    stats["text"] = stats["span"] + stats["representation"]
    said = {
        "text": "{} passage(s) read from the sources' plain text (excerpts.csv)",
        "name": "{} passage(s) from the selection's name (the exporter's quotation, perhaps "
        "cut: the source's plain text is not in the archive)",
        "none": "{} coded selection(s) with no text (pictures, audio, video)",
    }
    notes = [text.format(stats[k]) for k, text in said.items() if stats[k]]
    return {k: tuple(v) for k, v in out.items()}, notes
