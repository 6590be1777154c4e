"""Imports of real exports (issue 13): GUID spellings, co-occurrence tables, mapping rows naming
one code twice, exports without coding, ATLAS.ti's ``Category: subcode`` labels.

Every refusal is checked through the command line: exit status 2, the file (and line) named in
the message, and nothing written.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from cmoc.cli import main
from cmoc.evidence.qda import QdaImportError, map_codes, matrix, model, read_mapping_file, refi
from cmoc.evidence.qda.model import QdaCode, QdaDocument, QdaProject


def G(n: int) -> str:
    """A GUID in upper case."""
    return f"A0000000-0000-4000-8000-{n:012X}"


def g(n: int) -> str:
    return G(n).lower()


def qde(codes: str, sources: str, extra: str = "") -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="p">
 <CodeBook><Codes>{codes}</Codes></CodeBook>{extra}
 <Sources>{sources}</Sources>
</Project>
"""


def coding(n: int, ref: str) -> str:
    return f'<Coding guid="{G(n)}"><CodeRef targetGUID="{ref}"/></Coding>'


def selection(n: int, *codings: str) -> str:
    return (
        f'<PlainTextSelection guid="{G(n)}" startPosition="0" endPosition="5">'
        + "".join(codings)
        + "</PlainTextSelection>"
    )


def codings_totals(path: Path) -> Counter:
    with path.open(encoding="utf-8") as f:
        return Counter(
            {
                (r["target_id"], r["stance"], r["source_id"]): int(r["count"])
                for r in csv.DictReader(f)
            }
        )


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- 1. GUIDs in braces or another letter case ---------------------------------------------

BRACED = qde(
    codes=(
        f'<Code guid="{{{G(1)}}}" name="mechanism" isCodable="false">'
        f'<Code guid="{{{G(2)}}}" name="M1"/></Code>'
        f'<Code guid="{g(3)}" name="trust"/>'
    ),
    extra=(
        f'<Variables><Variable guid="{{{G(20)}}}" name="wave" typeOfVariable="Text"/></Variables>'
        f'<Cases><Case guid="{G(30)}" name="Org A">'
        f'<VariableValue><VariableRef targetGUID="{g(20)}"/><TextValue>w2</TextValue>'
        f'</VariableValue><SourceRef targetGUID="{{{g(40)}}}"/></Case></Cases>'
    ),
    sources=(
        f'<TextSource guid="{G(40)}" name="Interview 1">'
        + selection(50, coding(100, g(2)), coding(101, f"{{{G(3)}}}"))
        + selection(51, coding(102, f"{{{g(2)}}}"))
        + "</TextSource>"
    ),
)


def test_normalize_guid():
    assert model.normalize_guid(f" {{{G(1)}}} ") == g(1)
    assert model.normalize_guid(G(1)) == model.normalize_guid(g(1)) == g(1)
    assert model.normalize_guid(None) == ""


def test_braced_and_upper_case_guids_keep_every_coding(tmp_path):
    path = tmp_path / "braced.qde"
    path.write_text(BRACED, encoding="utf-8")
    project = refi.read(path)
    codes = {c.key: "/".join(c.path) for c in project.codes}
    assert codes == {g(1): "mechanism", g(2): "mechanism/M1", g(3): "trust"}
    named = {(d, codes[c]): n for (d, c), n in project.counts.items()}
    assert named == {(g(40), "mechanism/M1"): 2, (g(40), "trust"): 1}
    # the case's SourceRef and VariableRef match the braced source and variable GUIDs
    assert dict(project.documents[0].attributes) == {"wave": "w2", "case": "Org A"}


def test_braced_guids_through_the_command_line_with_a_guid_mapping(tmp_path, capsys):
    path = tmp_path / "braced.qde"
    path.write_text(BRACED, encoding="utf-8")
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"code,target_id,stance\n{{{g(3)}}},C1,refutes\n")
    out = tmp_path / "batch"
    code, stdout, err = run(capsys, "import", "refi-qda", path, "--out", out, "--map", mapping)
    assert code == 0, err
    assert codings_totals(out / "codings.csv") == Counter(
        {("M1", "supports", "Interview_1"): 2, ("C1", "refutes", "Interview_1"): 1}
    )
    assert "unmapped codes: none" in stdout


def test_coding_of_no_code_is_refused_not_noted(tmp_path, capsys):
    path = tmp_path / "dangling.qde"
    path.write_text(
        qde(
            codes=f'<Code guid="{G(2)}" name="trust"/>',
            sources=(
                f'<TextSource guid="{G(40)}" name="Interview 1">'
                + selection(50, coding(100, g(2)), coding(101, G(9)))
                + selection(51, coding(102, G(9)))
                + "</TextSource>"
                + f'<TextSource guid="{G(41)}" name="Interview 2">'
                + selection(52, f'<Coding guid="{G(103)}"/>')
                + "</TextSource>"
            ),
        ),
        encoding="utf-8",
    )
    with pytest.raises(QdaImportError) as info:
        refi.read(path)
    problems = {p.value: p for p in info.value.problems}
    assert set(problems) == {g(9), "(no CodeRef)"}
    assert problems[g(9)].file == str(path)
    assert "2 coding(s) in 'Interview 1' point at none of its 1 code(s)" in problems[g(9)].expected
    out = tmp_path / "batch"
    code, _, err = run(capsys, "import", "refi-qda", path, "--out", out)
    assert code == 2
    assert f"value '{g(9)}'" in err and "export the project again" in err
    assert not out.exists()


# --- 2. code co-occurrence tables ------------------------------------------------------------

COOC_CODES = ["mechanism::M1", "mechanism::M2", "cmoc::C1"]
COOC = [[0, 3, 2], [3, 0, 1], [2, 1, 0]]


def write_xlsx(path: Path, rows, title: str = "Sheet1") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def write_csv(path: Path, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def atlas_cooc_rows(cell=lambda i, j: COOC[i][j]):
    header = [None, *(f"● {c}\nGr={sum(COOC[i])}" for i, c in enumerate(COOC_CODES))]
    return [header] + [
        [f"● {c}\nGr={sum(COOC[i])}", *(cell(i, j) for j in range(len(COOC_CODES)))]
        for i, c in enumerate(COOC_CODES)
    ]


COOC_MESSAGE = (
    "this is a code co-occurrence table (codes on both axes): export a Code-Document table instead"
)


@pytest.mark.parametrize(
    ("name", "rows", "title"),
    [
        # ATLAS.ti 22+ names the first sheet of its export so
        ("sheet.xlsx", atlas_cooc_rows(), "Code Co-occurrence Table"),
        # same codes on both axes, no title
        ("same.xlsx", atlas_cooc_rows(), "Sheet1"),
        # counts with their c-coefficients, "3 (0.25)"
        ("coef.xlsx", atlas_cooc_rows(lambda i, j: f"{COOC[i][j]} (0.{i + j}5)"), "Sheet1"),
        # other codes on the columns than on the rows, with c-coefficients
        (
            "coef-other.xlsx",
            [["", "comfort", "speed"], ["trust", "3 (0.25)", 1], ["habit", "0", "2 (0.1)"]],
            "Sheet1",
        ),
    ],
)
def test_atlas_cooccurrence_table_refused(tmp_path, capsys, name, rows, title):
    path = write_xlsx(tmp_path / name, rows, title)
    out = tmp_path / "batch"
    code, _, err = run(capsys, "import", "matrix", path, "--out", out)
    assert code == 2
    assert COOC_MESSAGE.split(": export")[0] in err and "export a Code-Document table" in err
    assert name in err
    if name == "coef-other.xlsx":
        assert "coef-other.xlsx[Sheet1]:2, column 'B', value '3 (0.25)'" in err
        assert "c-coefficient (this one, and 1 other cell(s))" in err
    assert not out.exists()


def test_cooccurrence_title_in_a_csv_is_refused(tmp_path):
    rows = [["Code Co-occurrence Table"], *atlas_cooc_rows()]
    with pytest.raises(QdaImportError, match="code co-occurrence table"):
        matrix.read(write_csv(tmp_path / "cooc.csv", rows))


def test_codes_of_the_convention_on_both_axes_refused(tmp_path, capsys):
    # other codes on the columns than on the rows: the columns are codes by their names
    for i, (rows_are, cols_are) in enumerate(
        [("cmoc::C{}", "mechanism::M{}"), ("cmoc/C{}", "mechanism/M{}")]
    ):
        rows = [
            ["", cols_are.format(1), cols_are.format(2)],
            [rows_are.format(1), 2, 1],
            [rows_are.format(2), 0, 4],
        ]
        path = write_csv(tmp_path / f"cooc{i}.csv", rows)
        out = tmp_path / "batch"
        code, _, err = run(capsys, "import", "matrix", path, "--out", out)
        assert code == 2
        assert "this is a code co-occurrence table (codes on both axes" in err
        assert repr(cols_are.format(1)) in err and path.name in err
        assert not out.exists()
    # columns named like codes of the mapping file
    rows = [["", "Trust", "Habit"], ["cmoc/C1", 2, 1], ["cmoc/C2", 0, 4]]
    path = write_csv(tmp_path / "cooc3.csv", rows)
    mapping = tmp_path / "map.csv"
    mapping.write_text("code,target_id,stance\nTrust,M1,\nHabit,M2,\n")
    code, _, err = run(capsys, "import", "matrix", path, "--out", out, "--map", mapping)
    assert code == 2
    assert "code co-occurrence table" in err and "'Trust'" in err
    assert not out.exists()


def test_code_document_table_still_imported(tmp_path, capsys):
    rows = [
        ["", "Interview 1", "Interview 2"],
        ["mechanism: M1", 2, 1],
        ["cmoc: C1", 0, 4],
    ]
    out = tmp_path / "batch"
    code, _, err = run(
        capsys, "import", "matrix", write_csv(tmp_path / "cdt.csv", rows), "--out", out
    )
    assert code == 0, err
    assert codings_totals(out / "codings.csv") == Counter(
        {
            ("M1", "supports", "Interview_1"): 2,
            ("M1", "supports", "Interview_2"): 1,
            ("C1", "supports", "Interview_2"): 4,
        }
    )


# --- 3. a mapping file naming one code by path and by GUID -----------------------------------

PROJECT = QdaProject(
    "refi-qda",
    (QdaDocument(g(40), "Interview 1"),),
    (QdaCode(g(1), ("Coke",), False), QdaCode(g(2), ("Coke", "diet Coke"))),
    {(g(40), g(2)): 3},
)


def test_path_and_guid_rows_that_agree_are_merged(tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"code,target_id,stance\nCoke/diet Coke,C1,supports\n{{{G(2)}}},C1,\n")
    cm = map_codes(PROJECT, rules=read_mapping_file(mapping), mapping_label="map.csv")
    assert cm.targets == {g(2): ("C1", "supports")}
    notes = "\n".join(cm.notes)
    assert (
        "map.csv: lines 2, 3 name the code 'Coke/diet Coke' by its path and by its GUID and say "
        "the same (C1 supports): merged into one" in notes
    )
    assert "matches no code" not in notes  # both rows were used


def test_path_and_guid_rows_that_disagree_are_refused(tmp_path, capsys):
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"code,target_id,stance\nCoke/diet Coke,C1,supports\n{g(2)},C1,refutes\n")
    with pytest.raises(QdaImportError) as info:
        map_codes(PROJECT, rules=read_mapping_file(mapping), mapping_label=str(mapping))
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.value) == (str(mapping), 2, "Coke/diet Coke")
    assert "line 3 names it by its GUID (C1 refutes)" in problem.expected
    assert "by its path (C1 supports)" in problem.expected
    # through the command line, on a real export
    path = tmp_path / "p.qde"
    path.write_text(BRACED, encoding="utf-8")
    mapping.write_text(f"code,target_id,stance\ntrust,C1,supports\n{G(3)},,\n")
    out = tmp_path / "batch"
    code, _, err = run(capsys, "import", "refi-qda", path, "--out", out, "--map", mapping)
    assert code == 2
    assert "map.csv:2" in err and "line 3 names it by its GUID (left out" in err
    assert not out.exists()


def test_one_guid_twice_in_other_spellings_is_refused(tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"code,target_id,stance\n{G(2)},C1,\n{{{g(2)}}},C2,\n")
    with pytest.raises(QdaImportError, match=r"one row per code \(also on line 2\)"):
        read_mapping_file(mapping)


# --- 4. exports with documents but no coding -------------------------------------------------


def test_refi_export_without_coding(tmp_path, capsys):
    path = tmp_path / "empty.qde"
    path.write_text(
        qde(
            codes=f'<Code guid="{G(2)}" name="trust"/>',
            sources=(
                f'<TextSource guid="{G(40)}" name="Interview 1">'
                f'<PlainTextSelection guid="{G(50)}" startPosition="0" endPosition="5">'
                "<Description>a note</Description></PlainTextSelection></TextSource>"
                f'<TextSource guid="{G(41)}" name="Interview 2"/>'
            ),
        ),
        encoding="utf-8",
    )
    out = tmp_path / "batch"
    code, _, err = run(capsys, "import", "refi-qda", path, "--out", out)
    assert code == 2
    assert (
        f"{path}: the export holds 2 document(s) but no coding (no coded selection and no "
        "whole-document coding): nothing to import" in err
    )
    assert "codings.csv" not in err
    assert not out.exists()


def test_taguette_export_without_coding(tmp_path, capsys):
    path = tmp_path / "highlights.csv"
    path.write_text("id,document,tag,content\r\n1,Interview 1,,some text\r\n")
    out = tmp_path / "batch"
    code, _, err = run(capsys, "import", "taguette", path, "--out", out)
    assert code == 2
    assert f"{path}: the export holds 1 document(s) but no coding (no highlight with a tag)" in err
    assert not out.exists()
    # a header alone: no documents either
    path.write_text("id,document,tag,content\r\n")
    code, _, err = run(capsys, "import", "taguette", path, "--out", out)
    assert code == 2
    assert "the export holds no documents and no coding" in err
    assert not out.exists()


def test_matrix_export_without_coding(tmp_path, capsys):
    rows = [["", "Interview 1", "Interview 2"], ["mechanism/M1", 0, 0], ["cmoc/C1", "", 0]]
    path = write_csv(tmp_path / "zeros.csv", rows)
    out = tmp_path / "batch"
    code, _, err = run(capsys, "import", "matrix", path, "--out", out)
    assert code == 2
    assert f"{path}: the export holds 2 document(s) but no coding (every count is zero)" in err
    assert not out.exists()


def test_export_whose_coding_maps_to_nothing(tmp_path, capsys):
    rows = [["", "Interview 1"], ["trust", 2], ["habit", 1]]
    path = write_csv(tmp_path / "unmapped.csv", rows)
    out = tmp_path / "batch"
    code, _, err = run(capsys, "import", "matrix", path, "--out", out)
    assert code == 2
    assert "the export holds 3 coding reference(s) in 1 document(s), but none maps" in err
    assert "'trust' (2): not in the mapping file" in err
    assert "at least one row" not in err
    assert not out.exists()


# --- 5. ATLAS.ti's "Category: subcode" labels -------------------------------------------------


def test_category_subcode_labels_read_as_paths(tmp_path):
    rows = [
        ["", "D 1: Interview 1", "D 2: Interview 2"],
        ["Trust", 1, 0],
        ["Trust: in partners", 2, 1],
        ["Trust: in partners: early", 1, 0],
        ["mechanism: M1", 3, 0],
        ["Quote: we trust them", 0, 1],  # "Quote" is no code of the table: one name
        ["Time 10:30", 1, 1],
    ]
    project = matrix.read(write_csv(tmp_path / "atlas.csv", rows))
    assert [c.path for c in project.codes] == [
        ("Trust",),
        ("Trust", "in partners"),
        ("Trust", "in partners", "early"),
        ("mechanism", "M1"),
        ("Quote: we trust them",),
        ("Time 10:30",),
    ]
    assert any("'Category: subcode' label(s)" in note for note in project.notes)


def test_category_subcode_label_matches_a_mapping_path(tmp_path, capsys):
    rows = [
        ["", "Interview 1", "Interview 2"],
        ["Support: peer", 2, 1],
        ["cmoc: C1", 0, 4],
    ]
    path = write_csv(tmp_path / "cdt.csv", rows)
    mapping = tmp_path / "map.csv"
    mapping.write_text("code,target_id,stance\nsupport/peer,M1,refutes\n")
    out = tmp_path / "batch"
    code, stdout, err = run(capsys, "import", "matrix", path, "--out", out, "--map", mapping)
    assert code == 0, err
    assert codings_totals(out / "codings.csv") == Counter(
        {
            ("M1", "refutes", "Interview_1"): 2,
            ("M1", "refutes", "Interview_2"): 1,
            ("C1", "supports", "Interview_2"): 4,
        }
    )
    assert "code 'Support: peer' read as the path 'Support/peer'" in stdout
    # a mapping row may also name the code as the program shows it; here "Support" is a code
    # of the table, so the label is read as the path Support/peer
    rows = [["", "Interview 1"], ["Support", 1], ["Support: peer", 2]]
    path = write_csv(tmp_path / "cdt2.csv", rows)
    mapping.write_text("code,target_id,stance\nSupport: peer,M1,refutes\nSupport,,\n")
    out = tmp_path / "batch2"
    code, _, err = run(capsys, "import", "matrix", path, "--out", out, "--map", mapping)
    assert code == 0, err
    assert codings_totals(out / "codings.csv") == Counter({("M1", "refutes", "Interview_1"): 2})


def test_taguette_qdc_guid_in_braces_matches_a_mapping_by_guid(tmp_path, capsys):
    from cmoc.evidence.qda.taguette import tag_guid

    guid = tag_guid("trust").upper()
    book = tmp_path / "codebook.qdc"
    book.write_text(
        '<?xml version="1.0" encoding="utf-8"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0">'
        f'<Codes><Code guid="{{{guid}}}" name="trust" isCodable="true"/></Codes><Sets/></CodeBook>'
    )
    highlights = tmp_path / "highlights.csv"
    highlights.write_text("id,document,tag,content\r\n1,Interview 1,trust,text\r\n")
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"code,target_id,stance\n{guid.lower()},M1,supports\n")
    out = tmp_path / "batch"
    code, _, err = run(
        capsys, "import", "taguette", highlights, "--codebook", book, "--map", mapping, "--out", out
    )
    assert code == 0, err
    assert codings_totals(out / "codings.csv") == Counter({("M1", "supports", "Interview_1"): 1})


# --- wave labels from document attributes ----------------------------------------------------


@pytest.mark.parametrize(
    "label", ["w/../../../x", "..", ".hidden", "wave\u200bx", "a\tb", "🌊 wave"]
)
def test_hostile_wave_attribute_is_refused_before_anything_is_written(tmp_path, capsys, label):
    export = tmp_path / "p.qde"
    export.write_text(
        BRACED.replace("<TextValue>w2</TextValue>", f"<TextValue>{label}</TextValue>")
    )
    out = tmp_path / "out"
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run(capsys, "import", "refi-qda", export, "--out", out)
    assert code == 2, err
    assert "document 'Interview 1'" in err and "'wave'" in err and "a wave label" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_good_wave_attribute_is_kept(tmp_path, capsys):
    export = tmp_path / "p.qde"
    export.write_text(
        BRACED.replace("<TextValue>w2</TextValue>", "<TextValue>entrevistas-año 2</TextValue>")
    )
    code, _, err = run(capsys, "import", "refi-qda", export, "--out", tmp_path / "out")
    assert code == 0, err
    assert "entrevistas-año 2" in (tmp_path / "out" / "sources.csv").read_text(encoding="utf-8")
