"""Charts drawn on the server (rxdesk.reports.charts): valid SVG in the SVG namespace with
the expected bars, PNG that Pillow opens at the right size, the same geometry in both, nice
ticks, "No data" for nothing, and no crash or negative bar for any series (hypothesis)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rxdesk.reports import charts

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str):
    return ElementTree.fromstring(svg.encode())


def bars_of(root) -> list:
    return [r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]


def png_size(data: bytes) -> tuple[int, int]:
    Image.open(io.BytesIO(data)).verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_it_draws_one_bar_per_category_and_series():
    drawing = charts.bar_chart(
        title="Rx per hour",
        categories=["08", "09", "10"],
        series=[charts.Series("new", (1, 2, 3)), charts.Series("refill", (4, 0, Decimal("2.5")))],
    )

    root = parse(charts.to_svg(drawing))

    assert root.tag == f"{NS}svg"
    assert root.get("viewBox") == "0 0 640 300"
    assert root.get("role") == "img"
    assert root.find(f"{NS}title").text == "Rx per hour"
    assert root.find(f"{NS}desc") is not None
    assert len(bars_of(root)) == 6


def test_bar_heights_follow_the_values_on_a_nice_scale():
    # Values 0..40: ticks 0,10,20,30,40; the plot is 300-40-56 = 204 px tall.
    drawing = charts.bar_chart(
        title="t", categories=["a", "b"], series=[charts.Series("s", (40, 10))]
    )

    heights = [b.height for b in drawing.bars]
    ys = [b.y for b in drawing.bars]

    assert heights == [204.0, 51.0]
    assert ys == [40.0, 193.0]
    ticks = [s.text for s in drawing.shapes if isinstance(s, charts.Text) and s.anchor == "end"]
    assert ticks == ["0", "10", "20", "30", "40"]


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (37, ["0", "10", "20", "30", "40"]),
        (Decimal("0.03"), ["0", "0.01", "0.02", "0.03"]),
        (1000, ["0", "200", "400", "600", "800", "1000"]),
        (7, ["0", "2", "4", "6", "8"]),
        (0, ["0", "1"]),
    ],
)
def test_nice_ticks(top, expected):
    assert [charts.fmt(t) for t in charts.nice_ticks(top)] == expected


def test_labels_are_escaped_and_the_xml_stays_valid():
    drawing = charts.bar_chart(
        title='Plan "A" <&> B',
        categories=["<script>", "A&B"],
        series=[charts.Series("x</text>", (1, 2))],
    )

    svg = charts.to_svg(drawing)
    root = parse(svg)

    assert "<script>" not in svg
    assert root.find(f"{NS}title").text == 'Plan "A" <&> B'
    assert "<script>" in [t.text for t in root.iter(f"{NS}text")]


def test_no_data_says_so():
    for drawing in (
        charts.bar_chart(title="t", categories=[], series=[]),
        charts.bar_chart(title="t", categories=["a"], series=[charts.Series("s", (0,))]),
        charts.line_chart(title="t", categories=["a"], series=[]),
        charts.box_chart(title="t", rows=[charts.BoxRow("a", None, None)]),
    ):
        root = parse(charts.to_svg(drawing))
        assert bars_of(root) == []
        assert "No data" in [t.text for t in root.iter(f"{NS}text")]
        assert png_size(charts.to_png(drawing)) == (640, 300)


def test_line_chart_has_a_polyline_per_series_with_a_point_per_category():
    drawing = charts.line_chart(
        title="Queues",
        categories=[f"{h:02d}" for h in range(24)],
        series=[charts.Series("q", tuple(range(24))), charts.Series("f", (1,) * 24)],
    )

    root = parse(charts.to_svg(drawing))
    lines = list(root.iter(f"{NS}polyline"))

    assert len(lines) == 2
    assert [len(line.get("points").split()) for line in lines] == [24, 24]
    assert len(list(root.iter(f"{NS}circle"))) == 48


def test_box_chart_has_a_median_bar_and_a_p90_marker_per_row():
    drawing = charts.box_chart(
        title="Minutes",
        rows=[charts.BoxRow("a", 5, 20), charts.BoxRow("b", 10, None), charts.BoxRow("c", 0, 4)],
    )

    root = parse(charts.to_svg(drawing))

    assert len(bars_of(root)) == 3
    markers = [r for r in root.iter(f"{NS}rect") if r.get("class") == "marker"]
    assert len(markers) == 2  # no p90 for b: no marker
    # Ticks 0..20 over 204 px: the p90 of 20 sits at the top of the plot.
    assert markers[0].get("y") == "38.0"


def test_png_has_the_drawings_size_and_draws_its_bars():
    drawing = charts.bar_chart(
        title="t", categories=["a"], series=[charts.Series("s", (5,))], width=400, height=200
    )

    data = charts.to_png(drawing)

    assert png_size(data) == (400, 200)
    bar = drawing.bars[0]
    with Image.open(io.BytesIO(data)) as image:
        centre = (int(bar.x + bar.width / 2), int(bar.y + bar.height / 2))
        assert image.convert("RGB").getpixel(centre) == (0, 114, 178)  # the first colour


def test_same_data_same_geometry():
    def draw():
        return charts.bar_chart(
            title="t", categories=["a", "b"], series=[charts.Series("s", (3, 4))]
        )

    assert draw() == draw()
    assert charts.to_svg(draw()) == charts.to_svg(draw())
    assert charts.to_png(draw()) == charts.to_png(draw())


def test_negative_and_non_finite_values_draw_as_zero():
    drawing = charts.bar_chart(
        title="t",
        categories=["a", "b", "c"],
        series=[charts.Series("s", (-5, Decimal("NaN"), 2))],
    )

    assert [b.height for b in drawing.bars] == [0.0, 0.0, 204.0]


values = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.decimals(allow_nan=True, allow_infinity=True, places=3),
    st.decimals(min_value=Decimal("-1E+12"), max_value=Decimal("1E+12")),
)
labels = st.text(max_size=40)


@settings(max_examples=40, deadline=None)
@given(
    categories=st.lists(labels, max_size=40),
    series=st.lists(st.tuples(labels, st.lists(values, max_size=45)), max_size=4),
    kind=st.sampled_from(["bar", "line"]),
)
def test_any_series_gives_valid_svg_and_no_negative_bar(categories, series, kind):
    build = charts.bar_chart if kind == "bar" else charts.line_chart
    drawing = build(
        title="Random",
        categories=categories,
        series=[charts.Series(name, tuple(vs)) for name, vs in series],
    )

    root = parse(charts.to_svg(drawing))

    assert root.tag == f"{NS}svg"
    for bar in bars_of(root):
        assert float(bar.get("height")) >= 0
        assert float(bar.get("y")) >= 0
    assert all(b.height >= 0 for b in drawing.bars)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(labels, st.one_of(st.none(), values), st.one_of(st.none(), values)),
        max_size=6,
    )
)
def test_any_box_rows_give_valid_svg(rows):
    drawing = charts.box_chart(title="t", rows=[charts.BoxRow(*r) for r in rows])

    root = parse(charts.to_svg(drawing))

    assert root.tag == f"{NS}svg"
    assert all(b.height >= 0 for b in drawing.bars)


@settings(max_examples=10, deadline=None)
@given(series=st.lists(st.integers(min_value=-5, max_value=10**6), min_size=1, max_size=30))
def test_any_series_gives_a_png_that_opens(series):
    drawing = charts.bar_chart(
        title="t",
        categories=[str(i) for i in range(len(series))],
        series=[charts.Series("s", tuple(series))],
    )

    assert png_size(charts.to_png(drawing)) == (640, 300)
