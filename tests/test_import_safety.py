"""A corpus of hostile QDA exports, built here: each is refused cleanly and nothing is written.

Every case goes through the command line (``cmoc import refi-qda FILE --out DIR``): exit status
2, a message naming the file and what was expected, no traceback, and ``--out`` never created.
"""

from __future__ import annotations

import builtins
import csv
import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from cmoc.cli import main
from cmoc.evidence import EvidenceError
from cmoc.evidence.qda import Limits, UnsafeInputError, csv_text, import_qda, refi
from cmoc.evidence.qda.safety import escape_formula, open_archive, read_member, safe_member_name

NS = "urn:QDA-XML:project:1.0"
CODE = "A0000000-0000-4000-8000-000000000001"


def project_xml(sources: str = "", head: str = "", attrs: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{head}'
        f'<Project xmlns="{NS}" name="p"{attrs}><CodeBook><Codes>'
        f'<Code guid="{CODE}" name="cmoc"><Code guid="{CODE[:-1]}2" name="C1"/></Code>'
        f"</Codes></CodeBook><Sources>{sources}</Sources></Project>"
    )


def text_source(name: str, n: int, extra: str = "", attrs: str = "") -> str:
    return (
        f'<TextSource guid="B0000000-0000-4000-8000-{n:012d}" name="{name}"{attrs}>{extra}'
        f'<PlainTextSelection guid="C0000000-0000-4000-8000-{n:012d}" startPosition="0" '
        f'endPosition="1"><Coding guid="D0000000-0000-4000-8000-{n:012d}">'
        f'<CodeRef targetGUID="{CODE[:-1]}2"/></Coding></PlainTextSelection></TextSource>'
    )


def qdpx(path: Path, members: dict[str, bytes | str], method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


def refuse(tmp_path: Path, capsys, file: Path, *needles: str) -> str:
    """Import through the CLI; assert exit 2, the message, and nothing written."""
    out = tmp_path / "out"
    code = main(["import", "refi-qda", str(file), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    for needle in needles:
        assert needle in err, err
    assert not out.exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())  # no scratch left
    return err


# --- XML ------------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Project [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol9;"/>
"""

QUADRATIC = (
    '<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY a "'
    + "x" * 50_000
    + '">]><Project xmlns="urn:QDA-XML:project:1.0" name="'
    + "&a;" * 5_000
    + '"/>'
)


def test_billion_laughs_refused(tmp_path, capsys):
    path = qdpx(tmp_path / "laughs.qdpx", {"project.qde": BILLION_LAUGHS})
    refuse(tmp_path, capsys, path, "laughs.qdpx: project.qde", "without a DTD", "DOCTYPE")
    plain = tmp_path / "laughs.qdc"
    plain.write_text(BILLION_LAUGHS)
    with pytest.raises(UnsafeInputError, match="entity expansion"):
        refi.read(plain)


def test_quadratic_blowup_refused(tmp_path, capsys):
    path = qdpx(tmp_path / "quad.qdpx", {"project.qde": QUADRATIC})
    refuse(tmp_path, capsys, path, "without a DTD")


def test_external_entity_never_read(tmp_path, capsys, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    for target in (f"file://{secret}", "file:///etc/passwd"):
        xml = (
            f'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY xxe SYSTEM "{target}">]>'
            f'<Project xmlns="{NS}" name="&xxe;"/>'
        )
        path = qdpx(tmp_path / "xxe.qdpx", {"project.qde": xml})
        err = refuse(tmp_path, capsys, path, "without a DTD")
        assert "TOP SECRET" not in err and "root:" not in err
        path.unlink()
    assert not any("secret" in p or "passwd" in p for p in opened), opened
    monkeypatch.undo()


def test_any_dtd_refused(tmp_path, capsys):
    path = tmp_path / "dtd.qde"
    path.write_text(project_xml(head="<!DOCTYPE Project>"))
    refuse(tmp_path, capsys, path, "dtd.qde", "DOCTYPE Project")


# --- zip archives ---------------------------------------------------------------------------


def test_zip_bomb_high_ratio_refused(tmp_path, capsys):
    path = qdpx(
        tmp_path / "bomb.qdpx",
        {"project.qde": project_xml(), "sources/bomb.txt": b"\0" * (20 * 1024 * 1024)},
    )
    info = zipfile.ZipFile(path).getinfo("sources/bomb.txt")
    assert info.file_size / info.compress_size > 200
    refuse(tmp_path, capsys, path, "member 'sources/bomb.txt'", "compression ratio", "zip bomb")


def _patch_sizes(path: Path, member: str, size: int) -> None:
    """Make both headers of ``member`` declare ``size`` uncompressed bytes (a lying header)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    local = data.find(b"PK\x03\x04" + b"")
    while local != -1:
        n = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30 : local + 30 + n] == name:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        n = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + n] == name:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


def test_lying_header_refused(tmp_path, capsys):
    big = project_xml(sources="".join(text_source(f"d{i}", i) for i in range(2000)))
    path = qdpx(tmp_path / "liar.qdpx", {"project.qde": big})
    _patch_sizes(path, "project.qde", 1000)  # claims 1,000 bytes; inflates to ~800 kB
    assert zipfile.ZipFile(path).getinfo("project.qde").file_size == 1000
    refuse(tmp_path, capsys, path, "member 'project.qde'", "intact member")


def test_member_larger_than_cap_refused(tmp_path):
    path = qdpx(tmp_path / "big.qdpx", {"project.qde": project_xml() + " " * 5000})
    small = Limits(max_member_bytes=1000)
    with pytest.raises(UnsafeInputError, match="at most 1,000 bytes"):
        refi.read(path, limits=small)
    with open_archive(path) as archive:
        info = archive.getinfo("project.qde")
        assert read_member(archive, info, "big.qdpx").startswith(b"<?xml")
        with pytest.raises(UnsafeInputError, match="at most 1,000 bytes"):
            read_member(archive, info, "big.qdpx", small)


def test_measured_ratio_refused(tmp_path):
    """The ratio is also measured on the bytes actually inflated, whatever the headers say."""
    path = qdpx(tmp_path / "r.qdpx", {"project.qde": project_xml() + " " * (3 * 1024 * 1024)})
    limits = Limits(max_ratio=1e9)  # declared ratio passes open_archive...
    with open_archive(path, limits) as archive:
        info = archive.getinfo("project.qde")
        with pytest.raises(UnsafeInputError, match="compression ratio"):
            read_member(archive, info, "r.qdpx", Limits(max_ratio=50))


def test_too_many_members_refused(tmp_path, capsys):
    members = {"project.qde": project_xml()}
    members.update({f"sources/{i}.txt": "" for i in range(10_000)})
    path = qdpx(tmp_path / "many.qdpx", members, method=zipfile.ZIP_STORED)
    refuse(tmp_path, capsys, path, "at most 10,000 members (it has 10,001)")


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ("../evil.qde", "without '..'"),
        ("sources/../../evil.txt", "without '..'"),
        ("/etc/evil.qde", "relative member name"),
        ("C:/evil.qde", "relative member name"),
        ("..\\evil.qde", "without backslashes"),
        ("sources\\..\\..\\evil.txt", "without backslashes"),
    ],
)
def test_traversal_and_absolute_names_refused(tmp_path, capsys, member, why):
    path = qdpx(tmp_path / "trav.qdpx", {"project.qde": project_xml(), member: "x"})
    refuse(tmp_path, capsys, path, repr(member), why)
    assert not (tmp_path.parent / "evil.qde").exists()


def test_symlink_member_refused(tmp_path, capsys):
    path = tmp_path / "link.qdpx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.qde", project_xml())
        link = zipfile.ZipInfo("sources/passwd")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    refuse(tmp_path, capsys, path, "member 'sources/passwd'", "symbolic link")


def test_duplicate_member_names_refused(tmp_path, capsys):
    path = tmp_path / "dup.qdpx"
    with zipfile.ZipFile(path, "w") as z, pytest.warns(UserWarning, match="Duplicate"):
        z.writestr("project.qde", project_xml())
        z.writestr("project.qde", project_xml(sources=text_source("x", 1)))
    refuse(tmp_path, capsys, path, "unique")


def test_element_flood_refused(tmp_path):
    path = tmp_path / "flood.qde"
    path.write_text(project_xml(sources="".join(text_source(f"d{i}", i) for i in range(20))))
    assert len(refi.read(path).documents) == 20
    with pytest.raises(UnsafeInputError, match="at most 50 elements"):
        refi.read(path, limits=Limits(max_xml_elements=50))


def test_member_names_rule():
    assert safe_member_name("Sources/interview 1.txt") is None
    assert safe_member_name("project.qde") is None
    for bad in ("", "a\0b", "/x", "\\x", "../x", "a/../../x", "D:x", "a\nb"):
        assert safe_member_name(bad), bad


def test_not_a_zip_and_oversized_file(tmp_path, capsys):
    fake = tmp_path / "fake.qdpx"
    fake.write_bytes(b"PK\x03\x04 not really")
    refuse(tmp_path, capsys, fake, "fake.qdpx", "zip archive")
    plain = tmp_path / "big.qde"
    plain.write_text(project_xml() + " " * 2000)
    with pytest.raises(UnsafeInputError, match="at most 1,000 bytes"):
        refi.read(plain, limits=Limits(max_file_bytes=1000))


# --- paths to the exporter's disk -----------------------------------------------------------


def test_exporter_paths_never_opened(tmp_path, capsys, monkeypatch):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "doc.txt").write_text("never read")
    sources = (
        text_source("a", 1, attrs=f' plainTextPath="absolute:///{secret}/doc.txt"')
        + text_source("b", 2, attrs=' plainTextPath="relative:///doc.txt"')
        + f'<PDFSource guid="E0000000-0000-4000-8000-000000000001" name="c" '
        f'path="absolute:///{secret}/doc.txt"/>'
    )
    xml = project_xml(sources=sources, attrs=f' basePath="{secret}"')
    path = qdpx(tmp_path / "paths.qdpx", {"project.qde": xml})
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.chdir(secret)  # relative:/// resolved against here would hit doc.txt
    project = refi.read(path)
    monkeypatch.undo()
    assert len(project.documents) == 3 and sum(project.counts.values()) == 2
    assert any("exporter's disk" in n for n in project.notes)
    assert not any("doc.txt" in p or str(secret) == p for p in opened), opened
    assert os.stat(secret / "doc.txt").st_size == len("never read")


# --- formula injection in the CSV written ----------------------------------------------------

# names are stripped of outer spaces, so tab and CR are checked on csv_text itself below; "-1"
# is text from the export (escaped), unlike the numbers cmoc writes (counts, weights)
HOSTILE_NAMES = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "-1"]


def test_formula_cells_escaped_in_written_csv(tmp_path):
    variables = (
        '<Variables><Variable guid="F0000000-0000-4000-8000-000000000001" name="kind" '
        'typeOfVariable="Text"/><Variable guid="F0000000-0000-4000-8000-000000000002" '
        'name="group" typeOfVariable="Text"/></Variables>'
    )
    values = (
        '<VariableValue><VariableRef targetGUID="F0000000-0000-4000-8000-000000000001"/>'
        "<TextValue>=1+1</TextValue></VariableValue>"
        '<VariableValue><VariableRef targetGUID="F0000000-0000-4000-8000-000000000002"/>'
        "<TextValue>@evil/-org</TextValue></VariableValue>"
    )
    sources = "".join(
        text_source(name.replace('"', "&quot;"), i, extra=values if i == 0 else "")
        for i, name in enumerate(HOSTILE_NAMES)
    )
    xml = project_xml(sources=sources).replace("<CodeBook>", variables + "<CodeBook>", 1)
    path = qdpx(tmp_path / "inject.qdpx", {"project.qde": xml})
    out = tmp_path / "batch"
    result = import_qda("refi-qda", path, out, wave="-w1")
    assert result.imported == len(HOSTILE_NAMES)
    text = (out / "sources.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["title"] for r in rows] == ["'" + n for n in HOSTILE_NAMES]
    assert rows[0]["kind"] == "'=1+1" and rows[0]["group"] == "'@evil/-org"
    assert rows[1]["kind"] == "document" and rows[1]["group"] == ""
    assert {r["wave"] for r in rows} == {"'-w1"}
    for row in rows:  # no cell, id included, starts like a formula
        for value in row.values():
            assert not value or value[0] not in "=+-@\t\r", row
    codings = list(csv.DictReader((out / "codings.csv").open()))
    assert [c["count"] for c in codings] == ["1"] * len(HOSTILE_NAMES)
    assert {c["stance"] for c in codings} == {"supports"}


def test_csv_text_rules():
    text = csv_text(
        ["id", "sign", "n", "x", "note"],
        [
            {"id": "C1", "sign": "+", "n": -3, "x": -0.5, "note": "-bad"},
            {"id": "=cmd", "sign": "-", "n": 0, "x": None, "note": "\rz"},
        ],
        verbatim=("sign",),
    )
    assert text == "id,sign,n,x,note\nC1,+,-3,-0.5,'-bad\n'=cmd,-,0,,\"'\nz\"\n"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[2] == ["'=cmd", "-", "0", "", "'\nz"]
    assert csv_text(["a"], [{"a": "\tTAB"}]) == "a\n'\tTAB\n"
    assert escape_formula("plain") == "plain" and escape_formula("'=x") == "'=x"
    assert escape_formula("") == ""


def test_unsafe_error_is_an_evidence_error():
    assert issubclass(UnsafeInputError, EvidenceError)
