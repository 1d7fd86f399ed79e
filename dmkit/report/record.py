"""The figures a notebook records: for its test, and headline figures for the batch index.

A notebook's last cell calls :func:`record`, which writes its key figures to
``<out_dir>/<name>.json`` (read back with :func:`read_record`) and, when given ``headline``,
the two or three figures the index page shows, with a human label and a format, to
``<out_dir>/<name>.headline.json`` (read back with :func:`read_headline`).

``dm.runner.record`` (and :mod:`dmkit.batch.record`) are aliases of :func:`record`, kept for
notebooks not yet moved to ``dm.report.record``.

>>> import dmkit as dm
>>> dm.report.record("reports/jiangsu/2009-06", "jiangsu_campaign",           # doctest: +SKIP
...                  {"response_rate": 0.0179, "sent": 4710},
...                  headline=[("response_rate", "Replied / delivered", "percent")])
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dmkit.contract.files import atomic_write_bytes
from dmkit.errors import DataNotFoundError, parameter_error
from dmkit.report.tables import KINDS, Kind, format_value

__all__ = ["Headline", "headline_figures", "read_headline", "read_record", "read_title", "record"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Headline:
    """One headline figure as the index shows it.

    Attributes
    ----------
    key : str
        The figure's name in the record (``"response_rate"``).
    label : str
        What a reader sees (``"Replied / delivered"``).
    kind : {"count", "percent", "money", "number", "text"}
        How the value is formatted.
    value : scalar
        The recorded value.
    text : str
        ``value`` formatted (``"1.8%"``).
    """

    key: str
    label: str
    kind: Kind
    value: object
    text: str


def headline_figures(figures: Mapping[str, object],
                     headline: Sequence[tuple[str, str, Kind] | tuple[str, str]]) -> list[Headline]:
    """The ``headline`` entries ``(key, label[, kind])`` of ``figures``, labelled and formatted.

    ``kind`` defaults to ``"number"``.

    Raises
    ------
    ParameterError
        A key that is not in ``figures``, or a kind that is not one of count, percent,
        money, number, text.
    """
    out = []
    for entry in headline:
        if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
            raise parameter_error("headline", expected="(key, label) or (key, label, kind) tuples",
                                  found=entry)
        key, label, kind = (*entry, "number") if len(entry) == 2 else entry
        if key not in figures:
            raise parameter_error("headline", expected=f"keys of the recorded figures {sorted(figures)}",
                                  found=key)
        if kind not in KINDS:
            raise parameter_error("headline", expected=f"a kind in {KINDS}", found=kind)
        value = _plain(f"figures[{key!r}]", figures[key]) if not isinstance(figures[key], (list, tuple)) else None
        text = format_value(value, kind) if value is not None else "n/a"
        out.append(Headline(str(key), str(label), kind, value, text))
    return out


def record(out_dir: str | Path, name: str, figures: Mapping[str, object], *,
           headline: Sequence[tuple[str, str, Kind] | tuple[str, str]] = (), title: str = "") -> None:
    """Write a notebook's key figures to ``<out_dir>/<name>.json`` atomically.

    Call it in the notebook's last code cell; the notebook's test and the batch index
    read these figures.

    Parameters
    ----------
    out_dir : str or Path
        The notebook's ``out_dir`` parameter (created if missing).
    name : str
        The notebook's name, e.g. ``"jiangsu_campaign"``.
    figures : mapping of str to scalar
        int, float, str, bool, None (numpy scalars are converted; NaN, infinities, pd.NA
        and NaT become None; dates, timestamps and periods become ISO strings), or lists
        of those.
    headline : sequence of (key, label, kind)
        The figures the index page shows for this report (two or three), each with a
        human label and a kind (count, percent, money, number, text); written to
        ``<out_dir>/<name>.headline.json``.
    title : str
        The report's heading (``report.title`` from :func:`dmkit.report.start`), shown by
        the index instead of the notebook's file name.

    Returns nothing, so the notebook's last cell shows no output; read the figures back
    with :func:`read_record` and :func:`read_headline`.

    Raises
    ------
    ParameterError
        A name that is not a plain file name, a value that is not a scalar or list of
        scalars, or a headline key that was not recorded.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise parameter_error("name", expected="a notebook name like 'jiangsu_campaign'", found=name)
    if not isinstance(figures, Mapping):
        raise parameter_error("figures", expected="a dict {figure name: value}",
                              found=type(figures).__name__)
    clean = {}
    for key, value in figures.items():
        if not isinstance(key, str):
            raise parameter_error("figures", expected="string keys", found=key)
        if isinstance(value, (list, tuple)):
            clean[key] = [_plain(f"figures[{key!r}]", v) for v in value]
        else:
            clean[key] = _plain(f"figures[{key!r}]", value)
    heads = headline_figures(clean, headline)
    folder = Path(out_dir)
    side = folder / f"{name}.headline.json"
    if heads or title:
        body = json.dumps({"title": str(title), "headline": [h.__dict__ for h in heads]}, indent=2,
                          ensure_ascii=False, allow_nan=False)
        atomic_write_bytes(side, body.encode("utf-8"))
    else:
        side.unlink(missing_ok=True)
    text = json.dumps(clean, indent=2, ensure_ascii=False, allow_nan=False, sort_keys=True)
    atomic_write_bytes(folder / f"{name}.json", text.encode("utf-8"))


def read_record(out_dir: str | Path, name: str) -> dict[str, object]:
    """The figures a notebook recorded with :func:`record`.

    Raises
    ------
    DataNotFoundError
        The notebook recorded nothing in ``out_dir`` (it failed before its last cell,
        or it does not call ``dm.report.record``).
    """
    path = Path(out_dir) / f"{name}.json"
    if not path.is_file():
        raise DataNotFoundError(f"no figures recorded at {str(path)!r}: the notebook failed "
                                f"before its last cell or does not call dm.report.record")
    return json.loads(path.read_text(encoding="utf-8"))


def read_headline(out_dir: str | Path, name: str) -> list[Headline]:
    """The headline figures recorded with the figures (``[]`` when none were, or no figures were).

    A headline file left from an earlier run whose figures are gone is ignored.
    """
    return [Headline(**h) for h in _side(out_dir, name).get("headline", [])]


def read_title(out_dir: str | Path, name: str) -> str:
    """The report's heading recorded with the figures (``""`` when none was)."""
    return str(_side(out_dir, name).get("title", ""))


def _side(out_dir: str | Path, name: str) -> dict:
    folder = Path(out_dir)
    path = folder / f"{name}.headline.json"
    if not path.is_file() or not (folder / f"{name}.json").is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        [Headline(**h) for h in data.get("headline", [])]
    except (ValueError, TypeError, AttributeError):
        return {}
    return data


def _plain(where: str, value: object) -> object:
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (_dt.date, pd.Period)):
        return str(value.isoformat() if isinstance(value, _dt.date) else value)
    item = getattr(value, "item", None)  # numpy scalars, 0-d arrays
    if callable(item) and getattr(value, "ndim", 0) == 0:
        value = item()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    raise parameter_error(where, expected="an int, float, str, bool or None (or a list of them)",
                          found=type(value).__name__)
