"""The report's figures as printed: type of at least 8 pt, forests split and scaled to the data.

Sizes are read from the SVG itself: matplotlib draws text as glyph outlines in a group scaled by
``font size / 100`` (``scale(s -s)``), and the PDF lays a figure out at the width of the A4 text
block (``figure svg { width: 100%; max-height: 235mm }`` in :data:`cmoc.reports.pdf.PRINT_CSS`),
so a font prints at its size times ``min(text width / figure width, 235 mm / figure height)``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cmoc.reports import figures, render_html

TEXT_WIDTH_PT = 184 / 25.4 * 72  # A4 less the print stylesheet's margins of 13 mm
MAX_HEIGHT_PT = 235 / 25.4 * 72


def printed_sizes(svg: str) -> list[float]:
    """The point size each text of ``svg`` prints at in the PDF report."""
    size = re.search(r'<svg[^>]*width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert size, "an SVG without a size in points"
    w, h = float(size.group(1)), float(size.group(2))
    factor = min(TEXT_WIDTH_PT / w, MAX_HEIGHT_PT / h)
    return [float(s) * 100 * factor for s, t in re.findall(r"scale\(([\d.]+) -([\d.]+)\)", svg)]


def _summary(mechanisms: int, cmocs_each: int, *, low: bool, seed: int = 0) -> pd.DataFrame:
    """A model v2 summary: ``low`` puts every interval near 0 (as on the IOC base)."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(mechanisms):
        ids = [(f"M{m}", "mechanism", f"M{m}")]
        ids += [(f"C{m}.{c}", "cmoc", f"M{m}") for c in range(cmocs_each)]
        for target_id, kind, mech in ids:
            mean = rng.uniform(0.04, 0.12) if low else rng.uniform(0.3, 0.7)
            rows.append(
                {
                    "target_id": target_id,
                    "target_type": kind,
                    "mechanism_id": mech,
                    "breadth_mean": mean,
                    "breadth_lo": mean * 0.5,
                    "breadth_hi": mean * 1.6 if low else mean + 0.15,
                    "direction_testable": not low,
                    "direction_mean": np.nan if low else 0.8,
                    "direction_lo": np.nan if low else 0.6,
                    "direction_hi": np.nan if low else 0.9,
                    "supports": 3,
                    "refutes": 0 if low else 2,
                    "status": "affirmed" if kind == "mechanism" else "inconclusive",
                    "support_mean": mean,
                    "support_lo": mean * 0.5,
                    "support_hi": min(mean * 1.6, 1.0),
                }
            )
    return pd.DataFrame(rows)


def test_every_figure_of_the_report_prints_at_8_pt_or_more(small_report_content):
    html = render_html(small_report_content)
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 4
    for svg in svgs:
        sizes = printed_sizes(svg)
        assert sizes, "a figure without text"
        assert min(sizes) >= figures.LABEL_PT - 1e-6, svg[:200]


@pytest.mark.parametrize("low", [True, False])
def test_forests_print_at_8_pt_and_split_whole_mechanisms(low):
    summary = _summary(4, 14, low=low)  # 60 rows
    svgs = figures.measurement_forest(summary, 0.9, 0.1, 0.2)
    assert len(svgs) == 2
    for svg in svgs:
        assert min(printed_sizes(svg)) >= figures.LABEL_PT - 1e-6
    v1 = figures.forest(summary, 0.9)
    assert len(v1) == 2 and all(min(printed_sizes(s)) >= figures.LABEL_PT - 1e-6 for s in v1)


def test_forest_pages_keep_mechanisms_whole_and_at_most_40_rows():
    rows = figures._forest_rows(_summary(5, 9, low=True), order="breadth_mean")  # 5 x 10 rows
    pages = figures.forest_pages(rows)
    assert [len(p) for p in pages] == [40, 10]
    assert all(p[0][1] for p in pages)  # each figure starts with a mechanism's heading row
    big = figures._forest_rows(_summary(1, 90, low=True))  # one mechanism of 91 rows
    assert [len(p) for p in figures.forest_pages(big)] == [40, 40, 11]
    # within a mechanism, the widest evidenced CMOC first
    breadth = [r.breadth_mean for r, is_mech in rows[1:10]]
    assert breadth == sorted(breadth, reverse=True)


def test_share_axis_is_logit_where_intervals_crowd_an_end_and_covers_them():
    lo = np.array([0.02, 0.03, 0.05, 0.04])
    hi = np.array([0.10, 0.12, 0.15, 0.11])
    axis = figures.share_axis(lo, hi, (0.3,))
    assert axis.scale == "logit"
    assert axis.limits[0] < lo.min() and axis.limits[1] > 0.3
    top = figures.share_axis(1 - hi, 1 - lo)
    assert top.scale == "logit" and top.limits[1] > 1 - lo.min()
    assert figures.share_axis([0.2, 0.4], [0.6, 0.8]).scale == "linear"
    assert figures.share_axis([0.01, 0.02], [0.6, 0.7]).scale == "linear"  # wide: not crowded
    assert figures.share_axis([np.nan], [np.nan]) == figures.ShareAxis("linear", (0.0, 1.0))


def test_forest_shows_refuting_codes_and_unknown_refutes():
    tested = _summary(1, 2, low=False)
    untested = _summary(1, 2, low=True)
    assert figures._codes_label(next(tested.itertuples())) == "+3 / −2"
    assert figures._codes_label(next(untested.itertuples())) == "+3 / −?"
    # refutes on record are shown even where the direction cannot be tested
    one = untested.assign(refutes=1)
    assert figures._codes_label(next(one.itertuples())) == "+3 / −1"
