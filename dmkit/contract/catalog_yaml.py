"""The operator's catalog: service, channel and brand codes, names and groups from a YAML file.

The contract's code columns (``subscriptions.service``, ``kpis.service``,
``contacts.service``, every ``channel``, ``users.brand``, ``events.genre``) are checked
against the *active* catalog. By default that is the simulator's (the 35 services, 14
channels and 3 brands of :mod:`dmkit.catalog`); an operator with its own product codes
supplies a catalog YAML::

    # my_catalog.yaml
    extends: simulator          # optional: keep the simulator's codes and add these
    services:                   # code: name, or code: {name: ..., group: ...}
      XW001: {name: 新闻早报 (morning newspaper), group: newspaper}
      YY010: 彩铃包月 (CRBT monthly)
    channels:                   # optional: default the simulator's channels
      "10086": hotline
    brands:                     # optional
      gotone: 全球通

and activates it for a script (``dm.catalog.use_catalog("my_catalog.yaml")``), for one
read (``catalog: my_catalog.yaml`` in the mapping YAML, or ``dmkit validate --catalog``),
or for a process (the environment variable ``DMKIT_CATALOG``). Every method then takes
the catalog's codes, including ones the simulator has never seen.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dmkit.errors import ParameterError

__all__ = ["Catalog", "load_catalog", "use_catalog", "active_catalog", "mapping_catalog", "simulator_catalog",
           "VOCABULARIES"]

VOCABULARIES: tuple[str, ...] = ("services", "channels", "brands", "genres")
"""The code lists a catalog holds."""


@dataclass(frozen=True)
class Catalog:
    """Codes, names and groups of services, channels, brands and content genres.

    Attributes
    ----------
    services, channels, brands, genres : mapping
        ``{code: name}`` in catalog order.
    groups : mapping
        ``{service code: group}`` (a family such as ``newspaper``); services without a
        group are their own group.
    source : str
        Where the catalog came from (``"simulator"`` or the YAML path).
    """

    services: Mapping[str, str]
    channels: Mapping[str, str]
    brands: Mapping[str, str]
    genres: Mapping[str, str]
    groups: Mapping[str, str] = field(default_factory=dict)
    source: str = "simulator"

    def codes(self, vocabulary: str) -> tuple[str, ...]:
        """The codes of ``vocabulary`` (one of :data:`VOCABULARIES`), in catalog order."""
        if vocabulary not in VOCABULARIES:
            from dmkit.errors import parameter_error

            raise parameter_error("vocabulary", expected=f"one of {list(VOCABULARIES)}", found=vocabulary)
        return tuple(getattr(self, vocabulary))

    @property
    def service_codes(self) -> tuple[str, ...]:
        """The service codes, in catalog order."""
        return tuple(self.services)

    def group_of(self, service: str) -> str:
        """The group of a service code (the code itself when it has none)."""
        return self.groups.get(service, service)

    def to_frame(self) -> pd.DataFrame:
        """One row per code: ``vocabulary, code, name, group``."""
        rows = [(v, c, n, self.group_of(c) if v == "services" else None)
                for v in VOCABULARIES for c, n in getattr(self, v).items()]
        return pd.DataFrame(rows, columns=["vocabulary", "code", "name", "group"])

    def summary(self) -> str:
        """One line: how many codes of each kind, and the source."""
        sizes = ", ".join(f"{len(getattr(self, v))} {v}" for v in VOCABULARIES)
        return f"catalog ({self.source}): {sizes}"

    def __repr__(self) -> str:
        return f"Catalog({self.summary()})"


@functools.cache
def simulator_catalog() -> Catalog:
    """The simulator's catalog (the codes of :mod:`dmkit.catalog`), the default."""
    from dmkit import catalog as cat

    services = {}
    for code, name in cat.SERVICE_NAMES.items():
        services[code] = name
    return Catalog(services=services,
                   channels={c: c for c in cat.CHANNELS},
                   brands={b: b for b in cat.BRANDS},
                   genres={g: g for g in cat.GENRES},
                   groups={}, source="simulator")


def load_catalog(path: str | Path | Mapping) -> Catalog:
    """Read a catalog YAML file (or an already-loaded dict); see the module docstring.

    Parameters
    ----------
    path : path or mapping
        The YAML file (UTF-8, UTF-16 with BOM or GB18030; a key given twice is refused),
        or its content as a dict.

    Returns
    -------
    Catalog
        Sections left out are the simulator's; with ``extends: simulator`` the given
        codes are added to the simulator's.

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    ParameterError
        Not a mapping, an unknown section, an empty or non-text code, a name or group
        that is not text.
    """
    from dmkit.contract.ingest import load_yaml

    if isinstance(path, Mapping):
        raw, where, source = path, "catalog", "mapping"
    else:
        raw = load_yaml(path, what="catalog file")
        where, source = f"catalog file {str(path)!r}", str(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: expected a mapping with sections {list(VOCABULARIES)}; "
                             f"found {type(raw).__name__}", parameter="catalog")
    unknown = [k for k in raw if k not in (*VOCABULARIES, "extends")]
    if unknown:
        raise ParameterError(f"{where}: unknown section {unknown[0]!r}; expected {list(VOCABULARIES)} "
                             "and optionally 'extends: simulator'", parameter="catalog")
    extends = raw.get("extends")
    if extends not in (None, "simulator"):
        raise ParameterError(f"{where}: 'extends' must be 'simulator'; found {extends!r}", parameter="catalog")
    base = simulator_catalog()
    parts: dict[str, dict[str, str]] = {}
    groups: dict[str, str] = {}
    for vocab in VOCABULARIES:
        given = raw.get(vocab)
        if given is None:
            parts[vocab] = dict(getattr(base, vocab))
            continue
        codes = _codes(given, vocab, where, groups if vocab == "services" else None)
        parts[vocab] = {**getattr(base, vocab), **codes} if extends else codes
    return Catalog(**parts, groups=groups, source=source)


def _codes(given: object, vocab: str, where: str, groups: dict | None) -> dict[str, str]:
    if isinstance(given, list | tuple):
        given = {c: None for c in given}
    if not isinstance(given, Mapping) or not given:
        raise ParameterError(f"{where}, section {vocab!r}: expected a non-empty mapping {{code: name}} "
                             f"or a list of codes; found {given!r}", parameter="catalog")
    out: dict[str, str] = {}
    for code, spec in given.items():
        if isinstance(code, bool) or not isinstance(code, str | int) or not str(code).strip():
            raise ParameterError(f"{where}, section {vocab!r}: codes must be non-empty text; found {code!r} "
                                 "(quote codes such as '10086')", parameter="catalog")
        code = str(code)
        if str(code) in out:
            raise ParameterError(f"{where}, section {vocab!r}: code {code!r} is given twice "
                                 "(once as a number, once as text?)", parameter="catalog")
        name, group = code, None
        if isinstance(spec, Mapping):
            extra = [k for k in spec if k not in ("name", "group")]
            if extra or (groups is None and "group" in spec):
                raise ParameterError(f"{where}, {vocab} code {code!r}: unknown key {(extra or ['group'])[0]!r}; "
                                     "expected name" + (" and group" if groups is not None else ""),
                                     parameter="catalog")
            name, group = spec.get("name", code), spec.get("group")
        elif spec is not None:
            name = spec
        for label, value in (("name", name), ("group", group)):
            if value is not None and not isinstance(value, str):
                raise ParameterError(f"{where}, {vocab} code {code!r}: {label} must be text; found {value!r}",
                                     parameter="catalog")
        out[code] = name
        if groups is not None and group is not None:
            groups[code] = group
    return out


# ---------------------------------------------------------------------------------
# the active catalog
# ---------------------------------------------------------------------------------
_ACTIVE: list[Catalog] = []


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Catalog:
    return load_catalog(path)


def active_catalog() -> Catalog:
    """The catalog codes are checked against: the one of :func:`use_catalog`, else the file
    named by ``$DMKIT_CATALOG``, else the simulator's."""
    if _ACTIVE:
        return _ACTIVE[-1]
    env = os.environ.get("DMKIT_CATALOG")
    if env:
        p = Path(env)
        try:
            mtime = p.stat().st_mtime
        except OSError:
            mtime = -1.0
        return _load_cached(str(p), mtime)
    return simulator_catalog()


class use_catalog:  # noqa: N801 - used like a function and as a context manager
    """Make ``catalog`` (a :class:`Catalog`, a YAML path or a dict) the active catalog.

    Takes effect at once; used as a context manager, the previous catalog is back on
    exit::

        dm.catalog.use_catalog("my_catalog.yaml")          # for the rest of the script
        with dm.catalog.use_catalog("my_catalog.yaml"):    # for a block
            ...
    """

    def __init__(self, catalog: Catalog | str | Path | Mapping | None) -> None:
        if catalog is None:
            self.catalog = simulator_catalog()
        else:
            self.catalog = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
        _ACTIVE.append(self.catalog)

    def __enter__(self) -> Catalog:
        return self.catalog

    def __exit__(self, *exc) -> None:
        for i in range(len(_ACTIVE) - 1, -1, -1):
            if _ACTIVE[i] is self.catalog:
                del _ACTIVE[i]
                break


def mapping_catalog(mapping: str | Path | Mapping | None) -> Catalog | None:
    """The catalog named by a mapping YAML's ``catalog:`` entry (a path relative to the
    mapping file, or an inline catalog), or None when it names none."""
    if mapping is None:
        return None
    from dmkit.contract.ingest import load_yaml

    raw = mapping if isinstance(mapping, Mapping) else load_yaml(mapping, what="mapping file")
    if not isinstance(raw, Mapping) or raw.get("catalog") is None:
        return None
    entry = raw["catalog"]
    if isinstance(entry, Mapping):
        return load_catalog(entry)
    if not isinstance(entry, str):
        raise ParameterError(f"mapping {mapping!r}: 'catalog' must be the path of a catalog YAML; "
                             f"found {entry!r}", parameter="mapping")
    p = Path(entry)
    if not p.is_absolute() and not isinstance(mapping, Mapping):
        p = Path(mapping).parent / p
    return load_catalog(p)
