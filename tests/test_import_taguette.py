"""Taguette reader on exports produced by the real Taguette package (no web server).

A project is built through ``taguette.database`` (SQLAlchemy models) in a temporary SQLite
file, exported with Taguette's own functions (``taguette.export.highlights_csv``,
``codebook_xml``, ``codebook_csv``), read back with ``cmoc.evidence.qda.taguette.read`` and
compared with what Taguette's database says (highlight-tag rows counted with SQLAlchemy).
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import pytest

from cmoc.evidence import EvidenceError
from cmoc.evidence.qda import taguette as reader
from cmoc.evidence.qda.model import QdaProject

with warnings.catch_warnings():
    # opentelemetry (a Taguette dependency) imports pkg_resources, deprecated in setuptools
    warnings.simplefilter("ignore")
    tg = pytest.importorskip("taguette")
    from taguette import database, export

sqlalchemy = pytest.importorskip("sqlalchemy")

# Taguette's models use datetime.utcnow() (deprecated in Python 3.12)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:taguette.*")

TAGS = {
    "mechanism\\trust": "Trust in the programme",
    "context\\trust": "Trust as a context (same leaf name, other parent)",
    "outcome/uptake": "slash as separator",
    "cmoc\\P1-13\\supports": "",
    "unused": "never used",
}

# (document, snippet, tags)
HIGHLIGHTS = [
    (
        "Interview 1",
        '<p>I trust them, "really"</p>\n<p>second line</p>',
        ["mechanism\\trust", "context\\trust", "outcome/uptake"],
    ),
    ("Interview 1", "trust again", ["mechanism\\trust"]),
    ("Interview 1", "uptake", ["outcome/uptake", "cmoc\\P1-13\\supports"]),
    ("Focus, group", "<b>bold</b> text; with semicolon", ["mechanism\\trust"]),
    ("Focus, group", "context", ["context\\trust"]),
    ("Focus, group", "untagged", []),
    ("Interview 3", "é ü ñ unicode", ["cmoc\\P1-13\\supports", "mechanism\\trust"]),
]
DOCUMENTS = ["Interview 1", "Focus, group", "Interview 3", "Not coded"]


class Built:
    """A Taguette project and its exports."""

    def __init__(self, db, project, directory: Path):
        self.db = db
        self.project = project
        self.dir = directory

    def export(self) -> dict[str, Path]:
        out = {}
        buf = io.StringIO(newline="")
        export.highlights_csv(self.db, self.project.id, "", buf)
        out["highlights"] = self.dir / "all_tags.csv"
        out["highlights"].write_bytes(buf.getvalue().encode("utf-8"))
        tags = list(self.project.tags)
        out["qdc"] = self.dir / "codebook.qdc"
        export.codebook_xml(tags, str(out["qdc"]))
        buf = io.StringIO(newline="")
        export.codebook_csv(tags, buf)
        out["codebook_csv"] = self.dir / "codebook.csv"
        out["codebook_csv"].write_bytes(buf.getvalue().encode("utf-8"))
        out["highlights_xlsx"] = self.dir / "all_tags.xlsx"
        export.highlights_xslx(self.db, self.project.id, "", str(out["highlights_xlsx"]))
        out["codebook_xlsx"] = self.dir / "codebook.xlsx"
        export.codebook_xlsx(tags, str(out["codebook_xlsx"]))
        return out

    def db_counts(self) -> dict[tuple[str, str], int]:
        """(document name, tag path) -> number of highlight-tag rows, from Taguette's tables."""
        h, ht = database.Highlight.__table__, database.highlight_tags
        t, d = database.Tag.__table__, database.Document.__table__
        query = (
            sqlalchemy.select(d.c.name, t.c.path, sqlalchemy.func.count())
            .select_from(
                ht.join(h, h.c.id == ht.c.highlight_id)
                .join(t, t.c.id == ht.c.tag_id)
                .join(d, d.c.id == h.c.document_id)
            )
            .where(d.c.project_id == self.project.id)
            .group_by(d.c.name, t.c.path)
        )
        return {(doc, tag): n for doc, tag, n in self.db.execute(query).fetchall()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    directory = tmp_path_factory.mktemp("taguette")
    db = database.connect(f"sqlite:///{directory / 'taguette.sqlite3'}")()
    db.add(database.User(login="admin"))
    project = database.Project(name="cmoc test", description="")
    db.add(project)
    db.flush()
    docs = {}
    for name in DOCUMENTS:
        docs[name] = database.Document(
            name=name,
            description="",
            filename=name + ".txt",
            project=project,
            text_direction=database.TextDirection.LEFT_TO_RIGHT,
            contents="x" * 200,
        )
    db.add_all(docs.values())
    tags = {p: database.Tag(project=project, path=p, description=d) for p, d in TAGS.items()}
    db.add_all(tags.values())
    db.flush()
    for i, (doc, snippet, tag_paths) in enumerate(HIGHLIGHTS):
        db.add(
            database.Highlight(
                document=docs[doc],
                start_offset=i * 10,
                end_offset=i * 10 + 5,
                snippet=snippet,
                tags=[tags[p] for p in tag_paths],
            )
        )
    db.commit()
    return Built(db, project, directory)


def expected(built: Built) -> dict[tuple[str, str], int]:
    return {(doc, reader.tag_guid(tag)): n for (doc, tag), n in built.db_counts().items()}


def test_export_layout_is_one_row_per_highlight_and_tag(built):
    files = built.export()
    lines = files["highlights"].read_bytes().decode().splitlines()
    assert lines[0] == "id,document,tag,content"
    # the first highlight (three tags) appears three times with the same id
    assert [ln.split(",")[0] for ln in lines[1:4]] == ["1", "1", "1"]
    assert sum(built.db_counts().values()) == 10  # highlight-tag rows in Taguette's database


def test_counts_match_taguette_database(built):
    files = built.export()
    project = reader.read(files["highlights"])
    assert isinstance(project, QdaProject)
    assert project.format == "taguette"
    assert dict(project.counts) == expected(built)
    assert dict(project.counts) == {
        ("Interview 1", reader.tag_guid("mechanism\\trust")): 2,
        ("Interview 1", reader.tag_guid("context\\trust")): 1,
        ("Interview 1", reader.tag_guid("outcome/uptake")): 2,
        ("Interview 1", reader.tag_guid("cmoc\\P1-13\\supports")): 1,
        ("Focus, group", reader.tag_guid("mechanism\\trust")): 1,
        ("Focus, group", reader.tag_guid("context\\trust")): 1,
        ("Interview 3", reader.tag_guid("cmoc\\P1-13\\supports")): 1,
        ("Interview 3", reader.tag_guid("mechanism\\trust")): 1,
    }
    # the untagged highlight and the uncoded document are not in Taguette's export at all
    assert [d.name for d in project.documents] == ["Interview 1", "Focus, group", "Interview 3"]
    paths = {c.path for c in project.codes}
    assert ("mechanism", "trust") in paths and ("context", "trust") in paths
    assert ("outcome", "uptake") in paths and ("cmoc", "P1-13", "supports") in paths
    # same leaf name under two parents: two codes, two keys
    trust = [c for c in project.codes if c.path[-1] == "trust"]
    assert len({c.key for c in trust}) == 2


def test_qdc_codebook_keys_and_unused_tags(built):
    files = built.export()
    project = reader.read(files["highlights"], codebook=files["qdc"])
    assert dict(project.counts) == expected(built)
    # codes in codebook order, keyed by the GUIDs Taguette wrote
    xml = files["qdc"].read_text()
    for code in project.codes:
        assert f'guid="{code.key.upper()}"' in xml
    assert [c.path for c in project.codes] == [reader.split_tag(t) for t in TAGS]
    used = {k for _d, k in project.counts}
    unused = [c for c in project.codes if c.key not in used]
    assert [c.path for c in unused] == [("unused",)]
    assert any("never used" in n and "'unused'" in n for n in project.notes)
    assert all(c.codable for c in project.codes)


def test_csv_codebook_matches_taguette_numbers(built):
    files = built.export()
    project = reader.read(files["highlights"], codebook=files["codebook_csv"])
    assert dict(project.counts) == expected(built)
    assert [c.path for c in project.codes] == [reader.split_tag(t) for t in TAGS]
    # Taguette's own "number of highlights" agrees with the counts: no mismatch note
    assert not any("the codebook gives" in n for n in project.notes)
    totals = {}
    for (_doc, key), n in project.counts.items():
        totals[key] = totals.get(key, 0) + n
    for tag in built.project.tags:
        assert totals.get(reader.tag_guid(tag.path), 0) == tag.highlights_count


def test_excel_exports(built):
    files = built.export()
    project = reader.read(files["highlights_xlsx"], codebook=files["codebook_xlsx"])
    assert dict(project.counts) == expected(built)
    assert [c.path for c in project.codes] == [reader.split_tag(t) for t in TAGS]
    assert not any("the codebook gives" in n for n in project.notes)
    # mixed: Excel highlights with the QDC codebook
    mixed = reader.read(files["highlights_xlsx"], codebook=files["qdc"])
    assert dict(mixed.counts) == expected(built)


def test_stale_codebook_is_noted(built, tmp_path):
    files = built.export()
    stale = tmp_path / "codebook.csv"
    stale.write_text(
        files["codebook_csv"]
        .read_text()
        .replace(
            "mechanism\\trust,Trust in the programme,4", "mechanism\\trust,Trust in the programme,3"
        )
    )
    project = reader.read(files["highlights"], codebook=stale)
    assert any("gives 3 highlight(s)" in n and "has 4" in n for n in project.notes)


def test_tag_missing_from_codebook_is_kept_and_noted(built, tmp_path):
    files = built.export()
    partial = tmp_path / "codebook.csv"
    partial.write_text("tag,description\nmechanism\\trust,\n")
    project = reader.read(files["highlights"], codebook=partial)
    assert dict(project.counts) == expected(built)
    assert any("'outcome/uptake' is not in the codebook" in n for n in project.notes)


def test_semicolon_resave_is_read(built, tmp_path):
    files = built.export()
    rows = list(csv.reader(io.StringIO(files["highlights"].read_text(), newline="")))
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";").writerows(rows)
    resaved = tmp_path / "resaved.csv"
    resaved.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())
    assert dict(reader.read(resaved).counts) == expected(built)


def test_codebook_given_as_highlights_is_refused(built):
    files = built.export()
    with pytest.raises(EvidenceError, match="codebook CSV; pass it as the codebook"):
        reader.read(files["codebook_csv"])


def test_bad_rows_name_line_column_and_value(tmp_path):
    bad = tmp_path / "h.csv"
    bad.write_text(
        'id,document,tag,content\n1,Doc,a\\b,"multi\nline"\nx,Doc,a,c\n2,,a,c\n3,Doc,a\n'
        "1,Other,a\\c,c\n"
    )
    with pytest.raises(EvidenceError) as err:
        reader.read(bad)
    text = str(err.value)
    assert "h.csv:4, column 'id', value 'x': a highlight id" in text
    assert "h.csv:5, column 'document'" in text
    assert "h.csv:6, value '3,Doc,a': 4 fields" in text
    assert "h.csv:7, column 'document', value 'Other'" in text and "line 2" in text


def test_missing_columns_and_not_utf8(tmp_path):
    bad = tmp_path / "h.csv"
    bad.write_text("id,doc,tag\n")
    with pytest.raises(EvidenceError, match="column 'document'"):
        reader.read(bad)
    bad.write_bytes(b"id,document,tag,content\n1,D\xe9,a,b\n")
    with pytest.raises(EvidenceError, match=r"h.csv:2.*UTF-8"):
        reader.read(bad)


def test_hostile_qdc_is_refused(built, tmp_path):
    files = built.export()
    bomb = tmp_path / "bomb.qdc"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE CodeBook [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
        '<Code guid="1" name="&b;" isCodable="true"/></Codes></CodeBook>'
    )
    with pytest.raises(EvidenceError, match="without a DTD"):
        reader.read(files["highlights"], codebook=bomb)
    ext = tmp_path / "ext.qdc"
    ext.write_text('<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><CodeBook/>')
    with pytest.raises(EvidenceError, match="without a DTD"):
        reader.read(files["highlights"], codebook=ext)
    broken = tmp_path / "broken.qdc"
    broken.write_text('<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>\n<Code')
    with pytest.raises(EvidenceError, match=r"broken.qdc:2.*well-formed XML"):
        reader.read(files["highlights"], codebook=broken)


def test_unknown_option_and_missing_file(tmp_path):
    with pytest.raises(EvidenceError, match="only the options codebook= and separators="):
        reader.read(tmp_path / "x.csv", orientation="auto")
    with pytest.raises(EvidenceError, match="readable file"):
        reader.read(tmp_path / "x.csv")


def test_separators_option(built):
    files = built.export()
    flat = reader.read(files["highlights"], separators="")
    assert ("outcome/uptake",) in {c.path for c in flat.codes}
    assert dict(flat.counts) == expected(built)


def test_cli_passes_the_codebook(built, tmp_path, capsys):
    """`cmoc import taguette HIGHLIGHTS --codebook QDC`: the codebook reaches the reader."""
    from cmoc.cli import main

    files = built.export()
    out = tmp_path / "batch"
    args = ["import", "taguette", str(files["highlights"]), "--out", str(out)]
    assert main([*args, "--codebook", str(files["qdc"])]) == 0
    printed = capsys.readouterr().out
    assert "never used" in printed  # the codebook's unused tag, noted
    assert (out / "codings.csv").is_file()
    assert main([*args[:-1], str(tmp_path / "other"), "--sheet", "Counts"]) == 2
    assert "sheet" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_highlight_contents_are_the_passages(built):
    """Issue 17, deliverable 2: each highlight's content, once per (highlight, tag)."""
    project = reader.read(built.export()["highlights"])
    key = ("Interview 3", reader.tag_guid("cmoc\\P1-13\\supports"))
    assert project.passages[key] == (("é ü ñ unicode", "highlight 7"),)
    trust = project.passages[("Interview 1", reader.tag_guid("mechanism\\trust"))]
    assert len(trust) == project.counts[("Interview 1", reader.tag_guid("mechanism\\trust"))]
    assert trust[1] == ("trust again", "highlight 2")
    assert sum(map(len, project.passages.values())) == sum(project.counts.values())
