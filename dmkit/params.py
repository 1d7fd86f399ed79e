"""Run parameters: ``params/defaults.yaml`` merged with ``params/<province>/<YYYY-MM>.yaml``.

A params file says what one batch run reproduces: the province profile and data month,
where the data comes from (``"synth"`` or a folder of real extracts), the simulator size
and seed, where reports go, and per-notebook thresholds. Files are read with a safe YAML
loader (UTF-8, UTF-16 with BOM or GB18030; a key given twice is refused) and validated
on load; every problem raises
:class:`~dmkit.errors.ParameterError` whose message starts with the file and the key::

    params/jiangsu/2009-06.yaml: key 'n_users': expected an integer > 0; got '50k'

Example
-------
>>> from dmkit.params import load_params
>>> p = load_params("params/jiangsu/2009-06.yaml")        # doctest: +SKIP
>>> p.notebook_parameters("jiangsu_campaign")             # doctest: +SKIP
{'province': 'jiangsu', 'month': '2009-06', 'data': 'synth', 'n_users': 50000, ...}
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from dmkit.errors import DataNotFoundError, ParameterError

__all__ = [
    "KEYS",
    "NOTEBOOKS",
    "NOTEBOOK_PARAMETERS",
    "PROVINCES",
    "Params",
    "all_params",
    "load_params",
    "params_for",
    "select_params",
]

#: Province profiles a params file may name.
PROVINCES: tuple[str, ...] = ("yunnan", "jiangsu", "guangdong", "national")

#: The case-study notebooks (``notebooks/<name>.ipynb``).
NOTEBOOKS: tuple[str, ...] = (
    "yunnan_health",
    "yunnan_lifecycle",
    "yunnan_fingerprint",
    "yunnan_sms_segments",
    "yunnan_newspaper",
    "yunnan_securities",
    "jiangsu_target_models",
    "jiangsu_campaign",
    "guangzhou_revenue",
    "guangzhou_rule_library",
    "music_four_stages",
    "viral_sms",
    "guangzhou_life_circle",
    "viral_mechanics",
    "guangzhou_planning",
    "published_tables",
    "yunnan_crbt_states",
    "music_campaign",
    "operations_loop",
)

#: Names every notebook's ``parameters`` cell defines; the runner injects them all.
NOTEBOOK_PARAMETERS: tuple[str, ...] = ("province", "month", "data", "n_users", "seed", "out_dir")

#: Every key a params file may hold, with what it must be.
KEYS: Mapping[str, str] = MappingProxyType({
    "province": f"one of {list(PROVINCES)}",
    "month": "a month as a quoted string 'YYYY-MM'",
    "data": "'synth' or the path of a folder of real extracts",
    "n_users": "an integer > 0",
    "seed": "an integer >= 0",
    "out_dir": "a string, optionally templated with {province}, {month}, {n_users}, {seed}",
    "engine": "one of ['pandas', 'spark']",
    "spark_master": "a Spark master URL string (local[2], spark://host:7077, yarn...) or null",
    "notebooks": f"'all' or a list of notebook names from {list(NOTEBOOKS)}",
    "cache_dir": "a string (folder of generated data)",
    "thresholds": "a mapping {notebook name: {parameter name: number, string, bool or list}}",
    "catalog": "the path of the operator's catalog YAML (relative to the params file), or null",
    "mapping": "the path of the extract's mapping YAML (relative to the params file), or null",
})

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCALAR = (bool, int, float, str)


@dataclass(frozen=True)
class Params:
    """One validated params file, merged over the defaults.

    Attributes
    ----------
    province : str
        Province profile (:data:`PROVINCES`).
    month : str
        Data month ``YYYY-MM``.
    data : str
        ``"synth"`` or a folder of real extracts.
    n_users, seed : int
        Simulator size and seed (used when ``data == "synth"``).
    out_dir : str
        Where this run's reports go, with the template already filled in.
    engine : {"pandas", "spark"}
        Execution engine the notebooks may use.
    spark_master : str or None
        Spark master URL the notebooks' Spark session connects to (exported to their kernels
        as ``DMKIT_SPARK_MASTER``); None: the environment's, else ``local[2]``.
    notebooks : "all" or tuple of str
        Which notebooks this params file runs.
    cache_dir : str
        Folder of generated simulator data.
    thresholds : Mapping[str, Mapping[str, object]]
        Per-notebook parameters injected by papermill beside the common ones.
    catalog : str or None
        The operator's catalog YAML (absolute path; the file's ``catalog:`` is read relative
        to the params file), exported to the kernels as ``DMKIT_CATALOG`` so the notebooks
        check and take its service, channel and brand codes
        (:mod:`dmkit.contract.catalog_yaml`). None: the mapping's ``catalog:`` entry, else
        ``$DMKIT_CATALOG``, else the simulator's catalog (:meth:`catalog_file`).
    mapping : str or None
        The extracts' mapping YAML (columns, encoding, date formats; absolute path, read
        relative to the params file like ``catalog``), exported as ``DMKIT_MAPPING``, which
        :func:`dmkit.io.load_province` reads for extracts. Only with ``data`` a folder.
    path : Path or None
        The params file this came from.
    """

    province: str
    month: str
    data: str = "synth"
    n_users: int = 50_000
    seed: int = 7
    out_dir: str = "reports/{province}/{month}"
    engine: Literal["pandas", "spark"] = "pandas"
    spark_master: str | None = None
    notebooks: Literal["all"] | tuple[str, ...] = "all"
    cache_dir: str = "data/generated"
    thresholds: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    catalog: str | None = None
    mapping: str | None = None
    path: Path | None = None

    def notebook_parameters(self, notebook: str) -> dict[str, object]:
        """The parameters papermill injects into ``notebook``.

        The common names of :data:`NOTEBOOK_PARAMETERS` plus ``thresholds[notebook]``.
        """
        common = {"province": self.province, "month": self.month, "data": self.data,
                  "n_users": self.n_users, "seed": self.seed, "out_dir": self.out_dir}
        return {**common, **dict(self.thresholds.get(notebook, {}))}

    def catalog_file(self) -> str | None:
        """The catalog YAML the kernels get as ``DMKIT_CATALOG``: ``catalog``, else the file
        the mapping's ``catalog:`` entry names, else ``$DMKIT_CATALOG`` of this process
        (None: the simulator's catalog)."""
        if self.catalog is not None:
            return self.catalog
        if self.mapping is not None:
            from dmkit.contract.ingest import load_yaml

            entry = load_yaml(self.mapping, what="mapping file")
            entry = entry.get("catalog") if isinstance(entry, Mapping) else None
            if isinstance(entry, str):  # an inline catalog checks the read only
                return str((Path(self.mapping).parent / entry).resolve())
        import os

        return os.environ.get("DMKIT_CATALOG") or None

    def with_overrides(self, *, n_users: int | None = None, out_dir: str | None = None,
                       engine: str | None = None, data: str | Path | None = None,
                       catalog: str | Path | None = None, mapping: str | Path | None = None) -> Params:
        """A copy with ``n_users``, ``out_dir``, ``engine``, ``data``, ``catalog`` and/or
        ``mapping`` replaced (``None`` keeps the value; the paths are read from the working
        directory and checked as the params file's are)."""
        where = str(self.path) if self.path else "<override>"
        new = self
        if data is not None:
            new = replace(new, data=_check_data(str(data), where))
        for key, value in (("catalog", catalog), ("mapping", mapping)):
            if value is not None:
                new = replace(new, **{key: _check_yaml_file(key, str(Path(value).resolve()), where)})
        if new.mapping is not None and new.data == "synth":
            raise _error(where, "mapping", "a mapping only with data: a folder of extracts", new.mapping,
                         fix="set data: to the extracts' folder (dmkit run --data DIR), or drop the mapping")
        if n_users is not None:
            _check_int("n_users", n_users, where, minimum=1)
            new = replace(new, n_users=int(n_users))
        if engine is not None:
            _check_engine(engine, where)
            new = replace(new, engine=engine)  # type: ignore[arg-type]
        if out_dir is not None:
            new = replace(new, out_dir=str(out_dir))
        return new


def load_params(path: str | Path, *, defaults: str | Path | None = None) -> Params:
    """Read, merge and validate one params file.

    Parameters
    ----------
    path : str or Path
        ``params/<province>/<YYYY-MM>.yaml``.
    defaults : str or Path, optional
        The defaults file; by default ``defaults.yaml`` in the params root (the parent of
        the province folder), used when it exists.

    Returns
    -------
    Params
        With ``out_dir`` templated and ``province``/``month`` taken from the path when the
        file does not give them.

    Raises
    ------
    DataNotFoundError
        ``path`` does not exist.
    ParameterError
        Unknown key, wrong type, malformed month, unknown province, a ``data`` folder that
        does not exist, or a province/month that disagrees with the file's path. The
        message starts with the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"params file {str(path)!r} does not exist; "
                                f"list the available ones with dmkit.params.all_params()")
    if defaults is None:
        candidate = path.parent.parent / "defaults.yaml"
        defaults = candidate if candidate.is_file() and candidate != path else None
    merged: dict[str, object] = {}
    if defaults is not None:
        merged.update(_read(Path(defaults)))
    own = _read(path)
    thresholds = _merge_thresholds(merged.get("thresholds"), own.get("thresholds"), str(path))
    merged.update(own)
    if thresholds is not None:
        merged["thresholds"] = thresholds
    _fill_from_path(merged, own, path)
    return _build(merged, str(path), path)


def params_for(province: str, month: str, *, root: str | Path = "params") -> Path:
    """The params file of ``province`` and ``month``: ``<root>/<province>/<month>.yaml``.

    Raises
    ------
    DataNotFoundError
        No such file; the message lists the months available for ``province``.
    """
    path = Path(root) / province / f"{month}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in (Path(root) / province).glob("*.yaml"))
        provinces = sorted(p.name for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else []
        hint = (f"months available for {province!r}: {have}" if have
                else f"provinces available: {provinces}")
        raise DataNotFoundError(f"no params file {str(path)!r}; {hint}. "
                                f"Fix: add {path} (copy a neighbouring month) or pick another month")
    return path


def all_params(*, root: str | Path = "params") -> list[Path]:
    """Every params file under ``root`` (``<root>/<province>/<YYYY-MM>.yaml``), sorted."""
    return sorted(p for p in Path(root).glob("*/*.yaml") if _MONTH.match(p.stem))


def select_params(
    *,
    province: str | None = None,
    month: str | None = None,
    all_files: bool = False,
    root: str | Path = "params",
) -> list[Path]:
    """The params files a ``dmkit run`` invocation asks for.

    ``province`` and ``month`` → that one file; ``province`` alone → every month of it;
    ``all_files`` → every params file.

    Raises
    ------
    ParameterError
        Neither a province nor ``all_files`` given, or ``month`` without ``province``.
    DataNotFoundError
        The file (or the province's folder) does not exist.
    """
    if all_files:
        if province is not None or month is not None:
            raise ParameterError("give either --all or --province/--month, not both",
                                 parameter="all")
        files = all_params(root=root)
        if not files:
            raise DataNotFoundError(f"no params files under {str(root)!r}")
        return files
    if province is None:
        raise ParameterError("say which run: --province P --month YYYY-MM, --province P "
                             "(every month of P) or --all", parameter="province")
    if month is not None:
        return [params_for(province, month, root=root)]
    files = sorted(p for p in (Path(root) / province).glob("*.yaml") if _MONTH.match(p.stem))
    if not files:
        raise DataNotFoundError(f"no params files for province {province!r} under {str(root)!r}")
    return files


# --------------------------------------------------------------------------- internals

def _error(where: str, key: str, expected: str, found: object, fix: str | None = None) -> ParameterError:
    msg = f"{where}: key {key!r}: expected {expected}; got {found!r}"
    if fix:
        msg += f". Fix: {fix}"
    return ParameterError(msg, parameter=key)


def _read(path: Path) -> dict[str, object]:
    from dmkit.contract.ingest import decode_text, parse_yaml

    # UTF-8 (BOM or not), UTF-16 with BOM or GB18030; a key given twice is refused
    content = parse_yaml(decode_text(path.read_bytes(), where=str(path)), where=str(path), parameter="params")
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ParameterError(f"{path}: expected a mapping of key: value; got {type(content).__name__}")
    unknown = [k for k in content if k not in KEYS]
    if unknown:
        raise _error(str(path), str(unknown[0]), "one of the known keys " + str(list(KEYS)),
                     unknown[0], fix="remove it or fix its spelling")
    content = dict(content)
    for key in _FILE_KEYS:  # relative to the file that names them
        value = content.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise _error(str(path), key, KEYS[key], value)
        content[key] = _check_yaml_file(key, str((path.parent / value).resolve()), str(path))
    return content


_FILE_KEYS = ("catalog", "mapping")


def _check_yaml_file(key: str, file: str, where: str) -> str:
    """``file`` (a catalog or mapping YAML) exists and reads as one; else a ParameterError
    naming the params file, the key and the YAML file's own problem."""
    from dmkit.contract.catalog_yaml import load_catalog
    from dmkit.contract.tables import load_mapping
    from dmkit.errors import DmkitError

    if not Path(file).is_file():
        raise _error(where, key, f"an existing {key} YAML file", file,
                     fix="check the path (relative paths are read from the params file's folder)")
    try:
        if key == "catalog":
            load_catalog(file)
        else:
            load_mapping(file)
    except DmkitError as err:
        raise ParameterError(f"{where}: key {key!r}: the {key} file {file!r} is not usable: {err}",
                             parameter=key) from err
    return file


def _check_data(data: object, where: str) -> str:
    _check_str("data", data, where)
    if data != "synth" and not Path(data).is_dir():  # type: ignore[arg-type]
        raise _error(where, "data", "'synth' or an existing folder of extracts", data,
                     fix="check the path (relative paths are read from the working directory)")
    return data  # type: ignore[return-value]


def _merge_thresholds(base: object, own: object, where: str) -> dict | None:
    if own is None:
        return None if base is None else base  # type: ignore[return-value]
    if base is None or not isinstance(base, dict) or not isinstance(own, dict):
        return own  # type: ignore[return-value]
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for name, values in own.items():
        if isinstance(values, dict) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **values}
        else:
            merged[name] = values
    return merged


def _fill_from_path(merged: dict[str, object], own: dict[str, object], path: Path) -> None:
    """Take province/month from ``<province>/<YYYY-MM>.yaml`` unless the file sets them; check agreement."""
    if not _MONTH.match(path.stem):
        return
    for key, from_path in (("province", path.parent.name), ("month", path.stem)):
        if own.get(key) is None:
            merged[key] = from_path
        elif own[key] != from_path:
            raise _error(str(path), key, f"{from_path!r} (the file's path says so)",
                         own[key], fix=f"rename the file or set {key}: {from_path!r}")


def _check_int(key: str, value: object, where: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _error(where, key, f"an integer >= {minimum}", value)


def _check_engine(value: object, where: str) -> None:
    if value not in ("pandas", "spark"):
        raise _error(where, "engine", KEYS["engine"], value)


def _check_str(key: str, value: object, where: str) -> None:
    if not isinstance(value, str) or not value:
        raise _error(where, key, KEYS[key], value)


def _build(raw: dict[str, object], where: str, path: Path | None) -> Params:
    for key in ("province", "month"):
        if raw.get(key) is None:
            raise _error(where, key, KEYS[key], None, fix=f"add '{key}:' to the file")
    province = raw["province"]
    if province not in PROVINCES:
        raise _error(where, "province", KEYS["province"], province)
    month = raw["month"]
    if not isinstance(month, str) or not _MONTH.match(month):
        raise _error(where, "month", KEYS["month"], month,
                     fix="write it as a quoted string, e.g. month: \"2009-06\"")
    data = _check_data(raw.get("data", "synth"), where)
    catalog, mapping = raw.get("catalog"), raw.get("mapping")
    if mapping is not None and data == "synth":
        raise _error(where, "mapping", "a mapping only with data: a folder of extracts", mapping,
                     fix="set data: to the extracts' folder, or drop the mapping")
    n_users = raw.get("n_users", Params.n_users)
    _check_int("n_users", n_users, where, minimum=1)
    seed = raw.get("seed", Params.seed)
    _check_int("seed", seed, where, minimum=0)
    engine = raw.get("engine", "pandas")
    _check_engine(engine, where)
    spark_master = raw.get("spark_master")
    if spark_master is not None:
        _check_str("spark_master", spark_master, where)
    notebooks = _check_notebooks(raw.get("notebooks", "all"), where)
    cache_dir = raw.get("cache_dir", Params.cache_dir)
    _check_str("cache_dir", cache_dir, where)
    thresholds = _check_thresholds(raw.get("thresholds") or {}, where)
    out_template = raw.get("out_dir", Params.out_dir)
    _check_str("out_dir", out_template, where)
    try:
        out_dir = str(out_template).format(province=province, month=month,
                                           n_users=n_users, seed=seed)
    except (KeyError, IndexError, ValueError) as err:
        raise _error(where, "out_dir", KEYS["out_dir"], out_template) from err
    if ".." in Path(out_dir).parts:  # reports stay under the output root
        raise _error(where, "out_dir", "a folder under the output root (no '..' in the path)", out_template,
                     fix="write it as e.g. reports/{province}/{month}, or pass dmkit run --out")
    return Params(province=province, month=month, data=data, n_users=n_users, seed=seed,  # type: ignore[arg-type]
                  out_dir=out_dir, engine=engine, spark_master=spark_master, notebooks=notebooks, cache_dir=cache_dir,  # type: ignore[arg-type]
                  thresholds=thresholds, catalog=catalog, mapping=mapping, path=path)  # type: ignore[arg-type]


def _check_notebooks(value: object, where: str) -> Literal["all"] | tuple[str, ...]:
    if value == "all":
        return "all"
    if not isinstance(value, list) or not value:
        raise _error(where, "notebooks", KEYS["notebooks"], value)
    for name in value:
        if name not in NOTEBOOKS:
            raise _error(where, "notebooks", KEYS["notebooks"], name)
    return tuple(value)


def _check_thresholds(value: object, where: str) -> Mapping[str, Mapping[str, object]]:
    if not isinstance(value, dict):
        raise _error(where, "thresholds", KEYS["thresholds"], value)
    out: dict[str, Mapping[str, object]] = {}
    for notebook, values in value.items():
        key = f"thresholds.{notebook}"
        if notebook not in NOTEBOOKS:
            raise _error(where, key, f"a notebook name from {list(NOTEBOOKS)}", notebook)
        if not isinstance(values, dict):
            raise _error(where, key, "a mapping {parameter name: value}", values)
        for name, v in values.items():
            if not isinstance(name, str) or not _NAME.match(name) or name in NOTEBOOK_PARAMETERS:
                raise _error(where, f"{key}.{name}",
                             "a Python identifier other than " + str(list(NOTEBOOK_PARAMETERS)), name)
            ok = v is None or isinstance(v, _SCALAR) or (
                isinstance(v, list) and all(isinstance(x, _SCALAR) for x in v))
            if not ok:
                raise _error(where, f"{key}.{name}", "a number, string, bool or a list of them", v)
        out[notebook] = dict(values)
    return out
