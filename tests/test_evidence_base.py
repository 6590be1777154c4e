"""A valid evidence base: frames, lookups, waves, hashes and evidence levels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cmoc.evidence import (
    EvidenceBase,
    Thresholds,
    band_text,
    describe,
    group_levels_table,
    group_prefixes,
    level_of_band,
    level_of_count,
    load_evidence,
    mechanism_bands,
    observed_codes,
    validate_evidence,
)
from evidence_fixtures import BASE_FILES, make_base, replace_line, with_line
from evidence_fixtures import tiny_base as tiny_base  # the fixture

IOC = Path(__file__).resolve().parents[1] / "evidence" / "ioc"


@pytest.fixture
def base(tiny_base) -> EvidenceBase:
    return load_evidence(tiny_base)


def is_str(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series) and not pd.api.types.is_numeric_dtype(series)


# ---------------------------------------------------------------------------------------------
# frames


def test_valid_base_loads(tiny_base, base):
    assert validate_evidence(tiny_base) == []
    assert base.path == tiny_base.resolve()
    assert base.config.name == "tiny"
    assert base.waves == ["review", "interviews"]
    assert base.config.thresholds == Thresholds(limited=1, moderate=3, significant=5)
    assert base.config.group_levels == ["interview set", "organisation", "participant"]


def test_load_accepts_a_string_path(tiny_base):
    assert load_evidence(str(tiny_base)).evidence_hash == load_evidence(tiny_base).evidence_hash


def test_mechanisms_frame(base):
    m = base.mechanisms
    assert m.index.name == "mechanism_id"
    assert list(m.index) == ["M1", "M2", "M3"]
    assert list(m.columns) == ["name", "definition", "origin", "cluster", "citation", "line"]
    assert list(m["origin"]) == ["prior", "prior", "novel"]
    assert list(m["line"]) == [2, 3, 4]
    assert m["line"].dtype == "int64"
    assert is_str(m["name"])


def test_cmocs_frame(base):
    c = base.cmocs
    assert c.index.name == "cmoc_id"
    assert list(c.index) == ["C1", "C2", "C3", "C4"]
    assert list(c.columns) == [
        "mechanism_id",
        "context",
        "outcome",
        "sign",
        "origin",
        "statement",
        "revises",
        "basis",
        "citation",
        "line",
    ]
    assert list(c["mechanism_id"]) == ["M1", "M1", "M2", "M2"]
    assert list(c["sign"]) == ["+", "+", "-", "+"]
    assert list(c["origin"]) == ["prior", "prior", "prior", "novel"]
    assert c.at["C4", "revises"] == "C3"
    assert c["revises"].isna().tolist() == [True, True, True, False]
    assert c.at["C2", "statement"] == "Faith raises trust, and so performance"
    assert c.at["C2", "context"] == "M2"


def test_sources_frame(base):
    s = base.sources
    assert s.index.name == "source_id"
    assert list(s.index) == ["R1", "R2", "I1", "I2", "I3", "I4"]
    assert list(s.columns) == [
        "kind",
        "wave",
        "group",
        "weight",
        "exposure",
        "title",
        "year",
        "basis",
        "citation",
        "note",
        "line",
    ]
    assert list(s["kind"]) == ["review"] * 2 + ["interview"] * 4
    assert list(s["wave"]) == ["review"] * 2 + ["interviews"] * 4
    assert s["weight"].dtype == "float64"
    assert s["exposure"].dtype == "float64"
    assert s["year"].dtype == "Int64"
    # empty weight and exposure mean 1
    assert s["weight"].tolist() == [0.8, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert s["exposure"].tolist() == [1.0, 1.0, 1200.0, 1.0, 1.0, 1.0]
    assert s["year"].tolist() == [2019, 2020, pd.NA, pd.NA, pd.NA, pd.NA]
    assert s["group"].isna().tolist() == [True, True, False, False, False, False]
    assert s.at["I4", "group"] == "stakeholder/Regulator"


def test_codings_frame(base):
    c = base.codings
    assert list(c.columns) == [
        "source_id",
        "target_id",
        "stance",
        "count_min",
        "count_max",
        "basis",
        "citation",
        "note",
        "line",
        "banded",
        "scope",
    ]
    assert list(c.index) == list(range(15))
    assert c["count_min"].dtype == "int64"
    assert c["count_max"].dtype == "Int64"
    assert c["banded"].dtype == "bool"
    assert c["line"].tolist() == list(range(2, 17))
    for column in ("source_id", "target_id", "stance", "scope"):
        assert is_str(c[column]), column


def test_exact_counts_have_equal_bounds(base):
    c = base.codings.set_index("line")
    exact = c[~c["banded"]]
    assert exact.index.tolist() == [2, 3, 4, 5, 10, 13, 14, 15, 16]
    assert (exact["count_min"] == exact["count_max"]).all()
    assert exact["count_min"].tolist() == [2, 1, 1, 3, 1, 2, 2, 1, 2]


def test_banded_rows_keep_their_bounds(base):
    c = base.codings.set_index("line")
    banded = c[c["banded"]]
    assert banded.index.tolist() == [6, 7, 8, 9, 11, 12]
    assert banded["count_min"].tolist() == [1, 3, 5, 1, 1, 1]
    # unbounded bands keep count_max missing
    assert banded["count_max"].isna().tolist() == [True, False, True, False, True, False]
    assert banded["count_max"].dropna().tolist() == [4, 2, 3]


def test_scope(base):
    assert base.codings["scope"].tolist() == [
        "source",
        "source",
        "source",
        "source",
        "wave",
        "wave",
        "wave",
        "wave",
        "source",
        "group",
        "group",
        "source",
        "source",
        "source",
        "source",
    ]


def test_edge_counts_are_valid(tmp_path):
    text = replace_line(BASE_FILES["codings.csv"], 5, "R2,C3,supports,0,,,,,")
    text = replace_line(text, 7, "review,M2,supports,,3,3,inferred,,")
    text = replace_line(text, 9, "interviews,M3,supports,,0,,reported,,")
    c = load_evidence(make_base(tmp_path, **{"codings.csv": text})).codings.set_index("line")
    assert (c.at[5, "count_min"], c.at[5, "count_max"], c.at[5, "banded"]) == (0, 0, False)
    # a band with equal bounds stays a band
    assert (c.at[7, "count_min"], c.at[7, "count_max"], c.at[7, "banded"]) == (3, 3, True)
    assert c.at[9, "count_min"] == 0
    assert pd.isna(c.at[9, "count_max"])


def test_actions_frame(base):
    a = base.actions
    assert a.index.name == "action_id"
    assert list(a.index) == ["A1", "A2", "A3"]
    assert a["rests_on"].tolist() == [("C1", "M1"), ("C4",), ("M3", "C2")]
    assert a.at["A1", "statement"].startswith("If vision is shared, then")


def test_bom_is_not_part_of_the_first_column(tmp_path):
    base = load_evidence(make_base(tmp_path, **{"cmocs.csv": "\ufeff" + BASE_FILES["cmocs.csv"]}))
    assert base.cmocs.index.name == "cmoc_id"
    assert list(base.cmocs.index) == ["C1", "C2", "C3", "C4"]


def test_cells_are_stripped(tmp_path):
    text = replace_line(BASE_FILES["codings.csv"], 5, " R2 , C3 ,supports, 3 ,,,,,")
    base = load_evidence(make_base(tmp_path, **{"codings.csv": text}))
    row = base.codings.set_index("line").loc[5]
    assert (row["source_id"], row["target_id"], row["count_min"]) == ("R2", "C3", 3)


def test_empty_origin_means_prior(tmp_path):
    text = replace_line(BASE_FILES["mechanisms.csv"], 3, "M2,Faith,Belief,,cognitive")
    base = load_evidence(make_base(tmp_path, **{"mechanisms.csv": text}))
    assert base.mechanisms.at["M2", "origin"] == "prior"


def test_default_thresholds(tmp_path):
    toml = BASE_FILES["evidence.toml"].split("[thresholds]")[0]
    base = load_evidence(make_base(tmp_path, **{"evidence.toml": toml}))
    assert base.config.thresholds == Thresholds(limited=1, moderate=3, significant=5)


# ---------------------------------------------------------------------------------------------
# lookups


@pytest.mark.parametrize(
    ("label", "members"),
    [
        ("I3", ["I3"]),
        ("R1", ["R1"]),
        ("review", ["R1", "R2"]),
        ("interviews", ["I1", "I2", "I3", "I4"]),
        ("case study", ["I1", "I2", "I3"]),
        ("case study/Org A", ["I1", "I2"]),
        ("case study/Org A/P1", ["I1", "I2"]),
        ("case study/Org B", ["I3"]),
        ("stakeholder", ["I4"]),
        ("stakeholder/Regulator", ["I4"]),
    ],
)
def test_members(base, label, members):
    assert base.members(label) == members


@pytest.mark.parametrize("label", ["X9", "case study/Org", "Org A", "P1", "Review"])
def test_members_of_unknown_label(base, label):
    with pytest.raises(KeyError):
        base.members(label)


def test_groups(base):
    assert base.groups == {
        "case study": ["I1", "I2", "I3"],
        "case study/Org A": ["I1", "I2"],
        "case study/Org A/P1": ["I1", "I2"],
        "case study/Org B": ["I3"],
        "case study/Org B/P2": ["I3"],
        "stakeholder": ["I4"],
        "stakeholder/Regulator": ["I4"],
    }


@pytest.mark.parametrize(
    ("group", "prefixes"),
    [
        ("case study/Org A/P1", ["case study", "case study/Org A", "case study/Org A/P1"]),
        ("stakeholder", ["stakeholder"]),
        ("a / b", ["a", "a/b"]),
        (None, []),
        ("", []),
    ],
)
def test_group_prefixes(group, prefixes):
    assert group_prefixes(group) == prefixes


def test_targets(base):
    t = base.targets
    assert t.index.name == "target_id"
    assert list(t.index) == ["C1", "C2", "C3", "C4", "M1", "M2", "M3"]
    assert list(t.columns) == ["target_type", "mechanism_id", "origin", "name"]
    assert t["target_type"].tolist() == ["cmoc"] * 4 + ["mechanism"] * 3
    assert t["mechanism_id"].tolist() == ["M1", "M1", "M2", "M2", "M1", "M2", "M3"]
    assert t["origin"].tolist() == ["prior", "prior", "prior", "novel", "prior", "prior", "novel"]
    assert t["name"].tolist() == [
        "Shared vision -> Collaboration",
        "M2 -> Performance",
        "Staff turnover -> Faith",
        "Consistent leadership -> Faith",
        "Trust",
        "Faith",
        "Capacity",
    ]


def test_small_lookups(base):
    assert base.target_type("C2") == "cmoc"
    assert base.target_type("M3") == "mechanism"
    assert base.wave_index("review") == 0
    assert base.wave_index("interviews") == 1
    assert base.cmoc("C4")["revises"] == "C3"
    assert base.mechanism("M3")["name"] == "Capacity"


def test_coding_waves(base):
    assert base.coding_waves().tolist() == ["review"] * 6 + ["interviews"] * 9


# ---------------------------------------------------------------------------------------------
# evidence up to a wave


def test_up_to_first_wave_drops_later_novel_theory(base):
    early = base.up_to("review")
    assert early.waves == ["review"]
    assert list(early.sources.index) == ["R1", "R2"]
    # C4 (novel, first coded in the interviews) and M3 (novel mechanism) are dropped
    assert list(early.cmocs.index) == ["C1", "C2", "C3"]
    assert list(early.mechanisms.index) == ["M1", "M2"]
    assert early.codings["line"].tolist() == [2, 3, 4, 5, 6, 7]
    assert list(early.codings.index) == list(range(6))
    assert list(early.targets.index) == ["C1", "C2", "C3", "M1", "M2"]
    # actions resting on anything dropped go too
    assert list(early.actions.index) == ["A1"]
    assert early.evidence_hash != base.evidence_hash
    # the full base is unchanged
    assert list(base.cmocs.index) == ["C1", "C2", "C3", "C4"]
    assert len(base.codings) == 15
    assert base.waves == ["review", "interviews"]


def test_up_to_last_wave_keeps_everything(base):
    full = base.up_to("interviews")
    assert full.waves == base.waves
    for name in ("mechanisms", "cmocs", "sources", "actions"):
        assert list(getattr(full, name).index) == list(getattr(base, name).index), name
    pd.testing.assert_frame_equal(full.codings, base.codings)
    assert full.cmocs.at["C4", "revises"] == "C3"


def test_up_to_keeps_novel_theory_coded_early(tmp_path):
    text = with_line(BASE_FILES["codings.csv"], "R1,C4,supports,1,,,,,")
    early = load_evidence(make_base(tmp_path, **{"codings.csv": text})).up_to("review")
    assert list(early.cmocs.index) == ["C1", "C2", "C3", "C4"]
    assert early.cmocs.at["C4", "revises"] == "C3"
    assert list(early.actions.index) == ["A1", "A2"]
    assert early.codings["line"].tolist() == [2, 3, 4, 5, 6, 7, 17]


def test_up_to_clears_revises_of_dropped_cmocs(tmp_path):
    cmocs = with_line(BASE_FILES["cmocs.csv"], "C5,M1,Early,Outcome,+,prior,,C4,,")
    early = load_evidence(make_base(tmp_path, **{"cmocs.csv": cmocs})).up_to("review")
    assert list(early.cmocs.index) == ["C1", "C2", "C3", "C5"]
    assert pd.isna(early.cmocs.at["C5", "revises"])


# ---------------------------------------------------------------------------------------------
# evidence hash


def test_hash_is_stable_and_independent_of_the_path(tmp_path, tiny_base):
    first = load_evidence(tiny_base).evidence_hash
    assert len(first) == 64
    assert int(first, 16) >= 0
    assert load_evidence(tiny_base).evidence_hash == first
    copy = shutil.copytree(tiny_base, tmp_path / "elsewhere")
    assert load_evidence(copy).evidence_hash == first


@pytest.mark.parametrize("name", list(BASE_FILES))
def test_hash_ignores_content_neutral_edits(tiny_base, name):
    before = load_evidence(tiny_base).evidence_hash
    suffix = "# edited\n" if name.endswith(".toml") else "\n"
    with (tiny_base / name).open("a", encoding="utf-8") as fh:
        fh.write(suffix)
    after = load_evidence(tiny_base)
    # only the bytes changed, not the evidence: the hash (and so a saved fit) stays
    assert len(after.codings) == 15
    assert after.evidence_hash == before


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("evidence.toml", 'title = "', 'title = "Re-titled '),
        ("mechanisms.csv", "M1,Trust,", "M1,Trusting,"),
        ("cmocs.csv", "Collaboration,+,", "Collaboration,-,"),
        ("sources.csv", ",0.8,", ",0.7,"),
        ("codings.csv", "R1,C1,supports,2", "R1,C1,supports,3"),
        ("actions.csv", "collaboration rises", "collaboration grows"),
    ],
)
def test_hash_changes_with_the_content_of_any_file(tiny_base, name, old, new):
    before = load_evidence(tiny_base).evidence_hash
    text = (tiny_base / name).read_text(encoding="utf-8")
    assert old in text, f"{name} has no {old!r} to edit"
    (tiny_base / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    assert load_evidence(tiny_base).evidence_hash != before


def test_hash_changes_without_actions(tmp_path, tiny_base):
    other = make_base(tmp_path / "other", **{"actions.csv": None})
    assert load_evidence(other).evidence_hash != load_evidence(tiny_base).evidence_hash


def test_hash_ignores_other_files(tiny_base):
    before = load_evidence(tiny_base).evidence_hash
    (tiny_base / "README.md").write_text("notes\n")
    (tiny_base / ".cmoc").mkdir()
    (tiny_base / ".cmoc" / "fit.nc").write_bytes(b"\x00")
    assert load_evidence(tiny_base).evidence_hash == before


# ---------------------------------------------------------------------------------------------
# evidence levels


@pytest.mark.parametrize(
    ("count", "level"),
    [
        (0, "none"),
        (1, "limited"),
        (2, "limited"),
        (3, "moderate"),
        (4, "moderate"),
        (5, "significant"),
        (50, "significant"),
    ],
)
def test_level_of_count(count, level):
    assert level_of_count(count, Thresholds()) == level


@pytest.mark.parametrize(
    ("lo", "hi", "level"),
    [
        (0, 0, "none"),
        (1, 2, "limited"),
        (3, 4, "moderate"),
        (5, None, "significant"),
        (5, 9, "significant"),
        (1, None, "at least limited"),
        (3, None, "at least moderate"),
        (2, 3, "limited-moderate"),
        (1, 5, "limited-significant"),
        (0, 2, "none-limited"),
    ],
)
def test_level_of_band(lo, hi, level):
    assert level_of_band(lo, hi, Thresholds()) == level


def test_level_uses_the_thresholds():
    t = Thresholds(limited=2, moderate=4, significant=8)
    assert level_of_count(1, t) == "none"
    assert level_of_count(7, t) == "moderate"
    assert level_of_band(3, 4, t) == "limited-moderate"


@pytest.mark.parametrize(
    ("lo", "hi", "text"),
    [(0, 0, "0"), (3, 3, "3"), (3, 4, "3-4"), (5, None, ">=5"), (1, None, ">=1")],
)
def test_band_text(lo, hi, text):
    assert band_text(lo, hi) == text


OBSERVED = [
    ("C1", "review", 2, 2, "2", "limited"),
    ("C1", "interviews", 2, None, ">=2", "at least limited"),  # I1 1 + stakeholder >=1
    ("C2", "review", 1, 1, "1", "limited"),
    ("C2", "interviews", 3, 5, "3-5", "moderate-significant"),  # Org A 1-3 + I3 2
    ("C3", "review", 3, 3, "3", "moderate"),
    ("C3", "interviews", 0, 0, "0", "none"),  # only refuting codes
    ("C4", "review", 0, 0, "0", "none"),
    ("C4", "interviews", 3, 3, "3", "moderate"),  # I1 2 + I3 1
    ("M1", "review", 1, None, ">=1", "at least limited"),
    ("M1", "interviews", 5, None, ">=5", "significant"),
    ("M2", "review", 3, 4, "3-4", "moderate"),
    ("M2", "interviews", 0, 0, "0", "none"),
    ("M3", "review", 0, 0, "0", "none"),
    ("M3", "interviews", 1, 2, "1-2", "limited"),
]


def test_observed_codes(base):
    obs = observed_codes(base)
    assert list(obs.columns) == [
        "target_id",
        "wave",
        "codes_min",
        "codes_max",
        "codes",
        "evidence_level",
    ]
    assert obs["codes_max"].dtype == "Int64"
    got = [
        (
            r.target_id,
            r.wave,
            r.codes_min,
            None if pd.isna(r.codes_max) else r.codes_max,
            r.codes,
            r.evidence_level,
        )
        for r in obs.itertuples()
    ]
    assert got == OBSERVED


def test_observed_codes_use_the_thresholds(tmp_path):
    toml = BASE_FILES["evidence.toml"].replace("limited = 1", "limited = 2")
    obs = observed_codes(load_evidence(make_base(tmp_path, **{"evidence.toml": toml})))
    levels = obs.set_index(["target_id", "wave"])["evidence_level"]
    assert levels[("C1", "review")] == "limited"
    assert levels[("C2", "review")] == "none"
    assert levels[("M3", "interviews")] == "none-limited"


def test_group_levels_table(base):
    table = group_levels_table(base)
    assert table.to_dict("records") == [
        {"level": 1, "name": "interview set", "groups": 2, "sources": 4},
        {"level": 2, "name": "organisation", "groups": 3, "sources": 4},
        {"level": 3, "name": "participant", "groups": 2, "sources": 3},
    ]


def test_group_levels_table_without_names(tmp_path):
    toml = "".join(
        line
        for line in BASE_FILES["evidence.toml"].splitlines(keepends=True)
        if not line.startswith("group_levels")
    )
    table = group_levels_table(load_evidence(make_base(tmp_path, **{"evidence.toml": toml})))
    assert table["name"].tolist() == ["level 1", "level 2", "level 3"]


def test_mechanism_bands(base):
    bands = mechanism_bands(base)
    assert list(bands.index) == ["M1", "M2", "M3"]
    assert bands[("review", "codes")].tolist() == [">=1", "3-4", ""]
    assert bands[("review", "level")].tolist() == ["at least limited", "moderate", ""]
    assert bands[("interviews", "codes")].tolist() == [">=5", "", "1-2"]
    assert bands[("interviews", "level")].tolist() == ["significant", "", "limited"]


def test_describe(base):
    text = describe(base)
    lines = text.splitlines()
    assert lines[0] == "tiny: A tiny evidence base"
    assert lines[1] == "  format 1; waves: review -> interviews"
    assert "mechanisms: 3 (2 prior, 1 novel)" in lines
    assert "CMOCs: 4 (3 prior, 1 novel; 1 revise an earlier CMOC)" in lines
    assert "sources: 6 by kind and wave" in lines
    assert (
        "groups: interview set: 2 (4 sources); organisation: 3 (4 sources); "
        "participant: 2 (3 sources)"
    ) in lines
    assert (
        "codings: 15 rows (9 per source, 4 wave totals, 2 group totals); 6 banded; "
        "13 supports, 2 refutes"
    ) in lines
    assert "  rows by wave: review 6, interviews 9" in lines
    assert "actions: 3" in lines
    assert "  review: 1 at least limited, 1 moderate" in lines
    assert "  interviews: 1 limited, 1 significant" in lines


# ---------------------------------------------------------------------------------------------
# the bundled IOC base (README targets)


@pytest.fixture(scope="module")
def ioc() -> EvidenceBase:
    return load_evidence(IOC)


def test_ioc_ledger_records_both_waves_as_they_are(ioc):
    from cmoc.evidence.ledger import check_ledger, read_ledger

    entries = read_ledger(IOC)
    assert [(e.entry, e.wave, e.file) for e in entries] == [
        (1, "review", "sources.csv"),
        (2, "review", "codings.csv"),
        (3, "interviews", "sources.csv"),
        (4, "interviews", "codings.csv"),
    ]
    assert [e.rows for e in entries] == [46, 51, 32, 36]
    assert check_ledger(ioc, entries) == []
    assert ioc.notes == ()  # no note on the flagship: its ledger is complete and true


def test_ioc_published_targets(ioc):
    assert len(ioc.mechanisms) == 14
    assert ioc.mechanisms["origin"].value_counts().to_dict() == {"prior": 13, "novel": 1}
    assert len(ioc.cmocs) == 45
    assert int((ioc.cmocs["origin"] == "novel").sum()) == 7
    assert len(ioc.actions) == 35
    assert ioc.sources["kind"].value_counts().to_dict() == {"review": 46, "interview": 32}
    participants = group_levels_table(ioc).set_index("name").at["participant", "groups"]
    assert participants == 29
    obs = observed_codes(ioc)
    mech = obs[obs["target_id"].isin(ioc.mechanisms.index) & (obs["wave"] == "interviews")]
    assert mech["evidence_level"].value_counts().to_dict() == {
        "moderate": 9,
        "significant": 4,
        "limited": 1,
    }


def test_atomic_writes_keep_modes_and_respect_the_umask(tmp_path):
    """Atomic writes go through a private temp file, but the result is not left private."""
    import os
    import stat

    from cmoc.evidence import atomic_write_text, write_directory

    old = os.umask(0o022)
    try:
        new = tmp_path / "new.txt"
        atomic_write_text(new, "x")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        kept = tmp_path / "kept.txt"
        kept.write_text("old")
        kept.chmod(0o640)
        atomic_write_text(kept, "new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "new"
        out = write_directory(tmp_path / "dir", {"a.csv": "a\n1\n"})
        assert stat.S_IMODE(out.stat().st_mode) == 0o755
    finally:
        os.umask(old)


def test_observed_codes_do_not_count_rows_nested_in_a_total_twice(tmp_path):
    """I1 is in case study/Org A, whose total (1-3) already holds I1's code for C2."""
    codings = BASE_FILES["codings.csv"] + "I1,C2,supports,1,,,,,\n"
    obs = observed_codes(load_evidence(make_base(tmp_path, **{"codings.csv": codings})))
    c2 = obs.set_index(["target_id", "wave"]).loc[("C2", "interviews")]
    assert (c2["codes_min"], c2["codes_max"], c2["codes"]) == (3, 5, "3-5")  # not 4-6
