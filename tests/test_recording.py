"""``[recording]`` of ``evidence.toml``: whether refuting codes were coded, per source kind."""

from __future__ import annotations

import importlib.util
from typing import get_args

import pytest

from cmoc.cli import main
from cmoc.defaults import (
    NOT_RECORDED,
    PARTIAL,
    RECORDED,
    RECORDING,
    REFUTES_DEFAULT,
    REFUTES_INFERRED,
)
from cmoc.evidence import describe, load_evidence, validate_evidence
from cmoc.evidence.portable import evidence_differences, from_portable, to_portable
from cmoc.evidence.recording import recording_lines, refutes_recording
from cmoc.evidence.schema import EvidenceConfig, Recording, RecordingValue
from conftest import IOC, ROOT, write_base

SOURCES = (
    "source_id,kind,wave,group\nR1,review,w1,\nI1,interview,w1,site A\nI2,interview,w1,site B\n"
)
SUPPORTS_ONLY = "source_id,target_id,stance,count\nR1,C1,supports,2\nI1,C1,supports,1\n"


def _base(tmp_path, recording: str = "", codings: str = SUPPORTS_ONLY, name: str = "base"):
    """A base with a review and two interviews; ``recording`` is appended to evidence.toml."""
    directory = write_base(tmp_path / name, SOURCES, codings)
    if recording:
        with open(directory / "evidence.toml", "a", encoding="utf-8") as fh:
            fh.write("\n" + recording)
    return directory


def _problems(directory):
    return [(p.file, p.line, p.column, p.value, p.expected) for p in validate_evidence(directory)]


def _validate(capsys, directory) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["validate", str(directory)])
    out, err = capsys.readouterr()
    return status, out, err


# ---------------------------------------------------------------------------------------------
# vocabulary and parsing


def test_the_vocabulary_lives_in_defaults():
    assert RECORDING == ("recorded", "partial", "not recorded")
    assert get_args(get_args(RecordingValue)[0]) == RECORDING
    assert REFUTES_DEFAULT == NOT_RECORDED and REFUTES_INFERRED == PARTIAL


def test_declared_values_are_read(tmp_path):
    directory = _base(
        tmp_path, '[recording]\nrefutes = { review = "recorded", interview = "partial" }\n'
    )
    base = load_evidence(directory)
    assert base.config.recording.refutes == {"review": RECORDED, "interview": PARTIAL}
    assert base.config.recording.refutes_for("review") == RECORDED
    rec = refutes_recording(base)
    assert list(rec) == ["interview", "review"]
    assert [(r.refutes, r.origin) for r in rec.values()] == [
        (PARTIAL, "declared"),
        (RECORDED, "declared"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        '[recording.refutes]\nreview = "not recorded"\n',
        '[recording]\nrefutes.review = "not recorded"\n',
        'recording = { refutes = { review = "not recorded" } }\n',
    ],
    ids=["dotted table", "dotted key", "inline"],
)
def test_every_toml_spelling_is_read(tmp_path, text):
    # the recording table may follow top-level keys only: put it where TOML allows
    base = load_evidence(_base(tmp_path, text))
    assert base.config.recording.declared("review") == NOT_RECORDED
    assert base.config.recording.declared("interview") is None


def test_kinds_not_declared_and_without_refutes_are_not_recorded(tmp_path):
    base = load_evidence(_base(tmp_path))
    assert base.config.recording == Recording()
    rec = refutes_recording(base)
    assert {k: (r.refutes, r.origin, r.refutes_rows) for k, r in rec.items()} == {
        "interview": (NOT_RECORDED, "default", 0),
        "review": (NOT_RECORDED, "default", 0),
    }


def test_a_kind_with_refutes_rows_is_partial_unless_declared(tmp_path):
    codings = SUPPORTS_ONLY + "I2,C1,refutes,1\n"
    base = load_evidence(_base(tmp_path, codings=codings))
    rec = refutes_recording(base)
    assert (rec["interview"].refutes, rec["interview"].origin) == (PARTIAL, "inferred")
    assert rec["interview"].refutes_rows == 1
    assert (rec["review"].refutes, rec["review"].origin) == (NOT_RECORDED, "default")
    declared = load_evidence(
        _base(tmp_path, '[recording]\nrefutes = { interview = "recorded" }\n', codings, "b2")
    )
    rec = refutes_recording(declared)
    assert (rec["interview"].refutes, rec["interview"].origin) == (RECORDED, "declared")


def test_refutes_totals_count_for_every_kind_they_cover(tmp_path):
    # a wave total covers the review and the interviews; a group total only interview I1
    codings = (
        "source_id,target_id,stance,count,count_min,count_max\n"
        "R1,C1,supports,2,,\nw1,M1,refutes,,1,\nsite A,C1,refutes,,1,3\n"
    )
    base = load_evidence(_base(tmp_path, codings=codings))
    rec = refutes_recording(base)
    assert (rec["review"].refutes, rec["review"].refutes_rows) == (PARTIAL, 1)
    assert (rec["interview"].refutes, rec["interview"].refutes_rows) == (PARTIAL, 2)
    assert base.config.recording.refutes_for("review", {"review"}) == PARTIAL
    assert base.config.recording.refutes_for("review", ()) == NOT_RECORDED


# ---------------------------------------------------------------------------------------------
# bad input: exit status 2 naming the file, the key, the value and what was expected


def test_a_kind_no_source_has_yet_is_accepted_and_said(tmp_path, capsys):
    # a recording declared for a wave still to come (or the evidence up to an earlier wave)
    # is valid; validate says that no source has the kind, so that a misspelling is seen
    directory = _base(
        tmp_path, '[recording]\nrefutes = { review = "recorded", interviews = "partial" }\n'
    )
    assert _problems(directory) == []
    status, out, err = _validate(capsys, directory)
    assert status == 0 and "Traceback" not in err
    assert "interviews = partial (declared; no source of this kind yet)" in out


@pytest.mark.parametrize("value", ["yes", "Recorded", "not_recorded", ""])
def test_a_bad_value_names_the_allowed_ones(tmp_path, capsys, value):
    directory = _base(
        tmp_path, f'[recording.refutes]\nreview = "recorded"\ninterview = "{value}"\n'
    )
    toml = (directory / "evidence.toml").read_text().splitlines()
    line = next(i for i, t in enumerate(toml, start=1) if t.startswith("interview"))
    [(file, at, key, shown, expected)] = _problems(directory)
    assert (file, at, key, shown) == ("evidence.toml", line, "recording.refutes.interview", value)
    for allowed in RECORDING:
        assert repr(allowed) in expected
    status, _, err = _validate(capsys, directory)
    assert status == 2
    assert "'recorded', 'partial', 'not recorded'" in err


def test_a_bad_value_in_an_inline_table_is_found_on_its_line(tmp_path):
    directory = _base(tmp_path, '[recording]\nrefutes = { review = "recorded", interview = 1 }\n')
    toml = (directory / "evidence.toml").read_text().splitlines()
    [(file, at, key, shown, _)] = _problems(directory)
    assert (file, key, shown) == ("evidence.toml", "recording.refutes.interview", "1")
    assert toml[at - 1].startswith("refutes = {")


def test_unknown_keys_in_recording_are_refused(tmp_path, capsys):
    directory = _base(tmp_path, '[recording]\nsupports = { review = "recorded" }\n')
    toml = (directory / "evidence.toml").read_text().splitlines()
    [(file, at, key, _, expected)] = _problems(directory)
    assert (file, key) == ("evidence.toml", "recording.supports")
    assert toml[at - 1].startswith("supports")
    assert expected == "only the keys refutes (unknown key)"
    assert _validate(capsys, directory)[0] == 2


def test_refutes_must_be_a_table_of_kinds(tmp_path):
    directory = _base(tmp_path, '[recording]\nrefutes = "recorded"\n')
    [(file, _, key, shown, expected)] = _problems(directory)
    assert (file, key, shown) == ("evidence.toml", "recording.refutes", "recorded")
    assert expected.startswith("a table of source kinds: refutes = { KIND = ")


# ---------------------------------------------------------------------------------------------
# what cmoc validate shows


def test_validate_shows_every_kind_and_where_its_value_comes_from(tmp_path, capsys):
    codings = SUPPORTS_ONLY + "I2,C1,refutes,1\n"
    directory = _base(tmp_path, '[recording]\nrefutes = { review = "recorded" }\n', codings)
    status, out, _ = _validate(capsys, directory)
    assert status == 0
    lines = out.splitlines()
    at = lines.index("refutes recorded, by source kind ([recording] of evidence.toml):")
    assert lines[at + 1 : at + 3] == [
        "  interview = partial (not declared; inferred from 1 refutes row covering its sources)",
        "  review = recorded (declared)",
    ]
    base = load_evidence(directory)
    assert [f"  {x}" for x in recording_lines(base)] == lines[at + 1 : at + 3]
    assert describe(base) == "\n".join(lines[:-1])  # all but "valid"


def test_validate_says_default_when_nothing_is_declared(tmp_path, capsys):
    _, out, _ = _validate(capsys, _base(tmp_path))
    assert "  review = not recorded (default: not declared, no refutes rows for its sources)" in (
        out.splitlines()
    )


# ---------------------------------------------------------------------------------------------
# the recording travels with the evidence (fit files) and keeps old hashes


def test_portable_round_trip_keeps_the_recording(tmp_path):
    base = load_evidence(
        _base(tmp_path, '[recording]\nrefutes = { review = "recorded", interview = "partial" }\n')
    )
    config_json, tables = to_portable(base)
    rebuilt = from_portable(config_json, tables)
    assert rebuilt.config.recording == base.config.recording
    assert rebuilt.evidence_hash == base.evidence_hash
    assert recording_lines(rebuilt) == recording_lines(base)


def test_a_recording_changes_the_hash_and_is_named_as_a_difference(tmp_path):
    plain = load_evidence(_base(tmp_path, name="plain"))
    declared = load_evidence(
        _base(tmp_path, '[recording]\nrefutes = { review = "recorded" }\n', name="declared")
    )
    assert plain.evidence_hash != declared.evidence_hash
    [said] = evidence_differences(plain, declared)
    assert said.startswith("evidence.toml differs") and "recording" in said


def test_no_recording_serialises_as_before_the_table_existed(tmp_path):
    # an empty [recording] is left out, so the hash of a base that declares none (and so every
    # fit saved before [recording] existed) is unchanged
    base = load_evidence(_base(tmp_path))
    assert "recording" not in base.config.model_dump(mode="json")
    assert "recording" not in base.config.model_dump_json()
    old_json = base.config.model_dump_json()
    assert EvidenceConfig.model_validate_json(old_json) == base.config
    empty = load_evidence(_base(tmp_path, "[recording]\nrefutes = {}\n", name="empty"))
    assert empty.evidence_hash == base.evidence_hash


# ---------------------------------------------------------------------------------------------
# the bundled IOC base


def test_the_ioc_base_declares_both_kinds():
    base = load_evidence(IOC)
    assert (
        set(base.config.recording.refutes)
        == set(base.sources["kind"])
        == {
            "review",
            "interview",
        }
    )
    rec = refutes_recording(base)
    assert rec["review"].refutes == NOT_RECORDED
    assert rec["interview"].refutes == PARTIAL
    assert all(r.origin == "declared" for r in rec.values())


def test_the_ioc_build_script_writes_evidence_toml_as_committed():
    path = ROOT / "evidence" / "ioc" / "build_from_published.py"
    spec = importlib.util.spec_from_file_location("ioc_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # constants and functions only; main() is not run
    assert (IOC / "evidence.toml").read_text(encoding="utf-8") == module.EVIDENCE_TOML
    assert "[recording]" in module.EVIDENCE_TOML
