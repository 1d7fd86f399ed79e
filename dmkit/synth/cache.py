"""The simulator's cache on disk: one folder per province, month, size, seed and simulator version.

:func:`load` returns the cached :class:`~dmkit.contract.ProvinceData` when a complete
cache of the same key (and the same simulator source, :func:`fingerprint`) is there,
else simulates and publishes the cache atomically (a temp folder renamed into place, so
two processes never see half a cache). The marker holds every file's size and SHA-256
(:mod:`dmkit.contract.manifest`); each read checks every size and the small files' hashes
(a truncated, missing or replaced file: the cache is regenerated and replaced on disk, not
regenerated in memory on every load), and the Parquet pages' CRC32 checksums are verified
when a table is first read (a corrupted table: the province is regenerated, the cache replaced
on disk and the table taken from it; same key, same values).
Tables are read on first use (:meth:`ProvinceData.load` with ``lazy=True``). :func:`dmkit.io.load_province` calls it for
``data="synth"``.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import uuid
from pathlib import Path

from dmkit.contract.files import atomic_write_bytes, unwritable_error
from dmkit.contract.manifest import file_digest, manifest_body, verify
from dmkit.contract.province import ProvinceData
from dmkit.contract.sources import module_sources, source_digest
from dmkit.errors import DmkitError

__all__ = ["DEFAULT_CACHE_DIR", "fingerprint", "load", "synth_cache_path"]

_CACHE_MARKER = "_COMPLETE.json"


DEFAULT_CACHE_DIR = "data/generated"
"""Where :func:`load_province` caches simulated data unless told otherwise."""


def synth_cache_path(
    *, province: str, month: str, n_users: int, seed: int, n_months: int = 6,
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
) -> Path:
    """Folder where :func:`load_province` caches simulated data for these parameters.

    ``cache_dir/<province>/<month>/n<n_users>-s<seed>`` (with ``-m<n_months>`` appended
    when ``n_months`` is not the default 6).
    """
    name = f"n{n_users}-s{seed}" + ("" if n_months == 6 else f"-m{n_months}")
    return Path(cache_dir) / province / month / name


def fingerprint() -> str:
    """Hash of the source of every dmkit module the simulator runs (``dmkit.synth.generate``
    and what it imports, transitively: the catalog and the contract's containers included),
    so a changed simulator never reads a stale cache, while an edit to a module it does not
    run (the loop's responses, the location or campaign simulations of single notebooks)
    does not regenerate a 12-million-user province.

    Computed once per process: the code a process runs does not change under it."""
    return source_digest(*_SIMULATOR)


def simulator_sources() -> list[Path]:
    """The source files of ``dmkit.synth.generate`` and of every dmkit module it imports,
    transitively (read from their ``import`` statements, those inside functions included)."""
    return module_sources(*_SIMULATOR)


_SIMULATOR = ("dmkit.synth.generate", "dmkit.contract.province", "dmkit.contract.truth")


def load(*, province: str, month: str, n_users: int, seed: int, n_months: int, cache_dir: Path,
         progress: bool) -> ProvinceData:
    """The simulated province of this key: from the cache when complete, else generated and cached."""
    from dmkit import synth  # the package attribute, so a test can stand in for the simulator

    key = {"province": province, "month": month, "n_users": n_users, "seed": seed,
           "n_months": n_months, "synth": fingerprint()}
    final = synth_cache_path(province=province, month=month, n_users=n_users, seed=seed,
                             n_months=n_months, cache_dir=cache_dir)
    @functools.cache
    def regenerated() -> ProvinceData:  # once per load, however many tables turn out damaged
        _discard(final)
        return load(province=province, month=month, n_users=n_users, seed=seed, n_months=n_months,
                    cache_dir=cache_dir, progress=progress)

    cached = _read_cache(final, key, repair=lambda table: getattr(regenerated(), table))
    if cached is not None:
        return cached
    pdata = synth.generate(province, month=month, n_users=n_users, seed=seed, n_months=n_months,
                           progress=progress)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise unwritable_error(final.parent, err) from err
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        pdata.save(tmp)
        files = sorted(f for f in tmp.iterdir() if f.is_file() and f.name != _CACHE_MARKER)
        body = {"key": key, **manifest_body(tmp, files, meta=key)}  # every file's size and SHA-256
        atomic_write_bytes(tmp / _CACHE_MARKER, json.dumps(body, indent=1).encode())
        _publish(tmp, final, key)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return pdata


def _read_cache(folder: Path, key: dict, *, repair) -> ProvinceData | None:
    """The cached data, or None to regenerate; a damaged cache (a file truncated, corrupted or
    missing against the marker's manifest) is moved aside, so the new one replaces it on disk.
    A table whose pages fail their checksums on first read is taken from ``repair`` (the
    province regenerated and the cache replaced)."""
    marker = folder / _CACHE_MARKER
    if not marker.is_file():
        return None
    try:
        body = json.loads(marker.read_text())
    except (OSError, ValueError):
        body = None
    if not isinstance(body, dict) or body.get("key") != key:
        return None  # stale (another simulator or key): _publish replaces it
    try:
        if _damaged(body, folder):
            raise ValueError("damaged")
        return ProvinceData.load(folder, lazy=True, repair=repair)  # a notebook reads only the tables it uses
    except (OSError, ValueError, DmkitError):
        _discard(folder)  # damaged: repaired by the regeneration that follows
        return None


def _damaged(body: dict, folder: Path) -> list[str]:
    """What is wrong with a cache against its marker: every file's size, and the SHA-256 of
    the small files (truth and meta JSON). The Parquet tables are not hashed on every read
    (4 GiB at 12 million users, a minute of a busy core per notebook): their pages carry
    CRC32 checksums, verified when a table is read, so a flipped byte is refused there."""
    problems = verify(body, folder, hashes=False)
    for rel, entry in body["files"].items():
        f = folder / rel
        if not rel.endswith(".parquet") and f.is_file() and file_digest(f) != entry.get("sha256"):
            problems.append(f"{rel}: content differs from the marker")
    return problems


def _discard(folder: Path) -> None:
    trash = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.old"
    try:
        os.replace(folder, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _publish(tmp: Path, final: Path, key: dict) -> None:
    """Rename the complete ``tmp`` folder to ``final``, replacing a stale or partial one."""
    if final.exists():
        if _marker_matches(final, key):
            return  # another process finished the same cache first
        trash = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
        try:
            os.replace(final, trash)
        except FileNotFoundError:
            pass
        else:
            shutil.rmtree(trash, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:
        if not _marker_matches(final, key):  # lost a race to a process with other content
            raise


def _marker_matches(folder: Path, key: dict) -> bool:
    try:
        body = json.loads((folder / _CACHE_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(body, dict) and body.get("key") == key
