#!/usr/bin/env python3
"""Rebuild the `ioc` evidence base (format 1) from the hand-extracted published tables.

Usage:
    python3 evidence/ioc/build_from_published.py [PUBLISHED_DIR]

PUBLISHED_DIR defaults to $IOC_PUBLISHED or /work/shared/ioc-published (the hand-extracted
tables of P1, P2 and P3; see its README.md). The script writes, next to itself:

    evidence.toml  mechanisms.csv  cmocs.csv  sources.csv  codings.csv  actions.csv  ledger.csv

`ledger.csv` records both waves as built (cmoc's own ledger functions, imported from the
checkout's src/; see docs/updating.md, "The ledger"), so that an edit of the review wave shows in
every cmoc command; its time is fixed (LEDGER_RECORDED_AT) to keep the output deterministic.
`evidence.toml` is written from EVIDENCE_TOML below (its thresholds are P3's bands, D2; its
`[recording]` of refutes per source kind is D28). It does NOT write README.md (maintained by hand;
it documents every encoding decision this script applies, numbered D1, D2, ...).

What comes from the published tables (read at run time):
  - mechanism names, definitions, P2 mechanism types, P3 status and evidence levels;
  - the P1 Table 3 context/mechanism/outcome cells (quoted into `statement`);
  - P3 Table 3 action statements, clusters and the extractor's mechanism tags;
  - P3 Table 1 participants (interview codes, organisations, roles, interviews per person);
  - P1 Table 1 / P2 Table 1 study names.
What is an encoding decision (written out below as data, each with the README decision number):
  - context/outcome/sign/origin/basis of every CMOC, which P3 rows merge into P1 rows,
    which links become CMOCs, which review rows are the same study, which CMOC ids an
    action statement rests on.

Standard library only for the CSVs (cmoc for ledger.csv); the output is deterministic (fixed row order, "\\n" line endings,
csv.QUOTE_MINIMAL, UTF-8 without BOM). The script checks the published validation targets
(14 mechanisms; 13 affirmed + 1 novel; 4/9/1 evidence levels; 32 interviews with 29
participants; 7 novel CMOCs; 35 action statements in clusters of 5,7,1,8,3,2,3,3,3) and
every cross-reference, and exits non-zero if any fails.
"""

# Exact quotations from the papers are kept on one line each so they can be checked by grep.
# ruff: noqa: E501

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEDGER_RECORDED_AT = "2026-11-24T21:39:09+00:00"
"""When the IOC evidence entered the repository (commit df619b9): both waves at once."""

NOT_STATED = "(not stated in P3 Table 2)"

# evidence.toml, written as it stands (D2 thresholds, D17 group levels, D28 recording of refutes,
# D29 nesting)
EVIDENCE_TOML = """\
# Evidence base, format 1 (see README.md in this directory for every encoding decision).
name = "ioc"
title = "How, when and why inter-organisational collaborations (IOCs) in healthcare work: realist review (prior theory) and realist evaluation interviews"
citation = "Aunger JA, Millar R, Rafferty AM, Mannion R, Greenhalgh J, Faulks D, McLeod H (2022). How, when, and why do inter-organisational collaborations in healthcare work? A realist evaluation. PLoS One 17(4): e0266899. doi:10.1371/journal.pone.0266899. Prior theory: Aunger JA, Millar R, Greenhalgh J, et al. (2021). Why do some inter-organisational collaborations in healthcare work when others do not? A realist review. Systematic Reviews 10: 82. doi:10.1186/s13643-021-01630-8; and Aunger JA, Millar R, Greenhalgh J (2021). When trust, confidence, and faith collide: refining a realist theory of how and why inter-organisational collaborations in healthcare work. BMC Health Services Research 21: 602. doi:10.1186/s12913-021-06630-x."
format = 1
waves = ["review", "interviews"]

# Project extension: the levels of the '/'-separated `group` path in sources.csv
# (interview sources only; review sources have no group).
group_levels = ["interview set", "organisation or stakeholder type", "participant"]

# P3 Table 2 footnote: limited = 1 or 2 codes, moderate = 3 or more, significant = 5 or more.
[thresholds]
limited = 1
moderate = 3
significant = 5

# Whether disconfirming evidence was coded, per source kind (README D28).
# review = "not recorded": P1 formulated CMOCs from what included studies offered ("Data were
# extracted from included studies according to relevance to the realist review"); neither P1 nor
# P2 counts disconfirming evidence, and the review rows are "at least one" supporting code (D22).
# interview = "partial": P3 tested the prior theory for refutation ("we aimed to test CMOCs against
# these data to explore whether previously identified mechanisms, CMOCs, and causal links between
# them were affirmed, refuted, or revised") but publishes no count of refuting codes, only that
# none was refuted; its bands count codes "present in interviews" (Table 2 footnote). Refutes were
# looked for; the base's zero refutes are a lower bound, not a count (D23, D24).
[recording]
refutes = { review = "not recorded", interview = "partial" }

# Whether a CMOC's codes are also codes of its mechanism (README D29). P3 Table 2 gives one
# evidence level per mechanism row (codes "present in interviews", footnote) and names in that
# row the CMOCs the interviews showed ("Affirmed - Limited evidence ... a new CMOC was identified
# in which unaccountable leaders reduced the ability to resolve inter-organisational conflict"):
# a CMOC found in a row was found among the row's codes, so a mechanism's band caps its CMOCs'.
[nesting]
cmocs_in_mechanism = true
"""


def read(published: Path, name: str) -> list[dict[str, str]]:
    with open(published / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write(name: str, header: list[str], rows: list[dict[str, object]]) -> None:
    path = HERE / name
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(
            fh,
            fieldnames=header,
            lineterminator="\n",
            quoting=csv.QUOTE_MINIMAL,
            extrasaction="raise",
        )
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in header})
    os.replace(tmp, path)


def write_text(name: str, text: str) -> None:
    path = HERE / name
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def fail(msg: str) -> None:
    sys.stderr.write(f"build_from_published: {msg}\n")
    sys.exit(1)


# --------------------------------------------------------------------------------------------
# Mechanisms (D3-D6)
# --------------------------------------------------------------------------------------------
BAND = {  # P3 footnote: limited = 1 or 2 codes, moderate = 3 or more, significant = 5 or more
    "Limited": (1, 2, "reported"),
    "Moderate": (3, 4, "inferred"),  # upper bound 4 inferred from non-overlapping bands (D20)
    "Significant": (5, None, "reported"),
}


def build_mechanisms(published: Path) -> list[dict[str, object]]:
    rows = [r for r in read(published, "mechanisms.csv") if r["mech_id"].startswith("M")]
    out = []
    for r in rows:
        mid = r["mech_id"]
        cluster = r["mech_type_p2"].strip()
        if cluster == "cognitive processes":  # D5: normalise P2's one plural spelling
            cluster = "cognitive process"
        cites = ["P3 Table 2"]
        if mid == "M02":  # D4: definition cell missing in the P3 seed copy; P2's definition used
            cites = [
                "P3 Table 2 (name, status, evidence level)",
                "P2 Table 2 (definition; P3 definition cell not available)",
            ]
        elif r["name_p2"] and not r["name_p2"].startswith("(not visible"):
            cites.append("P2 Table 2")
        definition = r["definition"].replace(" [P2 ref 83]", "")
        out.append(
            {
                "mechanism_id": mid,
                "name": r["name_p3"],
                "definition": definition,
                "origin": "novel" if r["p3_status"] == "Novel" else "prior",
                "cluster": cluster,
                "citation": "; ".join(cites),
                "_level": r["p3_evidence_level"],
                "_status": r["p3_status"],
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# CMOCs (D7-D15). One entry per CMOC; P1 cells and P3 sentences are quoted into `statement`.
# sign conventions (D8): free-text context -> effect of the context as worded on the outcome;
# mechanism-id context -> relation between that mechanism's level and the outcome;
# outcome not stated -> direction of the context's effect on the CMOC's own mechanism.
# --------------------------------------------------------------------------------------------
P1_ENC = {
    # cmoc_id: (context, outcome, sign, basis, note)
    "P1-01": (
        "High partnership functioning and trust level",
        "Task achievement",
        "+",
        "reported",
        "",
    ),
    "P1-02": (
        "Low partnership functioning and trust level",
        "Task achievement",
        "-",
        "reported",
        "",
    ),
    "P1-03": ("M05", "Performance", "+", "reported", "context 'High faith' = M05"),
    "P1-04": (
        "M03",
        "Performance",
        "+",
        "inferred",
        "context 'strategies of interpersonal communication' recoded to M03 by the encoder",
    ),
    "P1-05": (
        "M08",
        "Performance",
        "+",
        "reported",
        "context 'Greater confidence' = M08; qualifier 'in mandated or integrative collaboration' kept in statement",
    ),
    "P1-06": ("Intra-organisational conflict", "M05", "-", "reported", ""),
    "P1-07": ("Unambitious aims", "M05", "-", "reported", ""),
    "P1-08": ("Absent actors", "M05", "-", "reported", ""),
    "P1-09": ("Greater organisational flexibility", "M05", "+", "reported", ""),
    "P1-10": ("Workforce instability", "M05", "-", "reported", ""),
    "P1-11": ("Conducting ongoing evaluation", "M05", "+", "reported", ""),
    "P1-12": ("Clarity of roles", "M05", "+", "reported", ""),
    "P1-13": (
        "M13",
        "M02",
        "+",
        "inferred",
        "context 'Appropriate accountability arrangements' recoded to M13 by the encoder",
    ),
    "P1-14": ("Slow pace of development", "M02", "-", "reported", ""),
    "P1-15": (
        "M11",
        "M02",
        "+",
        "inferred",
        "context 'Higher cultural compatibility' recoded to M11 (cultural integration) by the encoder",
    ),
    "P1-16": ("M09", "M02", "+", "reported", "context 'Shared vision' = M09"),
    "P1-17": ("Improper cessation of collaboration", "M02", "-", "reported", ""),
    "P1-18": ("Task failure", "M02", "-", "reported", ""),
    "P1-19": (
        "Destructive conflict resolution strategy",
        "M05",
        "-",
        "reported",
        "outcome cell names faith and perception of progress; faith (first named) encoded",
    ),
    "P1-20": (
        "Constructive conflict resolution strategy",
        "M05",
        "+",
        "reported",
        "outcome cell names faith and perception of progress; faith (first named) encoded",
    ),
    "P1-21": ("Existing successful collaborations", "Ambition in objectives", "+", "reported", ""),
    "P1-22": (
        "Legal agreements",
        "M04",
        "+",
        "inferred",
        "outcome cell truncated in the source ('Greater risk threshold, greater ambi...'); "
        "risk threshold (first named) encoded as M04",
    ),
}

# P3 Table 2 'Key refinements' rows (extractor ids P3-R01..P3-R22). Quotes are exact P3 text.
P3_ENC = {
    # id: dict(row = P3 Table 2 row it is quoted from, mech, context, outcome, sign, origin,
    #          basis, quote, why)
    "P3-R01": dict(
        row="M02",
        mech="M02",
        context="Perception of loss of organisational sovereignty",
        outcome=NOT_STATED,
        sign="-",
        origin="novel",
        basis="reported",
        quote="A perception of loss of organisational sovereignty as a context reduced trust as a mechanism, forming a new CMOC.",
    ),
    "P3-R02": dict(
        row="M02",
        mech="M02",
        context="Mistrust of regulators",
        outcome=NOT_STATED,
        sign="-",
        origin="novel",
        basis="inferred",
        quote="Mistrust of regulators also formed a new CMOC.",
        why="mechanism (trust) from the row it is listed in; sign inferred from 'mistrust'",
    ),
    "P3-R03": dict(
        row="M05",
        mech="M05",
        context="M07",
        outcome=NOT_STATED,
        sign="-",
        origin="prior",
        basis="reported",
        quote="A high perception of task complexity was found to reduce faith, in line with our prior theory.",
    ),
    "P3-R04": dict(
        row="M05",
        mech="M05",
        context="M06",
        outcome=NOT_STATED,
        sign="+",
        origin="prior",
        basis="inferred",
        quote="It was also found that lower capacity also lowered faith.",
        why="'capacity' identified with M06 perception of capacity; origin prior inferred (not among P3's 7 new CMOCs)",
    ),
    "P3-R05": dict(
        row="M05",
        mech="M05",
        context="Consistency of leadership",
        outcome=NOT_STATED,
        sign="+",
        origin="novel",
        basis="inferred",
        quote="Consistency of leadership formed a new CMOC with faith.",
        why="direction not stated; + inferred (P3 Table 3 lists 'consistency of approach' among beneficial leadership traits enhancing faith)",
    ),
    "P3-R06": dict(
        row="M07",
        mech="M07",
        context="Local population characteristics",
        outcome=NOT_STATED,
        sign="+",
        origin="novel",
        basis="inferred",
        quote="Local population characteristics were evidenced in the interviews to affect the perception of complexity of implementation, forming a new CMOC.",
        why="direction not stated ('affect'); + (raise perceived complexity) chosen as the reading the wording implies",
    ),
    "P3-R07": dict(
        row="M07",
        mech="M03",
        context="M07",
        outcome="Collaboration",
        sign="-",
        origin="novel",
        basis="inferred",
        quote="The perception of task complexity was also shown to potentially reduce ability to communicate between partners, affecting collaboration and forming a novel CMOC.",
        why="complexity -> communication '-' is stated; the direction of 'affecting collaboration' is not, adverse reading inferred",
    ),
    "P3-R08": dict(
        row="M07",
        mech="M07",
        context="Unfavourable regulatory environment",
        outcome=NOT_STATED,
        sign="+",
        origin="prior",
        basis="reported",
        quote="An unfavourable regulatory environment was found to increase perception of complexity, supporting our prior theory.",
    ),
    "P3-R09": dict(
        row="M08",
        mech="M08",
        context="Contract",
        outcome="Smoothness of collaboration",
        sign="+",
        origin="prior",
        basis="inferred",
        quote="There was evidence for contract enabling smoother collaboration, and a link to accountability, but little elaboration on [cell truncated in the seed copy]",
        why="placement under confidence (mechanism) is the row's; origin prior inferred (not among P3's 7 new CMOCs); cell truncated",
    ),
    "P3-R10": dict(
        row="M09",
        mech="M05",
        context="M09",
        outcome=NOT_STATED,
        sign="+",
        origin="prior",
        basis="reported",
        quote="A clear vision was found to increase faith, whereas sharedness of vision was shown to increase trust, which supports our prior theory.",
    ),
    # P3-R11 and P3-R12 affirm P1 rows: no CMOC of their own (see MERGED)
    "P3-R13": dict(
        row="M10",
        mech="M10",
        context="Quick wins implemented early on",
        outcome="M02",
        sign="+",
        origin="prior",
        basis="inferred",
        quote="Having ongoing evaluation was essential to perception of progress, as well as implementing ‘quick wins’ early on to drive trust.",
        why="origin prior inferred (not among P3's 7 new CMOCs); mechanism placement from the row",
    ),
    "P3-R14": dict(
        row="M10",
        mech="M05",
        context="M10",
        outcome=NOT_STATED,
        sign="+",
        origin="prior",
        basis="reported",
        quote="A stronger perception of progress was also shown to increase faith.",
    ),
    "P3-R15": dict(
        row="M10",
        mech="M10",
        context="Peer pressure",
        outcome="M05",
        sign="-",
        origin="novel",
        basis="inferred",
        quote="A novel CMOC was identified whereby a context of peer pressure can affect perception of progress and thereby faith.",
        why="direction not stated ('can affect'); '-' chosen as the reading the wording implies (see README)",
    ),
    "P3-R16": dict(
        row="M11",
        mech="M11",
        context="Better cultural integration process (e.g. cultural due diligence before the IOC begins)",
        outcome="Performance of the collaboration",
        sign="+",
        origin="prior",
        basis="reported",
        quote="A better cultural integration process, such as performing cultural due diligence prior to beginning the IOC, improved performance of the collaboration, as found in our prior literature-based theory.",
    ),
    "P3-R17": dict(
        row="M11",
        mech="M11",
        context="Cross-sector working",
        outcome=NOT_STATED,
        sign="-",
        origin="prior",
        basis="reported",
        quote="Cross-sector working was shown to increase difficulty of cultural integration, in line with our prior theory.",
    ),
    "P3-R18": dict(
        row="M12",
        mech="M02",
        context="M12",
        outcome=NOT_STATED,
        sign="-",
        origin="prior",
        basis="reported",
        quote="Conflict negatively impacted both trust and faith in the interviews, which is in line with findings from the prior theory.",
    ),
    "P3-R19": dict(
        row="M12",
        mech="M05",
        context="M12",
        outcome=NOT_STATED,
        sign="-",
        origin="prior",
        basis="reported",
        quote="Conflict negatively impacted both trust and faith in the interviews, which is in line with findings from the prior theory.",
    ),
    "P3-R20": dict(
        row="M13",
        mech="M13",
        context="Unaccountable leaders",
        outcome=NOT_STATED,
        sign="-",
        origin="novel",
        basis="reported",
        quote="Accountability was found to be impacted by leadership approach and a new CMOC was identified in which unaccountable leaders reduced the ability to resolve inter-organisational conflict.",
    ),
    "P3-R21": dict(
        row="M14",
        mech="M14",
        context="Stakeholder involvement",
        outcome="M05",
        sign="+",
        origin="prior",
        basis="inferred",
        quote="Perception of legitimacy was improved by a context of stakeholder involvement, which supports our prior theory. [...] This mechanism impacts faith.",
        why="the direction of legitimacy -> faith is not stated ('impacts'); + inferred",
    ),
    "P3-R22": dict(
        row="M14",
        mech="M14",
        context="Mandated collaboration (in many cases perceived as a takeover)",
        outcome="M05",
        sign="-",
        origin="prior",
        basis="inferred",
        quote="It also encompassed the concept of mandated collaboration being, in many cases, perceived as a takeover. This mechanism impacts faith.",
        why="no direction stated; '-' inferred from 'perceived as a takeover'; origin prior inferred (not among P3's 7 new CMOCs)",
    ),
}

# P3 rows that are the same as a P1 CMOC: encoded as interview-wave evidence on the P1 CMOC (D12)
MERGED = {
    "P3-R11": (
        "P1-16",
        "A clear vision was found to increase faith, whereas sharedness of vision was shown to increase trust, which supports our prior theory.",
    ),
    "P3-R12": (
        "P1-11",
        "Having ongoing evaluation was essential to perception of progress, as well as implementing ‘quick wins’ early on to drive trust.",
    ),
}

# links.csv entries encoded as prior CMOCs because no CMOC expresses them (D15)
LINK_CMOCS = [
    dict(
        cmoc_id="P2-L02",
        link="L02",
        mech="M01",
        context="M04",
        outcome="Collaborative effectiveness",
        sign="+",
        basis="inferred",
        statement="P2 Table 2 ('Most frequent outcome' column): risk threshold -> collaborative behaviour; "
        "collaborative behaviour -> collaborative effectiveness. P2 gives no separate context: the context is the "
        "mechanism risk threshold itself. Signs inferred.",
        citation="P2 Table 2 (Risk threshold and Collaborative behaviour rows); extraction links.csv L02, L01",
    ),
    dict(
        cmoc_id="P2-L08",
        link="L08",
        mech="M04",
        context="M08",
        outcome="M01",
        sign="+",
        basis="inferred",
        statement="P2 Table 2 ('Most frequent outcome' column): confidence -> risk threshold (cell truncated "
        "as 'Risk thresho'); risk threshold -> collaborative behaviour. Signs inferred.",
        citation="P2 Table 2 (Confidence and Risk threshold rows); extraction links.csv L08, L02",
    ),
    dict(
        cmoc_id="P1-L11",
        link="L11",
        mech="M10",
        context="M02",
        outcome="M05",
        sign="+",
        basis="inferred",
        statement="P1 Table 3: trust changes perception of progress ('Reduced trust -> ... reduced perception "
        "of progress'; 'Improved trust -> ... improved perception pf progress'), and perception of "
        "progress changes faith (Perception of progress section). Composed by the encoder.",
        citation="P1 Table 3 (Trust section rows 19-20; Perception of progress section rows 6-12); extraction links.csv L11, L04",
    ),
]

NOVEL_EXPECTED = {"P3-R01", "P3-R02", "P3-R05", "P3-R06", "P3-R07", "P3-R15", "P3-R20"}


def build_cmocs(published: Path) -> tuple[list[dict[str, object]], dict[str, str]]:
    ext = {r["cmoc_id"]: r for r in read(published, "cmocs.csv")}
    rows: list[dict[str, object]] = []
    row_of: dict[str, str] = {}  # cmoc_id -> P3 Table 2 mechanism row name (for citations)
    for cid, (context, outcome, sign, basis, note) in P1_ENC.items():
        e = ext[cid]
        n = int(cid.split("-")[1])
        section = (
            e["section"]
            .replace("PARTNERSHIP PERFORMANCE", "Partnership performance")
            .replace("PARTNERSHIP FUNCTIONING", "Partnership functioning")
        )
        stmt = (
            f"Context: {e['context']}; mechanism: {e['mechanism']}; outcome(s): {e['outcome']} "
            f"(P1 Table 3, {section})"
        )
        if note:
            stmt += f". Encoding: {note}"
        rows.append(
            dict(
                cmoc_id=cid,
                mechanism_id=e["mechanism_mech_id"],
                context=context,
                outcome=outcome,
                sign=sign,
                origin="prior",
                statement=stmt,
                revises="",
                basis=basis,
                citation=f"P1 Table 3, row {n} (row number assigned by the extractor)",
            )
        )
    mech_rows = {r["mech_id"]: r["name_p3"] for r in read(published, "mechanisms.csv")}
    for cid, d in P3_ENC.items():
        mrow = mech_rows[d["row"]]  # the P3 Table 2 row (mechanism) the sentence is in
        row_of[cid] = mrow
        stmt = f"P3 Table 2 ({mrow} row): \u201c{d['quote']}\u201d"
        if d.get("why"):
            stmt += f" Encoding: {d['why']}."
        label = {"novel": "new CMOC in P3", "prior": "prior theory affirmed in P3"}[d["origin"]]
        rows.append(
            dict(
                cmoc_id=cid,
                mechanism_id=d["mech"],
                context=d["context"],
                outcome=d["outcome"],
                sign=d["sign"],
                origin=d["origin"],
                statement=stmt,
                revises="",
                basis=d["basis"],
                citation=f"P3 Table 2, {mrow} row, Key refinements ({label})",
            )
        )
    for d in LINK_CMOCS:
        rows.append(
            dict(
                cmoc_id=d["cmoc_id"],
                mechanism_id=d["mech"],
                context=d["context"],
                outcome=d["outcome"],
                sign=d["sign"],
                origin="prior",
                statement=d["statement"],
                revises="",
                basis=d["basis"],
                citation=d["citation"],
            )
        )
    # every P3-R row is encoded exactly once (own CMOC or merged)
    p3_ids = sorted(k for k in ext if k.startswith("P3-R"))
    covered = sorted(list(P3_ENC) + list(MERGED))
    if p3_ids != covered:
        fail(f"P3 rows not all encoded: {sorted(set(p3_ids) ^ set(covered))}")
    novel = {r["cmoc_id"] for r in rows if r["origin"] == "novel"}
    if novel != NOVEL_EXPECTED:
        fail(f"novel CMOCs {sorted(novel)} != {sorted(NOVEL_EXPECTED)}")
    for cid in NOVEL_EXPECTED:
        if "novel" not in ext[cid]["status"]:
            fail(f"{cid} is not marked novel in the extraction")
    return rows, row_of


# --------------------------------------------------------------------------------------------
# Sources (D16-D19)
# --------------------------------------------------------------------------------------------
# P2 Table 1 rows that are the same study as a P1 Table 1 row (D18): P2 study -> P1 study
SAME_STUDY = {
    "Adedoyin et al. (2016)": "Adedoyin et al.",
    "Ball et al. (2010)": "Ball et al.",
    "Cereste, Doherty and Travers, (2003)": "Cereste et al.",
}


def interview_sources(published: Path) -> list[dict[str, object]]:
    rows = []
    people = read(published, "interviews.csv")
    for p in sorted(people, key=lambda r: int(r["interview_code"])):
        code = int(p["interview_code"])
        n = int(p["n_interviews_inferred"])
        if p["group"] == "case study":
            level2 = p["case_study_org"]
            who = f"{p['role']}, {p['case_study_org']}"
        else:
            level2 = p["role"]
            who = f"{p['role']}, stakeholder"
        if "/" in level2:
            fail(f"group label contains '/': {level2}")
        for k in range(1, n + 1):
            rows.append(
                dict(
                    source_id=f"I{code:02d}-{k}",
                    kind="interview",
                    wave="interviews",
                    group=f"{p['group']}/{level2}/P{code:02d}",
                    weight="",
                    exposure="",
                    title=f"Interview code {code} ({who}), interview {k} of {n}",
                    year="",
                )
            )
    return rows


def review_sources(published: Path) -> list[dict[str, object]]:
    inc = read(published, "included_sources.csv")
    p1 = [r for r in inc if r["paper"] == "P1" and r["table"].startswith("P1 Table 1")]
    p2 = [r for r in inc if r["paper"] == "P2"]
    p2_year = {}
    for r in p2:
        if r["study"] in SAME_STUDY:
            p2_year[SAME_STUDY[r["study"]]] = _year(r["study"])
    rows = []
    for r in p1:
        title = r["study"]
        if r["study"] in p2_year:  # year known only from the P2 Table 1 row of the same study
            title = f"{title} ({p2_year[r['study']]})"
        rows.append(
            dict(
                kind="review",
                wave="review",
                group="",
                weight="",
                exposure="",
                title=title,
                year=_year(title),
            )
        )
    for r in p2:
        if r["study"] in SAME_STUDY:
            continue
        rows.append(
            dict(
                kind="review",
                wave="review",
                group="",
                weight="",
                exposure="",
                title=r["study"],
                year=_year(r["study"]),
            )
        )
    for i, r in enumerate(rows, 1):
        r["source_id"] = f"R{i:02d}"
    return rows


def _year(title: str) -> str:
    import re

    m = re.search(r"\((?:[^()]*?)(\d{4})[a-z]?\)\s*$", title)
    return m.group(1) if m else ""


# --------------------------------------------------------------------------------------------
# Actions (D25): CMOC ids added only where the statement clearly restates a CMOC
# --------------------------------------------------------------------------------------------
ACTION_CMOCS = {
    "AS01": ["P3-R05"],  # 'consistency of approach' -> faith
    "AS07": ["P1-16"],  # shared vision -> reduced conflict
    "AS08": ["P3-R13"],  # quick wins -> trust
    "AS09": ["P3-R08", "P3-R03"],  # regulatory environment -> complexity -> faith
    "AS12": ["P3-R01"],  # loss of organisational autonomy -> trust
    "AS15": ["P1-16"],  # clear, shared vision -> avoids conflict -> trust
    "AS17": ["P3-R03"],  # complexity -> faith
    "AS18": ["P1-11", "P3-R14"],  # ongoing evaluation -> perception of progress -> faith
    "AS20": ["P1-10"],  # staff turnover (workforce instability) -> faith
    "AS23": ["P1-05", "P3-R09"],  # confidence / contract in mandated collaboration
    "AS25": ["P1-05", "P3-R09"],  # formalisation through contract -> collaborative behaviour
    "AS26": ["P1-13"],  # accountability in contract -> conflict -> trust
    "AS27": ["P1-13"],  # clear accountability -> conflict avoided
    "AS28": ["P1-20"],  # dispute mechanisms (constructive resolution) -> trust
    "AS29": ["P1-16"],  # clear and shared vision -> prevents conflict -> trust
    "AS32": ["P3-R04"],  # inadequate capacity -> faith
    "AS33": ["P1-15"],  # shared culture -> avoids conflict -> trust
    "AS34": ["P3-R17"],  # cross-sector -> cultural integration harder
    "AS35": [
        "P3-R16",
        "P1-15",
    ],  # cultural due diligence -> integration; culture -> conflict -> trust
}


def build_actions(published: Path) -> list[dict[str, object]]:
    rows = []
    for r in read(published, "action_statements.csv"):
        ids = ACTION_CMOCS.get(r["as_id"], []) + [
            m for m in r["mechanisms_mentioned_inferred"].split(";") if m
        ]
        cite = f"P3 Table 3, cluster '{r['cluster']}'; mechanism tags inferred by the extractor"
        if r["as_id"] in ACTION_CMOCS:
            cite += "; CMOC ids matched by the encoder"
        rows.append(
            dict(
                action_id=r["as_id"],
                statement=r["statement_quoted"],
                rests_on=";".join(ids),
                cluster=r["cluster"],
                citation=cite,
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# Codings (D20-D23)
# --------------------------------------------------------------------------------------------
def build_codings(mechs, cmocs, row_of) -> list[dict[str, object]]:
    rows = []
    # interviews wave, mechanism level: P3 Table 2 evidence bands
    for m in mechs:
        lo, hi, basis = BAND[m["_level"]]
        cite = f"P3 Table 2 (evidence level '{m['_level']}') and its footnote"
        if m["_level"] == "Moderate":
            cite += "; upper bound 4 inferred from the non-overlapping bands"
        rows.append(
            dict(
                source_id="interviews",
                target_id=m["mechanism_id"],
                stance="supports",
                count="",
                count_min=lo,
                count_max="" if hi is None else hi,
                basis=basis,
                citation=cite,
            )
        )
    # interviews wave, CMOC level: at least one supporting code
    for c in cmocs:
        cid = c["cmoc_id"]
        if cid.startswith("P3-R"):
            # P3 reports each of these as found in the interviews, except R22, whose sentence
            # describes what the mechanism 'encompassed' (evidence there inferred) (D21)
            rows.append(
                dict(
                    source_id="interviews",
                    target_id=cid,
                    stance="supports",
                    count="",
                    count_min=1,
                    count_max="",
                    basis="inferred" if cid == "P3-R22" else "reported",
                    citation=f"P3 Table 2, {row_of[cid]} row "
                    + (
                        "(describes what the mechanism encompassed in the interviews; at least one code inferred; number not published)"
                        if cid == "P3-R22"
                        else "(evidence found in interviews; number of codes not published)"
                    ),
                )
            )
    for p3id, (p1id, _q) in sorted(MERGED.items(), key=lambda kv: kv[1][0]):
        rows.append(
            dict(
                source_id="interviews",
                target_id=p1id,
                stance="supports",
                count="",
                count_min=1,
                count_max="",
                basis="inferred",
                citation=f"P3 Table 2 (extraction row {p3id}, identified with {p1id} by the encoder; number of codes not published)",
            )
        )
    # review wave: prior mechanisms and prior CMOCs rest on at least one included paper
    for m in mechs:
        if m["origin"] == "prior":
            rows.append(
                dict(
                    source_id="review",
                    target_id=m["mechanism_id"],
                    stance="supports",
                    count="",
                    count_min=1,
                    count_max="",
                    basis="inferred",
                    citation="P2 Table 2 / P3 Table 2 (mechanism of the review-based prior theory; at least one included paper inferred)",
                )
            )
    for c in cmocs:
        if c["origin"] == "prior":
            rows.append(
                dict(
                    source_id="review",
                    target_id=c["cmoc_id"],
                    stance="supports",
                    count="",
                    count_min=1,
                    count_max="",
                    basis="inferred",
                    citation=f"{review_location(c)} (prior theory from the review; at least one included paper inferred)",
                )
            )
    return rows


def review_location(c: dict[str, object]) -> str:
    cid = str(c["cmoc_id"])
    if cid.startswith("P1-") and cid[3:].isdigit():
        return f"P1 Table 3, row {int(cid[3:])}"
    if cid.startswith("P3-R"):
        return f"P3 Table 2 ({cid}: affirmed prior theory)"
    return {"P2-L02": "P2 Table 2", "P2-L08": "P2 Table 2", "P1-L11": "P1 Table 3"}[cid]


# --------------------------------------------------------------------------------------------
def check(mechs, cmocs, sources, codings, actions) -> None:
    mids = [m["mechanism_id"] for m in mechs]
    cids = [c["cmoc_id"] for c in cmocs]
    sids = [s["source_id"] for s in sources]
    aids = [a["action_id"] for a in actions]
    allids = mids + cids + sids + aids
    dup = [k for k, v in Counter(allids).items() if v > 1]
    if dup:
        fail(f"duplicate ids: {dup}")
    if len(mids) != 14:
        fail(f"{len(mids)} mechanisms, expected 14")
    st = Counter(m["_status"] for m in mechs)
    if st != Counter({"Affirmed": 13, "Novel": 1}):
        fail(f"status counts {st}")
    lv = Counter(m["_level"] for m in mechs)
    if lv != Counter({"Moderate": 9, "Significant": 4, "Limited": 1}):
        fail(f"evidence levels {lv}")
    ms = set(mids)
    for c in cmocs:
        if c["mechanism_id"] not in ms:
            fail(f"{c['cmoc_id']}: unknown mechanism {c['mechanism_id']}")
        for col in ("context", "outcome"):
            v = c[col]
            if isinstance(v, str) and len(v) == 3 and v.startswith("M") and v not in ms:
                fail(f"{c['cmoc_id']}: {col} {v} unknown")
        if c["sign"] not in ("+", "-") or c["basis"] not in ("reported", "inferred"):
            fail(f"{c['cmoc_id']}: bad sign/basis")
        if c["revises"] and c["revises"] not in cids:
            fail(f"{c['cmoc_id']}: revises unknown {c['revises']}")
    iv = [s for s in sources if s["wave"] == "interviews"]
    if len(iv) != 32 or len({s["group"] for s in iv}) != 29:
        fail(f"{len(iv)} interviews / {len({s['group'] for s in iv})} participants")
    labels = {"review", "interviews"} | {s["group"] for s in sources if s["group"]}
    targets = ms | set(cids)
    for r in codings:
        if r["source_id"] not in labels and r["source_id"] not in sids:
            fail(f"coding source {r['source_id']} unknown")
        if r["target_id"] not in targets:
            fail(f"coding target {r['target_id']} unknown")
    seen = Counter((r["source_id"], r["target_id"], r["stance"]) for r in codings)
    if any(v > 1 for v in seen.values()):
        fail("duplicate coding rows")
    for a in actions:
        for t in a["rests_on"].split(";"):
            if t not in targets:
                fail(f"{a['action_id']}: rests_on {t} unknown")
    sizes = []
    for a in actions:
        if not sizes or sizes[-1][0] != a["cluster"]:
            sizes.append([a["cluster"], 0])
        sizes[-1][1] += 1
    if len(actions) != 35 or [n for _, n in sizes] != [5, 7, 1, 8, 3, 2, 3, 3, 3]:
        fail(f"action clusters {sizes}")


def write_ledger() -> None:
    """Record both waves, as just written, in ledger.csv (cmoc's canonical row hashes)."""
    import shutil
    import tempfile

    sys.path.insert(0, str(HERE.parents[1] / "src"))
    from cmoc.evidence import EVIDENCE_FILES, load_evidence
    from cmoc.evidence.ledger import LEDGER_FILE, ledger_text, record_waves

    with tempfile.TemporaryDirectory() as tmp:  # load without the old ledger.csv
        for name in EVIDENCE_FILES:
            if (HERE / name).is_file():
                shutil.copyfile(HERE / name, Path(tmp) / name)
        base = load_evidence(tmp)
    entries = record_waves(
        base,
        recorded_at=LEDGER_RECORDED_AT,
        note="built from the published tables by build_from_published.py",
    )
    tmp_path = HERE / (LEDGER_FILE + ".tmp")
    tmp_path.write_text(ledger_text(entries), encoding="utf-8", newline="")
    os.replace(tmp_path, HERE / LEDGER_FILE)


def main(argv: list[str]) -> int:
    published = Path(
        argv[1] if len(argv) > 1 else os.environ.get("IOC_PUBLISHED", "/work/shared/ioc-published")
    )
    if not (published / "cmocs.csv").is_file():
        fail(f"no published tables at {published}")
    mechs = build_mechanisms(published)
    cmocs, row_of = build_cmocs(published)
    sources = review_sources(published) + interview_sources(published)
    actions = build_actions(published)
    codings = build_codings(mechs, cmocs, row_of)
    check(mechs, cmocs, sources, codings, actions)
    write_text("evidence.toml", EVIDENCE_TOML)
    write(
        "mechanisms.csv",
        ["mechanism_id", "name", "definition", "origin", "cluster", "citation"],
        mechs,
    )
    write(
        "cmocs.csv",
        [
            "cmoc_id",
            "mechanism_id",
            "context",
            "outcome",
            "sign",
            "origin",
            "statement",
            "revises",
            "basis",
            "citation",
        ],
        cmocs,
    )
    write(
        "sources.csv",
        ["source_id", "kind", "wave", "group", "weight", "exposure", "title", "year"],
        sources,
    )
    write(
        "codings.csv",
        [
            "source_id",
            "target_id",
            "stance",
            "count",
            "count_min",
            "count_max",
            "basis",
            "citation",
        ],
        codings,
    )
    write("actions.csv", ["action_id", "statement", "rests_on", "cluster", "citation"], actions)
    write_ledger()
    print(
        f"mechanisms {len(mechs)}, cmocs {len(cmocs)} "
        f"({sum(c['origin'] == 'novel' for c in cmocs)} novel), sources {len(sources)}, "
        f"codings {len(codings)}, actions {len(actions)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
