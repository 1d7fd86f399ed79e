"""dm.report.style: the bundled CJK font renders Chinese labels with no missing-glyph warning."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from dmkit.report import style


def test_font_file_ships_with_the_pip_package():
    path = style.font_path()
    assert path.is_file() and path.stat().st_size > 1_000_000


def _render(text: str) -> np.ndarray:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 1))
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, fontsize=40, ha="center", va="center")
    fig.canvas.draw()
    pixels = (np.asarray(fig.canvas.buffer_rgba())[..., :3] < 128).any(axis=2)
    plt.close(fig)
    return pixels


def test_chinese_renders_with_the_cjk_font_without_glyph_warnings():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    style.use()
    found = font_manager.findfont(font_manager.FontProperties(family=style.CJK_FONT),
                                  fallback_to_default=False)
    assert found == str(style.font_path())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise here
        glyphs = _render("短板")
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boxes = _render("短板")  # what the reports showed before: two empty boxes
    assert glyphs.sum() > 300 and (glyphs != boxes).sum() > 1000


def test_missing_font_package_is_named(monkeypatch):
    from dmkit.errors import DataNotFoundError

    def gone(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(style.resources, "files", gone)
    with pytest.raises(DataNotFoundError, match="mplfonts"):
        style.font_path()
