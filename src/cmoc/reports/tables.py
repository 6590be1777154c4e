"""Rendering summaries as text tables, CSV and JSON (no sampling here)."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

import pandas as pd

from ..defaults import CI
from ..evidence.csvsafe import frame_to_csv

if TYPE_CHECKING:
    from rich.text import Text

__all__ = [
    "FORMATS",
    "LEVEL_FLOOR_NOTE",
    "level_text",
    "render_changes",
    "render_context",
    "render_summary",
    "rounded",
]

FORMATS = ("table", "csv", "json")

_DIGITS = {
    "support_mean": 4,
    "support_sd": 4,
    "support_lo": 4,
    "support_hi": 4,
    "p_supported": 4,
    "ess_bulk": 0,
    "ess_tail": 0,
    "r_hat": 4,
    "evidence_level_p": 3,
    "level_before_p": 3,
    "level_after_p": 3,
    "expected_codes": 2,
    "support_before": 4,
    "support_before_lo": 4,
    "support_before_hi": 4,
    "support_after": 4,
    "support_after_lo": 4,
    "support_after_hi": 4,
    "shift": 4,
    "shift_sd": 4,
    "own_codes": 0,
    "ci90_width": 4,
    "dissent": 4,
    "dissent_sources": 4,
    "mean_weight": 4,
    "indirect_share": 4,
    # model v2 (summary and change report)
    **{
        f"{name}{suffix}": 4
        for name in ("breadth", "direction", "depth")
        for suffix in ("_mean", "_lo", "_hi")
    },
    "p_broad": 4,
    "p_differs_breadth": 4,
    "p_differs_direction": 4,
    "p_clear_support": 4,
    "p_clear_refute": 4,
    **{
        f"{name}_{when}{suffix}": 4
        for name in ("breadth", "direction")
        for when in ("before", "after")
        for suffix in ("", "_lo", "_hi")
    },
    **{f"{name}_shift{sd}": 4 for name in ("breadth", "direction") for sd in ("", "_sd")},
}

_COMPONENTS = ("adequacy", "coherence", "limitations", "relevance")


LEVEL_FLOOR_NOTE = (
    'A level shown as "at least limited (model: significant, P = 0.53)": no row of the '
    "wave's source kind, or none of the target's mechanism in any wave, bounds a count from "
    'above (each is an open lower bound such as ">= 1": none capped, no target silent, no '
    "source coded one by one), so the data say only the floor; the level beside it is the "
    "model's, from its priors or its pooling over the other mechanisms."
)
"""The reports' note on a level shown with its floor (``evidence_level_floor``)."""


def level_text(level: object, p: object = None, floor: object = None) -> str:
    """Show an evidence level, with its probability where the codes do not fix it.

    Parameters
    ----------
    level : str or missing
        ``none``, ``limited``, ``moderate`` or ``significant``.
    p : float, optional
        Its posterior predictive probability (``evidence_level_p``); 1 or missing shows the
        level alone.
    floor : str, optional
        ``evidence_level_floor``: where set, no row of the band's source kind or of the target's
        mechanism bounds its codes from above, and the floor is shown as what the data say,
        the level as the model's.

    Returns
    -------
    str
        ``"significant (P = 0.44)"``, ``"moderate"``, ``"at least limited (model: significant,
        P = 0.95)"``, or ``""`` for a missing level.
    """
    if level is None or (not isinstance(level, str) and pd.isna(level)):
        return ""
    sure = p is None or pd.isna(p) or float(p) >= 1
    if isinstance(floor, str) and floor:
        data = "any number of codes" if floor == "none" else f"at least {floor}"
        return f"{data} (model: {level if sure else f'{level}, P = {float(p):.2f}'})"
    return str(level) if sure else f"{level} (P = {float(p):.2f})"


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Round numeric columns to the digits shown in every output (stable across runs)."""
    out = frame.copy()
    for col, digits in _DIGITS.items():
        if col in out:
            out[col] = out[col].astype(float).round(digits)
            if digits == 0:
                out[col] = out[col].astype("Int64")
    return out


def _plain(frame: pd.DataFrame, fmt: str, meta: dict | None) -> tuple[pd.DataFrame, str | None]:
    """Round the frame; return it with its CSV or JSON text (None for the table format)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    data = rounded(frame)
    if fmt == "csv":
        return data, frame_to_csv(data)
    if fmt == "json":
        records = json.loads(data.to_json(orient="records"))
        doc = records if meta is None else {**meta, "rows": records}
        return data, json.dumps(doc, indent=2) + "\n"
    return data, None


def render_summary(frame: pd.DataFrame, fmt: str, meta: dict[str, object]) -> str:
    """Render a summary frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`cmoc.analyses.summarize`.
    fmt : {"table", "csv", "json"}
    meta : dict
        Fit-level facts shown with the table (``converged``, ``convergence``, ``evidence``,
        ``wave``, ``ci``): JSON puts them beside the rows; the table prints them above.

    Returns
    -------
    str
    """
    data, text = _plain(frame, fmt, meta)
    return text if text is not None else _table(data, meta)


def _cell(value: object) -> Text:
    """Make a table cell that shows its text as it is (data never goes through Rich markup)."""
    from rich.text import Text

    return Text(str(value))


def _table(data: pd.DataFrame, meta: dict[str, object]) -> str:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=140, force_terminal=False, color_system=None)
    if not meta.get("converged", True):
        console.print(f"WARNING: {meta.get('convergence')}", markup=False)
        console.print("These estimates are not reliable until the fit converges.", markup=False)
    else:
        console.print(str(meta.get("convergence", "")), markup=False)
    ci = float(meta.get("ci", CI))
    if "breadth_mean" in data:
        console.print(_measurement_table(data, meta, ci))
        return buf.getvalue()
    table = Table(
        title=_cell(f"{meta.get('evidence', '')}: support after wave {meta.get('wave', '')!s}"),
        show_lines=False,
    )
    cols = [
        ("target_id", "target"),
        ("target_type", "type"),
        ("mechanism_id", "mech"),
        ("support_mean", "support"),
        ("interval", f"{ci:.0%} interval"),
        ("p_supported", "P(>1/2)"),
        ("codes", "codes"),
        ("evidence_level", "evidence"),
        ("status", "status"),
        ("ess_bulk", "ESS"),
        ("r_hat", "R-hat"),
    ]
    graded = "confidence" in data
    if graded:
        cols.append(("confidence", "confidence"))
    for _, label in cols:
        table.add_column(label, no_wrap=True)
    for r in data.itertuples(index=False):
        row = r._asdict()
        row["interval"] = f"[{row['support_lo']:.2f}, {row['support_hi']:.2f}]"
        row["support_mean"] = f"{row['support_mean']:.2f}"
        row["p_supported"] = f"{row['p_supported']:.2f}"
        row["r_hat"] = f"{row['r_hat']:.3f}"
        row["evidence_level"] = level_text(
            row["evidence_level"], row.get("evidence_level_p"), row.get("evidence_level_floor")
        )
        table.add_row(*(_cell(row[c]) for c, _ in cols))
    console.print(table)
    if graded:
        _confidence_table(console, data)
    return buf.getvalue()


def _measurement_table(data: pd.DataFrame, meta: dict[str, object], ci: float):
    """Build the table of a model v2 summary: breadth, direction where testable, depth."""
    from rich.table import Table

    title = f"{meta.get('evidence', '')}: breadth and direction after wave {meta.get('wave', '')!s}"
    table = Table(title=_cell(title), show_lines=False)
    labels = ["target", "type", "mech", f"breadth ({ci:.0%})", f"direction ({ci:.0%})"]
    labels += ["depth", "codes +/-", "evidence", "status", "ESS", "R-hat"]
    for label in labels:
        table.add_column(label, no_wrap=True)
    for r in data.itertuples(index=False):
        tested = bool(r.direction_testable)
        direction = (
            f"{r.direction_mean:.2f} [{r.direction_lo:.2f}, {r.direction_hi:.2f}]"
            if tested
            else "not tested"
        )
        values = (
            r.target_id,
            r.target_type,
            r.mechanism_id,
            f"{r.breadth_mean:.2f} [{r.breadth_lo:.2f}, {r.breadth_hi:.2f}]",
            direction,
            f"{r.depth_mean:.1f}",
            f"{r.supports}/{r.refutes}",
            level_text(
                r.evidence_level,
                getattr(r, "evidence_level_p", None),
                getattr(r, "evidence_level_floor", None),
            ),
            r.status,
            f"{r.ess_bulk:.0f}",
            f"{r.r_hat:.3f}",
        )
        table.add_row(*(_cell(v) for v in values))
    return table


def render_context(frame: pd.DataFrame, fmt: str, meta: dict[str, object]) -> str:
    """Render the estimates per context (``cmoc summary --by kind|group-level``).

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`cmoc.analyses.context_estimates`.
    fmt : {"table", "csv", "json"}
    meta : dict
        As for :func:`render_summary`.

    Returns
    -------
    str
    """
    from rich.console import Console
    from rich.table import Table

    data, text = _plain(frame, fmt, meta)
    if text is not None:
        return text
    buf = io.StringIO()
    console = Console(file=buf, width=160, force_terminal=False, color_system=None)
    prefix = "" if meta.get("converged", True) else "WARNING: "
    console.print(f"{prefix}{meta.get('convergence', '')}", markup=False)
    ci = float(meta.get("ci", CI))
    by = str(frame["context_by"].iloc[0]) if len(frame) else "kind"
    per = "source kind" if by == "kind" else f"group ({by})"
    title = (
        f"{meta.get('evidence', '')}: breadth and direction per {per} after wave "
        f"{meta.get('wave', '')!s}"
    )
    table = Table(title=_cell(title), show_lines=False)
    labels = ["target", "type", "kind" if by == "kind" else "group", "sources"]
    labels += [f"breadth ({ci:.0%})", f"direction ({ci:.0%})", "P(differs) b", "P(differs) d"]
    labels += ["depends", "P(beyond kinds)" if by == "kind" else "P(beyond groups)", "note"]
    for label in labels:
        table.add_column(label, no_wrap=label != "note")

    def interval(r, name: str) -> str:
        mean = getattr(r, f"{name}_mean")
        if pd.isna(mean):
            return "-"
        return f"{mean:.2f} [{getattr(r, f'{name}_lo'):.2f}, {getattr(r, f'{name}_hi'):.2f}]"

    def prob(value) -> str:
        return "-" if pd.isna(value) else f"{value:.2f}"

    for r in data.itertuples(index=False):
        values = (
            r.target_id,
            r.target_type,
            r.context,
            r.sources,
            interval(r, "breadth"),
            interval(r, "direction"),
            prob(r.p_differs_breadth),
            prob(r.p_differs_direction),
            "yes" if r.depends_on_context else "",
            prob(pd.Series([r.p_specific_breadth, r.p_specific_direction]).max()),
            r.note,
        )
        table.add_row(*(_cell(v) for v in values))
    console.print(table)
    return buf.getvalue()


def _confidence_table(console, data: pd.DataFrame) -> None:
    """Print the confidence components and the numbers behind them, one row per target."""
    from rich.table import Table

    from ..analyses.inference.confidence import CONCERN_TEXT, UNGRADED

    table = Table(title="Confidence and its components", show_lines=False)
    cols = [
        ("target_id", "target"),
        ("own_codes", "own codes"),
        ("own_sources", "sources"),
        ("ci90_width", "90% width"),
        ("adequacy", "adequacy"),
        ("dissent", "dissent"),
        ("coherence", "coherence"),
        ("mean_weight", "weight"),
        ("limitations", "limitations"),
        ("indirect_share", "indirect"),
        ("relevance", "relevance"),
        ("confidence", "confidence"),
    ]
    for _, label in cols:
        table.add_column(label, no_wrap=True)
    for r in data.itertuples(index=False):
        row = r._asdict()
        for c in ("ci90_width", "dissent", "mean_weight", "indirect_share"):
            row[c] = "-" if pd.isna(row[c]) else f"{row[c]:.2f}"
        for c in _COMPONENTS:
            row[c] = "-" if pd.isna(row[c]) else row[c]
        table.add_row(*(_cell(row[c]) for c, _ in cols))
    console.print(table)
    legend = "; ".join(f"{k} = {v}" for k, v in CONCERN_TEXT.items())
    console.print(
        "Confidence in the spirit of GRADE-CERQual (adequacy, coherence, methodological "
        f"limitations, relevance; docs/reports.md, 'Confidence grade'). Concerns: {legend}; "
        "- = no own codes to judge.",
        markup=False,
    )
    if (data["confidence"] == UNGRADED).any():
        console.print(
            f"{UNGRADED}: the fit failed the convergence gate, so no grade is given.",
            markup=False,
        )


def render_changes(frame: pd.DataFrame, fmt: str) -> str:
    """Render a change report (:func:`cmoc.analyses.change_report`) as table, CSV or JSON."""
    data, text = _plain(frame, fmt, None)
    if text is not None:
        return text
    if "breadth_after" in data:
        return _measurement_changes_table(data)
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=150, force_terminal=False, color_system=None)
    table = Table(title="What the newest wave changed")
    for label in (
        "target",
        "status",
        "codes",
        "evidence",
        "support before",
        "support after",
        "shift",
        "moved most by (newest wave)",
    ):
        table.add_column(label, no_wrap=label != "moved most by (newest wave)")

    def fmt_support(mean, lo, hi):
        return "-" if pd.isna(mean) else f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"

    for r in data.itertuples(index=False):
        before = "(new)" if pd.isna(r.status_before) else r.status_before
        status = r.status_after if before == r.status_after else f"{before} -> {r.status_after}"
        cells = (
            r.target_id,
            status,
            f"{'-' if pd.isna(r.codes_before) else r.codes_before} -> {r.codes_after}",
            f"{level_text(r.level_before, r.level_before_p, r.level_before_floor) or '-'} -> "
            f"{level_text(r.level_after, r.level_after_p, r.level_after_floor)}",
            fmt_support(r.support_before, r.support_before_lo, r.support_before_hi),
            fmt_support(r.support_after, r.support_after_lo, r.support_after_hi),
            "-" if pd.isna(r.shift) else f"{r.shift:+.2f} ± {r.shift_sd:.2f}",
            r.moved_most or "-",
        )
        table.add_row(*(_cell(c) for c in cells))
    console.print(table)
    console.print(
        "moved most by: the newest wave's units (sources, or totals over the wave) whose "
        "leave-one-out (PSIS) removal changes the posterior mean support most, with the "
        "support they added; * = PSIS unreliable there (Pareto k > 0.7), refit without it to "
        "be sure.",
        markup=False,
    )
    return buf.getvalue()


def _measurement_changes_table(data: pd.DataFrame) -> str:
    """Render the change report of model v2 fits as a text table (breadth and direction)."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=150, force_terminal=False, color_system=None)
    table = Table(title="What the newest wave changed (model v2)", show_lines=True)
    labels = (
        "target",
        "status",
        "codes",
        "evidence",
        "breadth before\n-> after",
        "shift",
        "direction before\n-> after",
        "shift",
        "newest wave",
    )
    for label in labels:
        table.add_column(label)

    def interval(mean, lo, hi):
        return "-" if pd.isna(mean) else f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"

    def both(r, name):
        before = interval(*(getattr(r, f"{name}_before{s}") for s in ("", "_lo", "_hi")))
        after = interval(*(getattr(r, f"{name}_after{s}") for s in ("", "_lo", "_hi")))
        shift, sd = getattr(r, f"{name}_shift"), getattr(r, f"{name}_shift_sd")
        return f"{before}\n-> {after}", "-" if pd.isna(shift) else f"{shift:+.2f} ± {sd:.2f}"

    for r in data.itertuples(index=False):
        before = "(new)" if pd.isna(r.status_before) else r.status_before
        status = r.status_after if before == r.status_after else f"{before}\n-> {r.status_after}"
        direction = both(r, "direction") if r.direction_testable else ("not tested", "-")
        cells = (
            r.target_id,
            status,
            f"{'-' if pd.isna(r.codes_before) else r.codes_before} -> {r.codes_after}",
            f"{level_text(r.level_before, r.level_before_p, r.level_before_floor) or '-'}\n"
            f"-> {level_text(r.level_after, r.level_after_p, r.level_after_floor)}",
            *both(r, "breadth"),
            *direction,
            f"{r.new_sources} source{'' if r.new_sources == 1 else 's'}\n"
            f"+{r.new_supports} / -{r.new_refutes} codes",
        )
        table.add_row(*(_cell(c) for c in cells))
    console.print(table)
    console.print(
        "breadth: share of the sources coded against the target that evidence it; direction: "
        "share of its codes that support it; shift ± sd, the two fits taken as independent; "
        "newest wave: its sources with a code of the target, and its supporting / refuting "
        "codes (totals included).",
        markup=False,
    )
    return buf.getvalue()
