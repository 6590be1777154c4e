"""REFI-QDA reader and code mapping: the standard's example project and hand-written exports.

The example (``tests/data/refi-qda/atlasti84_refi_spec_example.qdpx``, a copy of the file in
``../shared/refi-qda/``, exported by ATLAS.ti 8.4) is read in place (read-only). Its expected
counts were taken by reading ``Project.qde`` by hand (``unzip -p FILE Project.qde``) and are
checked again here by an independent count with the standard library over the raw text
(see ``test_example_counts_recounted_independently``).
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from cmoc.evidence.qda import (
    QdaImportError,
    Theory,
    convention_target,
    map_codes,
    read_mapping_file,
    read_project,
    refi,
    source_ids,
)

EXAMPLE = Path(__file__).resolve().parent / "data" / "refi-qda" / "atlasti84_refi_spec_example.qdpx"

# Counted by hand in Project.qde: 16 <Coding> elements. Two of them sit in the
# <Representation> (text layer) of the PDF "Pay de Limón ..." inside PlainTextSelections whose
# GUIDs (95916796..., 27A5F0C2...) repeat two PDFSelections of the same PDF coded with the same
# codes (cornflakes, waste of time): ATLAS.ti shows those quotations once, so 14 references.
# Per code (document: selections):
#   cornflakes      4  Mabel.txt 1 text, cornflakes-n-milk.jpg 1 picture, Pay de Limón 2 PDF
#   bacon and eggs  2  Mabel.txt 1, Simon.docx 1 (the Simon selection also has a Description)
#   happiness       2  Mabel.txt 1, Simon.docx 1
#   Coke::diet Coke 1  1994 Diet Coke-Diet Coke Break.docx
#   Feelings        1  Simon.docx;  milk 1 picture;  serene 1 PDF;  waste of time 1 PDF
#   "rushed"        1  1994 Diet Coke-Diet Coke Break.mp4 (VideoSelection)
#   Coke, full-fat Coke, disgust, sleepy, Breakfast food: 0
# Not counted: the PlainTextSelection of "Mabêl 2ième.txt" (Description, no Coding: an
# annotation) and the VideoSelection 00:16.17 (no Coding).
EXAMPLE_CODES = {
    "cornflakes": 4,
    "bacon and eggs": 2,
    "happiness": 2,
    "Coke::diet Coke": 1,
    "Feelings": 1,
    "milk": 1,
    "serene": 1,
    "waste of time": 1,
    '"rushed"': 1,
}
EXAMPLE_DOCS = {
    "Mabel.txt": 3,
    "Simon.docx": 3,
    "cornflakes-n-milk.jpg": 2,
    "Pay de Limón con Base de Granola | Kellogg's ®.pdf": 4,
    "1994 Diet Coke-Diet Coke Break.docx": 1,
    "1994 Diet Coke-Diet Coke Break.mp4": 1,
}


def _by_name(project):
    codes = {c.key: "/".join(c.path) for c in project.codes}
    docs = {d.key: d.name for d in project.documents}
    per_code: Counter[str] = Counter()
    per_doc: Counter[str] = Counter()
    for (doc, code), n in project.counts.items():
        per_code[codes[code]] += n
        per_doc[docs[doc]] += n
    return per_code, per_doc


def test_example_project_counts():
    project = refi.read(EXAMPLE)
    assert project.format == "refi-qda"
    assert len(project.documents) == 12  # 6 text, 2 PDF, 1 picture, 1 audio, 2 video
    assert len(project.codes) == 14
    assert sum(project.counts.values()) == 14
    per_code, per_doc = _by_name(project)
    assert dict(per_code) == EXAMPLE_CODES
    assert dict(per_doc) == EXAMPLE_DOCS
    notes = "\n".join(project.notes)
    assert "7 PlainTextSelection, 4 PDFSelection, 2 PictureSelection, 1 VideoSelection" in notes
    assert "2 coding(s) repeat a selection" in notes
    assert "1 annotation(s)" in notes
    assert "1 selection(s) with no coding" in notes
    assert "urn:QDA-XML:project:1.0" in notes


def test_example_counts_recounted_independently():
    """Recount with regular expressions over the raw XML, sharing no code with the reader."""
    text = zipfile.ZipFile(EXAMPLE).read("Project.qde").decode("utf-8")
    names = dict(re.findall(r'<Code [^>]*?name="([^"]*)" guid="([^"]*)"', text))
    names.update({g: n for g, n in re.findall(r'<Code guid="([^"]*)" name="([^"]*)"', text)})
    guid_to_name = {}
    for m in re.finditer(r"<Code ([^>]*)>|<Code ([^>]*)/>", text):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or m.group(2)))
        guid_to_name[attrs["guid"]] = attrs["name"].replace("&quot;", '"')
    assert len(guid_to_name) == 14
    # every selection with its GUID and the codes of its codings
    seen, counted = set(), Counter()
    for m in re.finditer(r'<(\w+Selection) [^>]*?guid="([^"]*)"[^>]*?(/>|>(.*?)</\1>)', text, re.S):
        body = m.group(4) or ""
        for code in re.findall(r'<CodeRef targetGUID="([^"]*)"', body):
            if (m.group(2), code) not in seen:
                seen.add((m.group(2), code))
                counted[guid_to_name[code]] += 1
    assert text.count("<Coding ") == 16
    assert dict(counted) == EXAMPLE_CODES


def test_example_through_dispatcher_and_separator():
    project = read_project("refi-qda", EXAMPLE, name_separator="::")
    paths = {"/".join(c.path) for c in project.codes}
    assert "Coke/diet Coke" in paths and "Coke/full-fat Coke" in paths


# --- hand-written exports ------------------------------------------------------------------

NS1 = "urn:QDA-XML:project:1.0"
NS_OLD = "urn:QDA-XML:project:0:10"


def G(n: int) -> str:
    """A GUID in upper case (exports write them so; references below use lower case)."""
    return f"A0000000-0000-4000-8000-{n:012X}"


def g(n: int) -> str:
    return G(n).lower()


def hand_qde(ns: str = NS1) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="{ns}" name="hand" basePath="/home/exporter/secret">
 <CodeBook><Codes>
  <Code guid="{G(1)}" name="mechanism" isCodable="false">
   <Code guid="{G(2)}" name="trust" isCodable="true"/>
   <Code guid="{G(3)}" name="M2" isCodable="true">
    <Code guid="{G(4)}" name="refutes" isCodable="true"/>
   </Code>
  </Code>
  <Code guid="{G(5)}" name="cmoc" isCodable="false">
   <Code guid="{G(6)}" name="trust" isCodable="true"/>
   <Code guid="{G(7)}" name="C2" isCodable="true">
    <Code guid="{G(8)}" name="supports" isCodable="true"/>
    <Code guid="{G(9)}" name="refutes" isCodable="true"/>
   </Code>
  </Code>
  <Code guid="{G(10)}" name="Org A" isCodable="true"/>
  <Code guid="{G(11)}" name="other" isCodable="true"/>
 </Codes></CodeBook>
 <Variables>
  <Variable guid="{G(20)}" name="kind" typeOfVariable="Text"/>
  <Variable guid="{G(21)}" name="wave" typeOfVariable="Text"/>
  <Variable guid="{G(22)}" name="weight" typeOfVariable="Float"/>
 </Variables>
 <Cases>
  <Case guid="{G(10)}" name="Org A">
   <VariableValue><VariableRef targetGUID="{g(20)}"/>
    <TextValue>interview</TextValue></VariableValue>
   <VariableValue><VariableRef targetGUID="{G(21)}"/><TextValue>w1</TextValue></VariableValue>
   <SourceRef targetGUID="{G(31)}"/><SourceRef targetGUID="{g(32)}"/>
  </Case>
  <Case guid="{G(12)}">
   <VariableValue><VariableRef targetGUID="{G(22)}"/><FloatValue>0.5</FloatValue></VariableValue>
   <SourceRef targetGUID="{G(33)}"/>
  </Case>
 </Cases>
 <Sources>
  <TextSource guid="{G(31)}" name="Interview 1" plainTextPath="relative:///i1.txt">
   <PlainTextSelection guid="{G(41)}" startPosition="0" endPosition="5">
    <Coding guid="{G(101)}"><CodeRef targetGUID="{g(2)}"/></Coding>
   </PlainTextSelection>
   <PlainTextSelection guid="{G(42)}" startPosition="5" endPosition="9">
    <Coding guid="{G(102)}"><CodeRef targetGUID="{G(6)}"/></Coding>
    <Coding guid="{G(103)}"><CodeRef targetGUID="{G(9)}"/></Coding>
   </PlainTextSelection>
   <PlainTextSelection guid="{G(43)}" startPosition="9" endPosition="12">
    <Description>an annotation: a note on the text, no code</Description>
   </PlainTextSelection>
   <PlainTextSelection guid="{G(44)}" startPosition="12" endPosition="20">
    <Coding guid="{G(104)}"><CodeRef targetGUID="{G(10)}"/></Coding>
   </PlainTextSelection>
   <Coding guid="{G(105)}"><CodeRef targetGUID="{G(11)}"/></Coding>
   <VariableValue><VariableRef targetGUID="{G(21)}"/><TextValue>w2</TextValue></VariableValue>
  </TextSource>
  <PDFSource guid="{G(32)}" name="Paper.pdf" path="absolute:///C:/papers/p.pdf">
   <PDFSelection guid="{G(45)}" page="0" firstX="1" firstY="1" secondX="2" secondY="2">
    <Coding guid="{G(106)}"><CodeRef targetGUID="{G(4)}"/></Coding>
   </PDFSelection>
   <Representation guid="{G(46)}" plainTextPath="internal://x.txt">
    <PlainTextSelection guid="{g(45)}" startPosition="0" endPosition="4">
     <Coding guid="{G(107)}"><CodeRef targetGUID="{G(4)}"/></Coding>
    </PlainTextSelection>
   </Representation>
  </PDFSource>
  <PictureSource guid="{G(33)}" name="Photo.jpg" path="internal://p.jpg">
   <PictureSelection guid="{G(47)}" firstX="0" firstY="0" secondX="1" secondY="1">
    <Coding guid="{G(108)}"><CodeRef targetGUID="{G(8)}"/></Coding>
   </PictureSelection>
   <PictureSelection guid="{G(48)}" firstX="1" firstY="1" secondX="2" secondY="2">
    <Coding guid="{G(109)}"><CodeRef targetGUID="{G(8)}"/></Coding>
   </PictureSelection>
  </PictureSource>
  <AudioSource guid="{G(34)}" name="Focus group.m4a" path="relative:///fg.m4a">
   <Transcript guid="{G(49)}" plainTextPath="internal://t.txt">
    <TranscriptSelection guid="{G(50)}" fromSyncPoint="{G(60)}" toSyncPoint="{G(61)}">
     <Coding guid="{G(110)}"><CodeRef targetGUID="{G(6)}"/></Coding>
    </TranscriptSelection>
   </Transcript>
   <AudioSelection guid="{G(51)}" begin="0" end="100">
    <Coding guid="{G(111)}"><CodeRef targetGUID="{G(2)}"/></Coding>
   </AudioSelection>
  </AudioSource>
  <VideoSource guid="{G(35)}" name="Workshop.mp4" path="relative:///w.mp4">
   <Transcript guid="{G(52)}" plainTextPath="internal://v.txt">
    <TranscriptSelection guid="{G(53)}">
     <Coding guid="{G(112)}"><CodeRef targetGUID="{G(2)}"/></Coding>
    </TranscriptSelection>
   </Transcript>
   <VideoSelection guid="{G(54)}" begin="0" end="100">
    <Coding guid="{G(113)}"><CodeRef targetGUID="{G(11)}"/></Coding>
   </VideoSelection>
  </VideoSource>
 </Sources>
 <Notes>
  <Note guid="{G(70)}" name="memo">
   <PlainTextSelection guid="{G(71)}" startPosition="0" endPosition="1">
    <Coding guid="{G(114)}"><CodeRef targetGUID="{G(2)}"/></Coding>
   </PlainTextSelection>
  </Note>
 </Notes>
</Project>
"""


# (document name, code path) -> references, counted from hand_qde above
HAND_COUNTS = {
    ("Interview 1", "mechanism/trust"): 1,
    ("Interview 1", "cmoc/trust"): 1,
    ("Interview 1", "cmoc/C2/refutes"): 1,
    ("Interview 1", "other"): 1,  # whole-document coding
    ("Paper.pdf", "mechanism/M2/refutes"): 1,  # PDFSelection, repeated in its representation
    ("Photo.jpg", "cmoc/C2/supports"): 2,
    ("Focus group.m4a", "cmoc/trust"): 1,  # TranscriptSelection
    ("Focus group.m4a", "mechanism/trust"): 1,  # AudioSelection
    ("Workshop.mp4", "mechanism/trust"): 1,  # TranscriptSelection
    ("Workshop.mp4", "other"): 1,  # VideoSelection
}


def _named_counts(project):
    codes = {c.key: "/".join(c.path) for c in project.codes}
    docs = {d.key: d.name for d in project.documents}
    return {(docs[d], codes[c]): n for (d, c), n in project.counts.items()}


def _write_qdpx(path: Path, qde: str, member: str = "project.qde") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(member, qde)
        z.writestr("sources/", "")
    return path


@pytest.mark.parametrize("ns", [NS1, NS_OLD])
def test_hand_written_project(tmp_path, ns):
    qde = tmp_path / "hand.qde"
    qde.write_text(hand_qde(ns), encoding="utf-8")
    project = refi.read(qde)
    assert _named_counts(project) == HAND_COUNTS
    paths = ["/".join(c.path) for c in project.codes]
    assert paths == [
        "mechanism",
        "mechanism/trust",
        "mechanism/M2",
        "mechanism/M2/refutes",
        "cmoc",
        "cmoc/trust",
        "cmoc/C2",
        "cmoc/C2/supports",
        "cmoc/C2/refutes",
        "other",
    ]  # "Org A" shares the Case's GUID: a case, not a code
    by_path = {"/".join(c.path): c for c in project.codes}
    assert by_path["mechanism/trust"].key != by_path["cmoc/trust"].key  # same name, distinct
    assert not by_path["mechanism"].codable and by_path["mechanism/trust"].codable
    assert by_path["other"].key == g(11)  # GUIDs lower case
    docs = {d.name: d for d in project.documents}
    # own value (w2) wins over the case's (w1); kind via the case, with the case's name
    assert dict(docs["Interview 1"].attributes) == {
        "kind": "interview",
        "wave": "w2",
        "case": "Org A",
    }
    assert dict(docs["Paper.pdf"].attributes) == {
        "kind": "interview",
        "wave": "w1",
        "case": "Org A",
    }
    assert dict(docs["Photo.jpg"].attributes) == {"weight": "0.5"}  # MAXQDA's nameless case
    assert dict(docs["Workshop.mp4"].attributes) == {}
    notes = "\n".join(project.notes)
    assert ns in notes
    assert "1 annotation(s)" in notes
    assert "1 coding(s) of cases" in notes
    assert "1 code(s) share a Case GUID" in notes
    assert "1 coding(s) repeat a selection" in notes
    assert "1 whole document" in notes and "2 TranscriptSelection" in notes
    assert "1 AudioSelection" in notes and "1 VideoSelection" in notes


def test_qdpx_with_any_qde_name(tmp_path):
    path = _write_qdpx(tmp_path / "p.qdpx", hand_qde(), member="My Project.QDE")
    assert _named_counts(refi.read(path)) == HAND_COUNTS


def test_qdpx_needs_exactly_one_qde_at_root(tmp_path):
    path = tmp_path / "two.qdpx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.qde", hand_qde())
        z.writestr("b.qde", hand_qde())
    with pytest.raises(QdaImportError, match=r"one project file '\*.qde'.*a.qde, b.qde"):
        refi.read(path)
    nested = tmp_path / "nested.qdpx"
    with zipfile.ZipFile(nested, "w") as z:
        z.writestr("sub/project.qde", hand_qde())
    with pytest.raises(QdaImportError, match=r"found: none"):
        refi.read(nested)


@pytest.mark.parametrize("ns", ["urn:QDA-XML:codebook:1.0", "urn:QDA-XML:codebook:0:4"])
def test_codebook_gives_codes_only(tmp_path, ns):
    qdc = tmp_path / "book.qdc"
    qdc.write_text(
        f'<?xml version="1.0"?><CodeBook xmlns="{ns}" origin="test"><Codes>'
        f'<Code guid="{G(1)}" name="mechanism" isCodable="false">'
        f'<Code guid="{G(2)}" name="trust"/></Code>'
        f'<Code guid="{G(3)}" name="Theme::sub"/>'
        "</Codes></CodeBook>"
    )
    project = refi.read(qdc)
    assert project.documents == () and project.counts == {}
    assert [c.path for c in project.codes] == [
        ("mechanism",),
        ("mechanism", "trust"),
        ("Theme::sub",),
    ]
    assert any(ns in n for n in project.notes) and any("codebook" in n for n in project.notes)
    split = refi.read(qdc, name_separator="::")
    assert split.codes[-1].path == ("Theme", "sub")


def test_not_a_refi_file(tmp_path):
    bad = tmp_path / "x.qde"
    bad.write_text("<html/>")
    with pytest.raises(QdaImportError, match="REFI-QDA <Project>"):
        refi.read(bad)
    broken = tmp_path / "y.qde"
    broken.write_text("<Project><CodeBook></Project>")
    with pytest.raises(QdaImportError, match="well-formed XML"):
        refi.read(broken)
    fake = tmp_path / "z.qdpx"
    fake.write_text("not a zip")
    with pytest.raises(QdaImportError, match="zip archive"):
        refi.read(fake)


def test_unknown_format_and_missing_reader():
    with pytest.raises(QdaImportError, match="refi-qda, taguette, matrix"):
        read_project("nvivo", "x.nvp")


# --- mapping -------------------------------------------------------------------------------

THEORY = Theory(mechanisms=("TRUST", "M2"), cmocs=("C2", "C9"))


def _hand(tmp_path):
    qde = tmp_path / "hand.qde"
    qde.write_text(hand_qde(), encoding="utf-8")
    return refi.read(qde)


def test_convention_rules():
    assert convention_target(("mechanism", "trust")) == (("trust", "supports"), "")
    assert convention_target(("Mechanisms", "M2", "Refutes")) == (("M2", "refutes"), "")
    assert convention_target(("Theory", "CMOC", "c2", "supports"), THEORY) == (
        ("C2", "supports"),
        "",
    )
    assert convention_target(("mechanism", "trust"), THEORY) == (("TRUST", "supports"), "")
    found, why = convention_target(("cmoc", "trust"), THEORY)
    assert found is None and "not a cmoc of the theory" in why
    found, why = convention_target(("mechanism", "C2"), THEORY)
    assert found is None and "not a mechanism" in why
    assert convention_target(("other",))[0] is None
    assert convention_target(("cmoc", "=HYPERLINK(1)"))[0] is None


def test_convention_mapping_lists_unmapped(tmp_path):
    project = _hand(tmp_path)
    cm = map_codes(project, theory=THEORY)
    by_path = {"/".join(c.path): c.key for c in project.codes}
    assert cm.targets[by_path["mechanism/trust"]] == ("TRUST", "supports")
    assert cm.targets[by_path["mechanism/M2/refutes"]] == ("M2", "refutes")
    assert cm.targets[by_path["mechanism/M2"]] == ("M2", "supports")
    assert cm.targets[by_path["cmoc/C2/supports"]] == ("C2", "supports")
    assert cm.targets[by_path["cmoc/C2/refutes"]] == ("C2", "refutes")
    unmapped = {u.path: u.references for u in cm.unmapped}
    assert unmapped == {"cmoc/trust": 2, "other": 2}
    with pytest.raises(QdaImportError, match="cmoc/trust") as err:
        map_codes(project, theory=THEORY, strict=True)
    assert "2 reference(s) would be lost" in str(err.value)


def test_mapping_file_by_path_and_guid(tmp_path):
    project = _hand(tmp_path)
    mapfile = tmp_path / "map.csv"
    mapfile.write_text(
        "\ufeffcode,target_id,stance\n"
        " CMOC / Trust ,c9,refutes\n"
        f"{g(11)},,\n"  # 'other' by GUID, left out on purpose
        "mechanism/trust,M2,\n"  # the file wins over the convention
        "no/such/code,C2,supports\n",
        encoding="utf-8",
    )
    rules = read_mapping_file(mapfile, THEORY)
    assert [(r.target_id, r.stance, r.line) for r in rules] == [
        ("C9", "refutes", 2),
        (None, "supports", 3),
        ("M2", "supports", 4),
        ("C2", "supports", 5),
    ]
    cm = map_codes(project, rules=rules, theory=THEORY, mapping_label="map.csv")
    by_path = {"/".join(c.path): c.key for c in project.codes}
    assert cm.targets[by_path["cmoc/trust"]] == ("C9", "refutes")
    assert cm.targets[by_path["mechanism/trust"]] == ("M2", "supports")
    assert cm.by[by_path["mechanism/trust"]] == "map.csv:4"
    assert cm.by[by_path["cmoc/C2/supports"]] == "convention"
    assert cm.ignored == ("other",) and cm.unmapped == ()
    assert any("map.csv:5" in n and "matches no code" in n for n in cm.notes)
    with pytest.raises(QdaImportError, match=r"map\.csv:5"):
        map_codes(project, rules=rules, theory=THEORY, strict=True, mapping_label="map.csv")


def test_mapping_file_problems_name_lines(tmp_path):
    mapfile = tmp_path / "map.csv"
    mapfile.write_text(
        "code,target_id,stance\n"
        "a,C2,maybe\n"
        "b,NOPE,supports\n"
        "a,C2,supports\n"
        "c,=cmd|' /C calc'!A0,supports\n"
        ",C2,\n"
    )
    with pytest.raises(QdaImportError) as err:
        read_mapping_file(mapfile, THEORY)
    text = str(err.value)
    assert "map.csv:2, column 'stance', value 'maybe'" in text
    assert "map.csv:3, column 'target_id', value 'NOPE': a cmoc_id or mechanism_id" in text
    assert "map.csv:4, column 'code', value 'a': one row per code (also on line 2)" in text
    assert "map.csv:5, column 'target_id'" in text and "not starting with =" in text
    assert "map.csv:6, column 'code'" in text
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("code;target_id;stance\n")
    with pytest.raises(QdaImportError, match="the header 'code,target_id,stance'"):
        read_mapping_file(bad_header)


def test_source_ids_are_safe_and_unique():
    names = ["Mabêl 2ième.txt", '=HYPERLINK("x")', "a b", "a_b", "A B", "", "-1+2", "w1"]
    ids = source_ids(names, reserved={"w1"})
    assert ids == [
        "Mabêl_2ième.txt",
        "HYPERLINK_x",
        "a_b",
        "a_b-2",
        "A_B-3",
        "document",
        "1_2",
        "w1-2",
    ]
    assert not any(i[0] in "=+-@" for i in ids)


def test_passages_of_coded_text_selections(tmp_path):
    """Issue 17, deliverable 2: the span of the source's plain text, in the archive or embedded;
    a PDF quotation's representation; else the selection's name; pictures have none."""
    qde = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="{NS1}" name="p">
 <CodeBook><Codes><Code guid="{G(2)}" name="trust" isCodable="true"/></Codes></CodeBook>
 <Sources>
  <TextSource guid="{G(31)}" name="Interview 1" plainTextPath="internal://{G(60)}.txt">
   <PlainTextSelection guid="{G(41)}" startPosition="4" endPosition="13" name="ignored">
    <Coding guid="{G(101)}"><CodeRef targetGUID="{G(2)}"/></Coding>
   </PlainTextSelection>
  </TextSource>
  <TextSource guid="{G(32)}" name="Interview 2">
   <PlainTextContent>Partners trust é each other</PlainTextContent>
   <PlainTextSelection guid="{G(42)}" startPosition="9" endPosition="16">
    <Coding guid="{G(102)}"><CodeRef targetGUID="{G(2)}"/></Coding>
   </PlainTextSelection>
  </TextSource>
  <TextSource guid="{G(33)}" name="Interview 3" plainTextPath="relative:///i3.txt">
   <PlainTextSelection guid="{G(43)}" startPosition="0" endPosition="40" name="A quotation…">
    <Coding guid="{G(103)}"><CodeRef targetGUID="{G(2)}"/></Coding>
   </PlainTextSelection>
  </TextSource>
  <PDFSource guid="{G(34)}" name="Paper.pdf">
   <PDFSelection guid="{G(44)}" page="2" firstX="1" firstY="1" secondX="2" secondY="2">
    <Representation guid="{G(45)}">
     <PlainTextContent>From the PDF</PlainTextContent></Representation>
    <Coding guid="{G(104)}"><CodeRef targetGUID="{G(2)}"/></Coding>
   </PDFSelection>
  </PDFSource>
  <PictureSource guid="{G(35)}" name="Photo.jpg">
   <PictureSelection guid="{G(46)}" firstX="1" firstY="1" secondX="2" secondY="2">
    <Coding guid="{G(105)}"><CodeRef targetGUID="{G(2)}"/></Coding>
   </PictureSelection>
  </PictureSource>
 </Sources>
</Project>"""
    path = _write_qdpx(tmp_path / "p.qdpx", qde)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(f"Sources/{G(60)}.txt", "The trust grew slowly.")
    project = refi.read(path)
    by_doc = {d.key: d.name for d in project.documents}
    got = {by_doc[doc]: texts for (doc, _), texts in project.passages.items()}
    assert got == {
        "Interview 1": (("trust gre", "characters 4-13"),),
        "Interview 2": (("trust é", "characters 9-16"),),
        "Interview 3": (("A quotation…", "characters 0-40"),),
        "Paper.pdf": (("From the PDF", "page 3"),),
    }
    notes = "\n".join(project.notes)
    assert "3 passage(s) read from the sources' plain text" in notes
    assert "1 passage(s) from the selection's name" in notes
    assert "1 coded selection(s) with no text" in notes
