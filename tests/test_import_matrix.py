"""Matrix reader on hand-made exports in the layouts of NVivo, MAXQDA, ATLAS.ti and QualCoder.

Each table is written from an intended {(code path, document): count} and read back cell by cell.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from cmoc.evidence import EvidenceError
from cmoc.evidence.qda import matrix

INTENDED = {
    (("mechanism", "trust"), "Interview 1"): 3,
    (("mechanism", "trust"), "Focus group"): 2,
    (("context", "trust"), "Interview 2"): 4,  # same leaf, other parent
    (("outcome",), "Interview 1"): 1,
    (("outcome",), "Interview 2"): 5,
    (("outcome",), "Focus group"): 12,
}
CODES = [("mechanism", "trust"), ("context", "trust"), ("outcome",)]
DOCS = ["Interview 1", "Interview 2", "Focus group"]


def want(intended=INTENDED) -> dict[tuple[str, str], int]:
    return {(doc, "/".join(code)): n for (code, doc), n in intended.items() if n}


def n(code, doc) -> int:
    return INTENDED.get((code, doc), 0)


def write_csv(path: Path, rows, *, delimiter=",", bom=False, encoding="utf-8") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter).writerows(rows)
    data = buf.getvalue().encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_xlsx(path: Path, rows, *, title="Sheet1", extra=None, formats=None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    for (r, c), fmt in (formats or {}).items():
        ws.cell(row=r, column=c).number_format = fmt
    for name, extra_rows in (extra or {}).items():
        other = wb.create_sheet(name)
        for row in extra_rows:
            other.append(row)
    wb.save(path)
    return path


def check(project, intended=INTENDED, docs=DOCS, codes=CODES):
    assert project.format == "matrix"
    assert dict(project.counts) == want(intended)
    assert [d.name for d in project.documents] == docs
    assert [d.key for d in project.documents] == docs
    assert [c.path for c in project.codes] == codes
    assert [c.key for c in project.codes] == ["/".join(c) for c in codes]


# ------------------------------------------------------------------------------ NVivo


def nvivo_rows(names=("Codes\\mechanism\\trust", "Codes\\context\\trust", "Codes\\outcome")):
    header = [""] + [f"{chr(65 + i)} : {d}" for i, d in enumerate(DOCS)]
    body = [
        [f"{i + 1} : {name}"] + [n(code, d) for d in DOCS]
        for i, (name, code) in enumerate(zip(names, CODES, strict=True))
    ]
    return [header, *body]


def test_nvivo_csv_with_bom(tmp_path):
    project = matrix.read(write_csv(tmp_path / "m.csv", nvivo_rows(), bom=True))
    check(project)
    assert any("NVivo row number" in note for note in project.notes)
    assert any("NVivo column letter" in note for note in project.notes)
    assert any("root level" in note for note in project.notes)


def test_nvivo_xlsx_and_utf16_tab_text(tmp_path):
    check(matrix.read(write_xlsx(tmp_path / "m.xlsx", nvivo_rows())))
    path = tmp_path / "m.txt"
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter="\t").writerows(nvivo_rows())
    path.write_bytes(buf.getvalue().encode("utf-16"))  # with its byte-order mark
    check(matrix.read(path))


def test_nvivo_transposed_detected_from_hierarchical_names(tmp_path):
    rows = nvivo_rows()
    transposed = [list(col) for col in zip(*rows, strict=True)]
    # NVivo numbers rows and letters columns whatever they hold
    transposed[0] = [""] + [
        f"{chr(65 + i)} : {c.split(' : ', 1)[1]}" for i, c in enumerate(transposed[0][1:])
    ]
    for i, row in enumerate(transposed[1:], start=1):
        row[0] = f"{i} : {row[0].split(' : ', 1)[1]}"
    project = matrix.read(write_csv(tmp_path / "t.csv", transposed))
    check(project)
    assert any("orientation detected: codes-columns" in note for note in project.notes)


def test_flat_names_default_to_codes_as_rows_and_orientation_option(tmp_path):
    rows = [["", "Anna", "Ben"], ["trust", 1, 0], ["uptake", 2, 3]]
    project = matrix.read(write_csv(tmp_path / "f.csv", rows))
    assert dict(project.counts) == {
        ("Anna", "trust"): 1,
        ("Anna", "uptake"): 2,
        ("Ben", "uptake"): 3,
    }
    assert any("do not show which axis" in note for note in project.notes)
    flipped = matrix.read(tmp_path / "f.csv", orientation="codes-columns")
    assert dict(flipped.counts) == {
        ("trust", "Anna"): 1,
        ("uptake", "Anna"): 2,
        ("uptake", "Ben"): 3,
    }
    assert [c.path for c in flipped.codes] == [("Anna",), ("Ben",)]


@pytest.mark.parametrize(
    ("cell", "what"),
    [
        ("12%", "percentages"),
        ("12.5 %", "percentages"),
        ("12,5 %", "percentages"),
        ("Yes", "Yes/No"),
        ("No", "Yes/No"),
    ],
)
def test_nvivo_percent_and_presence_refused_naming_cell_content(tmp_path, cell, what):
    rows = nvivo_rows()
    rows[2][2] = cell
    with pytest.raises(EvidenceError) as err:
        matrix.read(write_csv(tmp_path / "p.csv", rows))
    text = str(err.value)
    assert f"p.csv:3, column 'C', value {cell!r}" in text
    assert what in text and "Cell Content to 'Coding References'" in text


def test_nvivo_presence_sheet_refused_once(tmp_path):
    rows = nvivo_rows()
    for row in rows[1:]:
        row[1:] = ["Yes" if v else "No" for v in row[1:]]
    with pytest.raises(EvidenceError) as err:
        matrix.read(write_xlsx(tmp_path / "p.xlsx", rows))
    assert len(err.value.problems) == 1
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.column) == ("p.xlsx[Sheet1]", 2, "B")
    assert "and in 8 other cell(s)" in problem.expected
    assert "Coding Presence" in problem.expected


def test_nvivo_sources_coded_title_refused(tmp_path):
    rows = [["Matrix Coding Query - Results Preview: Sources Coded"], *nvivo_rows()]
    with pytest.raises(EvidenceError, match=r"sources coded\).*'Coding References'"):
        matrix.read(write_csv(tmp_path / "s.csv", rows))


# ------------------------------------------------------------------------------ MAXQDA


def maxqda_rows(sep=" > "):
    header = ["Code System", *DOCS, "SUM"]
    body = []
    for code in CODES:
        counts = [n(code, d) for d in DOCS]
        body.append([sep.join(code), *counts, sum(counts)])
    sums = [sum(n(c, d) for c in CODES) for d in DOCS]
    return [header, *body, ["SUM", *sums, sum(sums)]]


def test_maxqda_semicolon_csv_with_bom_and_sum_row_and_column(tmp_path):
    path = write_csv(tmp_path / "cmb.csv", maxqda_rows(), delimiter=";", bom=True)
    project = matrix.read(path)
    check(project)
    assert any("total row 'SUM' dropped" in note for note in project.notes)
    assert any("total column E 'SUM' dropped" in note for note in project.notes)
    assert not any("differs" in note for note in project.notes)
    assert any("separated by ';'" in note for note in project.notes)


def test_maxqda_document_groups_do_not_flip_orientation(tmp_path):
    rows = maxqda_rows()
    rows[0][1:4] = [f"Interviews\\{d}" for d in DOCS]  # document group \ document
    rows[2][0] = "trust"  # only one code label shows a hierarchy
    rows[3][0] = "outcome"
    project = matrix.read(write_csv(tmp_path / "cmb.csv", rows))
    assert [d.name for d in project.documents] == [f"Interviews\\{d}" for d in DOCS]
    assert [c.path for c in project.codes] == [("mechanism", "trust"), ("trust",), ("outcome",)]


def test_maxqda_xlsx_backslash_paths(tmp_path):
    check(matrix.read(write_xlsx(tmp_path / "cmb.xlsx", maxqda_rows(sep="\\"))))


def test_maxqda_inconsistent_total_is_noted(tmp_path):
    rows = maxqda_rows()
    rows[-1][1] += 1
    project = matrix.read(write_csv(tmp_path / "cmb.csv", rows))
    check(project)
    assert any("differs from the sum of the rows" in note for note in project.notes)


def test_maxqda_row_percentages_refused(tmp_path):
    rows = maxqda_rows()
    for row in rows[1:]:
        total = row[-1] or 1
        row[1:] = [f"{100 * v / total:.1f}%" for v in row[1:]]
    with pytest.raises(EvidenceError) as err:
        matrix.read(write_csv(tmp_path / "cmb.csv", rows))
    assert "Code Matrix Browser" in str(err.value)
    assert "percentages" in str(err.value)


# ------------------------------------------------------------------------------ ATLAS.ti


def atlas_rows():
    header = [None]
    for i, d in enumerate(DOCS, start=1):
        header.append(f"D {i}: {d} (Gr={sum(n(c, d) for c in CODES)})")
    header.append("Totals")
    body = []
    for code in CODES:
        counts = [n(code, d) for d in DOCS]
        body.append([f"● {'::'.join(code)}\nGr={sum(counts)}", *counts, sum(counts)])
    sums = [sum(n(c, d) for c in CODES) for d in DOCS]
    return [header, *body, ["Totals", *sums, sum(sums)]]


def test_atlas_xlsx_embedded_totals_and_totals_row(tmp_path):
    project = matrix.read(write_xlsx(tmp_path / "cdt.xlsx", atlas_rows()))
    check(project)
    assert any("embedded total stripped" in note for note in project.notes)
    assert any("ATLAS.ti document number" in note for note in project.notes)
    assert any("total row 'Totals' dropped" in note for note in project.notes)


def test_atlas_transposed_csv(tmp_path):
    rows = atlas_rows()
    transposed = [list(col) for col in zip(*rows, strict=True)]
    transposed[0][0] = ""
    project = matrix.read(write_csv(tmp_path / "cdt.csv", transposed))
    check(project)
    assert any("codes-columns" in note for note in project.notes)


def test_atlas_relative_frequencies_refused(tmp_path):
    rows = atlas_rows()
    grand = rows[-1][-1]
    for row in rows[1:]:
        row[1:] = [v / grand for v in row[1:]]  # table-relative fractions
    with pytest.raises(EvidenceError) as err:
        matrix.read(write_xlsx(tmp_path / "cdt.xlsx", rows))
    assert "absolute frequencies" in str(err.value)
    assert "fractions" in str(err.value)


def test_percent_number_format_refused(tmp_path):
    rows = atlas_rows()
    rows[1][1] = 0.75  # shown as 75% by its number format
    with pytest.raises(EvidenceError, match="percentages") as err:
        matrix.read(write_xlsx(tmp_path / "pf.xlsx", rows, formats={(2, 2): "0%"}))
    assert err.value.problems[0].column == "B"


# ------------------------------------------------------------------------------ QualCoder


def test_qualcoder_counts_sheet_wrapped_names_and_case_headers(tmp_path):
    long_name = "a code name long enough to be wrapped by QualCoder at fifty characters"
    wrapped = "\n".join(long_name[i : i + 50] for i in range(0, len(long_name), 50))
    intended = {
        ((long_name,), "interview1.txt"): 2,
        (("trust",), "interview1.txt"): 1,
        (("trust",), "interview2.docx"): 4,
    }
    codes = [(long_name,), ("trust",)]
    headers = ["Age: 30\nCase: Anna\ninterview1.txt", "Age: 41\nCase: Ben\ninterview2.docx"]
    docs = ["interview1.txt", "interview2.docx"]
    rows = [[None, *headers]]
    for label, code in zip([wrapped, "trust"], codes, strict=True):
        rows.append([label, *[intended.get((code, d), 0) for d in docs]])
    path = write_xlsx(
        tmp_path / "Code_comparisons.xlsx",
        rows,
        title="Counts",
        extra={"Details": [[None, *headers], [wrapped, "Code:... File/Case: ..."]]},
    )
    project = matrix.read(path)
    check(project, intended, docs, codes)
    assert project.documents[0].attributes == {"Age": "30", "Case": "Anna"}
    assert any("other sheets not read: 'Details'" in note for note in project.notes)
    assert all(not note.startswith("orientation") for note in project.notes)


def test_sheet_option(tmp_path):
    path = write_xlsx(tmp_path / "w.xlsx", [["x"]], title="Notes", extra={"Matrix": nvivo_rows()})
    check(matrix.read(path, sheet="Matrix"))
    with pytest.raises(EvidenceError, match="one of the workbook's sheets"):
        matrix.read(path, sheet="Nope")
    with pytest.raises(EvidenceError, match="a header row"):
        matrix.read(path)  # the first sheet holds no matrix


def test_cli_passes_sheet_and_orientation(tmp_path, capsys):
    from cmoc.cli import main

    path = write_xlsx(tmp_path / "w.xlsx", [["x"]], title="Notes", extra={"Matrix": nvivo_rows()})
    args = ["import", "matrix", str(path)]
    assert main([*args, "--out", str(tmp_path / "a"), "--sheet", "Matrix"]) == 0
    assert (tmp_path / "a" / "codings.csv").is_file()
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "b")]) == 2  # the first sheet holds no matrix
    assert "header row" in capsys.readouterr().err and not (tmp_path / "b").exists()
    bad = ["--sheet", "Matrix", "--orientation", "sideways"]
    assert main([*args, "--out", str(tmp_path / "c"), *bad]) == 2
    assert "orientation" in capsys.readouterr().err


# ------------------------------------------------------------------------------ formulas


def _set_cached_values(path: Path, values: dict[str, str]) -> None:
    """Give formula cells a stored result, as a spreadsheet program would on saving."""
    with zipfile.ZipFile(path) as zin:
        items = [(info, zin.read(info)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in items:
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for ref, value in values.items():
                    start = text.index(f'<c r="{ref}"')
                    end = text.index("</c>", start)
                    cell = text[start:end]
                    assert "<v" in cell
                    new = cell.split("<v")[0] + f"<v>{value}</v>"
                    text = text[:start] + new + text[end:]
                data = text.encode()
            zout.writestr(info, data)


def test_formula_with_stored_value_counts_that_value(tmp_path):
    rows = maxqda_rows()
    rows[1][1] = "=1+2"  # mechanism > trust in Interview 1: 3
    path = write_xlsx(tmp_path / "f.xlsx", rows)
    _set_cached_values(path, {"B2": "3"})
    project = matrix.read(path)
    check(project)
    assert any("cell B2 holds the formula '=1+2': not evaluated" in note for note in project.notes)


def test_formulas_in_total_rows_are_not_needed(tmp_path):
    rows = maxqda_rows()
    rows[-1][1:] = ["=SUM(B2:B4)", "=SUM(C2:C4)", "=SUM(D2:D4)", "=SUM(E2:E4)"]
    project = matrix.read(write_xlsx(tmp_path / "t.xlsx", rows))  # no stored results
    check(project)
    assert not any("formula" in note or "differs" in note for note in project.notes)


def test_formula_without_stored_value_refused(tmp_path):
    rows = maxqda_rows()
    rows[1][1] = "=1+2"
    path = write_xlsx(tmp_path / "f.xlsx", rows)  # openpyxl stores no result
    with pytest.raises(EvidenceError) as err:
        matrix.read(path)
    problem = err.value.problems[0]
    assert (problem.line, problem.column, problem.value) == (2, "B", "=1+2")
    assert "formulas are not evaluated" in problem.expected


# ------------------------------------------------------------------------------ bad input


def test_bad_cells_have_line_column_and_value(tmp_path):
    rows = nvivo_rows()
    rows[1][1] = "abc"
    rows[2][3] = -1
    rows[3][2] = 2.5
    with pytest.raises(EvidenceError) as err:
        matrix.read(write_csv(tmp_path / "b.csv", rows))
    places = {(p.line, p.column, p.value) for p in err.value.problems}
    assert places == {(2, "B", "abc"), (3, "D", "-1"), (4, "C", "2.5")}
    assert all("whole number >= 0" in p.expected for p in err.value.problems)


def test_duplicate_labels_and_missing_labels(tmp_path):
    rows = [["", "Anna", "Anna"], ["trust", 1, 2]]
    with pytest.raises(EvidenceError, match="each document once"):
        matrix.read(write_csv(tmp_path / "d.csv", rows))
    rows = [["", "Anna", "Ben"], ["a > trust", 1, 2], ["a > trust", 0, 1]]
    with pytest.raises(EvidenceError, match="each code once"):
        matrix.read(write_csv(tmp_path / "d.csv", rows))
    rows = [["", "Anna", ""], ["trust", 1, 2]]
    with pytest.raises(EvidenceError, match=r"d.csv:1, column 'C'.*label in the header"):
        matrix.read(write_csv(tmp_path / "d.csv", rows))


def test_fraction_text_and_decimal_comma(tmp_path):
    rows = [["", "Anna", "Ben"], ["trust", "0.5", "0.25"], ["uptake", "", "0,25"]]
    with pytest.raises(EvidenceError) as err:
        matrix.read(write_csv(tmp_path / "fr.csv", rows))
    (problem,) = err.value.problems
    assert (problem.line, problem.column, problem.value) == (2, "B", "0.5")
    assert "not percentages or fractions (found here and in 2 other cell(s))" in problem.expected
    rows = [["", "Anna", "Ben"], ["trust", "3", "12,5"]]
    with pytest.raises(EvidenceError) as err:
        matrix.read(write_csv(tmp_path / "dc.csv", rows, delimiter=";"))
    (problem,) = err.value.problems
    assert (problem.line, problem.column, problem.value) == (2, "C", "12,5")
    assert "whole number" in problem.expected


def test_options_are_checked(tmp_path):
    path = write_csv(tmp_path / "o.csv", nvivo_rows())
    with pytest.raises(EvidenceError, match="one of auto, codes-rows, codes-columns"):
        matrix.read(path, orientation="rows")
    with pytest.raises(EvidenceError, match="only for XLSX"):
        matrix.read(path, sheet="Counts")
    with pytest.raises(EvidenceError, match="only the options orientation= and sheet="):
        matrix.read(path, codebook="x")
    check(matrix.read(path, codebook=None))  # an unset option is no option


def test_hostile_workbooks_refused(tmp_path):
    path = write_xlsx(tmp_path / "h.xlsx", nvivo_rows())
    with zipfile.ZipFile(path) as zin:
        items = [(info, zin.read(info)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for info, data in items:
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b"<!DOCTYPE" not in data
                data = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaaaaaaaa">]>' + data
            zout.writestr(info, data)
    with pytest.raises(EvidenceError, match="no DTD or entity declarations"):
        matrix.read(path)
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a zip")
    with pytest.raises(EvidenceError, match="zip"):
        matrix.read(fake)


def test_oversized_sheet_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(matrix, "MAX_ROWS", 3)
    with pytest.raises(EvidenceError, match="at most 3 rows"):
        matrix.read(write_xlsx(tmp_path / "big.xlsx", [*nvivo_rows(), ["x", 1, 1, 1]]))
    with pytest.raises(EvidenceError, match="at most 3 rows"):
        matrix.read(write_csv(tmp_path / "big.csv", [*nvivo_rows(), ["x", 1, 1, 1]]))
