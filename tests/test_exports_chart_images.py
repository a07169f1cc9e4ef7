"""Chart images: PNG bytes from vl-convert, with Chinese really drawn (not boxes)."""
from __future__ import annotations

import struct
from collections.abc import Iterator

import altair as alt
import pytest

from audit import charts as c
from audit import progress_charts as pc
from exports import chart_format, chart_io

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk."""
    assert png[:8] == PNG_SIGNATURE
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def text_png(text: str) -> bytes:
    """A PNG of one line of big text, nothing else (no axes whose pixels could differ)."""
    chart = (alt.Chart(alt.Data(values=[{"t": text}])).mark_text(fontSize=48)
             .encode(text="t:N").properties(width=260, height=80))
    return chart_format.chart_png(c.configure(chart), scale=1)


def test_a_chinese_chart_renders_to_a_png_of_its_scaled_size() -> None:
    rows = [{"category": "C1 外包准入", "status": "closed", "count": 3},
            {"category": "C1 外包准入", "status": "in_progress", "count": 2}]
    chart = c.for_print(c.status_by_category(rows), 500)
    width, height = png_size(chart_format.chart_png(chart, scale=2))
    # 500 px of plot plus axis labels, legend and title, doubled.
    assert 1000 < width < 1600 and height > 100
    small_width, _ = png_size(chart_format.chart_png(chart, scale=1))
    assert abs(width - 2 * small_width) <= 2


def test_a_container_width_chart_gets_a_printable_width() -> None:
    chart = pc.ageing(pc.ageing_buckets([1, 40, 200]))
    assert chart.to_dict()["width"] == "container"
    width, _ = png_size(chart_format.chart_png(chart, scale=1))
    assert width >= 640
    narrow, _ = png_size(chart_format.chart_png(chart, scale=1, width=300))
    assert narrow < width


def test_an_empty_chart_renders() -> None:
    assert chart_format.chart_png(pc.burnup([]))[:8] == PNG_SIGNATURE


def test_chinese_glyphs_are_drawn_not_boxes() -> None:
    # Without a CJK font every character becomes the same .notdef box, so two different
    # Chinese strings would give identical images; with it they differ from each other and
    # from real white squares (U+25A1), which most fonts do have.
    first, second, boxes = text_png("审计整改"), text_png("销号预警"), text_png("□□□□")
    assert first != second
    assert boxes not in (first, second)


def test_missing_glyphs_do_give_identical_images() -> None:
    # The control for the test above: unassigned code points have no glyph in any font, and
    # two different strings of them render byte for byte the same.
    assert text_png("\u0378\u0379\u0380\u0381") == text_png("\u0380\u0381\u0382\u0383")


def test_a_missing_cjk_font_is_named_with_its_package(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    monkeypatch.setattr(chart_format, "find_cjk_font_dir", lambda: None)
    for cached in (chart_format.ensure_cjk_font, chart_format.cjk_font_dir):
        cached.cache_clear()
    try:
        with pytest.raises(chart_format.CJKFontMissing, match="fonts-noto-cjk"):
            chart_format.chart_png(pc.ageing([]))
        with pytest.raises(chart_format.CJKFontMissing, match="fonts-noto-cjk"):
            chart_io.render_pngs([pc.ageing([])])
    finally:
        for cached in (chart_format.ensure_cjk_font, chart_format.cjk_font_dir):
            cached.cache_clear()


def test_the_cjk_font_directory_is_found() -> None:
    directory = chart_format.find_cjk_font_dir()
    assert directory is not None and chart_format.ensure_cjk_font() == directory


def test_the_chart_process_renders_what_this_process_renders() -> None:
    charts = [c.for_print(c.status_by_category([
        {"category": "C1 外包准入", "status": "closed", "count": 3}]), 500), pc.burnup([])]
    assert chart_io.render_pngs(charts, scale=1) == [chart_format.chart_png(ch, scale=1)
                                                         for ch in charts]


def test_a_chart_the_process_cannot_render_is_named() -> None:
    good = pc.burnup([])
    bad = {"mark": "no-such-mark", "data": {"values": [{"x": 1}]},
           "encoding": {"x": {"field": "x", "type": "quantitative"}}}
    with pytest.raises(chart_io.ChartRenderError, match="chart 2: ValueError") as caught:
        chart_io.render_pngs([good, bad])
    with pytest.raises(ValueError) as here:  # vl-convert's own words, as this process gets them
        chart_format.chart_png(bad)
    assert str(here.value) in str(caught.value)


@pytest.fixture(autouse=True)
def _font_registered_again() -> Iterator[None]:
    """Each test leaves the process with the font registered, whatever it did to the cache."""
    yield
    chart_format.ensure_cjk_font()
