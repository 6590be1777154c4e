"""``cmoc import`` end to end, as a new user would run it on the REFI-QDA standard's example.

A tiny theory base is written here; the example project (exported by ATLAS.ti 8.4) is imported
with a mapping file into a new base (``--theory``), which ``cmoc validate`` accepts and ``cmoc
fit`` fits; and as a batch that ``cmoc update`` appends. The counts in ``codings.csv`` must equal
the program's own (one reference per quotation coded; counted by hand in ``Project.qde``, see
``tests/test_import_refi.py``).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.evidence.append import plan_append

pytestmark = pytest.mark.usefixtures("mocked_sampling")  # wiring: fits drawn from the prior

EXAMPLE = Path(__file__).resolve().parent / "data" / "refi-qda" / "atlasti84_refi_spec_example.qdpx"
TINY = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]

# ATLAS.ti's references per code in the example (hand count, see test_import_refi.py)
PROGRAM_COUNTS = {
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
MAPPING = {  # code -> (target_id, stance); Feelings left out on purpose
    "cornflakes": ("C1", "supports"),
    "bacon and eggs": ("C1", "refutes"),
    "happiness": ("M1", "supports"),
    "Coke::diet Coke": ("M2", "supports"),
    "milk": ("C3", "supports"),
    "serene": ("C3", "supports"),
    "waste of time": ("C2", "refutes"),
    '"rushed"': ("C2", "supports"),
}


def write_theory(directory: Path) -> Path:
    directory.mkdir()
    (directory / "evidence.toml").write_text(
        'name = "breakfast"\ntitle = "Breakfast programme theory"\ncitation = "test"\n'
        'format = 1\nwaves = ["review"]\n\n[thresholds]\nlimited = 1\nmoderate = 2\n'
        "significant = 4\n"
    )
    (directory / "mechanisms.csv").write_text(
        "mechanism_id,name,definition\nM1,Comfort,Food as comfort\nM2,Habit,Breakfast habit\n"
    )
    (directory / "cmocs.csv").write_text(
        "cmoc_id,mechanism_id,context,outcome,sign,origin\n"
        "C1,M1,Family morning,Cereal eaten,+,prior\n"
        "C2,M2,Rushed morning,Breakfast skipped,-,prior\n"
        "C3,M1,Advertising,Milk bought,+,prior\n"
    )
    (directory / "sources.csv").write_text(
        "source_id,kind,wave\nR1,review,review\nR2,review,review\n"
    )
    (directory / "codings.csv").write_text(
        "source_id,target_id,stance,count\nR1,C1,supports,2\nR2,C2,refutes,1\nR2,M1,supports,1\n"
    )
    return directory


def write_mapping(path: Path) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "target_id", "stance"])
        for code, (target, stance) in MAPPING.items():
            writer.writerow([code, target, stance])
        writer.writerow(["Feelings", "", ""])
    return path


def expected_totals() -> Counter:
    totals: Counter = Counter()
    for code, n in PROGRAM_COUNTS.items():
        if code in MAPPING:
            totals[MAPPING[code]] += n
    return totals


def codings_totals(path: Path) -> Counter:
    totals: Counter = Counter()
    for row in csv.DictReader(path.open(encoding="utf-8")):
        totals[(row["target_id"], row["stance"])] += int(row["count"])
    return totals


def test_import_into_new_base_validate_and_fit(tmp_path, capsys):
    theory = write_theory(tmp_path / "theory")
    mapping = write_mapping(tmp_path / "map.csv")
    new = tmp_path / "new"
    args = ["import", "refi-qda", str(EXAMPLE), "--out", str(new), "--map", str(mapping)]
    assert main([*args, "--theory", str(theory), "--kind", "interview", "--wave", "w1"]) == 0
    out = capsys.readouterr().out
    assert "documents: 12 (12 sources, wave w1)" in out
    assert "codes: 14; references counted: 14; imported: 13" in out
    assert "unmapped codes: none" in out and "left out by the mapping file: Feelings" in out
    assert "1 annotation(s)" in out and "counted once" in out
    assert sorted(p.name for p in new.iterdir()) == [
        "cmocs.csv",
        "codings.csv",
        "evidence.toml",
        "excerpts.csv",
        "mechanisms.csv",
        "sources.csv",
    ]
    # the passages behind the codes: each under a coding row, never more than its count
    counts = {
        (r["source_id"], r["target_id"], r["stance"]): int(r["count"])
        for r in csv.DictReader((new / "codings.csv").open(encoding="utf-8"))
    }
    passages = list(csv.DictReader((new / "excerpts.csv").open(encoding="utf-8")))
    per_cell = Counter((r["source_id"], r["target_id"], r["stance"]) for r in passages)
    assert passages and all(n <= counts[cell] for cell, n in per_cell.items())
    assert any(r["text"].startswith("Oh, that was great. See you tomorrow?") for r in passages)
    assert (new / "cmocs.csv").read_bytes() == (theory / "cmocs.csv").read_bytes()
    # the counts equal the program's: per target and stance, and per document
    assert codings_totals(new / "codings.csv") == expected_totals()
    rows = {
        (r["source_id"], r["target_id"], r["stance"]): int(r["count"])
        for r in csv.DictReader((new / "codings.csv").open(encoding="utf-8"))
    }
    assert rows[("Pay_de_Limón_con_Base_de_Granola_Kellogg_s_.pdf", "C1", "supports")] == 2
    assert rows[("Mabel.txt", "C1", "refutes")] == 1
    sources = list(csv.DictReader((new / "sources.csv").open(encoding="utf-8")))
    assert len(sources) == 12 and {s["kind"] for s in sources} == {"interview"}

    assert main(["validate", str(new)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["fit", str(new), *TINY]) == 0
    assert (new / ".cmoc" / "fit.nc").is_file()
    capsys.readouterr()
    assert main(["summary", str(new), "--format", "csv"]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith("target_id,") and "\nC1,cmoc," in summary


def test_import_batch_for_update(tmp_path, capsys):
    """Without --theory: a batch with sources.csv and codings.csv only, which an update takes.

    The update's own validation of a batch against the base (``plan_append``, steps 1-3 of
    ``cmoc update``) is run without its two refits, to keep the test fast.
    """
    theory = write_theory(tmp_path / "theory")
    batch = tmp_path / "batch"
    mapping = write_mapping(tmp_path / "map.csv")
    args = ["import", "refi-qda", str(EXAMPLE), "--out", str(batch), "--map", str(mapping)]
    assert main([*args, "--only-coded", "--weight", "0.8"]) == 0
    assert sorted(p.name for p in batch.iterdir()) == ["codings.csv", "excerpts.csv", "sources.csv"]
    assert codings_totals(batch / "codings.csv") == expected_totals()
    sources = list(csv.DictReader((batch / "sources.csv").open(encoding="utf-8")))
    assert len(sources) == 6  # the documents with a mapped coding
    assert {s["wave"] for s in sources} == {"atlasti84_refi_spec_example"}
    assert {s["weight"] for s in sources} == {"0.8"}
    plan = plan_append(load_evidence(theory), batch)
    assert plan.wave == "atlasti84_refi_spec_example"
    n_passages = len(list(csv.DictReader((batch / "excerpts.csv").open(encoding="utf-8"))))
    assert plan.added == {"sources.csv": 6, "codings.csv": 12, "excerpts.csv": n_passages}
    assert b"atlasti84_refi_spec_example" in plan.files["evidence.toml"]


def test_import_refusals_write_nothing(tmp_path, capsys):
    theory = write_theory(tmp_path / "theory")
    new = tmp_path / "new"
    base = ["import", "refi-qda", str(EXAMPLE), "--out", str(new)]
    # no mapping: nothing follows the convention, so --strict refuses every coded code
    assert main([*base, "--strict"]) == 2
    err = capsys.readouterr().err
    assert "--strict" in err and "'cornflakes'" in err and "4 reference(s) would be lost" in err
    assert not new.exists()
    # a mapping naming a target the theory lacks
    bad = tmp_path / "bad.csv"
    bad.write_text("code,target_id,stance\ncornflakes,C7,supports\n")
    assert main([*base, "--map", str(bad), "--theory", str(theory)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:2, column 'target_id', value 'C7'" in err
    assert not new.exists()
    # an out directory that is not empty
    new.mkdir()
    (new / "keep.txt").write_text("x")
    assert main(base) == 2
    assert "a new or empty directory" in capsys.readouterr().err
    assert sorted(p.name for p in new.iterdir()) == ["keep.txt"]
    # a weight out of range
    assert main([*base[:-1], str(tmp_path / "w"), "--weight", "1.5"]) == 2
    assert "(0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()
    # a codebook alone has codes but no documents
    book = tmp_path / "book.qdc"
    book.write_text(
        '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
        '<Code guid="A0000000-0000-4000-8000-000000000001" name="cmoc"/></Codes></CodeBook>'
    )
    assert main(["import", "refi-qda", str(book), "--out", str(tmp_path / "b")]) == 2
    assert "a codebook alone cannot be imported" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    # an unknown format is a usage error
    assert main(["import", "nvivo", str(EXAMPLE), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_import_unmapped_listed_not_dropped(tmp_path, capsys):
    batch = tmp_path / "batch"
    partial = tmp_path / "partial.csv"
    partial.write_text("code,target_id,stance\ncornflakes,C1,supports\n")
    args = ["import", "refi-qda", str(EXAMPLE), "--out", str(batch), "--map", str(partial)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "unmapped codes (8, 10 reference(s) not imported):" in out
    assert "  bacon and eggs (2): not in the mapping file" in out
    assert codings_totals(batch / "codings.csv") == Counter({("C1", "supports"): 4})
