"""One matplotlib style for every report, with a CJK font so Chinese labels render.

The font is Noto Sans CJK SC, shipped inside the ``mplfonts`` pip package (a core
dependency), so every machine gets it without a system font install. It is registered
with matplotlib by file path — nothing is copied into matplotlib's data folder and no
matplotlibrc is rewritten — and put after DejaVu Sans in the sans-serif fallback list:
Latin text keeps matplotlib's usual face, Chinese glyphs fall back to Noto Sans CJK.

>>> import dmkit as dm
>>> dm.report.use()          # doctest: +SKIP  (notebooks call it through dm.report.start)
"""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from dmkit.errors import DataNotFoundError

__all__ = ["CJK_FONT", "STYLE", "font_path", "register_font", "use"]

#: The family name matplotlib knows the bundled CJK font by.
CJK_FONT = "Noto Sans CJK SC"

_FONT_FILE = "NotoSansCJKsc-Regular.otf"

#: The report style: matplotlib rcParams set by :func:`use`.
STYLE: dict[str, object] = {
    # a list of families, not the "sans-serif" alias: matplotlib falls back glyph by glyph only
    # along font.family itself (Latin from DejaVu Sans, Chinese from Noto Sans CJK SC)
    "font.family": ["DejaVu Sans", CJK_FONT],
    "axes.unicode_minus": True,
    "figure.figsize": (8.0, 4.5),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.autolayout": False,
    "figure.constrained_layout.use": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,  # a grid would be drawn over heatmaps (imshow); charts that want one ask
    "grid.alpha": 0.3,
    "axes.titlesize": 12,
    "axes.titleweight": "normal",  # the bundled CJK font has no bold face
    "axes.labelsize": 10,
    "legend.frameon": False,
    "legend.fontsize": 9,
}


def font_path() -> Path:
    """Path of the bundled Noto Sans CJK SC font file (from the ``mplfonts`` package).

    Raises
    ------
    DataNotFoundError
        ``mplfonts`` is not installed or does not hold the font file.
    """
    try:
        path = Path(str(resources.files("mplfonts") / "fonts" / _FONT_FILE))
    except ModuleNotFoundError as err:
        raise DataNotFoundError(
            "the CJK font package 'mplfonts' is not installed: Chinese chart labels need it "
            "(pip install mplfonts, or reinstall dmkit: it is a core dependency)") from err
    if not path.is_file():
        raise DataNotFoundError(f"mplfonts is installed but {_FONT_FILE} is missing at {str(path)!r}: "
                                f"reinstall it (pip install --force-reinstall mplfonts)")
    return path


@functools.cache
def register_font() -> str:
    """Register the bundled CJK font with matplotlib (once per process); return its family name."""
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(font_path()))
    return CJK_FONT


def use() -> None:
    """Apply the report style (:data:`STYLE`) and register the CJK font.

    Call it once before plotting; :func:`dmkit.report.start` calls it for the notebooks.
    It also sets pandas' display so a plain DataFrame never shows a count in scientific
    notation (:func:`dmkit.report.tables.format_number`).
    """
    import matplotlib as mpl
    import pandas as pd

    from dmkit.report.tables import format_number

    register_font()
    mpl.rcParams.update(STYLE)
    pd.set_option("display.float_format", format_number)
