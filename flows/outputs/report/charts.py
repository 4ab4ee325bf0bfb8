"""Charts for the report (matplotlib, Agg): completeness by unit and trends of key indicators.

Labels are Vietnamese, so the font must have every precomposed letter (ữ, ạ, ằ, ỗ …): DejaVu Sans
ships with matplotlib and has them; `font_has_glyphs` lets the tests prove it.
"""

from __future__ import annotations

import math
import textwrap
import threading
from collections import OrderedDict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on the nightly server

from matplotlib import font_manager, rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from flows.core.vnformat import auto, percent  # noqa: E402
from flows.outputs.atomic import write_atomically  # noqa: E402
from flows.outputs.names import CHARTS  # noqa: E402
from flows.outputs.report.wording import Wording  # noqa: E402

FONT = "DejaVu Sans"
DPI = 150
WIDTH_IN = 6.3  # 160 mm: the text width of an A4 portrait page with Decree 30 margins
MAX_BARS = 40
CHART_FILES = CHARTS


def font_path() -> Path:
    """The file matplotlib uses for the chart font (fails rather than fall back silently)."""
    return Path(font_manager.findfont(font_manager.FontProperties(family=FONT),
                                      fallback_to_default=False))


def font_has_glyphs(text: str, path: Path | None = None) -> bool:
    """True when the font maps every character of `text` to a glyph (no tofu boxes)."""
    charmap = FT2Font(str(path or font_path())).get_charmap()
    return all(ord(ch) in charmap for ch in text if not ch.isspace())


def _style() -> dict:
    return {"font.family": FONT, "font.size": 9, "axes.spines.top": False,
            "axes.spines.right": False, "svg.fonttype": "none"}


def _save(fig: Figure, path: Path) -> Path:
    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=DPI)  # constrained layout: one draw, no re-fit

    return write_atomically(path, write)


# Drawing is most of a small report's time, and a chart's picture depends only on its spec and
# the wording: the internal version's chart, and a night when nothing changed, reuse it.
_DRAWN: OrderedDict[str, bytes] = OrderedDict()
_DRAWN_MAX = 16
_DRAWN_LOCK = threading.Lock()


def _drawn(kind: str, spec: object, wording: Wording, path: Path, draw) -> Path:
    """Write the chart `draw(spec, wording, path)` would, from memory when it was drawn
    before in this process with the same spec and wording."""
    key = repr((kind, spec, wording.raw("charts"), DPI, WIDTH_IN))
    with _DRAWN_LOCK:
        data = _DRAWN.get(key)
        if data is not None:
            _DRAWN.move_to_end(key)
    if data is not None:
        return write_atomically(path, lambda tmp: tmp.write_bytes(data))
    draw(spec, wording, path)
    with _DRAWN_LOCK:
        _DRAWN[key] = path.read_bytes()
        while len(_DRAWN) > _DRAWN_MAX:
            _DRAWN.popitem(last=False)
    return path


def completeness_chart(units: list[dict], wording: Wording, path: Path) -> Path:
    """Horizontal bars: share of required cells filled per unit, coloured by timeliness."""
    colours = dict(wording.raw("charts.states"))
    shown = sorted(units, key=lambda u: (u["completeness"], u["name"]))
    title = wording.say("charts.completeness_title")
    if len(shown) > MAX_BARS:  # with 150 units, the ones needing a call matter most
        title = wording.say("charts.completeness_lowest", count=MAX_BARS, expected=len(units))
        shown = shown[:MAX_BARS]
    shown.reverse()  # barh draws bottom-up: the lowest unit ends on top
    with rc_context(_style()):  # a Figure without pyplot: no global state between runs
        fig = Figure(figsize=(WIDTH_IN, 1.1 + 0.26 * len(shown)), layout="constrained")
        ax = fig.subplots()
        values = [u["completeness"] for u in shown]
        ax.barh(range(len(shown)), values,
                color=[colours.get(u["state"], "#607d8b") for u in shown], height=0.7)
        ax.set_yticks(range(len(shown)), [u["name"] for u in shown])
        for i, value in enumerate(values):
            ax.text(min(value, 100) + 1, i, percent(value), va="center", fontsize=8)
        ax.set_xlim(0, 112)
        ax.set_xticks(range(0, 101, 20))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.0f}%"))
        ax.set_xlabel(wording.say("charts.completeness_axis"))
        ax.set_title(title, fontsize=10, fontweight="bold")
        present = [s for s in colours if any(u["state"] == s for u in shown)]
        handles = [Rectangle((0, 0), 1, 1, color=colours[s]) for s in present]
        fig.legend(handles, present, fontsize=7.5, loc="outside lower center", frameon=False,
                   ncol=min(3, len(present) or 1))
        return _save(fig, path)


def trends_chart(series: list[dict], wording: Wording, path: Path) -> Path:
    """Small multiples: the town total of each key indicator per year; the partial year hatched."""
    count = len(series)
    cols = min(4, count)
    rows = math.ceil(count / cols)
    partial = series[0]["partial_year"]
    with rc_context(_style()):
        fig = Figure(figsize=(WIDTH_IN, 2.15 * rows + 0.5), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax in axes.flat[count:]:
            ax.axis("off")
        for ax, spec in zip(axes.flat, series, strict=False):
            years = spec["years"]
            labels = [f"{y}*" if y == partial else str(y) for y in years]
            values = [v or 0 for v in spec["values"]]
            bars = ax.bar(labels, values, color="#1565c0", width=0.6)
            marks = spec.get("marks") or [""] * len(years)  # the published version's marks
            for bar, year, value, mark in zip(bars, years, spec["values"], marks, strict=True):
                if year == partial:
                    bar.set_hatch("///")
                    bar.set_facecolor("#90caf9")
                ax.annotate(auto(value) if value is not None else (mark or "–"),
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=6.5, xytext=(0, 1),
                            textcoords="offset points")
            short = [c for c in spec["counts"] if c < spec["expected"]]
            name = spec["label"] + (f" ({spec['unit']})" if spec["unit"] else "")
            if short:  # a partial total says so, on the chart too
                name += " " + wording.say("charts.coverage", count=min(short),
                                          expected=spec["expected"])
            ax.set_title("\n".join(textwrap.wrap(name, 26)[:5]), fontsize=7.5)
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            ax.tick_params(axis="x", labelsize=7.5)
            ax.set_ylim(0, max(values + [1]) * 1.22)
        fig.suptitle(wording.say("charts.trends_title"), fontsize=10, fontweight="bold")
        if partial:
            fig.supxlabel(wording.say("charts.partial_year", year=partial), fontsize=7,
                          style="italic", x=0.01, ha="left")
        return _save(fig, path)


def render_charts(specs: dict, wording: Wording, out_dir: Path) -> dict[str, Path]:
    """Write the charts the content asks for; returns chart key → PNG path."""
    paths: dict[str, Path] = {}
    for kind, draw in (("completeness", completeness_chart), ("trends", trends_chart)):
        if specs.get(kind):
            paths[kind] = _drawn(kind, specs[kind], wording, out_dir / CHART_FILES[kind], draw)
    return paths
