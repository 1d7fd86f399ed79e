"""``dm.io``: the data facade — a province's tables from real extracts or from the simulator.

:func:`load_province` (layer 3 of the house, above the contract and the simulator) returns
every table of a province and month, either simulated (:mod:`dmkit.synth`, cached on disk
by :mod:`dmkit.synth.cache`) or read from a folder of extracts with :func:`read_table`.

The table I/O and atomic writes it re-exports live in the contract:
:mod:`dmkit.contract.tables` (``write_table``, ``read_table``, mappings, coercion) and
:mod:`dmkit.contract.files` (``atomic_write_bytes``, ``write_parquet_atomic``,
``read_parquet_file``). Layout written by :func:`write_table`::

    <root>/<table>/province=<province>/month=<YYYY-MM>/part.parquet   (or part.csv)
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dmkit import schema
from dmkit.contract.files import atomic_write_bytes, read_parquet_file, write_parquet_atomic
from dmkit.contract.months import check_month
from dmkit.contract.province import ProvinceData
from dmkit.contract.tables import (
    apply_mapping,
    coerce,
    load_mapping,
    mapping_for,
    partitioned_by_month,
    read_table,
    table_files,
    truth_folder,
    write_table,
)
from dmkit.contract.truth import Truth
from dmkit.errors import DataNotFoundError, parameter_error
from dmkit.synth.cache import DEFAULT_CACHE_DIR, synth_cache_path

__all__ = [
    "DEFAULT_CACHE_DIR",
    "apply_mapping",
    "atomic_write_bytes",
    "coerce",
    "load_mapping",
    "load_province",
    "mapping_for",
    "partitioned_by_month",
    "read_parquet_file",
    "read_table",
    "synth_cache_path",
    "table_files",
    "truth_folder",
    "write_parquet_atomic",
    "write_table",
]


def load_province(
    data: str | Path,
    *,
    province: str,
    month: str,
    n_users: int = 20_000,
    seed: int = 7,
    n_months: int = 6,
    cache_dir: str | Path | None = None,
    mapping: str | Path | Mapping | None = None,
    progress: bool = False,
) -> ProvinceData:
    """Every table of a province and data month, simulated or from real extracts.

    Parameters
    ----------
    data : "synth" or path
        ``"synth"``: simulate with :func:`dmkit.synth.generate`, cached on disk under
        :func:`synth_cache_path` (a complete cache is read back; an incomplete or stale
        one is regenerated; the cache is written into a temp folder and renamed, so two
        processes never see half a cache). Otherwise a folder of extracts laid out as
        :func:`write_table` writes them (``<data>/<table>/province=.../month=.../``),
        read with :func:`read_table`.
    province : str
        Province profile (``yunnan``, ``jiangsu``, ``guangdong``, ``national``) or, for
        extracts, the ``province=`` partition.
    month : str
        Data month ``YYYY-MM``.
    n_users, seed, n_months : int
        Simulator size, seed and number of monthly panels (synth only).
    cache_dir : path, optional
        Root of the simulator cache (synth only); default ``$DMKIT_CACHE_DIR`` if set (the
        runner sets it for the notebooks it executes), else ``data/generated``.
    mapping : path or dict, optional
        Column mapping for extracts (see :func:`load_mapping`); default ``$DMKIT_MAPPING``
        if set (``dmkit run`` sets it from the params' ``mapping`` key), else none.
    progress : bool, default False
        Show the simulator's progress bar (synth only).

    Returns
    -------
    ProvinceData
        Attributes users, usage, subscriptions, kpis, contacts, edges, events, revenue
        and ``truth`` (None for real extracts).

    Raises
    ------
    ParameterError
        Malformed month, unknown province, bad size or seed.
    DataNotFoundError
        The extract folder or one of its tables is missing.
    SchemaError
        An extract breaks the contract.
    """
    check_month(month)
    if not isinstance(province, str) or not province:
        raise parameter_error("province", expected="a province name, e.g. 'jiangsu'", found=province)
    if isinstance(data, str) and data == "synth":
        if cache_dir is None:
            cache_dir = os.environ.get("DMKIT_CACHE_DIR") or DEFAULT_CACHE_DIR
        from dmkit.synth import cache

        return cache.load(province=province, month=month, n_users=n_users, seed=seed,
                           n_months=n_months, cache_dir=Path(cache_dir), progress=progress)
    if mapping is None:
        mapping = os.environ.get("DMKIT_MAPPING") or None
    return _load_extracts(Path(data), province=province, month=month, mapping=mapping)


def _load_extracts(root: Path, *, province: str, month: str, mapping) -> ProvinceData:
    if not root.is_dir():
        raise DataNotFoundError(f"data folder {str(root)!r} does not exist "
                                "(pass data='synth' to simulate, or a folder of extracts)")
    missing = [t for t in schema.TABLES if not (root / t).is_dir()]
    if missing:
        raise DataNotFoundError(f"data folder {str(root)!r} has no table(s) {missing}; expected "
                                f"one folder per table: {list(schema.TABLES)} (see data/README.md)")
    if mapping is not None:
        load_mapping(mapping)  # checked once, before any table is read
    _check_synth_manifest(root, province=province, month=month)
    tables = {}
    for t in schema.TABLES:  # monthly tables: every month up to the data month; others: its snapshot
        if partitioned_by_month(t):
            tables[t] = read_table(root, t, mapping=mapping, province=province, until=month)
        else:
            tables[t] = read_table(root, t, mapping=mapping, province=province, month=month)
    truth = None
    tf = truth_folder(root, province=province, month=month)
    if (tf / "truth.json").is_file():  # data written by `dmkit synth`
        truth = Truth.load(tf)
    meta = {"province": province, "month": month, "source": str(root)}
    if truth is not None:
        meta.update(months=list(truth.months), n_users=truth.n_users, seed=truth.seed)
    return ProvinceData(**tables, truth=truth, meta=meta)


def _check_synth_manifest(root: Path, *, province: str, month: str) -> None:
    """Refuse ``dmkit synth`` output that is incomplete, mixed or corrupted (see
    :mod:`dmkit.contract.manifest`); extracts with neither truth nor manifest pass."""
    from dmkit.contract import manifest

    path = manifest.synth_manifest_path(root, province=province, month=month)
    tf = truth_folder(root, province=province, month=month)
    fix = (f"rerun `dmkit synth --province {province} --month {month} --out {root}` (into an empty "
           "folder, or one --out per data month)")
    if not path.exists():
        if (tf / "truth.json").is_file():
            raise manifest.refuse([f"{path.relative_to(root).as_posix()}: missing"],
                                  where=f"data folder {str(root)!r}: dmkit synth output for {province} {month} "
                                        "without its completion manifest (the write was interrupted)", fix=fix)
        return
    body = manifest.read_manifest(path)
    if body is None:
        raise manifest.refuse([f"{path.relative_to(root).as_posix()}: unreadable"],
                              where=f"data folder {str(root)!r}", fix=fix)
    present = []
    for t in schema.TABLES:
        sel = {"until": month} if partitioned_by_month(t) else {"month": month}
        try:
            present += table_files(root, t, province=province, **sel)
        except DataNotFoundError:
            continue  # a missing table is named by read_table
    if tf.is_dir():
        present += [f for f in tf.iterdir() if f.is_file() and not f.name.startswith(".")]
    problems = manifest.verify(body, root, present=present)
    if problems:
        raise manifest.refuse(problems, where=f"data folder {str(root)!r}, dmkit synth output for "
                                              f"{province} {month} (seed {body['meta'].get('seed')})", fix=fix)
