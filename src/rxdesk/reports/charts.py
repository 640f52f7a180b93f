"""Charts drawn on the server, with no Django and no JavaScript: a vertical bar chart (one
or more series side by side), a line chart (several series) and a "box" chart of median and
90th-percentile times (a bar to the median, a marker at the 90th percentile).

A chart is first laid out as a :class:`Drawing` — rectangles, lines, polylines and text at
pixel positions — and that one layout is written out either as SVG text or as a PNG
(Pillow), so both formats show the same geometry. Values may be ``int`` or ``Decimal``;
negative or non-finite values are drawn as zero (a bar never has a negative height) and the
axis ticks are "nice" steps (1, 2 or 5 times a power of ten). No data gives a chart that
says "No data" rather than an empty frame."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

Number = int | Decimal

SVG_NS = "http://www.w3.org/2000/svg"
# Okabe–Ito: told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000")
INK = "#222222"
GRID = "#DDDDDD"
BACKGROUND = "#FFFFFF"
FONT_SIZE = 12
TITLE_SIZE = 14
MAX_LABELS = 16  # category labels shown under the axis at most (every n-th beyond that)
LABEL_MAX = 24  # characters of a category label drawn (the table beside has the rest)

# Margins around the plot area.
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 40, 56


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category (or per point on a line)."""

    name: str
    values: tuple[Number, ...]


@dataclass(frozen=True)
class BoxRow:
    """One row of a median/p90 chart: a label, the median and the 90th percentile."""

    label: str
    median: Number | None
    p90: Number | None


# --- The layout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    kind: str = "bar"  # "bar" (a datum), "marker" or "frame"
    label: str = ""  # the bar's value in words, for a <title> tooltip


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float = 1.0


@dataclass(frozen=True)
class Polyline:
    points: tuple[tuple[float, float], ...]
    stroke: str
    label: str = ""


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"  # start, middle, end (SVG text-anchor)
    size: int = FONT_SIZE
    weight: str = "normal"


Shape = Rect | Line | Polyline | Text


@dataclass(frozen=True)
class Drawing:
    """A laid-out chart: what :func:`to_svg` and :func:`to_png` both draw."""

    width: int
    height: int
    title: str
    desc: str
    shapes: tuple[Shape, ...]

    @property
    def bars(self) -> list[Rect]:
        return [s for s in self.shapes if isinstance(s, Rect) and s.kind == "bar"]


# --- Numbers -----------------------------------------------------------------------------------


def _clean(value: Number | None) -> Decimal:
    """A value as a finite, non-negative Decimal (anything else counts as zero)."""
    if value is None or isinstance(value, bool):
        return Decimal(0)
    number = value if isinstance(value, Decimal) else Decimal(value)
    if not number.is_finite() or number < 0:
        return Decimal(0)
    return number


def nice_ticks(top: Number, count: int = 5) -> list[Decimal]:
    """Tick values from 0 up to at least ``top`` in a "nice" step (1, 2 or 5 × 10ⁿ), about
    ``count`` intervals: ``nice_ticks(37) == [0, 10, 20, 30, 40]``."""
    high = _clean(top)
    if high == 0:
        return [Decimal(0), Decimal(1)]
    raw = high / count
    exponent = raw.adjusted()  # floor(log10(raw)) for a positive Decimal
    magnitude = Decimal(1).scaleb(exponent)
    step = magnitude * 10
    for factor in (1, 2, 5, 10):
        if magnitude * factor >= raw:
            step = magnitude * factor
            break
    intervals = int((high / step).to_integral_value(rounding="ROUND_CEILING"))
    return [Decimal(fmt(step * i)) for i in range(intervals + 1)]


def fmt(value: Decimal) -> str:
    """A tick or value label: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text


def _short(label: str) -> str:
    label = " ".join(str(label).split())
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"


def _r(value: float) -> float:
    return round(value, 2)


# --- Frames ------------------------------------------------------------------------------------


def _empty(width: int, height: int, title: str, desc: str) -> Drawing:
    return Drawing(
        width,
        height,
        title,
        desc or "No data for this period.",
        (
            Text(LEFT, 24, _short_title(title), size=TITLE_SIZE, weight="bold"),
            Text(width / 2, height / 2, "No data", anchor="middle", size=TITLE_SIZE),
        ),
    )


def _short_title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= 80 else title[:79] + "…"


def _axes(
    width: int, height: int, title: str, ticks: list[Decimal], unit: str
) -> tuple[list[Shape], float]:
    """Title, horizontal grid lines with their tick labels, and the axes; returns them and
    the pixels per unit of value."""
    plot_h = height - TOP - BOTTOM
    top = ticks[-1]
    scale = plot_h / float(top)
    shapes: list[Shape] = [Text(LEFT, 24, _short_title(title), size=TITLE_SIZE, weight="bold")]
    for tick in ticks:
        y = _r(height - BOTTOM - float(tick) * scale)
        shapes.append(Line(LEFT, y, width - RIGHT, y, GRID))
        shapes.append(Text(LEFT - 6, _r(y + 4), fmt(tick), anchor="end"))
    if unit:
        shapes.append(Text(width - RIGHT, 24, _short(unit), anchor="end"))
    shapes.append(Line(LEFT, height - BOTTOM, width - RIGHT, height - BOTTOM, INK))
    shapes.append(Line(LEFT, TOP, LEFT, height - BOTTOM, INK))
    return shapes, scale


def _category_labels(categories: Sequence[str], x_of: Sequence[float], height: int) -> list[Shape]:
    # Every n-th label, so that neither more than MAX_LABELS nor overlapping labels show
    # (about 6.5 px a character at 12 px).
    slot = (x_of[1] - x_of[0]) if len(x_of) > 1 else 1e9
    widest = max((len(_short(c)) for c in categories), default=0) * 6.5 + 4
    every = max(1, math.ceil(len(categories) / MAX_LABELS), math.ceil(widest / slot))
    return [
        Text(_r(x), height - BOTTOM + 16, _short(label), anchor="middle")
        for i, (label, x) in enumerate(zip(categories, x_of, strict=True))
        if i % every == 0
    ]


def _legend(series_names: Sequence[str], width: int, height: int) -> list[Shape]:
    if len(series_names) < 2:
        return []
    shapes: list[Shape] = []
    x = float(LEFT)
    y = height - 18
    for i, name in enumerate(series_names):
        colour = PALETTE[i % len(PALETTE)]
        shapes.append(Rect(_r(x), y - 9, 10, 10, colour, kind="frame"))
        label = _short(name)
        shapes.append(Text(_r(x + 14), y, label))
        x += 24 + 7 * len(label)
        if x > width - 60:
            break
    return shapes


def _tidy(series: Sequence[Series], n: int) -> list[tuple[str, list[Decimal]]]:
    out = []
    for s in series:
        values = [_clean(v) for v in s.values[:n]]
        values += [Decimal(0)] * (n - len(values))
        out.append((s.name, values))
    return out


# --- Charts ------------------------------------------------------------------------------------


def bar_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    desc: str = "",
    width: int = 640,
    height: int = 300,
) -> Drawing:
    """Vertical bars, one group per category with one bar per series."""
    n = len(categories)
    rows = _tidy(series, n)
    values = [v for _, vs in rows for v in vs]
    if not n or not rows or not any(values):
        return _empty(width, height, title, desc)
    ticks = nice_ticks(max(values))
    shapes, scale = _axes(width, height, title, ticks, unit)
    plot_w = width - LEFT - RIGHT
    slot = plot_w / n
    gap = slot * 0.2
    bar_w = (slot - gap) / len(rows)
    centres = []
    for i, category in enumerate(categories):
        x0 = LEFT + i * slot + gap / 2
        centres.append(LEFT + i * slot + slot / 2)
        for j, (name, vs) in enumerate(rows):
            h = float(vs[i]) * scale
            shapes.append(
                Rect(
                    _r(x0 + j * bar_w),
                    _r(height - BOTTOM - h),
                    _r(bar_w),
                    _r(h),
                    PALETTE[j % len(PALETTE)],
                    label=f"{_short(category)}: {name} {fmt(vs[i])}",
                )
            )
    shapes += _category_labels(categories, centres, height)
    shapes += _legend([name for name, _ in rows], width, height)
    return Drawing(width, height, title, desc or title, tuple(shapes))


def line_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    desc: str = "",
    width: int = 640,
    height: int = 300,
) -> Drawing:
    """One line per series over the categories (hours, days), with a dot at each point."""
    n = len(categories)
    rows = _tidy(series, n)
    values = [v for _, vs in rows for v in vs]
    if not n or not rows or not any(values):
        return _empty(width, height, title, desc)
    ticks = nice_ticks(max(values))
    shapes, scale = _axes(width, height, title, ticks, unit)
    plot_w = width - LEFT - RIGHT
    slot = plot_w / n
    xs = [LEFT + i * slot + slot / 2 for i in range(n)]
    for j, (name, vs) in enumerate(rows):
        colour = PALETTE[j % len(PALETTE)]
        points = tuple(
            (_r(x), _r(height - BOTTOM - float(v) * scale)) for x, v in zip(xs, vs, strict=True)
        )
        shapes.append(Polyline(points, colour, label=name))
    shapes += _category_labels(categories, xs, height)
    shapes += _legend([name for name, _ in rows], width, height)
    return Drawing(width, height, title, desc or title, tuple(shapes))


def box_chart(
    *,
    title: str,
    rows: Sequence[BoxRow],
    unit: str = "",
    desc: str = "",
    width: int = 640,
    height: int = 300,
) -> Drawing:
    """Per row, a bar up to the median and a black marker at the 90th percentile."""
    medians = [_clean(r.median) for r in rows]
    p90s = [_clean(r.p90) for r in rows]
    if not rows or not any(medians + p90s):
        return _empty(width, height, title, desc)
    ticks = nice_ticks(max(medians + p90s))
    shapes, scale = _axes(width, height, title, ticks, unit)
    plot_w = width - LEFT - RIGHT
    slot = plot_w / len(rows)
    bar_w = slot * 0.5
    centres = []
    for i, row in enumerate(rows):
        centre = LEFT + i * slot + slot / 2
        centres.append(centre)
        h = float(medians[i]) * scale
        shapes.append(
            Rect(
                _r(centre - bar_w / 2),
                _r(height - BOTTOM - h),
                _r(bar_w),
                _r(h),
                PALETTE[0],
                label=f"{_short(row.label)}: median {fmt(medians[i])}",
            )
        )
        if row.p90 is None:
            continue
        y = height - BOTTOM - float(p90s[i]) * scale
        shapes.append(
            Rect(
                _r(centre - bar_w / 2 - 4),
                _r(max(y - 2, TOP - 2)),
                _r(bar_w + 8),
                4,
                INK,
                kind="marker",
                label=f"{_short(row.label)}: 90th percentile {fmt(p90s[i])}",
            )
        )
    shapes += _category_labels([r.label for r in rows], centres, height)
    shapes.append(Rect(LEFT, height - 27, 10, 10, PALETTE[0], kind="frame"))
    shapes.append(Text(LEFT + 14, height - 18, "median"))
    shapes.append(Rect(LEFT + 80, height - 24, 18, 4, INK, kind="frame"))
    shapes.append(Text(LEFT + 102, height - 18, "90th percentile"))
    return Drawing(width, height, title, desc or title, tuple(shapes))


# --- Output ------------------------------------------------------------------------------------


# Characters XML 1.0 does not allow (control characters, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(value: str) -> str:
    """Text made safe for an XML text node or attribute value."""
    return escape(_NOT_XML.sub("\ufffd", value), {'"': "&quot;"})


def to_svg(drawing: Drawing) -> str:
    """The drawing as a standalone SVG document (``role="img"``, ``<title>``, ``<desc>``)."""
    w, h = drawing.width, drawing.height
    out = [
        f'<svg xmlns="{SVG_NS}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-labelledby="chart-title chart-desc" '
        f'font-family="sans-serif" font-size="{FONT_SIZE}">',
        f'<title id="chart-title">{_x(drawing.title)}</title>',
        f'<desc id="chart-desc">{_x(drawing.desc)}</desc>',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="{BACKGROUND}"/>',
    ]
    for shape in drawing.shapes:
        if isinstance(shape, Rect):
            cls = {"bar": "bar", "marker": "marker"}.get(shape.kind, "key")
            tip = f"<title>{_x(shape.label)}</title>" if shape.label else ""
            out.append(
                f'<rect class="{cls}" x="{shape.x}" y="{shape.y}" width="{shape.width}" '
                f'height="{shape.height}" fill="{shape.fill}">{tip}</rect>'
            )
        elif isinstance(shape, Line):
            out.append(
                f'<line x1="{shape.x1}" y1="{shape.y1}" x2="{shape.x2}" y2="{shape.y2}" '
                f'stroke="{shape.stroke}" stroke-width="{shape.width}"/>'
            )
        elif isinstance(shape, Polyline):
            points = " ".join(f"{x},{y}" for x, y in shape.points)
            tip = f"<title>{_x(shape.label)}</title>" if shape.label else ""
            out.append(
                f'<polyline class="series" points="{points}" fill="none" '
                f'stroke="{shape.stroke}" stroke-width="2">{tip}</polyline>'
            )
            for x, y in shape.points:
                out.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{shape.stroke}"/>')
        elif shape.text:
            weight = ' font-weight="bold"' if shape.weight == "bold" else ""
            out.append(
                f'<text x="{shape.x}" y="{shape.y}" text-anchor="{shape.anchor}" '
                f'font-size="{shape.size}"{weight} fill="{INK}">{_x(shape.text)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


_PIL_ANCHOR = {"start": "ls", "middle": "ms", "end": "rs"}


def to_png(drawing: Drawing) -> bytes:
    """The same drawing as a PNG image of ``width`` × ``height`` pixels."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (drawing.width, drawing.height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    fonts: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}

    def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if size not in fonts:
            fonts[size] = ImageFont.load_default(size=size)
        return fonts[size]

    for shape in drawing.shapes:
        if isinstance(shape, Rect):
            if shape.height <= 0 or shape.width <= 0:
                continue
            draw.rectangle(
                (shape.x, shape.y, shape.x + shape.width, shape.y + shape.height),
                fill=shape.fill,
            )
        elif isinstance(shape, Line):
            draw.line(
                (shape.x1, shape.y1, shape.x2, shape.y2),
                fill=shape.stroke,
                width=max(1, round(shape.width)),
            )
        elif isinstance(shape, Polyline):
            if len(shape.points) > 1:
                draw.line(list(shape.points), fill=shape.stroke, width=2)
            for x, y in shape.points:
                draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=shape.stroke)
        elif shape.text:
            f = font(shape.size)
            anchor = _PIL_ANCHOR.get(shape.anchor, "ls")
            if isinstance(f, ImageFont.FreeTypeFont):
                draw.text((shape.x, shape.y), shape.text, fill=INK, font=f, anchor=anchor)
            else:  # a bitmap font has no anchors: place it by its width
                w = draw.textlength(shape.text, font=f)
                dx = {"ls": 0.0, "ms": w / 2, "rs": w}[anchor]
                draw.text((shape.x - dx, shape.y - shape.size), shape.text, fill=INK, font=f)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
