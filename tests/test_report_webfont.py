"""The embedded CJK font of a report page: only the page's own glyphs, a working font, Latin untouched."""
from __future__ import annotations

import base64
import io
import re

import pytest

from dmkit.report import webfont


def _embedded_font(page: str):
    from fontTools.ttLib import TTFont

    uri = re.search(r"data:font/otf;base64,([A-Za-z0-9+/=]+)", page)
    assert uri is not None
    return TTFont(io.BytesIO(base64.b64decode(uri.group(1))))


def test_characters_distinct_and_only_cjk():
    assert webfont.cjk_characters("客户 fingerprint 客户指纹（库）, 2008-12") == "".join(sorted(set("客户指纹库（）")))


def test_page_without_chinese_is_unchanged():
    page = "<html><head><title>x</title></head><body>Health index 0.71</body></html>"
    assert webfont.embed_cjk_font(page) == page
    assert webfont.font_face_css("Latin only, 1,234.5") == ""


def test_page_without_head_is_unchanged():
    page = "<p>客户指纹</p>"
    assert webfont.embed_cjk_font(page) == page


def test_embedded_font_holds_the_page_glyphs_and_no_others():
    page = "<html><head><title>t</title></head><body><h1>The customer fingerprint (客户指纹库)</h1></body></html>"
    out = webfont.embed_cjk_font(page)
    assert out.endswith(page[page.index("</head>"):])  # inserted at the end of the head, body intact
    assert out.count('id="dmkit-cjk-font"') == 1
    cmap = _embedded_font(out).getBestCmap()
    for ch in "客户指纹库":
        assert ord(ch) in cmap, ch
    assert ord("彩") not in cmap  # a character the page does not use is not shipped
    assert len(out) - len(page) < 40_000  # a subset, not the 16 MB font


def test_font_is_declared_for_cjk_ranges_only_and_first():
    css = webfont.font_face_css("深度运营")
    assert "unicode-range: U+2E80-2FDF" in css and "U+4E00-9FFF" in css
    # the page's own font-family variables (as nbconvert's lab template defines them), the CJK font first
    page = ("<html><head><style>:root {\n  --jp-content-font-family: system-ui, -apple-system,\n    sans-serif;\n"
            "  --jp-code-font-family-default: menlo, monospace;\n  --jp-code-font-family: var(--jp-code-font-family-default);\n}"
            "</style></head><body>深度运营</body></html>")
    out = webfont.embed_cjk_font(page)
    assert '--jp-content-font-family: "dmkit CJK", system-ui, -apple-system, sans-serif;' in out
    assert '--jp-code-font-family-default: "dmkit CJK", menlo, monospace;' in out
    assert '--jp-ui-font-family: "dmkit CJK"' not in out  # a variable the page does not define is not added


def test_missing_font_package_is_a_clear_error(monkeypatch):
    import dmkit.report.style as style
    from dmkit.errors import DmkitError

    def missing():
        raise style.DataNotFoundError("the CJK font package 'mplfonts' is not installed")

    monkeypatch.setattr(webfont, "font_path", missing)
    with pytest.raises(DmkitError, match="mplfonts"):
        webfont.font_face_css("客户")


def test_batch_report_embeds_the_font(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from dmkit.batch import html as batch_html

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 深度运营闭环 (the closed loop)")])
    path = tmp_path / "loop.ipynb"
    nbformat.write(nb, path)
    text = batch_html.to_html(path, title="loop").read_text(encoding="utf-8")
    cmap = _embedded_font(text).getBestCmap()
    assert all(ord(ch) in cmap for ch in "深度运营闭环")
