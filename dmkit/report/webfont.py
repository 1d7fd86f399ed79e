"""Chinese text that renders in any browser: the bundled CJK font, subset and embedded in a page.

A report's charts carry their Chinese labels as pixels (:mod:`dmkit.report.style`), but its
prose and tables are HTML text, drawn with whatever fonts the reader's machine has: on a
machine without a CJK font (a server, a fresh Linux desktop) every Chinese term shows as
empty boxes. :func:`embed_cjk_font` adds to a page the glyphs it uses, and only those, from
the same Noto Sans CJK SC that the charts use (subset with fontTools, a matplotlib
dependency), as a ``data:`` URI ``@font-face`` limited by ``unicode-range`` to CJK code
points, placed first in the page's font families: Latin text keeps its own fonts, a page
without Chinese is returned unchanged. A few dozen distinct characters cost a few KB.
"""
from __future__ import annotations

import base64
import io
import re

from dmkit.report.style import font_path

__all__ = ["CJK_RANGES", "FAMILY", "cjk_characters", "font_face_css", "embed_cjk_font"]

#: The family name the embedded font is declared under.
FAMILY = "dmkit CJK"

#: Code point ranges drawn from the embedded font: CJK radicals, punctuation, kana, unified
#: ideographs (with extension A), compatibility ideographs and forms, full-width forms.
CJK_RANGES: tuple[tuple[int, int], ...] = ((0x2E80, 0x2FDF), (0x3000, 0x30FF), (0x3400, 0x4DBF),
                                           (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F),
                                           (0xFF00, 0xFFEF))

_CJK = re.compile("[" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in CJK_RANGES) + "]")

# the font-family variables of nbconvert's "lab" template; the page's own values are kept, the CJK font
# put first (``--jp-code-font-family`` is ``var(--jp-code-font-family-default)`` there)
_FAMILY_VARIABLES = ("--jp-ui-font-family", "--jp-content-font-family", "--jp-code-font-family-default")


def cjk_characters(text: str) -> str:
    """The distinct CJK characters of ``text`` (those in :data:`CJK_RANGES`), in code point order."""
    return "".join(sorted(set(_CJK.findall(text))))


def font_face_css(characters: str) -> str:
    """CSS: an ``@font-face`` of :data:`FAMILY` holding the glyphs of ``characters`` (from the
    bundled Noto Sans CJK SC, as an OpenType ``data:`` URI), and rules that put it first in
    the body's and code's font families. Empty if ``characters`` holds no CJK character.

    Raises
    ------
    DataNotFoundError
        If the bundled font (the ``mplfonts`` package) is missing.
    """
    characters = cjk_characters(characters)
    if not characters:
        return ""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = ["*"]  # vertical forms and locl alternates cost little here
    options.name_IDs = [0, 1, 2]  # copyright, family, subfamily: the licence notice stays
    options.hinting = False
    font = TTFont(str(font_path()), lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    data = io.BytesIO()
    font.save(data)
    uri = base64.b64encode(data.getvalue()).decode("ascii")
    ranges = ",".join(f"U+{a:04X}-{b:04X}" for a, b in CJK_RANGES)
    first = f'"{FAMILY}"'
    return (f'@font-face {{ font-family: {first}; src: url(data:font/otf;base64,{uri}) format("opentype"); '
            f"unicode-range: {ranges}; font-display: block; }}\n"
            f"body {{ font-family: {first}, var(--jp-content-font-family, system-ui, sans-serif); }}\n"
            f"pre, code {{ font-family: {first}, var(--jp-code-font-family, monospace); }}\n")


def _page_families(page: str) -> str:
    """CSS: each font-family variable the page defines (:data:`_FAMILY_VARIABLES`), its own value
    with :data:`FAMILY` first; empty for a page that defines none."""
    first = f'"{FAMILY}"'
    found = ((name, re.search(rf"{re.escape(name)}\s*:\s*([^;{{}}]+);", page)) for name in _FAMILY_VARIABLES)
    rules = "".join(f"{name}: {first}, {' '.join(m.group(1).split())}; " for name, m in found if m)
    return f":root {{ {rules}}}\n" if rules else ""


def embed_cjk_font(page: str) -> str:
    """``page`` (an HTML document) with :func:`font_face_css` of its own CJK characters in a
    ``<style>`` at the end of its ``<head>``, the font also put first in the font-family
    variables the page's stylesheet defines (nbconvert's lab template); unchanged if it has
    no CJK text or no ``</head>``."""
    at = page.find("</head>")
    css = font_face_css(page) if at >= 0 else ""
    if not css:
        return page
    return f'{page[:at]}<style id="dmkit-cjk-font">\n{css}{_page_families(page[:at])}</style>\n{page[at:]}'
